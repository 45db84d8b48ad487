/**
 * A rendezvous node drained for maintenance (rendezvous/drain.ts, `punchline rendezvous` on
 * SIGTERM): it takes no new registrations and tells its members GOING_AWAY; a client with several
 * servers (peer/server-failover.ts) moves to the next at once, far inside the failover timeouts,
 * and its relayed chat goes on through the next server. A forged GOING_AWAY moves nobody.
 */
import { describe, expect, it } from 'vitest';
import { MsgType } from '../../common/wire/constants.js';
import { encode } from '../../common/wire/messages.js';
import type { PeerOptions } from '../../peer/peer-node.js';
import { RELAY_LOST_FAILOVER_MS } from '../../peer/server-failover.js';
import { RELAY_URL, SERVER, SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const B_ADDRESS = '203.0.113.20';
const servers: PeerOptions['servers'] = [
  { server: SERVER, relayUrl: RELAY_URL, name: 'a.example:7000' },
  {
    server: { address: B_ADDRESS, port: SERVER.port },
    relayUrl: `ws://${B_ADDRESS}:7000/`,
    name: 'b.example:7000',
  },
];
/** A drained member's move: GOING_AWAY, LEAVE, then HELLO/COOKIE/REGISTER at B (tens of ms here). */
const MOVE_BOUND_MS = 1_000;

const texts = (p: SimPeer, from: string): string[] =>
  p.events.message.filter((m) => m.peer === from).map((m) => m.text);
const seq = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const at = (p: SimPeer, name: string): boolean =>
  p.node.serverName === name && p.node.serverState === 'registered';
const relayUp = (p: SimPeer): boolean => p.events.registered.some((r) => r.transport === 'ws');

async function world(seed: number, opts: Partial<PeerOptions>) {
  const w = new SimWorld(seed, true);
  await w.start();
  const bServer = (await w.addServer(B_ADDRESS)).server;
  const a = await w.peer('a', { internetAddress: '198.51.100.1' }, opts);
  const b = await w.peer('b', { internetAddress: '198.51.100.2' }, opts);
  const first = opts.servers?.[0]?.name ?? `${SERVER.address}:${SERVER.port}`;
  const ready = await w.run(
    () =>
      [a, b].every((p) => relayUp(p) && p.events.presence.some((e) => e.peers.length === 1) && at(p, first)),
    15_000,
  );
  expect(ready).toBe(true);
  return { w, a, b, bServer };
}

describe('a rendezvous node drains (GOING_AWAY)', () => {
  it('both peers move to B at once; a relayed chat goes on, every message once, in order', async () => {
    const { w, a, b, bServer } = await world(81, { servers, mode: 'relay-only' });
    a.node.sendMessage('b', 'hello');
    expect(await w.run(() => a.events.delivered.length === 1, 20_000)).toBe(true);
    expect(a.node.peerStats('b')?.path).toBe('relay');
    let drained: Promise<{ left: number; waitedMs: number }> | undefined;
    let t0 = 0;
    for (let i = 0; i < 40; i++) {
      if (i === 10) {
        t0 = w.sim.clock.now();
        drained = w.server.drain(10_000);
        expect(w.server.health().status).toBe('draining');
        expect(await w.run(() => at(a, 'b.example:7000') && at(b, 'b.example:7000'), MOVE_BOUND_MS)).toBe(
          true,
        );
        // Far inside the fastest failover (a closed relay stream, 3 s): told, not timed out.
        expect(w.sim.clock.now() - t0).toBeLessThan(RELAY_LOST_FAILOVER_MS / 3);
      }
      a.node.sendMessage('b', `a${i}`);
      b.node.sendMessage('a', `b${i}`);
      await w.run(() => false, 500);
    }
    // Both members left A (LEAVE, closed streams): the drain ended well before its bound.
    const result = await drained!;
    expect(result.left).toBe(0);
    expect(result.waitedMs).toBeLessThan(MOVE_BOUND_MS);
    expect(
      await w.run(() => a.events.delivered.length === 41 && b.events.delivered.length === 40, 30_000),
    ).toBe(true);
    expect(texts(b, 'a')).toEqual(['hello', ...seq('a', 40)]);
    expect(texts(a, 'b')).toEqual(seq('b', 40));
    expect(bServer.relayStats.framesRelayed).toBeGreaterThan(0);
    for (const p of [a, b]) {
      expect(p.events.connected).toHaveLength(1);
      expect(p.events.disconnected).toEqual([]);
      expect(p.events['server-changed']).toEqual([
        { server: 'b.example:7000', previous: 'a.example:7000', reason: 'draining' },
      ]);
    }
    await w.close();
  }, 60_000);

  it('a draining node registers nobody new: a newcomer HELLO is dropped (counted draining)', async () => {
    const { w } = await world(82, { servers });
    void w.server.drain(10_000);
    const c = await w.peer('c', { internetAddress: '198.51.100.3' });
    await w.run(() => false, 3_000);
    expect(c.node.serverState).not.toBe('registered');
    expect(w.server.stats.dropped.draining).toBeGreaterThan(0);
    expect(w.server.registry.get(c.node.identity.id.toString())).toBeUndefined();
    await w.close();
  }, 60_000);

  it('one server: the peer leaves it (the drain ends early), keeps its session, and retries it', async () => {
    const { w, a, b } = await world(83, {});
    a.node.sendMessage('b', 'hello');
    expect(
      await w.run(() => a.events.delivered.length === 1 && a.node.peerStats('b')?.path === 'direct', 20_000),
    ).toBe(true);
    let result: { left: number; waitedMs: number } | undefined;
    void w.server.drain(10_000).then((r) => (result = r));
    expect(await w.run(() => result !== undefined, 10_000)).toBe(true);
    expect(result!.left).toBe(0);
    expect(result!.waitedMs).toBeLessThan(MOVE_BOUND_MS);
    // The peers keep asking the same server (HELLOs dropped while it drains); no move is reported.
    const before = w.server.stats.dropped.draining;
    await w.run(() => false, 5_000);
    expect(w.server.stats.dropped.draining).toBeGreaterThan(before);
    for (const p of [a, b]) expect(p.events['server-changed']).toEqual([]);
    // The direct session is untouched.
    a.node.sendMessage('b', 'still here');
    expect(await w.run(() => a.events.delivered.length === 2, 10_000)).toBe(true);
    expect(texts(b, 'a')).toEqual(['hello', 'still here']);
    for (const p of [a, b]) expect(p.events.disconnected).toEqual([]);
    await w.close();
  }, 60_000);

  it('a forged GOING_AWAY from the server address (no key) is dropped: nobody moves', async () => {
    const { w, a } = await world(84, { servers });
    const mallory = w.sim.addHost('mallory', { internetAddress: '203.0.113.66' });
    const forged = encode({ type: MsgType.GOING_AWAY, withinMs: 0 });
    mallory.sendSpoofed(forged, SERVER, { address: '198.51.100.1', port: a.node.local!.port });
    // A MAC that is not zero but is not the server's either.
    const guessed = Uint8Array.from(forged);
    guessed.fill(0x5a, guessed.length - 16);
    mallory.sendSpoofed(guessed, SERVER, { address: '198.51.100.1', port: a.node.local!.port });
    expect(await w.run(() => a.node.serverDrops.bad_mac === 2, 2_000)).toBe(true);
    await w.run(() => false, 2_000);
    expect(a.events['server-changed']).toEqual([]);
    expect(at(a, 'a.example:7000')).toBe(true);
    await w.close();
  }, 60_000);

  it('over UDP alone (no relay stream): the authentic GOING_AWAY moves the peer at once', async () => {
    const w = new SimWorld(85);
    await w.start();
    await w.addServer(B_ADDRESS);
    const udpOnly = servers!.map(({ server, name }) => ({ server, name }));
    const a = await w.peer('a', { internetAddress: '198.51.100.1' }, { servers: udpOnly });
    expect(await w.run(() => at(a, 'a.example:7000'), 5_000)).toBe(true);
    const t0 = w.sim.clock.now();
    void w.server.drain(10_000);
    expect(await w.run(() => at(a, 'b.example:7000'), MOVE_BOUND_MS)).toBe(true);
    expect(w.sim.clock.now() - t0).toBeLessThan(MOVE_BOUND_MS);
    expect(a.events['server-changed'].map((e) => e.reason)).toEqual(['draining']);
    await w.close();
  }, 60_000);
});
