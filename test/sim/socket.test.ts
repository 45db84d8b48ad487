import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { MAX_UDP_PAYLOAD } from '../../common/net/sim/packet.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import type { SimSocket } from '../../common/net/sim/socket.js';
import { dec, enc, ep, probe } from './helpers.js';

function pair() {
  const sim = new Simulator({ seed: 1 });
  const a = sim.addHost('a', { internetAddress: '203.0.113.1' });
  const b = sim.addHost('b', { internetAddress: '203.0.113.2' });
  return { sim, a, b };
}

describe('SimSocket binding', () => {
  it('bind(0) takes distinct ephemeral ports in the Linux range', async () => {
    const { a } = pair();
    const ports = await Promise.all(
      Array.from({ length: 20 }, async () => (await a.network.createUdpSocket().bind(0)).port),
    );
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p >= 32768 && p <= 60999).toBe(true);
    expect(a.boundPorts().length).toBe(20);
  });

  it('refuses a port in use (IO) until the holder closes; close is idempotent', async () => {
    const { a } = pair();
    const s1 = a.network.createUdpSocket();
    expect(await s1.bind(7000)).toEqual(ep('0.0.0.0', 7000));
    const s2 = a.network.createUdpSocket();
    await expect(s2.bind(7000)).rejects.toSatisfy((e) => isPunchlineError(e, 'IO'));
    await expect(a.network.createUdpSocket().bind(7000, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    s1.close();
    s1.close();
    expect(await s2.bind(7000)).toEqual(ep('0.0.0.0', 7000));
    await expect(s1.bind(7001)).rejects.toSatisfy((e) => isPunchlineError(e, 'CLOSED'));
    await expect(s2.bind(7002)).rejects.toThrow(/already bound/);
  });

  it('binds to its own address or loopback side by side, but not to foreign addresses', async () => {
    const { a } = pair();
    await a.network.createUdpSocket().bind(7000, '127.0.0.1');
    expect(await a.network.createUdpSocket().bind(7000, '203.0.113.1')).toEqual(ep('203.0.113.1', 7000));
    await expect(a.network.createUdpSocket().bind(7000, '203.0.113.2')).rejects.toThrow(/EADDRNOTAVAIL/);
  });

  it('localEndpoint throws before bind and after close', async () => {
    const { a } = pair();
    const s = a.network.createUdpSocket();
    expect(() => s.localEndpoint()).toThrow(/not bound/);
    await s.bind(0);
    s.close();
    expect(() => s.localEndpoint()).toThrow(/closed/);
  });

  it('send() on an unbound socket binds it to an ephemeral port, and the answer comes back', async () => {
    const { sim, a, b } = pair();
    const srv = await probe(b, 9000);
    srv.sock.onMessage((d, from) => srv.sock.send(d, from));
    const s = a.network.createUdpSocket();
    const got: string[] = [];
    s.onMessage((d) => got.push(dec(d)));
    s.send(enc('ping'), ep('203.0.113.2', 9000));
    expect(s.localEndpoint().port).toBeGreaterThanOrEqual(32768);
    expect(await sim.runUntil(() => got.length === 1, 100)).toBe(true);
  });

  it('reports the host address (and only loopback when detached)', () => {
    const { a } = pair();
    expect(a.network.localAddresses()).toEqual(['203.0.113.1']);
  });
});

describe('SimSocket delivery', () => {
  it('never delivers inside send(), nor in the same microtask turn: only when the clock moves', async () => {
    const { sim, a, b } = pair();
    const rx = await probe(b, 9000);
    const tx = await probe(a, 0);
    tx.send('x', ep(b.address, 9000));
    expect(rx.got.length).toBe(0);
    await Promise.resolve();
    expect(rx.got.length).toBe(0);
    expect(sim.clock.timerCount).toBe(1);
    sim.clock.advance(1);
    expect(rx.got.length).toBe(0); // still crossing b's link
    sim.clock.advance(1);
    expect(rx.got).toEqual([{ text: 'x', from: ep(a.address, tx.local.port) }]);
  });

  it('copies payloads: later writes by the sender, or by one receiver of a duplicate, do not leak', async () => {
    const { sim, a, b } = pair();
    sim.setLink(a, { duplicate: 1 });
    const rx = b.network.createUdpSocket();
    const got: number[][] = [];
    rx.onMessage((d) => {
      got.push([...d]);
      d[0] = 0xee; // scribble on what we were given
    });
    await rx.bind(9000);
    const tx = a.network.createUdpSocket();
    const buf = new Uint8Array([1, 2, 3]);
    tx.send(buf, ep(b.address, 9000));
    buf[0] = 99;
    sim.clock.advance(10);
    expect(got.length).toBe(2);
    expect(got).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(buf[0]).toBe(99);
  });

  it('copies Buffer payloads too (Buffer#slice would share memory)', async () => {
    const { sim, a, b } = pair();
    const rx = await probe(b, 9000);
    const tx = a.network.createUdpSocket();
    const buf = Buffer.from('abc');
    tx.send(buf, ep(b.address, 9000));
    buf.write('zzz');
    sim.clock.advance(10);
    expect(rx.got.map((g) => g.text)).toEqual(['abc']);
  });

  it(`drops datagrams over ${MAX_UDP_PAYLOAD} bytes and counts them`, async () => {
    const { sim, a, b } = pair();
    const rx = await probe(b, 9000);
    const tx = a.network.createUdpSocket() as SimSocket;
    tx.send(new Uint8Array(MAX_UDP_PAYLOAD + 1), ep(b.address, 9000));
    tx.send(new Uint8Array(MAX_UDP_PAYLOAD), ep(b.address, 9000));
    sim.clock.advance(10);
    expect(rx.got.length).toBe(1);
    expect(sim.stats.dropped['too-big']).toBe(1);
    expect(tx.sendErrors).toBe(1);
  });

  it('delivers over loopback (127.0.0.1 and the own address), with no link involved', async () => {
    const { sim, a } = pair();
    sim.setLink(a, { loss: 1 });
    a.blockUdp = true; // the host firewall leaves loopback alone
    const rx = await probe(a, 9000);
    const tx = await probe(a, 9001);
    tx.send('lo', ep('127.0.0.1', 9000));
    tx.send('self', ep(a.address, 9000));
    expect(rx.got.length).toBe(0);
    sim.clock.advance(0);
    expect(rx.got).toEqual([
      { text: 'lo', from: ep('127.0.0.1', 9001) },
      { text: 'self', from: ep(a.address, 9001) },
    ]);
  });

  it('a socket bound to loopback cannot reach other hosts', async () => {
    const { sim, a, b } = pair();
    const rx = await probe(b, 9000);
    const tx = a.network.createUdpSocket();
    await tx.bind(0, '127.0.0.1');
    tx.send(enc('x'), ep(b.address, 9000));
    sim.clock.advance(10);
    expect(rx.got).toEqual([]);
    expect(sim.stats.dropped['no-route']).toBe(1);
  });

  it('counts no-listener, unknown addresses, closed senders and closed receivers', async () => {
    const { sim, a, b } = pair();
    const tx = await probe(a, 0);
    const rx = await probe(b, 9000);
    tx.send('nobody home', ep(b.address, 9001));
    tx.send('no such host', ep('203.0.113.99', 9000));
    tx.send('in flight', ep(b.address, 9000));
    rx.sock.close();
    tx.sock.close();
    expect(() => tx.send('after close', ep(b.address, 9000))).not.toThrow();
    sim.clock.advance(10);
    expect(rx.got).toEqual([]);
    expect(sim.stats.dropped['no-listener']).toBe(2);
    expect(sim.stats.dropped['no-route']).toBe(1);
    expect(sim.stats.dropped.closed).toBe(1);
    expect(sim.stats.delivered).toBe(0);
  });

  it('a host firewall (blockUdp) stops UDP both ways', async () => {
    const { sim, a, b } = pair();
    b.blockUdp = true;
    const pa = await probe(a, 9000);
    const pb = await probe(b, 9000);
    pa.send('in', ep(b.address, 9000));
    pb.send('out', ep(a.address, 9000));
    sim.clock.advance(10);
    expect(pa.got).toEqual([]);
    expect(pb.got).toEqual([]);
    expect(sim.stats.dropped.blocked).toBe(2);
  });
});

describe('Simulator topology checks', () => {
  it('refuses duplicate names and addresses, and bad placements', () => {
    const sim = new Simulator();
    const nat = sim.addNat('nat', { publicAddress: '203.0.113.5' });
    sim.addHost('h', { behind: nat, lanAddress: '10.1.0.9' });
    expect(() => sim.addHost('h')).toThrow(/already exists/);
    expect(() => sim.addHost('x', { internetAddress: '203.0.113.5' })).toThrow(/in use/);
    expect(() => sim.addHost('y', { behind: nat, lanAddress: '10.1.0.9' })).toThrow(/in use/);
    expect(() => sim.addHost('z', { lanAddress: '10.1.0.3' })).toThrow(/behind/);
    expect(() => sim.addHost('w', { internetAddress: 'nope' })).toThrow(/IPv4/);
    expect(() => sim.addNat('n2', { lanSubnet: '10.0.0.0/16' })).toThrow(/lanSubnet/);
    expect(sim.addHost('auto').address).toBe('203.0.113.1');
  });
});
