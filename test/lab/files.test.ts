/**
 * File transfer through real Linux NAT: the real `punchline rendezvous` and two real
 * `punchline chat --json` peers behind the lab's routers (relay-kit.ts), each case in a fresh
 * World torn down afterwards (its temp directory, with the source and the received files, goes
 * with it). A sends a seeded random file with send_file, B accepts it with accept_file; both
 * sides' file_done must come, and the saved file's SHA-256 (computed here) must match.
 *
 * - cone/cone: 100 MiB on the direct path, MiB/s;
 * - --relay-only: 20 MiB through the WebSocket relay (its per-peer rate and queue limits drop
 *   frames, never the peer), MiB/s;
 * - 5% loss on one router, cone/cone: 30 MiB, MiB/s;
 * - resume: 50 MiB, the receiver (then, in a second world, the sender) SIGKILLed once at least
 *   30% went through and started again on the same data directory: the transfer finishes
 *   byte-exact without a new offer or accept, from an offset above 0.
 *
 * One `lab files:` line per case. LAB_FILES_DEBUG=1 runs the peers with `--log-level debug`.
 */
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { JsonObject } from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';
import {
  FILE_FLAGS,
  MIB,
  checkDone,
  done,
  filesSummary,
  makeFile,
  mib,
  offer,
  progress,
  progressOf,
  relayDrops,
  reportFiles,
  syncedOffset,
  transfer,
} from './file-kit.js';
import { World, type Peer } from './relay-kit.js';

const DIRECT_MIB = 100;
const RELAY_MIB = 20;
const LOSS_MIB = 30;
const RESUME_MIB = 50;
/** Bounds on a whole transfer: far above the slowest run seen (about 1 MiB/s on the relay). */
const TRANSFER_MS = 240_000;
const CASE_MS = 400_000;

const disconnects = (p: Peer): JsonObject[] => p.all('disconnected');

