/**
 * One seed, one trace for file transfers (docs/contributing.md §5): the same seeded transfer on
 * the simulated network, at 2% loss, starting on the relay and moving to the direct path
 * mid-way, run twice gives the very same progress and completion events, at the same virtual
 * times, with the same packet counters. The files are in memory (test/support/memory-fs.ts):
 * with the real disk, reads and writes finished at whatever point of virtual time the machine
 * let them, and the trace differed from run to run.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../common/net/types.js';
import { SERVER } from '../support/sim-world.js';
import { MIB, fileWorld } from './support/file-world.js';
import type { FileSide } from './support/file-world.js';

async function trace(seed: number): Promise<string[]> {
  let cut = true; // UDP between the peers is cut at first: the session opens on the relay
  const loss: { rng?: { chance(p: number): boolean } } = {};
  const udpOut = (_d: Uint8Array, to: Endpoint): boolean =>
    (!cut || to.address === SERVER.address) && (loss.rng === undefined || !loss.rng.chance(0.02));
  const { w, a, b, close } = await fileWorld(seed, { udpOut });
  const out: string[] = [];
  const record = (s: FileSide, other: string): void => {
    const at = (): string => `${w.sim.clock.now()} ${s.p.name}`;
    s.chat.on('file_progress', (e) => out.push(`${at()} progress ${e.bytes} ${e.rate} ${e.path}`));
    s.chat.on('file_failed', (e) => out.push(`${at()} failed ${e.code} ${e.message}`));
    s.chat.on('file_done', (e) => {
      const { packetsSent, packetsReceived, retransmits } = s.p.node.peerStats(other).session ?? {};
      out.push(
        `${at()} done ${e.bytes} ${e.ms} ${e.path} ${e.sha256} ${packetsSent} ${packetsReceived} ${retransmits}`,
      );
    });
  };
  try {
    record(a, 'b');
    record(b, 'a');
    w.sim.setLink(w.sim.get('rendezvous')!, { delayMs: 50 }); // the relay is slower than the direct path
    loss.rng = w.sim.rng('loss');
    const data = Buffer.alloc(4 * MIB);
    w.sim.rng('data').fill(data);
    a.disk.put('/out/src.bin', data);
    const v = await a.chat.sendFile('b', '/out/src.bin');
    expect(await w.run(() => b.ev.file_offer.length === 1, 60_000)).toBe(true);
    await b.chat.acceptFile(v.file, '/in');
    const ok = await w.run(() => {
      if (cut && (b.chat.files()[0]?.bytes ?? 0) > MIB) cut = false; // the direct path opens mid-way
      return (
        a.ev.file_done.length + a.ev.file_failed.length + b.ev.file_failed.length > 0 &&
        b.ev.file_done.length > 0
      );
    }, 1_800_000);
    expect(ok).toBe(true);
    expect(b.ev.file_done[0]!.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    out.push(`sim ${JSON.stringify(w.sim.stats)}`);
    return out;
  } finally {
    await close();
  }
}

describe('one seed, one trace: file transfers', () => {
  it('the same seeded transfer (loss, relay -> direct) twice gives the very same events, times and counters', async () => {
    const first = await trace(91);
    const again = await trace(91);
    const paths = first.filter((l) => l.includes(' b progress ')).map((l) => l.split(' ').at(-1));
    expect(paths[0]).toBe('relay');
    expect(paths.at(-1)).toBe('direct');
    expect(first.filter((l) => l.includes(' done '))).toHaveLength(2);
    expect(again).toEqual(first);
  }, 300_000);
});
