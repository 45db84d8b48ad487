import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import type { Identity } from '../../common/identity/identity.js';
import type { SimHost } from '../../common/net/sim/host.js';
import type { SimStream } from '../../common/net/sim/stream.js';
import type { DatagramSocket } from '../../common/net/types.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import { rawRegister, sealed } from '../support/raw-register.js';
import type { Message } from '../../common/wire/messages.js';
import { NO_UDP_CANDIDATE } from '../../rendezvous/registry.js';
import { RDV, RelayWorld } from './support/sim-relay.js';
import type { StreamPeer } from './support/stream-peer.js';

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);

/** Register `identity` over UDP from `host` (HELLO, COOKIE, REGISTER) and keep the socket. */
async function udpRegister(
  w: RelayWorld,
  host: SimHost,
  identity: Identity,
  room: string,
  name: string,
): Promise<{ sock: DatagramSocket; inbox: Message[] }> {
  const sock = host.network.createUdpSocket();
  const inbox: Message[] = [];
  sock.onMessage((d) => inbox.push(decode(d)));
  await sock.bind(0);
  const txid = new Uint8Array(8).fill(1);
  sock.send(encode({ type: MsgType.HELLO, txid }), RDV);
  await w.run(() => inbox.some((m) => m.type === MsgType.COOKIE), 1000);
  const cookie = inbox.find((m) => m.type === MsgType.COOKIE);
  if (cookie?.type !== MsgType.COOKIE) throw new Error('no cookie');
  sock.send(rawRegister(identity, cookie, txid, { room, name }).bytes, RDV);
  await w.run(() => inbox.some((m) => m.type === MsgType.REGISTERED), 1000);
  return { sock, inbox };
}

/** The room size the last presence message (a full list or a delta) in `inbox` gave; -1: none yet. */
const roomSize = (inbox: Message[]): number => {
  const last = [...inbox]
    .reverse()
    .find((m) => m.type === MsgType.PRESENCE || m.type === MsgType.PRESENCE_DELTA);
  return last?.type === MsgType.PRESENCE || last?.type === MsgType.PRESENCE_DELTA ? last.total : -1;
};
const presenceNames = (p: StreamPeer): number => roomSize(p.inbox);
const isPresence = (m: Message): boolean => m.type === MsgType.PRESENCE || m.type === MsgType.PRESENCE_DELTA;

