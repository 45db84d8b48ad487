import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/** The simulator's clock, counting the timer callbacks it runs for one node (its wakeups). */
class CountingClock implements Clock {
  fired = 0;
  constructor(private readonly inner: Clock) {}
  now(): number {
    return this.inner.now();
  }
  wallNow(): number {
    return this.inner.wallNow();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.inner.setTimeout(() => {
      this.fired++;
      fn();
    }, ms);
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    this.inner.clearTimeout(handle);
  }
  defer(fn: () => void): void {
    this.inner.defer(() => {
      this.fired++;
      fn();
    });
  }
}

const N = 10;

/**
 * A hub with N open, idle sessions (each peer behind its own cone NAT, relay up), opened by the
 * hub (`hubAsks`) or by the peers: what the hub does in one idle minute of virtual time.
 */
async function idleMinute(
  hubAsks: boolean,
  seed: number,
): Promise<{ wakeups: number; datagrams: number; peerDatagrams: number[] }> {
  const w = new SimWorld(seed, true);
  await w.start();
  const clock = new CountingClock(w.sim.clock);
  const hub = await w.peer('hub', { behind: w.nat('nh', NAT_PRESETS.portRestrictedCone), clock });
  const peers: SimPeer[] = [];
  for (let i = 0; i < N; i++)
    peers.push(await w.peer(`p${i}`, { behind: w.nat(`n${i}`, NAT_PRESETS.portRestrictedCone) }));
  for (const p of peers) w.sim.setLink(p.host, { delayMs: 5 + 3 * peers.indexOf(p) });
  expect(await w.run(() => hub.events.presence.some((e) => e.peers.length === N), 30_000)).toBe(true);
  if (hubAsks) {
    for (const p of peers) hub.node.sendMessage(p.name, 'hi');
    expect(await w.run(() => hub.events.delivered.length === N, 30_000)).toBe(true);
  } else {
    const seen = (p: SimPeer): boolean => p.events.presence.some((e) => e.peers.length > 0);
    expect(await w.run(() => peers.every(seen), 30_000)).toBe(true);
    for (const p of peers) p.node.sendMessage('hub', 'hi');
    expect(await w.run(() => hub.events.message.length === N, 30_000)).toBe(true);
  }
  // Settle (punch attempts end, first heartbeats), then count one idle minute.
  await w.run(() => false, 20_000);
  const fired = clock.fired;
  const sent = hub.node.stats.datagramsOut;
  const peerSent = peers.map((p) => p.node.stats.datagramsOut);
  await w.run(() => false, 60_000);
  const out = {
    wakeups: clock.fired - fired,
    datagrams: hub.node.stats.datagramsOut - sent,
    peerDatagrams: peers.map((p, i) => p.node.stats.datagramsOut - peerSent[i]!),
  };
  expect(hub.events.disconnected).toEqual([]);
  await w.close();
  return out;
}

describe('an idle node (docs/session.md, "Idle timers")', () => {
  it(`with ${N} idle sessions: bounded timer wakeups and datagrams per session per minute`, async () => {
    const { wakeups, datagrams, peerDatagrams } = await idleMinute(true, 61);
    // The hub asked for every introduction, so it initiates every session and heartbeats for
    // both sides: one PING per session per 5 s, plus 4 rendezvous keepalives (15 s) a minute.
    // Before: both sides pinged (24.4 datagrams per session per minute).
    expect(datagrams).toBeLessThanOrEqual(N * 12 + 4 + N);
    // Each peer only answers (12 ACKs) and keeps its registration (4 keepalives); before: 28.
    for (const d of peerDatagrams) expect(d).toBeLessThanOrEqual(12 + 4 + 2);
    // One shared heartbeat timer: about 2 wakeups per 5 s for the whole node (the heartbeats,
    // and one check moved by the answers), not per session; before: 436 (43.6 per session).
    expect(wakeups).toBeLessThanOrEqual(2 * 12 + 4 + N);
  }, 60_000);

  it(`with ${N} idle sessions the peers asked for: the hub only answers, in one wakeup per heartbeat round`, async () => {
    const { wakeups, datagrams, peerDatagrams } = await idleMinute(false, 62);
    // The peers initiate and ping; the hub acknowledges (12 a minute per session) and keeps its
    // registration (4). Measured: 124 datagrams and 16 wakeups.
    expect(datagrams).toBeLessThanOrEqual(N * 12 + 4 + N);
    for (const d of peerDatagrams) expect(d).toBeLessThanOrEqual(12 + 4 + 2);
    expect(wakeups).toBeLessThanOrEqual(2 * 12 + 4 + N);
  }, 60_000);
});
