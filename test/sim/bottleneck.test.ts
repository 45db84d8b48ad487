import { describe, expect, it } from 'vitest';
import { Bottleneck, DEFAULT_LINK, type LinkConditions } from '../../common/net/sim/link.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import { ep } from './helpers.js';

const at = (c: Partial<LinkConditions>): LinkConditions => ({ ...DEFAULT_LINK, ...c });

describe('Bottleneck (pure)', () => {
  it('off by default: no delay, nothing dropped', () => {
    const q = new Bottleneck();
    for (let i = 0; i < 1000; i++) expect(q.admit(DEFAULT_LINK, 1200, 0)).toBe(0);
  });

  it('serialises at the rate: each packet waits for the ones before it', () => {
    const q = new Bottleneck();
    const c = at({ rateBytesPerMs: 100 });
    expect([0, 1, 2].map(() => q.admit(c, 1000, 0))).toEqual([10, 20, 30]);
    // 25 ms later the first two are gone and the third finishes at 30: the next waits behind it.
    expect(q.admit(c, 500, 25)).toBe(10);
    // An idle link starts at once.
    expect(q.admit(c, 100, 100)).toBe(1);
  });

  it('drop-tail: beyond queuePackets waiting (plus the one in service) packets are dropped', () => {
    const q = new Bottleneck();
    const c = at({ rateBytesPerMs: 100, queuePackets: 2 });
    const fates = Array.from({ length: 5 }, () => q.admit(c, 1000, 0));
    expect(fates).toEqual([10, 20, 30, undefined, undefined]);
    // Once the first has left there is room for one more.
    expect(q.admit(c, 1000, 10)).toBe(30);
    expect(q.admit(c, 1000, 10)).toBeUndefined();
  });
});

describe('a bottleneck link in the simulator', () => {
  /** `n` datagrams of `size` bytes sent back to back (or one per `gapMs`) from src to dst. */
  async function burst(link: Partial<LinkConditions>, n: number, size: number, gapMs = 0) {
    const sim = new Simulator({ seed: 3 });
    const src = sim.addHost('src');
    const dst = sim.addHost('dst');
    sim.setLink(src, link, 'up');
    const rx = dst.network.createUdpSocket();
    const arrivals: number[] = [];
    rx.onMessage(() => arrivals.push(sim.clock.now()));
    await rx.bind(9000);
    const tx = src.network.createUdpSocket();
    await tx.bind(0);
    for (let i = 0; i < n; i++) {
      tx.send(new Uint8Array(size), ep(dst.address, 9000));
      if (gapMs > 0) sim.clock.advance(gapMs);
    }
    sim.clock.advance(60_000);
    return { sim, arrivals };
  }

  it('a burst beyond the queue loses the excess, counted as queue drops; the rest leave at the rate', async () => {
    const { sim, arrivals } = await burst({ delayMs: 5, rateBytesPerMs: 100, queuePackets: 9 }, 100, 1000);
    expect(arrivals.length).toBe(10);
    expect(sim.stats.dropped.queue).toBe(90);
    expect(sim.stats.dropped.loss).toBe(0);
    // 10 ms apart: 1000 bytes at 100 bytes/ms, after 5 ms on the wire and 1 ms on dst's link.
    expect(arrivals).toEqual(Array.from({ length: 10 }, (_, i) => 16 + 10 * i));
  });

  it('traffic paced at the rate goes through without a drop', async () => {
    const { sim, arrivals } = await burst({ rateBytesPerMs: 100, queuePackets: 2 }, 500, 1000, 10);
    expect(arrivals.length).toBe(500);
    expect(sim.stats.dropped.queue).toBe(0);
  });

  it('rejects a negative rate or a fractional queue', () => {
    const sim = new Simulator({ seed: 1 });
    const a = sim.addHost('a');
    expect(() => sim.setLink(a, { rateBytesPerMs: -1 })).toThrow(/rateBytesPerMs/);
    expect(() => sim.setLink(a, { queuePackets: 1.5 })).toThrow(/queuePackets/);
  });
});
