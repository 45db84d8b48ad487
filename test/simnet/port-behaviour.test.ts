import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { MsgType } from '../../common/wire/constants.js';
import type { Introduce } from '../../common/wire/messages.js';
import type { NatProbe } from '../../peer/nat-probe.js';
import type { RendezvousClient } from '../../peer/rendezvous-client.js';
import { SERVER, SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/** The node's UDP rendezvous client and its port behaviour probe (private: reached for the test). */
/** The node's connections to the server in use (peer/server-failover.ts holds them). */
const servers = (p: SimPeer): { udp: RendezvousClient; natProbe: NatProbe } =>
  (p.node as unknown as { servers: { current: { udp: RendezvousClient; natProbe: NatProbe } } }).servers
    .current;

/** Every introduction a peer's UDP client got: as the target (event) and as the requester (connect()). */
function recordIntros(p: SimPeer): Introduce[] {
  const got: Introduce[] = [];
  const client = servers(p).udp;
  client.on('introduce', (i) => void got.push(i));
  const connect = client.connect.bind(client);
  client.connect = async (target) => {
    const i = await connect(target);
    got.push(i);
    return i;
  };
  return got;
}

async function threeNats(seed = 1): Promise<{ w: SimWorld; cone: SimPeer; seq: SimPeer; rnd: SimPeer }> {
  const w = new SimWorld(seed);
  await w.start();
  const cone = await w.peer('alice', { behind: w.nat('cone', NAT_PRESETS.portRestrictedCone) });
  const seq = await w.peer('bob', {
    behind: w.nat('seq', { ...NAT_PRESETS.symmetric, portAllocation: 'sequential' }),
  });
  const rnd = await w.peer('carol', { behind: w.nat('rnd', NAT_PRESETS.symmetric) });
  return { w, cone, seq, rnd };
}

describe('port behaviour learnt at registration (peer/nat-probe.ts) on the simulated network', () => {
  it('peers behind a port-restricted cone, a sequential and a random symmetric NAT each learn their kind', async () => {
    const { w, cone, seq, rnd } = await threeNats();
    // The measurement needs the server's alternate port: opened by default at main + 1.
    expect(w.server.altEndpoint?.port).toBe(SERVER.port + 1);
    const all = [cone, seq, rnd];
    expect(await w.run(() => w.server.stats.natInfo === 3, 5_000)).toBe(true);
    expect(servers(cone).udp.nat).toEqual({ kind: 'consistent', preserved: true });
    const m1 = servers(seq).udp.observed!.port;
    expect(servers(seq).udp.nat).toEqual({ kind: 'sequential', step: 1, last: m1 + 3 });
    expect(servers(rnd).udp.nat).toEqual({ kind: 'random' });
    for (const p of all) {
      expect(servers(p).natProbe.measurements).toBe(1);
      // The temporary socket is closed: the main socket is the only one left.
      expect(p.host.boundPorts()).toHaveLength(1);
    }
    await w.close();
  });

  it('an introduction carries the other side’s kind in intro.nat, both ways', async () => {
    const { w, cone, seq, rnd } = await threeNats(2);
    const introsOf = new Map([cone, seq, rnd].map((p) => [p.name, recordIntros(p)]));
    expect(await w.run(() => w.server.stats.natInfo === 3, 5_000)).toBe(true);
    void cone.node.connect('bob').catch(() => {});
    void rnd.node.connect('bob').catch(() => {});
    const got = (name: string): Introduce[] => introsOf.get(name)!;
    expect(await w.run(() => got('bob').length === 2 && got('alice').length === 1, 5_000)).toBe(true);
    const bobNat = servers(seq).udp.nat;
    expect(bobNat.kind).toBe('sequential');
    expect(got('alice')[0]!.nat).toEqual(bobNat);
    expect(got('carol')[0]!.nat).toEqual(bobNat);
    const toBob = new Map(got('bob').map((i) => [i.name, i.nat]));
    expect(toBob.get('alice')).toEqual({ kind: 'consistent', preserved: true });
    expect(toBob.get('carol')).toEqual({ kind: 'random' });
    await w.close();
  });

  it('a re-registration from the same mapping tells the server again without measuring again', async () => {
    const { w, cone } = await threeNats(3);
    expect(await w.run(() => w.server.stats.natInfo === 3, 5_000)).toBe(true);
    const renamed = cone.node.rename('alice2'); // registers again: the server forgets the behaviour
    expect(await w.run(() => w.server.stats.natInfo === 4, 5_000)).toBe(true);
    await renamed;
    expect(servers(cone).natProbe.measurements).toBe(1);
    const rec = [...w.server.registry.members('lobby')].find((m) => m.name === 'alice2');
    expect(rec?.udp?.nat).toEqual({ kind: 'consistent', preserved: true });
    await w.close();
  });

  it('with the alternate port off the behaviour stays unknown, and introductions carry none', async () => {
    const w = new SimWorld(4, false, { altPort: 0 });
    await w.start();
    expect(w.server.altEndpoint).toBeUndefined();
    const a = await w.peer('alice', { behind: w.nat('a', NAT_PRESETS.portRestrictedCone) });
    const b = await w.peer('bob', { behind: w.nat('b', NAT_PRESETS.portRestrictedCone) });
    const intros = recordIntros(a);
    expect(await w.run(() => w.server.stats.natInfo === 2, 5_000)).toBe(true);
    expect(servers(a).udp.nat).toEqual({ kind: 'unknown' });
    void a.node.connect('bob').catch(() => {});
    expect(await w.run(() => intros.length === 1 && b.events.connected.length === 1, 5_000)).toBe(true);
    expect('nat' in intros[0]!).toBe(false);
    await w.close();
  });

  it('an older server that drops NAT_INFO: no answer, no error; the peer keeps its behaviour and connects', async () => {
    const w = new SimWorld(5);
    const handle = w.server.handle.bind(w.server);
    let dropped = 0;
    w.server.handle = (msg, ctx, raw) =>
      msg.type === MsgType.NAT_INFO ? void dropped++ : handle(msg, ctx, raw);
    await w.start();
    const a = await w.peer('alice', { behind: w.nat('a', NAT_PRESETS.portRestrictedCone) });
    const b = await w.peer('bob', { internetAddress: '203.0.113.50' });
    expect(await w.run(() => servers(a).natProbe.measurements === 1 && dropped > 0, 5_000)).toBe(true);
    await w.sim.run(10_000); // the NAT_INFO request's retransmissions run out
    expect(servers(a).udp.nat).toEqual({ kind: 'consistent', preserved: true });
    expect(a.events.error).toEqual([]);
    expect(servers(a).udp.state).toBe('registered');
    void a.node.connect('bob').catch(() => {});
    expect(await w.run(() => b.events.connected.length === 1, 5_000)).toBe(true);
    await w.close();
  });
});
