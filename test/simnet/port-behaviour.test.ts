import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import type { Introduce } from '../../common/wire/messages.js';
import type { NatProbe } from '../../peer/nat-probe.js';
import type { RendezvousClient } from '../../peer/rendezvous-client.js';
import { SERVER, SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/** The node's UDP rendezvous client and its port behaviour probe (private: reached for the test). */
const servers = (p: SimPeer): { udp: RendezvousClient; natProbe: NatProbe } =>
  (p.node as unknown as { servers: { udp: RendezvousClient; natProbe: NatProbe } }).servers;

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
});
