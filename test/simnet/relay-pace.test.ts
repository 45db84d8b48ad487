/**
 * A relayed file transfer keeps within the rendezvous relay's per-peer rate limits
 * (rendezvous/stream-front.ts, rendezvous/token-bucket.ts): the server announces its policy when
 * a peer registers on the stream (RELAY_POLICY, docs/protocol.md), and the peer's relay path paces
 * its session packets a little under it (peer/relay-pacer.ts), so the server drops (nearly) none of
 * them for rate, the session is never lost, and chat lines sent during the transfer still arrive
 * promptly. Simulated network, virtual time; the files are real (a temporary directory).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../common/wire/bytes.js';
import type { StreamNetwork } from '../../common/net/stream.js';
import { MsgType } from '../../common/wire/constants.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { syncJournalFs } from '../support/sync-fs.js';
import { PeerChatService } from '../../peer/chat/service.js';
import type { ChatEvents } from '../../peer/chat/types.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const MIB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
let root = '';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
  if (root) await rm(root, { recursive: true, force: true });
  root = '';
});

interface Side {
  p: SimPeer;
  chat: PeerChatService;
  done: ChatEvents['file_done'][];
  failed: ChatEvents['file_failed'][];
  /** Chat lines received: text and virtual arrival time. */
  lines: { text: string; at: number }[];
}

async function side(w: SimWorld, p: SimPeer, dir: string): Promise<Side> {
  // The journal in memory (syncJournalFs): real disk I/O lets virtual time run on while it
  // waits, and on a busy machine a rate measured in virtual time came out at a twentieth.
  const chat = new PeerChatService(p.node, {
    dataDir: path.join(root, dir),
    durable: false,
    fs: syncJournalFs,
  });
  const s: Side = { p, chat, done: [], failed: [], lines: [] };
  chat.on('file_done', (e) => s.done.push(e));
  chat.on('file_failed', (e) => s.failed.push(e));
  chat.on('message', (e) => {
    if (!e.outgoing) s.lines.push({ text: e.text, at: w.sim.clock.now() });
  });
  cleanup.push(() => chat.close());
  return s;
}

/**
 * What a peer sees of a server from before RELAY_POLICY: the same, without that message (counted
 * in `hidden`, which shows the server did send one).
 */
function oldServer(hidden: { n: number }): (n: StreamNetwork) => StreamNetwork {
  return (n) => ({
    connectStream: async (url, opts) => {
      const s = await n.connectStream(url, opts);
      const onMessage = s.onMessage.bind(s);
      s.onMessage = (h) => onMessage((d) => (d[1] === MsgType.RELAY_POLICY ? void hidden.n++ : h(d)));
      return s;
    },
    listenStream: (...args) => n.listenStream(...args),
  });
}

/** Two peers whose only path is the relay (b's network drops all UDP). */
async function world(
  seed: number,
  server: RendezvousOptions,
  streams?: (n: StreamNetwork) => StreamNetwork,
): Promise<{ w: SimWorld; a: Side; b: Side }> {
  root = await mkdtemp(path.join(os.tmpdir(), 'punchline-relaypace-'));
  const w = new SimWorld(seed, true, server);
  cleanup.push(() => w.close());
  await w.start();
  const na = w.nat('na', { ...NAT_PRESETS.portRestrictedCone });
  const nb = w.nat('nb', { ...NAT_PRESETS.portRestrictedCone, blockUdp: true });
  const wrap = streams ? { streams } : {};
  const a = await side(w, await w.peer('a', { behind: na, ...wrap }), 'a');
  const b = await side(w, await w.peer('b', { behind: nb, ...wrap }), 'b');
  const relayUp = (s: Side): boolean => s.p.events.registered.some((r) => r.transport === 'ws');
  expect(
    await w.run(
      () => a.p.events.presence.some((e) => e.peers.length === 1) && relayUp(a) && relayUp(b),
      30_000,
    ),
  ).toBe(true);
  return { w, a, b };
}

