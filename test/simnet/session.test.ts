import { describe, expect, it } from 'vitest';
import type { SimNat } from '../../common/net/sim/nat.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

async function pair(seed: number, natA = {}, natB = {}): Promise<{ w: SimWorld; a: SimPeer; b: SimPeer }> {
  const w = new SimWorld(seed);
  await w.start();
  const a = await w.peer('a', { behind: w.nat('na', { ...NAT_PRESETS.portRestrictedCone, ...natA }) });
  const b = await w.peer('b', { behind: w.nat('nb', { ...NAT_PRESETS.portRestrictedCone, ...natB }) });
  await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 10_000);
  void a.node.connect('b').catch(() => {});
  const ok = await w.run(() => a.events.connected.length > 0 && b.events.connected.length > 0, 30_000);
  if (!ok) throw new Error(`not connected: ${JSON.stringify([a.events.error, b.events.error])}`);
  return { w, a, b };
}

const texts = (p: SimPeer, from: string): string[] =>
  p.events.message.filter((m) => m.peer === from).map((m) => m.text);

/**
 * a and b chat; mid-conversation b's NAT (random ports) forgets its mappings, so b's next packets
 * leave from a new port. Asserts that 20 messages each way still arrive exactly once, in order,
 * with every receipt; returns a's view of b's endpoint before the rebinding.
 */
async function rebindMidConversation(
  natA: object,
  maxMs: number,
): Promise<{ w: SimWorld; a: SimPeer; b: SimPeer; before: string | undefined }> {
  const { w, a, b } = await pair(34, natA, { portAllocation: 'random' });
  for (let i = 0; i < 20; i++) a.node.sendMessage('b', `m${i}`);
  await w.run(() => texts(b, 'a').length >= 5, 10_000);
  const before = a.node.peerStats('b').remote;
  (w.sim.get('nb') as SimNat).flushMappings();
  for (let i = 0; i < 20; i++) b.node.sendMessage('a', `r${i}`);
  const ok = await w.run(
    () =>
      texts(b, 'a').length === 20 &&
      texts(a, 'b').length === 20 &&
      a.events.delivered.length === 20 &&
      b.events.delivered.length === 20,
    maxMs,
  );
  expect(ok).toBe(true);
  expect(texts(b, 'a')).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  expect(texts(a, 'b')).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
  return { w, a, b, before };
}

