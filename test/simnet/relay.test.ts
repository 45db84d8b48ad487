import { describe, expect, it } from 'vitest';
import type { SimNat } from '../../common/net/sim/nat.js';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

const texts = (p: SimPeer, from: string): string[] =>
  p.events.message.filter((m) => m.peer === from).map((m) => m.text);
const seq = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function world(
  seed: number,
  natA: object,
  natB: object,
): Promise<{ w: SimWorld; a: SimPeer; b: SimPeer; na: SimNat; nb: SimNat }> {
  const w = new SimWorld(seed, true);
  await w.start();
  const na = w.nat('na', { ...natA });
  const nb = w.nat('nb', { ...natB });
  const a = await w.peer('a', { behind: na });
  const b = await w.peer('b', { behind: nb });
  const relayUp = (p: SimPeer): boolean => p.events.registered.some((r) => r.transport === 'ws');
  await w.run(
    () =>
      a.events.presence.some((e) => e.peers.length === 1) &&
      b.events.presence.some((e) => e.peers.length === 1) &&
      relayUp(a) &&
      relayUp(b),
    15_000,
  );
  return { w, a, b, na, nb };
}

describe('relay fallback and upgrade on the simulated network', () => {
  it('symmetric NATs on both sides: the session runs over the relay, both ways, exactly once', async () => {
    const { w, a, b } = await world(41, NAT_PRESETS.symmetric, NAT_PRESETS.symmetric);
    for (let i = 0; i < 30; i++) {
      a.node.sendMessage('b', `a${i}`);
      b.node.sendMessage('a', `b${i}`);
    }
    const ok = await w.run(
      () => a.events.delivered.length === 30 && b.events.delivered.length === 30,
      60_000,
    );
    expect(ok).toBe(true);
    expect(texts(b, 'a')).toEqual(seq('a', 30));
    expect(texts(a, 'b')).toEqual(seq('b', 30));
    expect(a.events.connected[0]).toMatchObject({ path: 'relay', remote: 'relay' });
    expect(a.node.peerStats('b')).toMatchObject({ path: 'relay', state: 'relay' });
    // Punching failed quietly (no error: the relay carries the session).
    expect(a.events.error.filter((e) => e.code === 'PUNCH_FAILED')).toEqual([]);
    await w.close();
  }, 30_000);

  it('direct-path retries on the relay keep the one session: no candidate replaces it, nothing lost or doubled', async () => {
    // Both behind symmetric NATs: a (it asked first: the initiator) asks for a new introduction
    // at 5, 10, 20, 40 and 60 s; the other side gets each with its session open (a silent
    // candidate, never promoted).
    const { w, a, b } = await world(44, NAT_PRESETS.symmetric, NAT_PRESETS.symmetric);
    a.node.sendMessage('b', 'first');
    expect(await w.run(() => a.events.delivered.length === 1, 20_000)).toBe(true);
    const introsBefore = w.server.stats.introductions;
    await w.run(() => false, 140_000);
    expect(w.server.stats.introductions).toBeGreaterThanOrEqual(introsBefore + 4); // the retries happened
    for (const p of [a, b]) {
      expect(p.events.connected).toHaveLength(1);
      expect(p.events.disconnected).toEqual([]);
    }
    a.node.sendMessage('b', 'second');
    b.node.sendMessage('a', 'back');
    expect(await w.run(() => texts(b, 'a').length === 2 && texts(a, 'b').length === 1, 20_000)).toBe(true);
    expect(texts(b, 'a')).toEqual(['first', 'second']);
    expect(texts(a, 'b')).toEqual(['back']);
    await w.close();
  }, 30_000);

  it('UDP blocked on one side: it registers, sees presence and chats over TCP only', async () => {
    const { w, a, b } = await world(
      42,
      { ...NAT_PRESETS.portRestrictedCone, blockUdp: true },
      NAT_PRESETS.portRestrictedCone,
    );
    expect(a.events.registered.map((r) => r.transport)).toEqual(['ws']);
    expect(a.events.presence.at(-1)!.peers.map((p) => p.name)).toEqual(['b']);
    expect(b.events.presence.at(-1)!.peers.map((p) => p.name)).toEqual(['a']);
    b.node.sendMessage('a', 'over tcp?');
    a.node.sendMessage('b', 'yes, over tcp');
    const ok = await w.run(() => texts(a, 'b').length === 1 && texts(b, 'a').length === 1, 30_000);
    expect(ok).toBe(true);
    expect(a.events.connected[0]!.path).toBe('relay');
    expect(a.node.serverState).toBe('registered');
    // The unreachable UDP rendezvous is not reported as an error while the relay works.
    expect(a.events.error.filter((e) => e.code === 'SERVER_UNREACHABLE')).toEqual([]);
    await w.close();
  }, 30_000);

  it('relay first, then the upgrade to direct once UDP opens up: no message lost or doubled across the switch', async () => {
    // b starts on a network that blocks UDP (the session opens on the relay), which later lets
    // UDP out: the retry of the direct path finds it and the same session moves there.
    const { w, a, b, nb } = await world(43, NAT_PRESETS.portRestrictedCone, {
      ...NAT_PRESETS.portRestrictedCone,
      blockUdp: true,
    });
    let sent = 0;
    const pump = (): void => {
      for (let k = 0; k < 2 && sent < 200; k++, sent++) {
        a.node.sendMessage('b', `a${sent}`);
        b.node.sendMessage('a', `b${sent}`);
      }
    };
    pump();
    await w.run(() => a.events.connected.length === 1, 10_000);
    expect(a.events.connected[0]!.path).toBe('relay');
    nb.blockUdp = false;
    // Keep sending while b re-registers over UDP and the direct path is retried (5 s, 10 s, ...).
    for (let t = 0; t < 400 && (sent < 200 || a.events.path.length === 0); t++) {
      await w.sim.run(250);
      pump();
    }
    const ok = await w.run(
      () => a.events.delivered.length === 200 && b.events.delivered.length === 200,
      60_000,
    );
    expect(ok).toBe(true);
    expect(texts(b, 'a')).toEqual(seq('a', 200));
    expect(texts(a, 'b')).toEqual(seq('b', 200));
    expect(a.events.path.map((p) => p.path)).toContain('direct');
    expect(a.node.peerStats('b').path).toBe('direct');
    expect(a.events.connected).toHaveLength(1); // one session throughout
    expect(a.events.disconnected).toEqual([]);
    await w.close();
  }, 30_000);

  it('the direct path is cut mid-conversation: falls back to the relay, nothing lost or doubled', async () => {
    const { w, a, b, nb } = await world(44, NAT_PRESETS.portRestrictedCone, NAT_PRESETS.portRestrictedCone);
    a.node.sendMessage('b', 'hello');
    await w.run(() => a.node.peerStats('b').path === 'direct' && texts(b, 'a').length === 1, 20_000);
    expect(a.node.peerStats('b').path).toBe('direct');
    nb.blockUdp = true; // b's network now drops all UDP; TCP (the relay) still gets out
    const cutAt = w.sim.clock.now();
    for (let i = 0; i < 20; i++) a.node.sendMessage('b', `m${i}`);
    const ok = await w.run(() => texts(b, 'a').length === 21 && a.events.delivered.length === 21, 60_000);
    expect(ok).toBe(true);
    expect(texts(b, 'a')).toEqual(['hello', ...seq('m', 20)]);
    expect(a.events.path.map((p) => p.path)).toContain('relay');
    expect(a.node.peerStats('b').path).toBe('relay');
    expect(a.events.disconnected).toEqual([]); // the session survived
    const fallbackAt = w.sim.clock.now() - cutAt;
    expect(fallbackAt).toBeLessThan(15_000); // within the 7 s direct-trust window plus delivery
    await w.close();
  }, 30_000);

  it('--direct-only never relays; --relay-only never punches', async () => {
    const w = new SimWorld(45, true);
    await w.start();
    const a = await w.peer(
      'a',
      { behind: w.nat('na', { ...NAT_PRESETS.portRestrictedCone }) },
      { mode: 'relay-only' },
    );
    const b = await w.peer(
      'b',
      { behind: w.nat('nb', { ...NAT_PRESETS.portRestrictedCone }) },
      { mode: 'relay-only' },
    );
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 10_000);
    a.node.sendMessage('b', 'relayed only');
    await w.run(() => texts(b, 'a').length === 1, 20_000);
    await w.sim.run(10_000);
    expect(a.node.peerStats('b').path).toBe('relay');
    expect(a.events.trace.filter((t) => t.type === 'probe')).toEqual([]);
    const c = await w.peer(
      'c',
      { behind: w.nat('nc', { ...NAT_PRESETS.symmetric }) },
      { mode: 'direct-only' },
    );
    const d = await w.peer(
      'd',
      { behind: w.nat('nd', { ...NAT_PRESETS.symmetric }) },
      { mode: 'direct-only' },
    );
    await w.run(() => c.events.presence.some((e) => e.peers.some((p) => p.name === 'd')), 10_000);
    c.node.sendMessage('d', 'cannot');
    await w.run(() => c.events.error.length > 0, 20_000);
    expect(c.events.error[0]!.code).toBe('PUNCH_FAILED');
    expect(texts(d, 'c')).toEqual([]);
    await w.close();
  }, 30_000);

  it('both peers send their first message at the same moment: one session, no outage', async () => {
    for (const [seed, offsetMs] of [
      [51, 0],
      [52, 5],
      [53, 15],
      [54, 25],
      [55, 40],
    ] as const) {
      const { w, a, b } = await world(seed, NAT_PRESETS.portRestrictedCone, NAT_PRESETS.portRestrictedCone);
      const t0 = w.sim.clock.now();
      a.node.sendMessage('b', 'from a');
      if (offsetMs > 0) await w.sim.run(offsetMs);
      b.node.sendMessage('a', 'from b');
      const ok = await w.run(() => texts(a, 'b').length === 1 && texts(b, 'a').length === 1, 10_000);
      expect(ok, `seed ${seed}, offset ${offsetMs} ms`).toBe(true);
      expect(w.sim.clock.now() - t0, `seed ${seed}`).toBeLessThan(2_000);
      expect(a.events.connected).toHaveLength(1);
      expect(b.events.connected).toHaveLength(1);
      expect(w.server.stats.introductions).toBe(1); // the crossing CONNECT reused the introduction
      await w.close();
    }
  }, 30_000);

  it('with the relay on, two peers behind one NAT still go direct over the LAN', async () => {
    // The relay stream registers with no LAN addresses; they must not erase the UDP ones.
    const w = new SimWorld(61, true);
    await w.start();
    const home = w.nat('home', { ...NAT_PRESETS.portRestrictedCone, hairpin: false });
    const a = await w.peer('a', { behind: home });
    const b = await w.peer('b', { behind: home });
    await w.run(
      () =>
        a.events.registered.some((r) => r.transport === 'ws') &&
        b.events.registered.some((r) => r.transport === 'ws'),
      10_000,
    );
    a.node.sendMessage('b', 'next door');
    await w.run(() => texts(b, 'a').length === 1 && a.node.peerStats('b').path === 'direct', 20_000);
    expect(a.node.peerStats('b')).toMatchObject({
      path: 'direct',
      remote: `${b.host.address}:${b.node.local!.port}`,
    });
    await w.close();
  }, 30_000);

  it('after the rendezvous restarts, presence comes back on both sides and direct chat goes on', async () => {
    const { w, a, b } = await world(62, NAT_PRESETS.portRestrictedCone, NAT_PRESETS.portRestrictedCone);
    a.node.sendMessage('b', 'before');
    await w.run(() => texts(b, 'a').length === 1 && a.node.peerStats('b').path === 'direct', 20_000);
    await w.server.close();
    for (let i = 0; i < 5; i++) a.node.sendMessage('b', `during ${i}`);
    await w.sim.run(30_000);
    expect(texts(b, 'a')).toEqual(['before', ...seq('during ', 5)]); // direct chat is not disturbed
    const presenceBefore = a.events.presence.length;
    await w.server.start();
    const back = await w.run(
      () =>
        a.events.presence.slice(presenceBefore).some((e) => e.peers.some((p) => p.name === 'b')) &&
        b.events.presence.some((e, i) => i >= 1 && e.peers.some((p) => p.name === 'a')),
      90_000,
    );
    expect(back).toBe(true);
    expect(a.events.disconnected).toEqual([]);
    await w.close();
  }, 30_000);

  it('a one-way UDP failure (b hears a, a no longer hears b): both move to the relay, nothing lost', async () => {
    const { w, a, b } = await world(63, NAT_PRESETS.portRestrictedCone, NAT_PRESETS.portRestrictedCone);
    a.node.sendMessage('b', 'hello');
    await w.run(
      () =>
        texts(b, 'a').length === 1 &&
        a.node.peerStats('b').path === 'direct' &&
        b.node.peerStats('a').path === 'direct',
      20_000,
    );
    // b's uplink now loses every datagram (the relay stream is TCP: it still gets through).
    w.sim.setLink(b.host, { loss: 1 }, 'up');
    for (let i = 0; i < 10; i++) {
      a.node.sendMessage('b', `a${i}`);
      b.node.sendMessage('a', `b${i}`);
    }
    const ok = await w.run(
      () => a.events.delivered.length === 11 && b.events.delivered.length === 10,
      60_000,
    );
    expect(ok).toBe(true);
    expect(texts(b, 'a')).toEqual(['hello', ...seq('a', 10)]);
    expect(texts(a, 'b')).toEqual(seq('b', 10));
    expect(a.node.peerStats('b').path).toBe('relay');
    expect(b.node.peerStats('a').path).toBe('relay');
    await w.close();
  }, 30_000);
});
