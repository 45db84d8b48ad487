import { describe, expect, it } from 'vitest';
import { INITIAL_WINDOW } from '../../common/session/congestion.js';
import { bulk, MIB_PER_S } from './bulk-harness.js';
import { drive, makeMessage, simPair } from './sim-harness.js';

const MiB = 1024 * 1024;
/** 9 ms on A's link each way and 1 ms on B's: a 20 ms RTT. */
const DELAY = 9;

// Figures on seed 1 (docs/session.md, "Congestion control"), 4 MiB over a 10 MiB/s link:
// 0% loss 7.9 MiB/s, 5% 7.1, 10% 6.3. NewReno did 7.8, 0.19 and 0.11 (its window collapsed).
describe('congestion control on the simulated network (virtual time)', () => {
  it('5% random loss each way at 20 ms RTT: 4 MiB arrive at > 50% of the loss-free goodput (7.1 of 7.9 MiB/s; NewReno 0.19)', async () => {
    const link = { delayMs: DELAY, rateBytesPerMs: 10 * MIB_PER_S };
    const clean = await bulk(1, link, 4 * MiB);
    const lossy = await bulk(1, { ...link, loss: 0.05 }, 4 * MiB);
    expect(clean.delivered && lossy.delivered).toBe(true);
    expect(lossy.stats.packetsLost).toBeGreaterThan(100); // the loss really happened
    expect(lossy.goodputMiBps).toBeGreaterThan(0.5 * clean.goodputMiBps);
    // The window did not collapse: it still holds the path's bandwidth-delay product (~200 KiB).
    expect(lossy.stats.cwnd).toBeGreaterThan(200 * 1024);
  });

  it('a 5 MiB/s bottleneck with a 32-packet queue (a third of the BDP): the link stays > 80% busy and < 2% of packets overflow it', async () => {
    const r = await bulk(1, { delayMs: DELAY, rateBytesPerMs: 5 * MIB_PER_S, queuePackets: 32 }, 8 * MiB);
    expect(r.delivered).toBe(true);
    expect(r.goodputMiBps).toBeGreaterThan(0.8 * 5);
    expect(r.queueDrops).toBeGreaterThan(0); // it found the queue's end (Startup, probes)
    expect(r.queueDrops / r.sent).toBeLessThan(0.02);
  });

  it('a bottleneck that slows from 8 to 2 MiB/s mid-transfer: losses with a queue bring the rate down (3.5% of packets overflow; 12% if loss were ignored)', async () => {
    const link = { delayMs: DELAY, rateBytesPerMs: 8 * MIB_PER_S, queuePackets: 32 };
    const slower = { afterMs: 1000, link: { rateBytesPerMs: 2 * MIB_PER_S } };
    const r = await bulk(1, link, 16 * MiB, slower);
    expect(r.delivered).toBe(true);
    expect(r.stats.congestionEvents).toBeGreaterThan(0);
    expect(r.queueDrops / r.sent).toBeLessThan(0.06);
  });

  it('a 3 s blackout mid-transfer is persistent congestion (RFC 9002 §7.6): the window collapses, then the transfer completes', async () => {
    const p = await simPair({ seed: 3, linkA: { delayMs: DELAY, rateBytesPerMs: 10 * MIB_PER_S } });
    drive(p.sim, () => p.a.stats().state === 'open', 10_000);
    let got = 0;
    p.b.on('message', () => got++);
    for (let i = 0; i < 32; i++) p.a.send(makeMessage(i, 64 * 1024, 'bulk'));
    drive(p.sim, () => false, 100);
    const before = p.a.stats().cwnd;
    p.sim.setLink(p.hostA, { loss: 1 });
    drive(p.sim, () => false, 3000);
    p.sim.setLink(p.hostA, { loss: 0 });
    drive(p.sim, () => p.a.stats().persistentCongestion > 0, 10_000);
    expect(p.a.stats().persistentCongestion).toBeGreaterThan(0);
    expect(p.a.stats().cwnd).toBeLessThan(before / 4);
    expect(drive(p.sim, () => got === 32, 60_000)).toBe(true);
    p.a.close();
    p.b.close();
  });

  it('chat-like traffic (a short message every 200 ms) does not grow the window (RFC 9002 §7.8)', async () => {
    const p = await simPair({ seed: 2, linkA: { delayMs: DELAY, rateBytesPerMs: 10 * MIB_PER_S } });
    drive(p.sim, () => p.a.stats().state === 'open', 10_000);
    let got = 0;
    p.b.on('message', () => got++);
    for (let i = 0; i < 300; i++) {
      p.a.send(makeMessage(i, 100, 'chat'));
      drive(p.sim, () => false, 200);
    }
    expect(got).toBe(300);
    expect(p.a.stats().cwnd).toBeLessThanOrEqual(2 * INITIAL_WINDOW);
    p.a.close();
    p.b.close();
  });
});