describe('encrypted sessions between peers on the simulated network', () => {
  it('messages get sent, delivered (receipt) and arrive once, in order, both ways', async () => {
    const { w, a, b } = await pair(31);
    const ids = [];
    for (let i = 0; i < 50; i++) {
      ids.push(a.node.sendMessage('b', `a${i}`));
      b.node.sendMessage('a', `b${i}`);
    }
    expect(a.events.sent.map((e) => e.messageId)).toEqual(ids);
    await w.run(() => a.events.delivered.length === 50 && b.events.delivered.length === 50, 30_000);
    expect(texts(b, 'a')).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    expect(texts(a, 'b')).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(a.events.delivered.map((e) => e.messageId)).toEqual(ids);
    expect(b.events.message.map((m) => m.messageId)).toEqual(ids);
    await w.close();
  });

  it('20% loss both ways: 300 messages each way exactly once and in order, and a 1 MiB message intact', async () => {
    const { w, a, b } = await pair(32);
    w.sim.setLink(a.host, { loss: 0.2, delayMs: 15, jitterMs: 5 });
    w.sim.setLink(b.host, { loss: 0.2, delayMs: 25, jitterMs: 5 });
    const big = 'x'.repeat(1_000_000 - 16) + 'END-OF-MESSAGE!!';
    for (let i = 0; i < 300; i++) {
      a.node.sendMessage('b', `a${i}`);
      b.node.sendMessage('a', `b${i}`);
      if (i === 150) a.node.sendMessage('b', big);
    }
    const done = await w.run(
      () => a.events.delivered.length === 301 && b.events.delivered.length === 300,
      600_000,
    );
    expect(done).toBe(true);
    const got = texts(b, 'a');
    expect(got.length).toBe(301);
    expect(got.filter((t) => t !== big)).toEqual(Array.from({ length: 300 }, (_, i) => `a${i}`));
    expect(got[151]).toBe(big);
    expect(texts(a, 'b')).toEqual(Array.from({ length: 300 }, (_, i) => `b${i}`));
    const st = a.node.peerStats('b');
    expect(st.session!.retransmits).toBeGreaterThan(0);
    expect(st.session!.loss).toBeGreaterThan(0.05);
    await w.close();
  }, 60_000);

  it('the direct path dies: disconnected, reconnect through the rendezvous, queued messages flow once', async () => {
    const { w, a, b } = await pair(33);
    a.node.sendMessage('b', 'before');
    await w.run(() => b.events.message.length === 1, 10_000);
    // b's uplink goes dark for 40 s: the session is declared dead (15 s) and reconnects later.
    w.sim.setLink(b.host, { loss: 1 });
    for (let i = 0; i < 5; i++) a.node.sendMessage('b', `during ${i}`);
    await w.run(() => a.events.disconnected.length > 0, 30_000);
    expect(a.events.disconnected[0]).toMatchObject({ peer: 'b', reason: 'timeout' });
    expect(w.sim.clock.now()).toBeGreaterThan(15_000);
    await w.sim.run(25_000);
    w.sim.setLink(b.host, { loss: 0 });
    const ok = await w.run(() => texts(b, 'a').length === 6 && a.events.delivered.length === 6, 120_000);
    expect(ok).toBe(true);
    expect(texts(b, 'a')).toEqual(['before', 'during 0', 'during 1', 'during 2', 'during 3', 'during 4']);
    expect(a.events.connected.length).toBeGreaterThanOrEqual(2); // a second session was opened
    await w.close();
  }, 30_000);

  it("NAT rebinding when the other side's filter admits it: the session moves after a path challenge", async () => {
    // a's NAT filters endpoint-independently, so b's packets from its new port reach a at once.
    const { w, a, before } = await rebindMidConversation({ ...NAT_PRESETS.fullCone }, 10_000);
    // Same session (no new introduction), new remote port.
    expect(a.events.connected.length).toBe(1);
    expect(a.events.disconnected).toEqual([]);
    expect(a.node.peerStats('b').remote).not.toBe(before);
    expect(w.sim.clock.now()).toBeLessThan(5_000);
    await w.close();
  });

  it('NAT rebinding behind port-restricted NATs on both sides: recovered by a new introduction, nothing lost or doubled', async () => {
    // a's NAT drops b's packets from a port a never sent to, so the path goes silent: the session
    // is declared dead and the peers are introduced again.
    const { w, a } = await rebindMidConversation({}, 60_000);
    expect(a.events.disconnected[0]).toMatchObject({ reason: 'timeout' });
    expect(a.events.connected.length).toBe(2);
    expect(w.sim.clock.now()).toBeLessThan(25_000);
    await w.close();
  });

  it('a message to a peer that is not reachable yet waits, and flows once it comes online', async () => {
    const w = new SimWorld(35);
    await w.start();
    const a = await w.peer('a', { internetAddress: '203.0.113.101' });
    const b = await w.peer('b', { internetAddress: '203.0.113.102' });
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
    b.host.blockUdp = true;
    a.node.sendMessage('b', 'hello later');
    await w.run(() => a.events.error.length > 0, 20_000); // punching fails while b is dark
    expect(a.events.error[0]).toMatchObject({ code: 'PUNCH_FAILED', peer: 'b' });
    expect(a.events.error[0]!.message).toMatch(/1 message waiting/);
    b.host.blockUdp = false;
    expect(await w.run(() => texts(b, 'a').length === 1 && a.events.delivered.length === 1, 120_000)).toBe(
      true,
    );
    await w.close();
  });
});
