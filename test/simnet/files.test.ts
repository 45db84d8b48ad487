/**
 * File transfers on the simulated network (virtual time), through ChatServices over SimWorld
 * nodes with a relay: byte-exact at 5% loss, across a path change (direct -> relay, and
 * relay -> direct) in the middle of the transfer, and into a disk that fills up. The files are
 * in memory (test/simnet/support/file-world.ts), so each run replays from its seed.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../common/net/types.js';
import { SERVER } from '../support/sim-world.js';
import type { SimWorld } from '../support/sim-world.js';
import { MIB, fileWorld } from './support/file-world.js';
import type { FileSide, FileWorld } from './support/file-world.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function world(
  seed: number,
  opts: { udpOut?: (d: Uint8Array, to: Endpoint) => boolean } = {},
): Promise<FileWorld> {
  const fw = await fileWorld(seed, opts);
  cleanup.push(fw.close);
  return fw;
}

/** `data` as /out/src.bin on a's disk, offered to b, accepted into /in; returns the virtual ms it took. */
async function transfer(
  w: SimWorld,
  a: FileSide,
  b: FileSide,
  data: Buffer,
  during?: () => void,
): Promise<number> {
  a.disk.put('/out/src.bin', data);
  const v = await a.chat.sendFile('b', '/out/src.bin');
  expect(await w.run(() => b.ev.file_offer.length === 1, 60_000)).toBe(true);
  await b.chat.acceptFile(v.file, '/in');
  const t0 = w.sim.clock.now();
  const ok = await w.run(() => {
    during?.();
    return a.ev.file_done.length === 1 && b.ev.file_done.length === 1;
  }, 1_800_000);
  expect([ok, a.ev.file_failed, b.ev.file_failed]).toEqual([true, [], []]);
  expect(b.ev.file_done[0]!.sha256).toBe(sha(data));
  expect(sha(b.disk.read(b.ev.file_done[0]!.filePath)!)).toBe(sha(data));
  expect(b.disk.list('/in')).toEqual(['src.bin']); // no temporary file left
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
    const { w, a, b, setBlocked } = await world(72);
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

  it('4 MiB into a 2 MiB disk: both sides hear IO (no space), and nothing stays on it', async () => {
    const { w, a, b } = await world(74);
    b.disk.mount('/in', 2 * MIB);
    const data = Buffer.alloc(4 * MIB);
    w.sim.rng('data').fill(data);
    a.disk.put('/out/big.bin', data);
    const v = await a.chat.sendFile('b', '/out/big.bin');
    expect(await w.run(() => b.ev.file_offer.length === 1, 60_000)).toBe(true);
    await b.chat.acceptFile(v.file, '/in');
    expect(await w.run(() => a.ev.file_failed.length === 1 && b.ev.file_failed.length === 1, 600_000)).toBe(
      true,
    );
    expect(b.ev.file_failed[0]).toMatchObject({ code: 'IO', message: expect.stringMatching(/ENOSPC.*\/in/) });
    expect(a.ev.file_failed[0]).toMatchObject({ code: 'IO', message: expect.stringMatching(/^b: .*ENOSPC/) });
    expect([a.ev.file_done, b.ev.file_done]).toEqual([[], []]);
    expect(b.disk.noSpace).toBe(1);
    expect([b.disk.list('/in'), b.disk.used('/in')]).toEqual([[], 0]); // the space is free again
  }, 600_000);
});
