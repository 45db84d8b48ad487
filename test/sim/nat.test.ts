import { describe, expect, it } from 'vitest';
import { NAT_BEHAVIOURS, type NatBehaviour } from '../../common/net/sim/nat-rules.js';
import type { NatOptions } from '../../common/net/sim/simulator.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import { ep, probe, reflected, reflector } from './helpers.js';

const S1 = '203.0.113.10';
const S2 = '203.0.113.11';
const S3 = '203.0.113.12';
const NAT_IP = '203.0.113.20';

/** One NAT with host `a` (and `b`) behind it, and servers S1, S2, S3 on the internet. */
function world(nat: NatOptions = {}, seed = 1) {
  const sim = new Simulator({ seed });
  const s1 = sim.addHost('s1', { internetAddress: S1 });
  const s2 = sim.addHost('s2', { internetAddress: S2 });
  const s3 = sim.addHost('s3', { internetAddress: S3 });
  const natA = sim.addNat('natA', { publicAddress: NAT_IP, ...nat });
  const a = sim.addHost('a', { behind: natA });
  const b = sim.addHost('b', { behind: natA });
  return { sim, s1, s2, s3, natA, a, b };
}

describe('NAT: what a server on the internet observes', () => {
  it('sees each host at its NAT public address with the mapped port, and its answer gets back', async () => {
    const sim = new Simulator({ seed: 1 });
    const rdv = await reflector(sim.addHost('rdv', { internetAddress: S1 }), 3478);
    const natA = sim.addNat('natA', { publicAddress: '203.0.113.20', portAllocation: 'preserve' });
    const natB = sim.addNat('natB', {
      publicAddress: '203.0.113.30',
      portAllocation: 'sequential',
      portRange: [20000, 20100],
    });
    const a = await probe(sim.addHost('a', { behind: natA, lanAddress: '10.1.0.7' }), 5000);
    const b = await probe(sim.addHost('b', { behind: natB }), 5000);
    a.send('hi', ep(S1, 3478));
    b.send('hi', ep(S1, 3478));
    expect(await sim.runUntil(() => a.got.length === 1 && b.got.length === 1, 1000)).toBe(true);

    expect(rdv.got.map((g) => g.from)).toEqual([ep('203.0.113.20', 5000), ep('203.0.113.30', 20000)]);
    expect(reflected(a)).toEqual(ep('203.0.113.20', 5000));
    expect(reflected(b)).toEqual(ep('203.0.113.30', 20000));
    expect(a.got[0]!.from).toEqual(ep(S1, 3478));
    expect(natA.mappings()).toEqual([
      expect.objectContaining({ internal: ep('10.1.0.7', 5000), external: ep('203.0.113.20', 5000) }),
    ]);
    // Four access links at 1 ms each: a→natA→internet→rdv and back.
    expect(sim.clock.now()).toBe(6);
  });
});

describe.each(NAT_BEHAVIOURS.flatMap((m) => NAT_BEHAVIOURS.map((f) => [m, f] as const)))(
  'NAT mapping %s / filtering %s',
  (mapping: NatBehaviour, filtering: NatBehaviour) => {
    it('maps towards different destinations and filters unsolicited sources as RFC 4787 says', async () => {
      const { sim, s1, s2, s3, a: ha } = world({ mapping, filtering });
      const r11 = await reflector(s1, 3478);
      const r12 = await reflector(s1, 3479);
      const r21 = await reflector(s2, 3478);
      const a = await probe(ha, 5000);
      a.send('x', ep(S1, 3478));
      a.send('x', ep(S1, 3479));
      a.send('x', ep(S2, 3478));
      expect(await sim.runUntil(() => a.got.length === 3, 1000)).toBe(true);
      const [p11, p12, p21] = [r11, r12, r21].map((r) => r.got[0]!.from);
      for (const p of [p11, p12, p21]) expect(p!.address).toBe(NAT_IP);

      // Mapping: which destinations share the external port.
      const portOf = (e: { port: number } | undefined): number => e!.port;
      if (mapping === 'endpoint-independent') expect(new Set([p11, p12, p21].map(portOf)).size).toBe(1);
      if (mapping === 'address-dependent') {
        expect(portOf(p11)).toBe(portOf(p12));
        expect(portOf(p21)).not.toBe(portOf(p11));
      }
      if (mapping === 'address-and-port-dependent') expect(new Set([p11, p12, p21].map(portOf)).size).toBe(3);

      // Filtering: strangers knock on the mapping that was made towards S1:3478.
      const sameAddrOtherPort = await probe(s1, 4000);
      const otherAddr = await probe(s3, 4000);
      sameAddrOtherPort.send('from S1:4000', p11!);
      otherAddr.send('from S3:4000', p11!);
      await sim.run(100);
      const texts = a.got.slice(3).map((g) => g.text);
      expect(texts.includes('from S1:4000')).toBe(filtering !== 'address-and-port-dependent');
      expect(texts.includes('from S3:4000')).toBe(filtering === 'endpoint-independent');
      const expectedFiltered = {
        'endpoint-independent': 0,
        'address-dependent': 1,
        'address-and-port-dependent': 2,
      };
      expect(sim.stats.dropped.filtered).toBe(expectedFiltered[filtering]);
    });
  },
);