interface Outcome {
  /** Virtual ms from the start to the sender's `done`. */
  ms: number;
  /** The longest a chat line sent during the transfer took to arrive, virtual ms. */
  worstLineMs: number;
}

/**
 * Runs virtual time until `finished`, with a chat line from a to b every `lineEveryMs` until
 * then; every line must arrive. Returns the virtual ms taken and the worst line's latency.
 */
async function whileSending(
  w: SimWorld,
  a: Side,
  b: Side,
  finished: () => boolean,
  lineEveryMs: number,
): Promise<Outcome> {
  const t0 = w.sim.clock.now();
  const sentAt = new Map<string, number>();
  const bId = toHex(b.p.node.identity.id);
  let next = t0;
  let ms = 0;
  const ok = await w.run(() => {
    const now = w.sim.clock.now();
    if (finished()) ms ||= now - t0;
    else if (now >= next) {
      const text = `line ${sentAt.size}`;
      sentAt.set(text, now);
      a.chat.send({ kind: 'peer', peerId: bId }, text);
      next = now + lineEveryMs;
    }
    return ms > 0 && b.lines.length >= sentAt.size;
  }, 1_800_000);
  expect([ok, a.failed, b.failed]).toEqual([true, [], []]);
  expect(b.lines.length).toBe(sentAt.size);
  return { ms, worstLineMs: Math.max(...b.lines.map((l) => l.at - sentAt.get(l.text)!)) };
}

/** A file of `bytes` from a to b (sendFile, acceptFile), checked byte for byte. */
async function fileTransfer(
  w: SimWorld,
  a: Side,
  b: Side,
  bytes: number,
  lineEveryMs = 500,
): Promise<Outcome> {
  const data = Buffer.alloc(bytes);
  w.sim.rng('data').fill(data);
  const src = path.join(root, 'src.bin');
  await writeFile(src, data);
  const offers: ChatEvents['file_offer'][] = [];
  b.chat.on('file_offer', (e) => offers.push(e));
  const v = await a.chat.sendFile('b', src);
  expect(await w.run(() => offers.length === 1, 60_000)).toBe(true);
  await b.chat.acceptFile(v.file, path.join(root, 'in'));
  const out = await whileSending(w, a, b, () => a.done.length === 1 && b.done.length === 1, lineEveryMs);
  expect(sha(await readFile(b.done[0]!.filePath))).toBe(sha(data));
  return out;
}

/**
 * `bytes` from memory as one bulk transfer (ChatService.sendBulk): no disk between the sender and
 * the session, so the virtual time it takes is the network's alone (a file's reads are real I/O,
 * during which virtual time runs on).
 */
async function bulkTransfer(w: SimWorld, a: Side, b: Side, bytes: number): Promise<Outcome> {
  const data = new Uint8Array(bytes);
  w.sim.rng('data').fill(data);
  const got = new Uint8Array(bytes);
  let last = false;
  b.chat.onBulk((r) => {
    got.set(r.data, r.offset);
    last ||= r.last;
    return Promise.resolve();
  });
  void a.chat.connect('b');
  expect(await w.run(() => a.p.events.connected.length > 0, 60_000)).toBe(true);
  let sent = false;
  void a.chat.sendBulk('b', data).then(() => (sent = true));
  const out = await whileSending(w, a, b, () => sent && last, 2000);
  expect(sha(got)).toBe(sha(data));
  return out;
}

