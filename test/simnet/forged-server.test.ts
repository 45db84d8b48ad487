import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import type { Endpoint } from '../../common/net/types.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Message } from '../../common/wire/messages.js';
import { serverFingerprint } from '../../common/wire/server-auth.js';
import { encodeBindingSuccess } from '../../common/wire/stun.js';
import { lieAboutKeys, rawRegister, sealed } from '../support/raw-register.js';
import { SERVER, SimWorld } from '../support/sim-world.js';
import type { SimPeer } from '../support/sim-world.js';

/**
 * Attacks on what a peer and the server believe of each other's messages (docs/security.md):
 * a sender that forges the other side's source address, and a server operator that lies about a
 * peer's keys. Each test counts what the attack achieved; on the code before server
 * authentication every one of them succeeded.
 */

const A = '203.0.113.80';
const B = '203.0.113.81';
const M = '203.0.113.66';

async function pair(seed: number): Promise<{ w: SimWorld; a: SimPeer; b: SimPeer }> {
  const w = new SimWorld(seed);
  await w.start();
  const a = await w.peer('a', { internetAddress: A });
  const b = await w.peer('b', { internetAddress: B });
  expect(await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000)).toBe(true);
  return { w, a, b };
}

const endpointOf = (p: SimPeer, address: string): Endpoint => ({ address, port: p.node.local!.port });

/** Datagrams and bytes every host sends to `address` from now on. */
function countTo(w: SimWorld, address: string): { datagrams: number; bytes: number } {
  const c = { datagrams: 0, bytes: 0 };
  w.sim.observe((e) => {
    if (e.kind === 'send' && e.dst.startsWith(`${address}:`)) {
      c.datagrams++;
      c.bytes += e.size;
    }
  });
  return c;
}

