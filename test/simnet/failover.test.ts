/**
 * Clients with several rendezvous servers (`--server A,B`, peer/server-failover.ts): two
 * independent servers (own keys, own registries), two peers that list both. A dies (closed, or cut
 * off without a word); both peers register at B within the documented bound, and their chat goes on:
 * a direct session untouched, a relayed one through B once both are introduced there.
 */
import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { parseServerList, resolveServerList } from '../../peer/cli/server-flag.js';
import type { PeerOptions } from '../../peer/peer-node.js';
import { FAILOVER_MS, RELAY_LOST_FAILOVER_MS } from '../../peer/server-failover.js';
import { RELAY_URL, SERVER, SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const B_ADDRESS = '203.0.113.20';
const B = { address: B_ADDRESS, port: SERVER.port };
const servers: PeerOptions['servers'] = [
  { server: SERVER, relayUrl: RELAY_URL, name: 'a.example:7000' },
  { server: B, relayUrl: `ws://${B_ADDRESS}:7000/`, name: 'b.example:7000' },
];

/**
 * The bound on moving away from a dead server (docs/cli.md, "Several servers"): a closed server's
 * WebSocket closes at once, then RELAY_LOST_FAILOVER_MS; a silent one misses a keepalive (15 s)
 * and its unanswered tries (~7.75 s), then FAILOVER_MS; then registering at B (< 1 s here).
 */
const CLOSED_BOUND_MS = RELAY_LOST_FAILOVER_MS + 1_000;
const SILENT_BOUND_MS = 15_000 + 8_000 + FAILOVER_MS + 2_000;

const texts = (p: SimPeer, from: string): string[] =>
  p.events.message.filter((m) => m.peer === from).map((m) => m.text);
const seq = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const at = (p: SimPeer, name: string): boolean =>
  p.node.serverName === name && p.node.serverState === 'registered';
const relayUp = (p: SimPeer): boolean => p.events.registered.some((r) => r.transport === 'ws');

async function world(
  seed: number,
  nat: object | undefined,
  opts: Partial<PeerOptions> = {},
): Promise<{ w: SimWorld; a: SimPeer; b: SimPeer; bServer: Awaited<ReturnType<SimWorld['addServer']>> }> {
  const w = new SimWorld(seed, true);
  await w.start();
  const bServer = await w.addServer(B_ADDRESS);
  const where = (n: string) =>
    nat ? { behind: w.nat(`n${n}`, { ...nat }) } : { internetAddress: `198.51.100.${n}` };
  const a = await w.peer('a', where('1'), { servers, ...opts });
  const b = await w.peer('b', where('2'), { servers, ...opts });
  const first = (opts.servers ?? servers)![0]!.name;
  const ready = await w.run(
    () =>
      [a, b].every((p) => relayUp(p) && p.events.presence.some((e) => e.peers.length === 1)) &&
      at(a, first) &&
      at(b, first),
    15_000,
  );
  expect(ready).toBe(true);
  return { w, a, b, bServer };
}

/** Send `n` messages each way, `gapMs` of virtual time apart, while `during` runs at message `when`. */
async function chat(
  w: SimWorld,
  a: SimPeer,
  b: SimPeer,
  n: number,
  when: number,
  during: () => Promise<void>,
) {
  for (let i = 0; i < n; i++) {
    if (i === when) await during();
    a.node.sendMessage('b', `a${i}`);
    b.node.sendMessage('a', `b${i}`);
    await w.run(() => false, 500);
  }
}

describe('clients fail over between rendezvous servers (--server A,B)', () => {
  it('A closes: both peers register at B within the bound; a direct chat goes on untouched', async () => {
    const { w, a, b, bServer } = await world(71, undefined);
    a.node.sendMessage('b', 'hello');
    expect(
      await w.run(() => a.node.peerStats('b')?.path === 'direct' && a.events.delivered.length === 1, 20_000),
    ).toBe(true);
    let t0 = 0;
    const movedAt = [a, b].map((p) => {
      const when = { ms: Infinity };
      p.node.on('registered', () => {
        if (p.node.serverName === 'b.example:7000') when.ms = Math.min(when.ms, w.sim.clock.now() - t0);
      });
      return when;
    });
    await chat(w, a, b, 40, 10, async () => {
      t0 = w.sim.clock.now();
      await w.server.close();
    });
    expect(await w.run(() => at(a, 'b.example:7000') && at(b, 'b.example:7000'), CLOSED_BOUND_MS)).toBe(true);
    for (const m of movedAt) expect(m.ms).toBeLessThanOrEqual(CLOSED_BOUND_MS);
    expect(bServer.server.stats.registrations).toBeGreaterThanOrEqual(2);
    expect(
      await w.run(() => a.events.delivered.length === 41 && b.events.delivered.length === 40, 30_000),
    ).toBe(true);
    expect(texts(b, 'a')).toEqual(['hello', ...seq('a', 40)]);
    expect(texts(a, 'b')).toEqual(seq('b', 40));
    // The one session all along: opened once, never reported gone, never off the direct path.
    for (const p of [a, b]) {
      expect(p.events.connected).toHaveLength(1);
      expect(p.events.disconnected).toEqual([]);
      expect(p.events.path.filter((e) => e.path !== 'direct')).toEqual([]);
      expect(p.events['server-changed']).toEqual([
        { server: 'b.example:7000', previous: 'a.example:7000', reason: 'unanswered' },
      ]);
    }
    await w.close();
  }, 60_000);

  it('A goes silent (partitioned, nothing closes): both move to B within the bound', async () => {
    const { w, a, b } = await world(72, undefined);
    const t0 = w.sim.clock.now();
    w.sim.setLink(w.serverHost, { loss: 1 });
    expect(await w.run(() => at(a, 'b.example:7000') && at(b, 'b.example:7000'), SILENT_BOUND_MS)).toBe(true);
    expect(w.sim.clock.now() - t0).toBeLessThanOrEqual(SILENT_BOUND_MS);
    a.node.sendMessage('b', 'via b');
    expect(await w.run(() => a.events.delivered.length === 1, 20_000)).toBe(true);
    expect(texts(b, 'a')).toEqual(['via b']);
    await w.close();
  }, 60_000);

  it.each([
    ['symmetric NATs (punching fails)', NAT_PRESETS.symmetric, {}],
    ['relay-only mode', undefined, { mode: 'relay-only' as const }],
  ])(
    '%s: a relayed chat continues through B, every message once, in order',
    async (_what, nat, opts) => {
      const { w, a, b, bServer } = await world(73, nat, opts);
      a.node.sendMessage('b', 'hello');
      expect(await w.run(() => a.events.delivered.length === 1, 20_000)).toBe(true);
      expect(a.node.peerStats('b')?.path).toBe('relay');
      await chat(w, a, b, 40, 10, () => w.server.close());
      expect(
        await w.run(() => a.events.delivered.length === 41 && b.events.delivered.length === 40, 90_000),
      ).toBe(true);
      expect(texts(b, 'a')).toEqual(['hello', ...seq('a', 40)]);
      expect(texts(a, 'b')).toEqual(seq('b', 40));
      // Through B: its relay carried frames between the two.
      expect(bServer.server.relayStats.framesRelayed).toBeGreaterThan(0);
      expect(at(a, 'b.example:7000') && at(b, 'b.example:7000')).toBe(true);
      // The same session all along: the relay path went on through B (introduced there), never reported gone.
      for (const p of [a, b]) {
        expect(p.events.connected).toHaveLength(1);
        expect(p.events.disconnected).toEqual([]);
      }
      await w.close();
    },
    60_000,
  );

  it('a name with two A records, resolved through the lookup seam, is two servers to fail over between', async () => {
    const lookup = async (host: string): Promise<string[]> =>
      host === 'rdv.example' ? [SERVER.address, B_ADDRESS] : [];
    const resolved = await resolveServerList(parseServerList('rdv.example:7000'), lookup);
    const { w, a, b } = await world(75, undefined, { servers: resolved });
    const bName = `${B_ADDRESS}:7000`;
    await w.server.close();
    expect(await w.run(() => at(a, bName) && at(b, bName), CLOSED_BOUND_MS)).toBe(true);
    expect(a.events['server-changed']).toEqual([
      { server: bName, previous: `${SERVER.address}:7000`, reason: 'unanswered' },
    ]);
    a.node.sendMessage('b', 'via the second record');
    expect(await w.run(() => a.events.delivered.length === 1, 20_000)).toBe(true);
    await w.close();
  }, 60_000);

  it('every server down, then one back: the client keeps retrying on a bounded back-off and recovers', async () => {
    const w = new SimWorld(74, true);
    await w.start();
    // B is not there yet: nothing answers at its address.
    const a = await w.peer('a', { internetAddress: '198.51.100.1' }, { servers });
    expect(await w.run(() => at(a, 'a.example:7000'), 15_000)).toBe(true);
    await w.server.close();
    // Two minutes with nothing answering: the client keeps moving, each round at most 30 s apart.
    const moves = (): number => a.events['server-changed'].length;
    await w.run(() => false, 120_000);
    expect(moves()).toBeGreaterThanOrEqual(4);
    expect(a.node.serverState).not.toBe('registered');
    await w.addServer(B_ADDRESS);
    // The next try at B comes within one round's back-off (30 s) plus a try at A (10 s) and B's own.
    expect(await w.run(() => at(a, 'b.example:7000'), 30_000 + 2 * FAILOVER_MS + 2_000)).toBe(true);
    await w.close();
  }, 60_000);
});
