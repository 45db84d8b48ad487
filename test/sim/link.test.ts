import { describe, expect, it } from 'vitest';
import { DEFAULT_LINK, linkFate, type LinkConditions } from '../../common/net/sim/link.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { Rng } from '../../common/net/sim/random.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import { totalDropped, type SimEvent } from '../../common/net/sim/stats.js';
import { ep, reflector } from './helpers.js';

describe('linkFate (pure)', () => {
  const fate = (c: Partial<LinkConditions>, seed = 1): number[] =>
    linkFate({ ...DEFAULT_LINK, ...c }, new Rng(seed));
  it.each([
    ['default: one copy after the base delay', {}, [1]],
    ['no delay at all', { delayMs: 0 }, [0]],
    ['loss 1: nothing arrives', { loss: 1 }, []],
    ['duplicate 1: two copies', { duplicate: 1 }, [1, 1]],
    ['reorder 1: held back by reorderDelayMs', { delayMs: 5, reorder: 1, reorderDelayMs: 30 }, [35]],
    ['loss wins over duplication', { loss: 1, duplicate: 1 }, []],
  ] as Array<[string, Partial<LinkConditions>, number[]]>)('%s', (_name, c, expected) => {
    expect(fate(c)).toEqual(expected);
  });

  it('jitter stays within [delay, delay + jitter)', () => {
    const rng = new Rng(2);
    const c = { ...DEFAULT_LINK, delayMs: 10, jitterMs: 5 };
    const ds = Array.from({ length: 1000 }, () => linkFate(c, rng)[0]!);
    expect(Math.min(...ds)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...ds)).toBeLessThan(15);
    expect(new Set(ds).size).toBeGreaterThan(900);
  });
});

/** Two internet hosts; `src` sends `n` numbered datagrams to `dst`, one per `gapMs`. Returns what arrived, in order. */
async function stream(link: Partial<LinkConditions>, n: number, gapMs: number, seed = 1) {
  const sim = new Simulator({ seed });
  const src = sim.addHost('src');
  const dst = sim.addHost('dst');
  sim.setLink(src, link, 'up');
  const rx = dst.network.createUdpSocket();
  const got: number[] = [];
  rx.onMessage((d) => got.push(new DataView(d.buffer, d.byteOffset).getUint32(0)));
  await rx.bind(9000);
  const tx = src.network.createUdpSocket();
  await tx.bind(0);
  const buf = new Uint8Array(4);
  for (let i = 0; i < n; i++) {
    new DataView(buf.buffer).setUint32(0, i);
    tx.send(buf, ep(dst.address, 9000));
    if (gapMs > 0) sim.clock.advance(gapMs);
  }
  sim.clock.advance(10_000);
  return { sim, got };
}

const inversions = (xs: number[]): number => xs.filter((x, i) => i > 0 && x < xs[i - 1]!).length;

describe('links in the simulator', () => {
  it('loses about the configured fraction (10% of 10k packets, ±1.5%)', async () => {
    const { sim, got } = await stream({ loss: 0.1 }, 10_000, 0);
    expect(got.length).toBeGreaterThan(8850);
    expect(got.length).toBeLessThan(9150);
    expect(sim.stats.dropped.loss).toBe(10_000 - got.length);
    expect(new Set(got).size).toBe(got.length);
  });

  it('duplicates about the configured fraction (20% of 5k packets)', async () => {
    const { sim, got } = await stream({ duplicate: 0.2 }, 5000, 0);
    const extra = got.length - 5000;
    expect(extra).toBe(sim.stats.duplicated);
    expect(extra).toBeGreaterThan(900);
    expect(extra).toBeLessThan(1100);
    expect(new Set(got).size).toBe(5000);
  });

  it('keeps order without jitter or reordering (the control case)', async () => {
    const { got } = await stream({ delayMs: 20 }, 500, 1);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('reorders through jitter larger than the gap between packets', async () => {
    const { got } = await stream({ delayMs: 20, jitterMs: 15 }, 500, 1);
    expect(got.length).toBe(500);
    expect(inversions(got)).toBeGreaterThan(50);
  });

  it('reorders through an explicit hold-back probability', async () => {
    const { got } = await stream({ delayMs: 20, reorder: 0.1, reorderDelayMs: 10 }, 1000, 1);
    expect(got.length).toBe(1000);
    // Each held-back packet is overtaken; runs of them collapse, so count loosely around 10%.
    expect(inversions(got)).toBeGreaterThan(60);
    expect(inversions(got)).toBeLessThan(140);
  });

  it('applies each direction separately', async () => {
    const sim = new Simulator({ seed: 1 });
    const a = sim.addHost('a');
    sim.setLink(a, { delayMs: 40 }, 'down');
    expect(a.link.up.delayMs).toBe(1);
    expect(a.link.down.delayMs).toBe(40);
    expect(() => sim.setLink(a, { loss: 2 })).toThrow(/loss/);
  });
});

/** A small but busy scenario through NATs and impaired links; returns the full trace. */
async function tracedRun(seed: number): Promise<{ trace: SimEvent[]; sim: Simulator }> {
  const sim = new Simulator({ seed });
  const trace: SimEvent[] = [];
  sim.observe((e) => trace.push(e));
  const srv = sim.addHost('srv', { internetAddress: '203.0.113.10' });
  await reflector(srv, 3478);
  const natA = sim.addNat('natA', { ...NAT_PRESETS.symmetric });
  const natB = sim.addNat('natB', { ...NAT_PRESETS.portRestrictedCone });
  const hosts = [sim.addHost('a', { behind: natA }), sim.addHost('b', { behind: natB })];
  const impair = { delayMs: 15, jitterMs: 10, loss: 0.1, duplicate: 0.05, reorder: 0.05 };
  for (const n of [...hosts, natA, natB]) sim.setLink(n, impair);
  const socks = hosts.map((h) => h.network.createUdpSocket());
  for (const s of socks) await s.bind(0);
  for (let i = 0; i < 50; i++) {
    for (const s of socks) s.send(new Uint8Array([i]), ep('203.0.113.10', 3478));
    await sim.run(7);
  }
  await sim.run(1000);
  return { trace, sim };
}

describe('determinism', () => {
  it('the same seed gives the exact same trace; another seed a different one', async () => {
    const one = await tracedRun(7);
    const two = await tracedRun(7);
    const other = await tracedRun(8);
    expect(one.trace.length).toBeGreaterThan(200);
    expect(two.trace).toEqual(one.trace);
    expect(other.trace).not.toEqual(one.trace);
    // Every kind of impairment happened in the run, so the comparison covers them.
    expect(one.sim.stats.dropped.loss).toBeGreaterThan(0);
    expect(one.sim.stats.duplicated).toBeGreaterThan(0);
    expect(one.trace.some((e) => e.kind === 'map')).toBe(true);
  });

  it('accounts for every datagram: sent + duplicated = delivered + dropped', async () => {
    const { sim, trace } = await tracedRun(11);
    expect(sim.clock.timerCount).toBe(0); // nothing left in flight
    const s = sim.stats;
    const atServer = trace.filter((e) => e.kind === 'deliver' && e.node === 'srv').length;
    expect(s.sent).toBe(100 + atServer); // 100 client sends, one reply per datagram the server got
    expect(s.sent + s.duplicated).toBe(s.delivered + totalDropped(s));
    expect(totalDropped(s)).toBeGreaterThan(0);
  });
});