describe('forged server messages and a lying server', () => {
  it('a forged INTRODUCE from the server address is dropped: no punching towards the forger', async () => {
    const { w, a, b } = await pair(41);
    const mallory = generateIdentity();
    const attacker = w.sim.addHost('mallory', { internetAddress: M });
    const toMallory = countTo(w, M);
    // "bob, with mallory's keys, at mallory's address", 'from' the server: before server
    // authentication alice punched to mallory and opened a session with mallory's key as bob's.
    const forged = encode({
      type: MsgType.INTRODUCE,
      txid: new Uint8Array(8).fill(1),
      introId: new Uint8Array(8).fill(2),
      initiator: false,
      id: b.node.identity.id,
      name: 'b',
      signKey: mallory.signPublic,
      dhKey: mallory.dhPublic,
      observed: { address: M, port: 9999 },
      lan: [],
    });
    attacker.sendSpoofed(forged, SERVER, endpointOf(a, A));
    await w.sim.run(5000);
    expect(a.node.serverDrops.bad_mac).toBe(1);
    expect(toMallory.datagrams).toBe(0);
    expect(a.events.trace.length).toBe(0); // no punch attempt began
    // alice and bob still connect to each other, with bob's real key.
    void a.node.connect('b');
    expect(await w.run(() => a.events.connected.length === 1, 15_000)).toBe(true);
    await w.close();
  });

  it('a forged PRESENCE cannot freeze the member list; a forged LEAVE cannot remove a member', async () => {
    const { w, a, b } = await pair(42);
    const attacker = w.sim.addHost('mallory', { internetAddress: M });
    // PRESENCE "version 0xFFFFFFFF, nobody here" from the server's address.
    const presence = encode({
      type: MsgType.PRESENCE,
      version: 0xffffffff,
      part: 0,
      parts: 1,
      total: 0,
      members: [],
    });
    attacker.sendSpoofed(presence, SERVER, endpointOf(a, A));
    // LEAVE "from bob" at bob's registered address.
    attacker.sendSpoofed(
      encode({ type: MsgType.LEAVE, txid: new Uint8Array(8), id: b.node.identity.id }),
      endpointOf(b, B),
      SERVER,
    );
    await w.sim.run(1000);
    expect(a.node.serverDrops.bad_mac).toBe(1);
    expect(w.server.stats.dropped.bad_mac).toBe(1);
    expect(w.server.registry.size).toBe(2);
    // A new member still shows up at alice's: the forged version froze nothing.
    await w.peer('c', { internetAddress: '203.0.113.82' });
    expect(await w.run(() => a.events.presence.some((e) => e.peers.length === 2), 5000)).toBe(true);
    await w.close();
  });

  it('forged KEEPALIVE and CONNECT from a member address make the server send that member nothing', async () => {
    const { w, a, b } = await pair(43);
    const attacker = w.sim.addHost('mallory', { internetAddress: M });
    await w.sim.run(1000); // let registration traffic settle
    const toA = countTo(w, A);
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      const keepalive = encode({
        type: MsgType.KEEPALIVE,
        txid: new Uint8Array(8).fill(i),
        id: a.node.identity.id,
        presenceVersion: 0, // a stale version: before, the server answered with the whole presence
      });
      const connect = encode({
        type: MsgType.CONNECT,
        txid: new Uint8Array(8).fill(100 + i),
        id: a.node.identity.id,
        target: b.node.identity.id,
      });
      attacker.sendSpoofed(keepalive, endpointOf(a, A), SERVER);
      attacker.sendSpoofed(connect, endpointOf(a, A), SERVER);
      sent += keepalive.length + connect.length;
    }
    await w.sim.run(100);
    // Whatever reached alice in that window came from alice's own traffic, not from the forgeries:
    // the server answered none of the 40 (it counts them as bad MACs).
    expect(w.server.stats.dropped.bad_mac).toBe(40);
    expect(w.server.stats.introductions).toBe(0);
    expect(toA.bytes).toBe(0);
    expect(sent).toBeGreaterThan(0);
    await w.close();
  });

  it('a lying server that puts another key behind a peer id is caught: no session with that key', async () => {
    const { w, a, b } = await pair(44);
    const mallory = generateIdentity();
    // The operator introduces "b" to alice with mallory's keys and address.
    const liar = lieAboutKeys(w.server, () => toHex(b.node.identity.id), {
      signKey: mallory.signPublic,
      dhKey: mallory.dhPublic,
      observed: { address: M, port: 9 },
    });
    const toMallory = countTo(w, M);
    void a.node.connect('b').catch(() => {});
    await w.sim.run(2000);
    expect(liar.lies).toBe(1);
    expect(a.node.serverDrops.bad_intro_keys).toBe(1);
    expect(a.events.error.some((e) => e.code === 'KEY_MISMATCH')).toBe(true);
    expect(a.events.connected.length).toBe(0);
    expect(toMallory.datagrams).toBe(0);
    await w.close();
  });

  it('a peer pins the server key on first use and refuses another key later (SERVER_KEY_CHANGED)', async () => {
    const w = new SimWorld(45, true); // with the relay: two clients meet the changed key, one error;
    await w.start();
    const a = await w.peer('a', { internetAddress: A });
    expect(await w.run(() => a.events.registered.length > 0, 5000)).toBe(true);
    expect(a.events['server-key']).toEqual([
      { fingerprint: serverFingerprint(w.server.serverKey.publicKey), server: '203.0.113.10:7000' },
    ]);
    // A peer that expects another server key: no registration, a final error, no retries.
    const other = serverFingerprint(generateIdentity().dhPublic);
    const b = await w.peer('b', { internetAddress: B }, { serverFingerprint: other });
    await w.sim.run(60_000);
    expect(b.events.registered.length).toBe(0);
    expect(b.events.error.filter((e) => e.code === 'SERVER_KEY_CHANGED').length).toBe(1);
    expect(w.server.registry.size).toBe(1);
    // The pinned fingerprint given up front works like a first-use pin.
    const c = await w.peer(
      'c',
      { internetAddress: '203.0.113.82' },
      { serverFingerprint: serverFingerprint(w.server.serverKey.publicKey) },
    );
    expect(await w.run(() => c.events.registered.length > 0, 5000)).toBe(true);
    expect(c.events['server-key']).toEqual([]);
    await w.close();
  });

  it('an older REGISTER replayed within its cookie life cannot reset a registration', async () => {
    const w = new SimWorld(46);
    await w.start();
    const host = w.sim.addHost('p', { internetAddress: '203.0.113.90' });
    const sock = host.network.createUdpSocket();
    await sock.bind(4000);
    const inbox: { m: Message; raw: Uint8Array }[] = [];
    sock.onMessage((d) => inbox.push({ m: decode(d), raw: d }));
    const idn = generateIdentity();
    sock.send(encode({ type: MsgType.HELLO, txid: new Uint8Array(8).fill(9) }), SERVER);
    await w.sim.run(100);
    const cookie = inbox.find((x) => x.m.type === MsgType.COOKIE)?.m;
    if (cookie?.type !== MsgType.COOKIE) throw new Error('no cookie');
    const first = rawRegister(idn, cookie, new Uint8Array(8).fill(1), { room: 'r', name: 'p', time: 1000 });
    const second = rawRegister(idn, cookie, new Uint8Array(8).fill(2), { room: 'r', name: 'p', time: 2000 });
    sock.send(first.bytes, SERVER);
    await w.sim.run(100);
    sock.send(second.bytes, SERVER);
    await w.sim.run(100);
    sock.send(first.bytes, SERVER); // the replay: same address, fresh cookie, older time
    await w.sim.run(100);
    expect(w.server.stats.dropped.stale_register).toBe(1);
    // The second registration's key is still the one in force.
    const txid = new Uint8Array(8).fill(3);
    sock.send(sealed(second.auth, { type: MsgType.KEEPALIVE, txid, id: idn.id, presenceVersion: 0 }), SERVER);
    await w.sim.run(100);
    const ack = inbox.find((x) => x.m.type === MsgType.KEEPALIVE_ACK);
    expect(ack && second.auth.open(ack.raw)).toBe(true);
    sock.close();
    await w.close();
  });

  it('an authentic KEEPALIVE from another address gets only a NOT_REGISTERED no larger than itself', async () => {
    const w = new SimWorld(47);
    await w.start();
    const idn = generateIdentity();
    const home = w.sim.addHost('home', { internetAddress: '203.0.113.91' }).network.createUdpSocket();
    const away = w.sim.addHost('away', { internetAddress: '203.0.113.92' }).network.createUdpSocket();
    await home.bind(4000);
    await away.bind(4000);
    const got: Uint8Array[] = [];
    home.onMessage((d) => got.push(d));
    const awayGot: Uint8Array[] = [];
    away.onMessage((d) => awayGot.push(d));
    home.send(encode({ type: MsgType.HELLO, txid: new Uint8Array(8).fill(9) }), SERVER);
    await w.sim.run(100);
    const cookie = decode(got[0]!);
    if (cookie.type !== MsgType.COOKIE) throw new Error('no cookie');
    const reg = rawRegister(idn, cookie, new Uint8Array(8).fill(1), { room: 'r', name: 'p' });
    home.send(reg.bytes, SERVER);
    await w.sim.run(100);
    const keepalive = sealed(reg.auth, {
      type: MsgType.KEEPALIVE,
      txid: new Uint8Array(8).fill(4),
      id: idn.id,
      presenceVersion: 99,
    });
    away.send(keepalive, SERVER);
    await w.sim.run(100);
    expect(awayGot.length).toBe(1);
    expect(awayGot[0]!.length).toBeLessThanOrEqual(keepalive.length);
    const answer = decode(awayGot[0]!);
    expect(answer).toMatchObject({ type: MsgType.ERROR, code: 5 });
    expect(reg.auth.open(awayGot[0]!)).toBe(true); // sealed: the peer can trust it
    home.close();
    away.close();
    await w.close();
  });

  it('a forged STUN answer from the server address (wrong transaction id) is dropped and changes no error text', async () => {
    // No rendezvous listening: the peer's HELLO and its STUN probe go unanswered.
    const w = new SimWorld(31);
    const a = await w.peer('a', { internetAddress: A });
    const attacker = w.sim.addHost('mallory', { internetAddress: M });
    const dropped = a.node.stats.dropped.malformed;
    attacker.sendSpoofed(
      encodeBindingSuccess(new Uint8Array(12).fill(7), endpointOf(a, A)),
      SERVER,
      endpointOf(a, A),
    );
    expect(await w.run(() => a.events.error.some((e) => e.code === 'SERVER_UNREACHABLE'), 30_000)).toBe(true);
    expect(a.node.stats.dropped.malformed).toBe(dropped + 1);
    const lost = a.events.error.find((e) => e.code === 'SERVER_UNREACHABLE')!;
    expect(lost.message).toMatch(/no answer from the rendezvous/);
    expect(lost.message).not.toMatch(/answers STUN/);
    await w.close();
  });
});