describe('NAT hairpinning (RFC 4787 REQ-9)', () => {
  async function hairpinRun(hairpin: boolean) {
    const { sim, s1, natA, a: ha, b: hb } = world({ hairpin });
    await reflector(s1, 3478);
    const a = await probe(ha, 5000);
    const b = await probe(hb, 6000);
    a.send('where', ep(S1, 3478));
    b.send('where', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 1 && b.got.length === 1, 1000);
    const aPub = reflected(a);
    const bPub = reflected(b);
    // b opens its mapping towards a's public endpoint (filtered at a's side: a has not sent to b yet) ...
    b.send('b->a 1', aPub);
    await sim.run(50);
    // ... then a's packet to b's public endpoint is admitted, and b's next one to a as well.
    a.send('a->b', bPub);
    await sim.run(50);
    b.send('b->a 2', aPub);
    await sim.run(50);
    return { sim, natA, a, b, aPub, bPub };
  }

  it('on: LAN hosts reach each other via the public address, seen with the translated source', async () => {
    const { sim, natA, a, b, aPub, bPub } = await hairpinRun(true);
    expect(b.got.slice(1)).toEqual([{ text: 'a->b', from: aPub }]);
    expect(a.got.slice(1)).toEqual([{ text: 'b->a 2', from: bPub }]);
    expect(sim.stats.dropped.filtered).toBe(1); // 'b->a 1', before a had sent to b
    expect(natA.stats.hairpinned).toBe(3);
    expect(sim.stats.dropped['hairpin-disabled']).toBe(0);
  });

  it('off: packets to the own public address are dropped and create no mapping', async () => {
    const { sim, natA, a, b } = await hairpinRun(false);
    expect(a.got.length).toBe(1);
    expect(b.got.length).toBe(1);
    expect(sim.stats.dropped['hairpin-disabled']).toBe(3);
    expect(natA.stats.hairpinned).toBe(0);
    expect(natA.mappings().length).toBe(2);
  });
});

