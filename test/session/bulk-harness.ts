import type { LinkConditions } from '../../common/net/sim/link.js';
import type { SessionStats } from '../../common/session/stats.js';
import { drive, makeMessage, simPair } from './sim-harness.js';

/** 10 MiB/s in the simulator's unit (bytes per ms). */
export const MIB_PER_S = (1024 * 1024) / 1000;

export interface BulkResult {
  /** Stream bytes delivered per second of virtual time, in MiB/s. */
  readonly goodputMiBps: number;
  /** Virtual ms from the first send to the last byte delivered. */
  readonly ms: number;
  readonly delivered: boolean;
  /** The sender's session figures at the end. */
  readonly stats: SessionStats;
  /** Datagrams the bottleneck queue dropped, and all datagrams sent, on the simulated network. */
  readonly queueDrops: number;
  readonly sent: number;
}

/**
 * A bulk transfer from A (behind a NAT, impaired access link `link` both ways, so each direction
 * sees it once) to B: `totalBytes` in 64 KiB messages as fast as back-pressure allows, timed
 * from the first send after the handshake to the last message delivered, in virtual time.
 * B's own link adds 1 ms each way, so the RTT is 2 × (link.delayMs + 1).
 */
export async function bulk(
  seed: number,
  link: Partial<LinkConditions>,
  totalBytes: number,
  /** Change A's link this long after the first send (a bottleneck that gets slower). */
  later?: { afterMs: number; link: Partial<LinkConditions> },
): Promise<BulkResult> {
  const p = await simPair({ seed, linkA: link });
  drive(p.sim, () => p.a.stats().state === 'open' && p.b.stats().state === 'open', 10_000);
  const size = 64 * 1024;
  const count = Math.ceil(totalBytes / size);
  let got = 0;
  let last = 0;
  p.b.on('message', () => {
    got++;
    last = p.sim.clock.now();
  });
  let next = 0;
  const pump = (): void => {
    while (next < count && p.a.send(makeMessage(next, size, 'bulk')) !== false) next++;
  };
  p.a.on('writable', pump);
  const start = p.sim.clock.now();
  if (later) p.sim.clock.setTimeout(() => p.sim.setLink(p.hostA, later.link), later.afterMs);
  pump();
  const delivered = drive(p.sim, () => got === count, 600_000);
  const ms = last - start;
  const stats = p.a.stats();
  p.a.close();
  p.b.close();
  return {
    goodputMiBps: delivered ? (count * size) / ms / MIB_PER_S : 0,
    ms,
    delivered,
    stats,
    queueDrops: p.sim.stats.dropped.queue,
    sent: p.sim.stats.sent,
  };
}
