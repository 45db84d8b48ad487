import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

async function connectPair(w: SimWorld, a: SimPeer, b: SimPeer, maxMs = 15_000): Promise<void> {
  // A lost last delta of a quiet room is repaired at the next keepalive (15 s, docs/protocol.md
  // §7.3): presence may take one keepalive interval and a round trip on a lossy link.
  const listed = (): boolean => a.events.presence.some((e) => e.peers.some((p) => p.name === b.name));
  if (!(await w.run(listed, maxMs + 5_000))) throw new Error(`${a.name} never listed ${b.name}`);
  void a.node.connect(b.name).catch(() => {});
  const ok = await w.run(() => a.events.connected.length > 0 && b.events.connected.length > 0, maxMs);
  if (!ok) throw new Error(`not connected: ${JSON.stringify([a.events.error, b.events.error])}`);
}

describe('peer topologies on the simulated network', () => {
  it('two peers behind one NAT without hairpinning connect over the LAN', async () => {
    const w = new SimWorld(3);
    await w.start();
    const nat = w.nat('home', { ...NAT_PRESETS.portRestrictedCone, hairpin: false });
    const a = await w.peer('a', { behind: nat });
    const b = await w.peer('b', { behind: nat });
    await connectPair(w, a, b);
    expect(a.events.connected[0]!.remote).toBe(`${b.host.address}:${b.node.local!.port}`);
    expect(a.node.peerStats('b').punch!.kind).toBe('lan');
    expect(b.node.peerStats('a').punch!.kind).toBe('lan');
    await w.close();
  });

  it('with hairpinning on, LAN still beats the public path', async () => {
    const w = new SimWorld(4);
    await w.start();
    const nat = w.nat('home', { ...NAT_PRESETS.fullCone, hairpin: true });
    const a = await w.peer('a', { behind: nat });
    const b = await w.peer('b', { behind: nat });
    await connectPair(w, a, b);
    expect(a.node.peerStats('b').punch!.kind).toBe('lan');
    await w.close();
  });

  it('double NAT: a peer behind two cone NATs reaches a peer behind another cone NAT', async () => {
    const w = new SimWorld(5);
    await w.start();
    const carrier = w.nat('carrier', { ...NAT_PRESETS.portRestrictedCone });
    const home = w.nat('home', { ...NAT_PRESETS.portRestrictedCone, behind: carrier });
    const other = w.nat('other', { ...NAT_PRESETS.portRestrictedCone });
    const a = await w.peer('a', { behind: home });
    const b = await w.peer('b', { behind: other });
    await connectPair(w, a, b);
    expect(a.events.registered[0]!.public.startsWith(carrier.externalAddress)).toBe(true);
    expect(a.events.connected[0]!.remote).toBe(b.events.registered[0]!.public);
    expect(b.events.connected[0]!.remote).toBe(a.events.registered[0]!.public);
    await w.close();
  });

  it('5% loss on every link: registration, punching and messages still get through', async () => {
    for (const seed of [11, 12, 13]) {
      const w = new SimWorld(seed);
      await w.start();
      const na = w.nat('na', { ...NAT_PRESETS.portRestrictedCone });
      const nb = w.nat('nb', { ...NAT_PRESETS.portRestrictedCone });
      w.sim.setLink(na, { loss: 0.05, delayMs: 20, jitterMs: 5 });
      w.sim.setLink(nb, { loss: 0.05, delayMs: 30, jitterMs: 5 });
      const a = await w.peer('a', { behind: na });
      const b = await w.peer('b', { behind: nb });
      await connectPair(w, a, b);
      expect(a.node.peerStats('b').punch!.ms).toBeLessThan(1000); // punching; the handshake follows
      await w.close();
    }
  });

  it('registration refreshes keep the NAT mapping and the server entry alive past their timeouts', async () => {
    const w = new SimWorld(6);
    await w.start();
    const nat = w.nat('n', { ...NAT_PRESETS.portRestrictedCone, mappingTimeoutMs: 30_000 });
    const a = await w.peer('a', { behind: nat });
    const b = await w.peer('b', { internetAddress: '203.0.113.50' });
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
    await w.sim.run(5 * 60_000); // five minutes, far beyond the mapping timeout and the server expiry
    expect(w.server.stats.expired).toBe(0);
    expect(new Set(a.events.registered.map((e) => e.public)).size).toBe(1);
    await connectPair(w, b, a);
    await w.close();
  });

  it('a peer that vanishes expires from the room and the others are told', async () => {
    const w = new SimWorld(7);
    await w.start();
    const a = await w.peer('a', { internetAddress: '203.0.113.60' });
    const b = await w.peer('b', { internetAddress: '203.0.113.61' });
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
    b.host.blockUdp = true; // b's machine drops off the network without saying goodbye
    const gone = await w.run(() => a.events.presence.at(-1)!.peers.length === 0, 120_000);
    expect(gone).toBe(true);
    expect(w.server.stats.expired).toBe(1);
    expect(w.sim.clock.now()).toBeGreaterThan(w.server.options.expiryMs);
    await w.close();
  });

  it('a restarted rendezvous is re-joined without user action', async () => {
    const w = new SimWorld(8);
    await w.start();
    const a = await w.peer('a', { internetAddress: '203.0.113.70' });
    await w.run(() => a.events.registered.length === 1, 5000);
    await w.server.close();
    await w.sim.run(40_000);
    expect(a.events.server.map((e) => e.state)).toContain('lost');
    await w.server.start();
    const back = await w.run(() => a.events.registered.length === 2, 60_000);
    expect(back).toBe(true);
    expect(a.node.serverState).toBe('registered');
    await w.close();
  });

  it('peers behind different NATs take the public path at once, without waiting on unreachable LAN addresses', async () => {
    const w = new SimWorld(9);
    await w.start();
    const a = await w.peer('a', { behind: w.nat('na', { ...NAT_PRESETS.portRestrictedCone }) });
    const b = await w.peer('b', { behind: w.nat('nb', { ...NAT_PRESETS.portRestrictedCone }) });
    await connectPair(w, a, b);
    // The LAN grace (150 ms) is not paid: one round trip through both NATs is ~12 ms here.
    expect(a.node.peerStats('b').punch!.ms).toBeLessThan(60);
    expect(a.node.peerStats('b').punch!.kind).toBe('public');
    await w.close();
  });

  it('a failed introduction is reported as an error event for that peer', async () => {
    const w = new SimWorld(10);
    await w.start();
    const a = await w.peer('a', { internetAddress: '203.0.113.71' });
    const b = await w.peer('b', { internetAddress: '203.0.113.72' });
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
    w.server.registry.remove(b.node.identity.id.reduce((h, x) => h + x.toString(16).padStart(2, '0'), ''));
    a.node.sendMessage('b', 'lost?');
    expect(await w.run(() => a.events.error.length > 0, 10_000)).toBe(true);
    expect(a.events.error[0]).toMatchObject({ code: 'UNKNOWN_PEER', peer: 'b' });
    expect(a.events.error[0]!.message).toMatch(/1 message waiting; will retry/);
    expect(a.node.peerList().find((p) => p.name === 'b')!.state).toBe('online');
    await w.close();
  });
});