describe('NAT mapping timeout (RFC 4787 REQ-6: outbound refresh)', () => {
  async function setup(opts: NatOptions) {
    const w = world({ mappingTimeoutMs: 30_000, ...opts });
    const srv = await reflector(w.s1, 3478);
    const a = await probe(w.a, 5000);
    a.send('open', ep(S1, 3478));
    await w.sim.runUntil(() => a.got.length === 1, 1000);
    return { ...w, srv, a, pub: reflected(a) };
  }
  const at = async (sim: Simulator, t: number) => sim.run(t - sim.clock.now());

  it('expires an idle mapping; inbound traffic does not keep it alive', async () => {
    const { sim, srv, a, pub, natA } = await setup({});
    await at(sim, 20_000);
    srv.sock.send(new Uint8Array([1]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(2);
    await at(sim, 31_000);
    srv.sock.send(new Uint8Array([2]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(2);
    expect(sim.stats.dropped['no-mapping']).toBe(1);
    expect(natA.mappings()).toEqual([]);
    expect(natA.stats.mappingsExpired).toBe(1);
  });

  it('keeps a mapping alive while the inside keeps sending', async () => {
    const { sim, srv, a, pub, natA } = await setup({});
    await at(sim, 20_000);
    a.send('keepalive', ep(S1, 3478));
    await at(sim, 35_000); // past the first packet's 30 s, within the keepalive's
    srv.sock.send(new Uint8Array([1]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(3); // 2 reflector answers + the ping
    await at(sim, 40_000);
    a.send('keepalive', ep(S1, 3478));
    await at(sim, 65_000);
    srv.sock.send(new Uint8Array([2]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(5);
    await at(sim, 71_000);
    srv.sock.send(new Uint8Array([3]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(5);
    expect(sim.stats.dropped['no-mapping']).toBe(1);
    expect(natA.stats.mappingsCreated).toBe(1);
  });

  it('with inboundRefresh, inbound traffic keeps it alive too', async () => {
    const { sim, srv, a, pub } = await setup({ inboundRefresh: true });
    await at(sim, 20_000);
    srv.sock.send(new Uint8Array([1]), pub);
    await at(sim, 45_000);
    srv.sock.send(new Uint8Array([2]), pub);
    await sim.run(10);
    expect(a.got.length).toBe(3);
  });

  it('after expiry a preserving NAT maps to the same port again, a randomising one to a new port', async () => {
    for (const [portAllocation, same] of [
      ['preserve', true],
      ['random', false],
    ] as const) {
      const { sim, a, pub } = await setup({ portAllocation });
      await at(sim, 40_000);
      a.send('again', ep(S1, 3478));
      await sim.runUntil(() => a.got.length === 2, 1000);
      expect(reflected(a).port === pub.port).toBe(same);
    }
  });
});

describe('NAT state', () => {
  it('drops unsolicited inbound without leaving state that could steer later port choices', async () => {
    const { sim, s1, natA, a: ha } = world({ portAllocation: 'preserve' });
    const srv = await reflector(s1, 3478);
    srv.sock.send(new Uint8Array([0]), ep(NAT_IP, 5000)); // a punch that arrives first
    await sim.run(10);
    expect(sim.stats.dropped['no-mapping']).toBe(1);
    expect(natA.mappings()).toEqual([]);
    const a = await probe(ha, 5000);
    a.send('hi', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 1, 1000);
    expect(reflected(a)).toEqual(ep(NAT_IP, 5000));
  });

  it('flushMappings (conntrack -F) on a randomising NAT: old port dead, next packet gets a new one', async () => {
    const { sim, s1, natA, a: ha } = world({ portAllocation: 'random' });
    const srv = await reflector(s1, 3478);
    const a = await probe(ha, 5000);
    a.send('hi', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 1, 1000);
    const before = reflected(a);
    expect(natA.flushMappings()).toBe(1);
    expect(natA.stats.mappingsFlushed).toBe(1);
    srv.sock.send(new Uint8Array([0]), before);
    await sim.run(10);
    expect(sim.stats.dropped['no-mapping']).toBe(1);
    a.send('hi again', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 2, 1000);
    expect(reflected(a).address).toBe(NAT_IP);
    expect(reflected(a).port).not.toBe(before.port);
  });

  it('blockUdp on a NAT: nothing gets out or in, the LAN still works', async () => {
    const { sim, s1, a: ha, b: hb } = world({ blockUdp: true });
    const srv = await reflector(s1, 3478);
    const a = await probe(ha, 5000);
    const b = await probe(hb, 5000);
    a.send('out', ep(S1, 3478));
    srv.sock.send(new Uint8Array([0]), ep(NAT_IP, 5000));
    a.send('lan', ep(hb.address, 5000));
    await sim.run(100);
    expect(srv.got).toEqual([]);
    expect(b.got.map((g) => g.text)).toEqual(['lan']);
    expect(sim.stats.dropped.blocked).toBe(2);
  });

  it('configure() changing the mapping behaviour flushes mappings; hairpin can be toggled live', async () => {
    const { sim, s1, natA, a: ha } = world();
    await reflector(s1, 3478);
    const a = await probe(ha, 5000);
    a.send('hi', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 1, 1000);
    natA.configure({ hairpin: true });
    expect(natA.mappings().length).toBe(1);
    natA.configure({ mapping: 'address-and-port-dependent' });
    expect(natA.mappings().length).toBe(0);
    expect(() => natA.configure({ mappingTimeoutMs: 0 })).toThrow(/mappingTimeoutMs/);
  });
});

describe('LAN behind one NAT', () => {
  it('hosts reach each other by LAN address, untranslated and without touching the NAT', async () => {
    const { sim, natA, a: ha, b: hb } = world();
    const a = await probe(ha, 5000);
    const b = await probe(hb, 6000);
    a.send('direct', ep(hb.address, 6000));
    await sim.run(10);
    expect(b.got).toEqual([{ text: 'direct', from: ep(ha.address, 5000) }]);
    expect(ha.address.startsWith('10.1.0.')).toBe(true);
    expect(natA.stats.translatedOut).toBe(0);
    expect(natA.mappings()).toEqual([]);
  });

  it('an unused LAN address is not routed through the NAT; the gateway has no listener', async () => {
    const { sim, natA, a: ha } = world();
    const a = await probe(ha, 5000);
    a.send('nobody', ep('10.1.0.99', 6000));
    a.send('router', ep(natA.lanAddress, 6000));
    await sim.run(10);
    expect(sim.stats.dropped['no-route']).toBe(1);
    expect(sim.stats.dropped['no-listener']).toBe(1);
    expect(natA.mappings()).toEqual([]);
  });

  it('a private address of another LAN is not routed on the internet', async () => {
    const { sim, natA, a: ha } = world();
    const a = await probe(ha, 5000);
    a.send('x', ep('192.168.7.7', 6000));
    await sim.run(10);
    expect(sim.stats.dropped['no-route']).toBe(1);
    expect(natA.mappings().length).toBe(1); // it did go through the NAT
  });
});

describe('double NAT', () => {
  it('a host behind a home NAT behind a carrier NAT is seen at the outer public address', async () => {
    const sim = new Simulator({ seed: 3 });
    const srv = await reflector(sim.addHost('rdv', { internetAddress: S1 }), 3478);
    const cgnat = sim.addNat('cgnat', { publicAddress: '203.0.113.50', lanSubnet: '100.64.0.0/24' });
    const home = sim.addNat('home', { behind: cgnat, lanSubnet: '192.168.1.0/24' });
    const h = await probe(sim.addHost('h', { behind: home }), 5000);
    h.send('hi', ep(S1, 3478));
    expect(await sim.runUntil(() => h.got.length === 1, 1000)).toBe(true);
    expect(reflected(h)).toEqual(ep('203.0.113.50', 5000));
    expect(home.externalAddress).toBe('100.64.0.2');
    expect(home.mappings()[0]!.internal).toEqual(ep('192.168.1.2', 5000));
    expect(home.mappings()[0]!.external).toEqual(ep('100.64.0.2', 5000));
    expect(cgnat.mappings()[0]!.internal).toEqual(ep('100.64.0.2', 5000));
    srv.sock.send(new Uint8Array([9]), ep('203.0.113.50', 5001));
    await sim.run(10);
    expect(sim.stats.dropped['no-mapping']).toBe(1);
  });

  it('two homes behind one carrier NAT can punch to each other only if the carrier NAT hairpins', async () => {
    for (const hairpin of [true, false]) {
      const sim = new Simulator({ seed: 4 });
      await reflector(sim.addHost('rdv', { internetAddress: S1 }), 3478);
      const cgnat = sim.addNat('cgnat', { publicAddress: '203.0.113.50', hairpin });
      const h1 = await probe(sim.addHost('h1', { behind: sim.addNat('home1', { behind: cgnat }) }), 5000);
      const h2 = await probe(sim.addHost('h2', { behind: sim.addNat('home2', { behind: cgnat }) }), 6000);
      h1.send('where', ep(S1, 3478));
      h2.send('where', ep(S1, 3478));
      await sim.runUntil(() => h1.got.length === 1 && h2.got.length === 1, 1000);
      const [p1, p2] = [reflected(h1), reflected(h2)];
      for (let i = 0; i < 5; i++) {
        h1.send('punch', p2);
        h2.send('punch', p1);
        await sim.run(50);
      }
      expect(h1.got.length > 1 && h2.got.length > 1).toBe(hairpin);
    }
  });
});

describe('network change', () => {
  it('moveHost: sockets keep their ports, the host gets a new address and a new public endpoint', async () => {
    const { sim, s1, a: ha } = world();
    const natB = sim.addNat('natB', { publicAddress: '203.0.113.30' });
    await reflector(s1, 3478);
    const a = await probe(ha, 5000);
    a.send('hi', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 1, 1000);
    expect(reflected(a)).toEqual(ep(NAT_IP, 5000));
    sim.moveHost(ha, { behind: natB });
    expect(ha.network.localAddresses()).toEqual(['10.2.0.2']);
    a.send('hi', ep(S1, 3478));
    await sim.runUntil(() => a.got.length === 2, 1000);
    expect(reflected(a)).toEqual(ep('203.0.113.30', 5000));
    expect(a.sock.localEndpoint().port).toBe(5000);
  });
});