describeLab('real-NAT lab: file transfer', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  afterAll(() => {
    const s = filesSummary();
    if (s) console.log(s);
  });

  /** A fresh world with alice and bob behind two routers, both registered and in presence. */
  async function ready(routerA: Parameters<World['pair']>[0], flags: string[]): ReturnType<World['pair']> {
    world = await World.create();
    const pair = await world.pair(routerA, { nat: 'cone' }, [...FILE_FLAGS, ...flags]);
    const transports: ('udp' | 'ws')[] = ['udp', 'ws'];
    await pair.a.ready('bob', transports);
    await pair.b.ready('alice', transports);
    return pair;
  }

  it(
    `cone/cone: ${DIRECT_MIB} MiB on the direct path, byte-exact`,
    async () => {
      const { a, b } = await ready({ nat: 'cone' }, []);
      const src = makeFile(path.join(world!.dataRoot, 'src'), 'direct.bin', DIRECT_MIB, 'direct');
      const r = await transfer(a, b, src, path.join(world!.dataRoot, 'in'), TRANSFER_MS);
      expect(r.received.path).toBe('direct');
      reportFiles(
        `cone/cone direct | ${DIRECT_MIB} MiB in ${Math.round(Number(r.received.ms))} ms = ${r.mibps.toFixed(1)} MiB/s | ` +
          `path ${String(r.sent.path)} / ${String(r.received.path)} | SHA-256 ok`,
      );
    },
    CASE_MS,
  );

  it(
    `--relay-only: ${RELAY_MIB} MiB through the relay finishes; the peer is never dropped`,
    async () => {
      const { a, b, hostA } = await ready({ nat: 'cone' }, ['--relay-only']);
      const src = makeFile(path.join(world!.dataRoot, 'src'), 'relay.bin', RELAY_MIB, 'relay');
      const r = await transfer(a, b, src, path.join(world!.dataRoot, 'in'), TRANSFER_MS);
      expect(r.received.path).toBe('relay');
      expect([...disconnects(a), ...disconnects(b)]).toEqual([]);
      expect([...a.all('path'), ...b.all('path')]).toEqual([]);
      const st = await a.stats('bob');
      const drops = await relayDrops(hostA);
      const dropped = Object.entries(drops)
        .filter(([, n]) => n > 0)
        .map(([why, n]) => `${why} ${n}`);
      reportFiles(
        `--relay-only cone/cone | ${RELAY_MIB} MiB in ${Math.round(Number(r.received.ms))} ms = ${r.mibps.toFixed(2)} MiB/s | ` +
          `path relay | no disconnect | sender retransmits ${String(st.retransmits)} of ${String(st.packets_sent)} ` +
          `packets | relay dropped ${dropped.join(', ') || 'nothing'} | SHA-256 ok`,
      );
    },
    CASE_MS,
  );

  it(
    `5% loss on A's router, cone/cone: ${LOSS_MIB} MiB, byte-exact`,
    async () => {
      const { a, b } = await ready({ nat: 'cone', loss: 0.05 }, []);
      const src = makeFile(path.join(world!.dataRoot, 'src'), 'loss.bin', LOSS_MIB, 'loss');
      const r = await transfer(a, b, src, path.join(world!.dataRoot, 'in'), TRANSFER_MS);
      const st = await a.stats('bob');
      reportFiles(
        `5% loss cone/cone | ${LOSS_MIB} MiB in ${Math.round(Number(r.received.ms))} ms = ${r.mibps.toFixed(1)} MiB/s | ` +
          `path ${String(r.sent.path)} / ${String(r.received.path)} | sender loss ${String(st.loss)}, ` +
          `retransmits ${String(st.retransmits)} of ${String(st.packets_sent)} packets | SHA-256 ok`,
      );
    },
    CASE_MS,
  );

  for (const victim of ['receiver', 'sender'] as const)
    it(
      `resume: the ${victim} SIGKILLed at >= 30% of ${RESUME_MIB} MiB and restarted finishes byte-exact`,
      async () => {
        const { a, b, hostA, hostB } = await ready({ nat: 'cone' }, []);
        const w = world!;
        const src = makeFile(path.join(w.dataRoot, 'src'), `resume-${victim}.bin`, RESUME_MIB, victim);
        const id = await offer(a, b, src);
        const t0 = performance.now();
        b.proc.sendJson({ cmd: 'accept_file', file: id, dir: path.join(w.dataRoot, 'in') });
        const dead = victim === 'receiver' ? b : a;
        await progress(dead, id, 0.3, TRANSFER_MS);
        dead.proc.kill('SIGKILL');
        await dead.proc.waitForExit(10_000);
        const killedAt = performance.now();
        const got = Math.max(...progressOf(dead, id).map((e) => Number(e.bytes)));
        // The receiver's synced offset: what its next run starts from (files.json).
        const synced = syncedOffset(path.join(w.dataRoot, 'bob'), id);

        // The same name, data directory and flags, on the same host.
        const back =
          victim === 'receiver' ? w.chat(hostB, 'bob', FILE_FLAGS) : w.chat(hostA, 'alice', FILE_FLAGS);
        const [na, nb] = victim === 'receiver' ? [a, back] : [back, b];
        const fromA = victim === 'receiver' ? a.events.length : 0;
        const fromB = victim === 'receiver' ? 0 : b.events.length;
        const received = (await done(nb, id, TRANSFER_MS, fromB)).e;
        const sent = (await done(na, id, TRANSFER_MS, fromA)).e;
        const totalMs = Math.round(performance.now() - t0);
        await checkDone(src, received, sent);
        // No new prompt: one offer in all, and none from the restarted side's point of view.
        expect([
          ...b.all('file_offer'),
          ...(victim === 'receiver' ? back.all('file_offer') : []),
        ]).toHaveLength(1);
        // The side that came back continued from an offset above 0: its first progress is past it.
        const firstBack = back.events.find((s) => s.e.event === 'file_progress' && s.e.file === id);
        expect(firstBack).toBeDefined();
        const resumedAt = Number(firstBack!.e.bytes);
        const stalledMs = Math.round(firstBack!.t - killedAt);
        expect(resumedAt).toBeGreaterThan(0);
        if (victim === 'receiver') {
          expect(synced).toBeGreaterThan(0);
          expect(resumedAt).toBeGreaterThanOrEqual(synced!);
        }
        reportFiles(
          `resume, ${victim} killed | ${RESUME_MIB} MiB | killed at ${mib(got)} MiB ` +
            `(${Math.round((got / src.size) * 100)}%), receiver's synced offset ${synced === undefined ? '-' : mib(synced)} MiB | ` +
            `first progress after the restart ${mib(resumedAt)} MiB (${Math.round((resumedAt / src.size) * 100)}%) | ` +
            `moving again ${stalledMs} ms after the kill | done ${totalMs} ms after the accept ` +
            `(${(src.size / MIB / (totalMs / 1000)).toFixed(1)} MiB/s overall) | path ${String(received.path)} | SHA-256 ok`,
        );
      },
      CASE_MS,
    );
});
