import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/**
 * One seed, one trace: every random choice in a simulated run (link loss and jitter, NAT ports,
 * identities, transaction ids, nonces, backoff jitter in the peers and the server) comes from the
 * world's seed, so a failing simulated test replays exactly from its seed. The trace here is
 * every event each peer emits, stamped with virtual time, plus what the server counted.
 */
async function trace(seed: number): Promise<string[]> {
  const w = new SimWorld(seed, true);
  await w.start();
  const na = w.nat('na', NAT_PRESETS.portRestrictedCone);
  const nb = w.nat('nb', NAT_PRESETS.symmetric);
  const out: string[] = [];
  const record = (p: SimPeer): void => {
    for (const k of [
      'registered',
      'presence',
      'connected',
      'path',
      'message',
      'delivered',
      'disconnected',
      'error',
    ] as const)
      p.node.on(k, (e) => out.push(`${w.sim.clock.now()} ${p.name} ${k} ${JSON.stringify(e)}`));
  };
  const a = await w.peer('a', { behind: na });
  const b = await w.peer('b', { behind: nb });
  record(a);
  record(b);
  w.sim.setLink(a.host, { loss: 0.2, delayMs: 15, jitterMs: 10 });
  w.sim.setLink(b.host, { loss: 0.2, delayMs: 25, jitterMs: 10 });
  expect(
    await w.run(() => [a, b].every((p) => p.events.presence.some((e) => e.peers.length === 1)), 30_000),
  ).toBe(true);
  for (let i = 0; i < 20; i++) a.node.sendMessage('b', `m${i}`);
  for (let i = 0; i < 20; i++) b.node.sendMessage('a', `r${i}`);
  expect(
    await w.run(() => a.events.delivered.length === 20 && b.events.delivered.length === 20, 120_000),
  ).toBe(true);
  out.push(`server ${JSON.stringify(w.server.stats)}`);
  await w.close();
  return out;
}

describe('one seed, one trace', () => {
  it('the same seed twice gives the very same trace; another seed another one', async () => {
    const first = await trace(77);
    const again = await trace(77);
    expect(first.length).toBeGreaterThan(40);
    expect(again).toEqual(first);
    const other = await trace(78);
    expect(other).not.toEqual(first);
  }, 60_000);
});