describe('relay on the simulated network (real RendezvousServer, simulated TCP)', () => {
  it('two peers whose UDP is blocked register, see presence, get introduced and relay over the stream', async () => {
    const w = new RelayWorld();
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    expect(await w.run(() => presenceNames(a) === 2 && presenceNames(b) === 2, 2000)).toBe(true);
    expect(w.server.registry.countByTransport()).toEqual({ udp: 0, ws: 2 });
    // The server saw them at their NATs' public addresses, over TCP.
    expect(w.server.registry.get(a.idHex)?.ws?.remote.address).toBe('203.0.113.101');

    const intro = await a.connect(b.id);
    // Neither has a UDP binding: the introduction says "no UDP candidate".
    expect(intro.observed).toEqual(NO_UDP_CANDIDATE);
    expect(await w.run(() => b.inbox.some((m) => m.type === MsgType.INTRODUCE), 1000)).toBe(true);

    const gotB: string[] = [];
    b.onRelayed = (from, payload) => gotB.push(`${toHex(from)}:${payload.length}`);
    for (let i = 0; i < 10; i++) a.relay(b.id, bytes(100 + i));
    b.relay(a.id, bytes(1400));
    await w.run(() => gotB.length === 10 && a.relayedIn === 1, 1000);
    expect(gotB[0]).toBe(`${a.idHex}:100`);
    expect(gotB[9]).toBe(`${a.idHex}:109`);
    expect(a.relayedBytesIn).toBe(1400);
    const s = w.server.relayStats;
    expect(s).toMatchObject({ framesIn: 11, framesRelayed: 11, bytesRelayed: 1045 + 1400 });
    expect(Object.values(s.dropped).every((n) => n === 0)).toBe(true);
    expect(w.server.introduced.sessionsTotal).toBe(1);
    // RELAY over UDP is not a thing: counted as unexpected.
    const u = w.sim.addHost('u', { internetAddress: '203.0.113.50' }).network.createUdpSocket();
    u.send(encode({ type: MsgType.RELAY, peer: b.id, payload: bytes(10) }), RDV);
    await w.sim.run(20);
    expect(w.server.stats.dropped.unexpected).toBe(1);
    expect(w.server.relayStats.framesRelayed).toBe(11);
  });

  it('registering over the stream brings the relay policy (RELAY_POLICY): the limits it is configured with', async () => {
    const w = new RelayWorld({ relayRateBytes: 262_144, relayBurstBytes: 300_000, relayRateFrames: 500 });
    await w.start();
    const a = await w.registered('alice');
    // register() took the REGISTERED; the policy came with it.
    expect(a.inbox.filter((m) => m.type === MsgType.RELAY_POLICY)).toEqual([
      {
        type: MsgType.RELAY_POLICY,
        rateBytes: 262_144,
        burstBytes: 300_000,
        rateFrames: 500,
        burstFrames: 4000,
      },
    ]);
  });

  it('one id holds a UDP and a WS binding: signalling prefers UDP, introductions carry the UDP mapping', async () => {
    const w = new RelayWorld({ expiryMs: 20_000, keepaliveMs: 5000 });
    await w.start();
    const idA = generateIdentity();
    const hostA = w.host_('alice', { udp: true });
    const udpA = await udpRegister(w, hostA, idA, 'lobby', 'alice');
    const a = await w.peer(hostA, idA);
    await a.register('lobby', 'alice');
    expect(w.server.registry.size).toBe(1);
    expect(w.server.registry.countByTransport()).toEqual({ udp: 1, ws: 1 });
    const rec = w.server.registry.get(a.idHex)!;
    expect(rec.udp?.observed.address).toBe('203.0.113.101');

    const b = await w.registered('bob');
    // Bob's join reaches alice over UDP, not over her stream.
    await w.run(() => roomSize(udpA.inbox) === 2, 1000);
    expect(a.inbox.filter((m) => isPresence(m))).toHaveLength(0);
    const intro = await b.connect(a.id);
    expect(intro.observed).toEqual(rec.udp?.observed);
    // The target's copy goes over UDP too (she has a UDP binding).
    await w.run(() => udpA.inbox.some((m) => m.type === MsgType.INTRODUCE), 1000);

    // Alice's stream closes: she stays registered by UDP; the relay no longer routes to her.
    a.close();
    await w.sim.run(100);
    expect(w.server.registry.countByTransport()).toEqual({ udp: 1, ws: 1 });
    expect(w.server.registry.get(a.idHex)?.ws).toBeUndefined();
    b.relay(a.id, bytes(10));
    await w.sim.run(100);
    expect(w.server.relayStats.dropped.no_route).toBe(1);

    // Without keepalives the UDP binding expires: now she is gone and bob is told.
    await w.sim.run(30_000);
    expect(w.server.registry.get(a.idHex)).toBeUndefined();
    expect(presenceNames(b)).toBe(1);
    expect(w.server.stats.expired).toBe(1);
    udpA.sock.close();
  });

  it('a WS binding outlives UDP expiry (it lives by its connection); closing it removes the peer', async () => {
    const w = new RelayWorld({ expiryMs: 20_000, keepaliveMs: 5000 });
    await w.start();
    const idA = generateIdentity();
    const hostA = w.host_('alice', { udp: true });
    const udpA = await udpRegister(w, hostA, idA, 'lobby', 'alice');
    const a = await w.peer(hostA, idA);
    await a.register('lobby', 'alice');
    const b = await w.registered('bob');
    await w.sim.run(60_000);
    expect(w.server.registry.get(a.idHex)?.udp).toBeUndefined();
    expect(w.server.registry.get(a.idHex)?.ws).toBeDefined();
    // Now introductions of alice carry no UDP candidate.
    expect((await b.connect(a.id)).observed).toEqual(NO_UDP_CANDIDATE);
    a.close();
    await w.run(() => presenceNames(b) === 1, 1000);
    expect(w.server.registry.size).toBe(1);
    expect(w.server.relayStats.closed.remote).toBe(1);
    udpA.sock.close();
  });

  it('refuses to relay for an unauthenticated connection and between peers never introduced', async () => {
    const w = new RelayWorld();
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    const c = await w.registered('carol');
    const anon = await w.peer(w.host_('mallory'));
    const got: number[] = [];
    b.onRelayed = (_f, p) => got.push(p.length);
    // Mallory never registered: not even a frame to a real peer goes through.
    anon.relay(b.id, bytes(10));
    // Alice is registered but was never introduced to bob.
    a.relay(b.id, bytes(11));
    // Carol asks for bob and may then relay to him, and he to her; alice still may not.
    await c.connect(b.id);
    c.relay(b.id, bytes(12));
    b.relay(c.id, bytes(13));
    a.relay(b.id, bytes(14));
    await w.sim.run(200);
    expect(got).toEqual([12]);
    expect(c.relayedIn).toBe(1);
    expect(w.server.relayStats.dropped).toMatchObject({ unauthenticated: 1, not_introduced: 2 });
    // Registering somebody else's id needs their key: mallory's REGISTER with alice's public keys fails.
    const fake = { ...generateIdentity(), signPublic: a.identity.signPublic, dhPublic: a.identity.dhPublic };
    const m2 = await w.peer(w.host_('mallory2'), fake);
    await expect(m2.register('lobby', 'alice')).rejects.toThrow(/signature/);
    m2.relay(b.id, bytes(15));
    await w.sim.run(100);
    expect(w.server.relayStats.dropped.unauthenticated).toBe(2);
  });

  it('an introduced pair expires after relayPairTtlMs without traffic, and traffic keeps it alive', async () => {
    const w = new RelayWorld({ relayPairTtlMs: 10_000, pingMs: 0 });
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    const c = await w.registered('carol');
    await a.connect(b.id);
    await a.connect(c.id);
    for (let i = 0; i < 4; i++) {
      await w.sim.run(5000);
      a.relay(b.id, bytes(1)); // keeps a<->b alive
    }
    a.relay(c.id, bytes(1)); // a<->c idle for 20 s: expired
    await w.sim.run(100);
    expect(b.relayedIn).toBe(4);
    expect(c.relayedIn).toBe(0);
    expect(w.server.relayStats.dropped.not_introduced).toBe(1);
    expect(w.server.introduced.counts(w.sim.clock.now())).toEqual({ pairs: 1, relaying: 1 });
  });

  it('rate limits (frames and bytes) and the frame-size limit drop and count, while other peers are served', async () => {
    const w = new RelayWorld({
      relayRateFrames: 100,
      relayBurstFrames: 50,
      relayRateBytes: 100_000,
      relayBurstBytes: 20_000,
      relayMaxFrame: 1000,
    });
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    const c = await w.registered('carol');
    const d = await w.registered('dave');
    await a.connect(b.id);
    await c.connect(d.id);
    await w.sim.run(2000); // buckets full again after the signalling
    // Alice floods 200 small frames at once: the burst (50 frames) passes, the rest is dropped.
    for (let i = 0; i < 200; i++) a.relay(b.id, bytes(10));
    // Meanwhile carol's 20 frames to dave all go through.
    for (let i = 0; i < 20; i++) c.relay(d.id, bytes(10));
    await w.sim.run(100);
    expect(b.relayedIn).toBe(50);
    expect(d.relayedIn).toBe(20);
    expect(w.server.relayStats.dropped.rate_limited).toBe(150);
    // A second later 100 more frames' worth has accrued.
    await w.sim.run(1000);
    for (let i = 0; i < 200; i++) a.relay(b.id, bytes(10));
    await w.sim.run(100);
    expect(b.relayedIn).toBe(50 + 50); // capped by the burst again
    // The byte bucket: 20 kB burst lets 19 frames of 1020 bytes through, then refuses.
    await w.sim.run(2000);
    const before = b.relayedIn;
    for (let i = 0; i < 30; i++) a.relay(b.id, bytes(1000));
    await w.sim.run(100);
    expect(b.relayedIn - before).toBe(19);
    // Too big: dropped and counted, the connection stays up.
    await w.sim.run(2000);
    a.relay(b.id, bytes(1001));
    a.relay(b.id, bytes(999));
    await w.sim.run(100);
    expect(w.server.relayStats.dropped.too_big).toBe(1);
    expect(b.relayedIn - before).toBe(20);
    expect(a.closedReason).toBeUndefined();
    expect(d.relayedIn).toBe(20);
  });

  it('a message over maxMessageBytes closes only that connection (counted too_big)', async () => {
    const w = new RelayWorld({ maxMessageBytes: 1500 });
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    await a.connect(b.id);
    a.send(new Uint8Array(1501));
    await w.run(() => a.closedReason !== undefined, 1000);
    expect(a.closedReason).toMatch(/1009/);
    expect(w.server.relayStats.closed.too_big).toBe(1);
    expect(b.closedReason).toBeUndefined();
    expect(w.server.registry.get(a.idHex)).toBeUndefined();
  });

  it('per-IP connection limit: the 17th connection from one NAT is refused (429), others are not', async () => {
    const w = new RelayWorld();
    await w.start();
    const nat = w.sim.addNat('office', { publicAddress: '203.0.113.77' });
    const hosts = Array.from({ length: 17 }, (_, i) => w.sim.addHost(`o${i}`, { behind: nat }));
    const streams = [];
    for (const h of hosts.slice(0, 16)) streams.push(await w.connect(h));
    await expect(w.connect(hosts[16]!)).rejects.toThrow(/429/);
    expect(w.server.relayStats.refused.ip_limit).toBe(1);
    expect(w.server.streamConnections.open).toBe(16);
    // Somebody elsewhere still gets in, and a slot freed at the office is usable again.
    await w.registered('elsewhere');
    streams[0]!.close();
    await w.sim.run(100);
    await w.connect(hosts[16]!);
    expect(w.server.streamConnections.open).toBe(17);
  });

  it('a connection that does not register within authTimeoutMs is closed', async () => {
    const w = new RelayWorld({ authTimeoutMs: 10_000, pingMs: 0 });
    await w.start();
    const idle = await w.peer(w.host_('idle'));
    const good = await w.registered('good');
    await w.sim.run(9000);
    expect(idle.closedReason).toBeUndefined();
    await w.sim.run(2000);
    expect(idle.closedReason).toBe('closed by remote (1008 registration timeout)');
    expect(good.closedReason).toBeUndefined();
    expect(w.server.relayStats.closed.auth_timeout).toBe(1);
  });

  it('ping/pong finds a dead connection: the peer is dropped and its room told', async () => {
    const w = new RelayWorld({ pingMs: 30_000 });
    await w.start();
    const hostA = w.host_('alice');
    const a = await w.peer(hostA);
    await a.register('lobby', 'alice');
    const b = await w.registered('bob');
    await w.sim.run(90_000);
    expect(w.server.registry.size).toBe(2); // alive: pings answered
    // Alice's laptop leaves the network without a goodbye.
    w.sim.moveHost(hostA, { internetAddress: '203.0.113.200' });
    const t = w.sim.clock.now();
    await w.run(() => presenceNames(b) === 1, 61_000);
    // Found at the first ping the dead side cannot answer: within two intervals.
    expect(w.sim.clock.now() - t).toBeLessThanOrEqual(60_100);
    expect(w.server.registry.size).toBe(1);
    expect(w.server.relayStats.closed.ping_timeout).toBe(1);
  });

  it('a slow consumer: its queue stays under relayQueueBytes, overflow is dropped and counted, then it recovers', async () => {
    const w = new RelayWorld({
      relayQueueBytes: 16_384,
      relayRateBytes: 100_000_000,
      relayBurstBytes: 100_000_000,
      relayRateFrames: 1e6,
      relayBurstFrames: 1e6,
    });
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    const c = await w.registered('carol');
    await a.connect(b.id);
    await a.connect(c.id);
    (b.stream as SimStream).pauseReading();
    for (let i = 0; i < 500; i++) a.relay(b.id, bytes(1000));
    for (let i = 0; i < 10; i++) a.relay(c.id, bytes(1000));
    await w.sim.run(500);
    const s = w.server.relayStats;
    expect(s.dropped.slow_consumer).toBeGreaterThan(400);
    expect(s.queueHighWater).toBeLessThanOrEqual(16_384);
    expect(c.relayedIn).toBe(10); // the other receiver is unaffected
    (b.stream as SimStream).resumeReading();
    await w.sim.run(500);
    const delivered = b.relayedIn;
    expect(delivered + s.dropped.slow_consumer).toBe(500);
    a.relay(b.id, bytes(1000));
    await w.sim.run(100);
    expect(b.relayedIn).toBe(delivered + 1);
  });

  it('one connection per peer: registering the same id on a new connection closes the old one', async () => {
    const w = new RelayWorld();
    await w.start();
    const idA = generateIdentity();
    const first = await w.peer(w.host_('alice1'), idA);
    await first.register('lobby', 'alice');
    const second = await w.peer(w.host_('alice2'), idA);
    await second.register('lobby', 'alice');
    await w.run(() => first.closedReason !== undefined, 1000);
    expect(first.closedReason).toMatch(/1008 replaced/);
    expect(w.server.relayStats.closed.replaced).toBe(1);
    expect(w.server.registry.size).toBe(1);
    expect(w.server.registry.get(toHex(idA.id))?.ws?.remote.address).toBe('203.0.113.102');
  });

  it('LEAVE over the stream leaves the room; KEEPALIVE over the stream is answered', async () => {
    const w = new RelayWorld();
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    const txid = new Uint8Array(8).fill(3);
    // Unsealed, they are dropped as forgeries; sealed under alice's registration they count.
    a.send(encode({ type: MsgType.KEEPALIVE, txid, id: a.id, presenceVersion: 0 }));
    a.send(encode({ type: MsgType.LEAVE, txid, id: a.id }));
    await w.sim.run(100);
    expect(w.server.stats.dropped.bad_mac).toBe(2);
    expect(w.server.registry.size).toBe(2);
    a.send(sealed(a.auth!, { type: MsgType.KEEPALIVE, txid, id: a.id, presenceVersion: 0 }));
    await w.run(() => a.inbox.some((m) => m.type === MsgType.KEEPALIVE_ACK), 1000);
    a.send(sealed(a.auth!, { type: MsgType.LEAVE, txid, id: a.id }));
    await w.run(() => presenceNames(b) === 1, 1000);
    expect(w.server.registry.size).toBe(1);
    // Relaying needs a registration: after LEAVE alice is unauthenticated.
    a.relay(b.id, bytes(1));
    await w.sim.run(100);
    expect(w.server.relayStats.dropped.unauthenticated).toBe(1);
  });

  it('garbage on a stream is counted and dropped; the connection and the server keep working', async () => {
    const w = new RelayWorld();
    await w.start();
    const a = await w.registered('alice');
    const b = await w.registered('bob');
    await a.connect(b.id);
    for (let i = 0; i < 50; i++) a.send(Uint8Array.from({ length: i * 3 }, (_, k) => (k * 37 + i) & 0xff));
    a.send(Uint8Array.of(0x51, 0x40, 1, 2)); // a truncated RELAY
    a.send(encode({ type: MsgType.RELAYED, peer: b.id, payload: bytes(3) })); // server->peer type
    await w.sim.run(100);
    expect(w.server.stats.dropped.malformed).toBeGreaterThanOrEqual(50);
    expect(w.server.stats.dropped.unexpected).toBe(1);
    a.relay(b.id, bytes(5));
    await w.sim.run(100);
    expect(b.relayedIn).toBe(1);
  });
});
