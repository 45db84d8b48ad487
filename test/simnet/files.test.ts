/**
 * File transfers on the simulated network (virtual time), through ChatServices over SimWorld
 * nodes with a relay: byte-exact at 5% loss, and across a path change (direct -> relay, and
 * relay -> direct) in the middle of the transfer. The files themselves are real (a temporary directory).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../common/net/types.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { PeerChatService } from '../../peer/chat/service.js';
import type { ChatEvents } from '../../peer/chat/types.js';
import { SERVER, SimWorld } from '../support/sim-world.js';
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
  ev: { [K in 'file_offer' | 'file_progress' | 'file_done' | 'file_failed']: ChatEvents[K][] };
}

async function side(p: SimPeer, dir: string): Promise<Side> {
  const chat = new PeerChatService(p.node, { dataDir: path.join(root, dir), durable: false });
  const ev: Side['ev'] = { file_offer: [], file_progress: [], file_done: [], file_failed: [] };
  for (const k of Object.keys(ev) as (keyof Side['ev'])[]) chat.on(k, (e) => (ev[k] as unknown[]).push(e));
  cleanup.push(() => chat.close());
  return { p, chat, ev };
}

async function world(
  seed: number,
  opts: { udpOut?: (d: Uint8Array, to: Endpoint) => boolean; bBlocked?: boolean },
): Promise<{ w: SimWorld; a: Side; b: Side; setBlocked: (v: boolean) => void }> {
  root = await mkdtemp(path.join(os.tmpdir(), 'punchline-simfiles-'));
  const w = new SimWorld(seed, true);
  cleanup.push(() => w.close());
  await w.start();
  const na = w.nat('na', { ...NAT_PRESETS.portRestrictedCone });
  const nb = w.nat('nb', { ...NAT_PRESETS.portRestrictedCone, blockUdp: opts.bBlocked ?? false });
  const udpOut = opts.udpOut ? { udpOut: opts.udpOut } : {};
  const a = await side(await w.peer('a', { behind: na, ...udpOut }), 'a');
  const b = await side(await w.peer('b', { behind: nb, ...udpOut }), 'b');
  const relayUp = (s: Side): boolean => s.p.events.registered.some((r) => r.transport === 'ws');
  await w.run(
    () => a.p.events.presence.some((e) => e.peers.length === 1) && relayUp(a) && relayUp(b),
    30_000,
  );
  return { w, a, b, setBlocked: (v: boolean) => (nb.blockUdp = v) };
}

async function transfer(w: SimWorld, a: Side, b: Side, data: Buffer, during?: () => void): Promise<number> {
  const src = path.join(root, 'src.bin');
  await writeFile(src, data);
  const v = await a.chat.sendFile('b', src);
  expect(await w.run(() => b.ev.file_offer.length === 1, 60_000)).toBe(true);
  await b.chat.acceptFile(v.file, path.join(root, 'in'));
  const t0 = w.sim.clock.now();
  const ok = await w.run(() => {
    during?.();
    return a.ev.file_done.length === 1 && b.ev.file_done.length === 1;
  }, 1_800_000);
  expect([ok, a.ev.file_failed, b.ev.file_failed]).toEqual([true, [], []]);
  expect(b.ev.file_done[0]!.sha256).toBe(sha(data));
  expect(sha(await readFile(b.ev.file_done[0]!.filePath))).toBe(sha(data));
  return w.sim.clock.now() - t0;
}

describe('file transfers on the simulated network', () => {
  it('20 MiB at 5% loss arrive byte-exact (SHA-256 checked on both sides)', async () => {
    const loss: { rng?: { chance(p: number): boolean } } = {};
    const lossy = (): boolean => loss.rng === undefined || !loss.rng.chance(0.05); // lossless until set up
    const { w, a, b } = await world(71, { udpOut: lossy });
    loss.rng = w.sim.rng('loss');
    const data = Buffer.alloc(20 * MIB);
    w.sim.rng('data').fill(data);
    const ms = await transfer(w, a, b, data);
    // The figure for docs/performance.md: virtual MiB/s at 5% loss on 1 ms links.
    console.log(`20 MiB at 5% loss: ${ms} virtual ms, ${((20 * 1000) / ms).toFixed(1)} MiB/s`);
    expect(a.ev.file_done[0]).toMatchObject({ bytes: 20 * MIB, sha256: sha(data) });
  }, 600_000);

  it('a transfer that starts direct and moves to the relay mid-way (UDP cut) arrives byte-exact on the same session', async () => {
    const { w, a, b, setBlocked } = await world(72, {});
    const data = Buffer.alloc(12 * MIB);
    w.sim.rng('data').fill(data);
    let moved = false;
    await transfer(w, a, b, data, () => {
      const written = b.chat.files()[0]?.bytes ?? 0;
      if (!moved && written > 2 * MIB) {
        moved = true;
        setBlocked(true); // b's network now drops all UDP; the relay (TCP) still gets out
      }
    });
    expect(moved).toBe(true);
    expect(b.p.events.connected[0]!.path).toBe('direct');
    expect(b.ev.file_progress.at(-1)!.path).toBe('relay');
    expect(b.ev.file_done[0]!.path).toBe('relay');
    expect(a.p.events.connected).toHaveLength(1); // one session throughout: no resume was needed
  }, 600_000);

  it('a transfer that starts on the relay and moves to the direct path mid-way arrives byte-exact on the same session', async () => {
    // UDP between the peers is cut at first (only the server is reached): the session opens on
    // the relay, and the transfer starts there. Then the cut is lifted, and the direct-path
    // retry moves the session, mid-transfer. The relay's legs are slower (50 ms each way to the
    // server), so the transfer is still running when the retry comes.
    let cut = true;
    const toServer = (to: Endpoint): boolean => to.address === SERVER.address;
    const { w, a, b } = await world(73, { udpOut: (_d, to) => !cut || toServer(to) });
    w.sim.setLink(w.sim.get('rendezvous')!, { delayMs: 50 });
    const data = Buffer.alloc(16 * MIB);
    w.sim.rng('data').fill(data);
    let lifted = false;
    await transfer(w, a, b, data, () => {
      const written = b.chat.files()[0]?.bytes ?? 0;
      if (!lifted && written > 1 * MIB) {
        lifted = true;
        cut = false;
      }
    });
    expect(lifted).toBe(true);
    expect(b.p.events.connected[0]!.path).toBe('relay');
    const paths = b.ev.file_progress.map((e) => e.path);
    expect(paths[0]).toBe('relay');
    expect(b.ev.file_done[0]!.path).toBe('direct');
    expect(a.p.events.connected).toHaveLength(1); // one session throughout: no resume was needed
    console.log(`relay -> direct mid-transfer: progress paths ${[...new Set(paths)].join(' -> ')}`);
  }, 600_000);
});