describe('a relayed transfer keeps within the relay rate limits', () => {
  it('12 MiB at the default 1 MiB/s: byte-exact, no frame dropped for rate, never disconnected, chat lines prompt', async () => {
    const { w, a, b } = await world(81, {});
    const out = await fileTransfer(w, a, b, 12 * MIB);
    const s = w.server.relayStats;
    console.log(
      `relayed 12 MiB: ${out.ms} virtual ms, ${((12 * 1000) / out.ms).toFixed(2)} MiB/s, ` +
        `rate_limited ${s.dropped.rate_limited}, slow_consumer ${s.dropped.slow_consumer}, ` +
        `relayed ${s.framesRelayed}, worst chat line ${out.worstLineMs} ms`,
    );
    expect(out.ms).toBeGreaterThan(10_000);
    expect(s.dropped.rate_limited).toBe(0);
    expect(a.p.events.disconnected).toEqual([]);
    expect(b.p.events.disconnected).toEqual([]);
    // A line waits behind at most the bulk message under way, not behind frames the server
    // dropped and the session resent (over 400 ms without pacing).
    expect(out.worstLineMs).toBeLessThan(250);
  }, 600_000);

  it('a server at --relay-rate-bytes 256 KiB/s: the peers follow the figure it announces', async () => {
    const { w, a, b } = await world(82, { relayRateBytes: 262_144, relayBurstBytes: 524_288 });
    const out = await bulkTransfer(w, a, b, 3 * MIB);
    const s = w.server.relayStats;
    const kibps = (3 * 1024 * 1000) / out.ms;
    console.log(
      `relayed 3 MiB at 256 KiB/s: ${kibps.toFixed(0)} KiB/s, rate_limited ${s.dropped.rate_limited}`,
    );
    expect(s.dropped.rate_limited).toBe(0);
    // Under the announced rate (paced at 90% of it, headers and ACKs included), and not some
    // other, lower figure (alone this runs at 219 KiB/s; after the file test, a little less).
    expect(kibps).toBeLessThan(256 * 0.9);
    expect(kibps).toBeGreaterThan(256 * 0.5);
    expect(a.p.events.disconnected).toEqual([]);
  }, 600_000);

  it('a server that announces nothing (older): the peers pace at the documented defaults and still lose nothing to rate', async () => {
    const hidden = { n: 0 };
    const { w, a, b } = await world(83, {}, oldServer(hidden));
    const out = await bulkTransfer(w, a, b, 12 * MIB);
    const s = w.server.relayStats;
    console.log(`relayed 12 MiB, no policy seen: ${((12 * 1000) / out.ms).toFixed(2)} MiB/s`);
    expect(hidden.n).toBeGreaterThanOrEqual(2); // each peer's registration brought one
    expect(s.dropped.rate_limited).toBe(0);
    expect(out.ms).toBeGreaterThan(10_000);
    expect(b.p.events.disconnected).toEqual([]);
  }, 600_000);

  it('two relayed transfers from one peer at once share its one budget: nothing dropped for rate', async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'punchline-relaypace-'));
    const w = new SimWorld(84, true);
    cleanup.push(() => w.close());
    await w.start();
    const a = await side(w, await w.peer('a', { behind: w.nat('na', NAT_PRESETS.portRestrictedCone) }), 'a');
    const blocked = { ...NAT_PRESETS.portRestrictedCone, blockUdp: true };
    const to = [
      await side(w, await w.peer('b', { behind: w.nat('nb', blocked) }), 'b'),
      await side(w, await w.peer('c', { behind: w.nat('nc', blocked) }), 'c'),
    ];
    expect(await w.run(() => a.p.events.presence.some((e) => e.peers.length === 2), 30_000)).toBe(true);
    const data = new Uint8Array(6 * MIB);
    w.sim.rng('data').fill(data);
    let done = 0;
    for (const r of to) {
      const got = new Uint8Array(data.length);
      r.chat.onBulk((c) => Promise.resolve(void got.set(c.data, c.offset)));
      void a.chat.connect(r.p.name);
      expect(await w.run(() => a.p.events.connected.some((e) => e.peer === r.p.name), 60_000)).toBe(true);
      void a.chat.sendBulk(r.p.name, data).then(() => {
        done++;
        expect(sha(got)).toBe(sha(data));
      });
    }
    const t0 = w.sim.clock.now();
    expect(await w.run(() => done === 2, 600_000)).toBe(true);
    // 12 MiB through one peer's 1 MiB/s: the two sessions took turns at one pacer, not 90 % each.
    expect(w.sim.clock.now() - t0).toBeGreaterThan(12_000);
    expect(w.server.relayStats.dropped.rate_limited).toBe(0);
  }, 600_000);
});
