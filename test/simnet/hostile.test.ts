import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../common/identity/identity.js';
import { Limits, MsgType, VERSION_BYTE } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import { rawRegister } from '../support/raw-register.js';
import type { Message } from '../../common/wire/messages.js';
import { encodeBindingRequest, decodeStun } from '../../common/wire/stun.js';
import { seeded } from '../support/random.js';
import { SERVER, SimWorld } from '../support/sim-world.js';
import { SAMPLES } from '../wire/samples.js';

describe('hostile input on the simulated network', () => {
  it('random and mutated datagrams never break the server or a peer; they are counted and dropped', async () => {
    const w = new SimWorld(21);
    await w.start();
    const a = await w.peer('a', { internetAddress: '203.0.113.80' });
    const b = await w.peer('b', { internetAddress: '203.0.113.81' });
    await w.run(() => a.events.presence.some((e) => e.peers.length === 1), 5000);
    const evil = w.sim.addHost('evil', { internetAddress: '203.0.113.66' }).network.createUdpSocket();
    await evil.bind(0);
    const rand = seeded(7);
    const samples = Object.values(SAMPLES).map((m) => encode(m));
    const targets = [SERVER, { address: '203.0.113.80', port: a.node.local!.port }];
    for (let i = 0; i < 4000; i++) {
      let buf: Uint8Array;
      if (i % 3 === 0)
        buf = Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256));
      else {
        buf = Uint8Array.from(samples[i % samples.length]!);
        {
          const k = 2 + Math.floor(rand() * (buf.length - 2));
          buf[k] = buf[k]! ^ (1 + Math.floor(rand() * 255));
        }
        if (i % 5 === 0) buf[0] = i % 2 ? VERSION_BYTE : 0x00; // sometimes looks like STUN
      }
      evil.send(buf, targets[i % 2]!);
      if (i % 100 === 0) await w.sim.run(5);
    }
    await w.sim.run(1000);
    const s = w.server.stats.dropped;
    expect(s.malformed + s.unexpected + s.bad_cookie + s.bad_signature + s.not_registered).toBeGreaterThan(
      1000,
    );
    const d = a.node.stats.dropped;
    expect(d.malformed + d.unexpected + d.bad_probe + d.no_session).toBeGreaterThan(1000);
    // Both still work: they connect and chat.
    void a.node.connect('b');
    expect(
      await w.run(() => a.events.connected.length === 1 && b.events.connected.length === 1, 15_000),
    ).toBe(true);
    a.node.sendMessage('b', 'still here');
    expect(await w.run(() => b.events.message.length === 1, 5000)).toBe(true);
    await w.close();
  });

  it('registration is refused without a fresh cookie for the sender address or with a bad signature', async () => {
    const w = new SimWorld(22);
    await w.start();
    const host = w.sim.addHost('m', { internetAddress: '203.0.113.90' });
    const other = w.sim.addHost('m2', { internetAddress: '203.0.113.91' });
    const sock = host.network.createUdpSocket();
    const sock2 = other.network.createUdpSocket();
    await sock.bind(4000);
    await sock2.bind(4000);
    const inbox: Message[] = [];
    const inbox2: Message[] = [];
    sock.onMessage((d) => inbox.push(decode(d)));
    sock2.onMessage((d) => inbox2.push(decode(d)));
    const idn = generateIdentity();
    const txid = new Uint8Array(8).fill(1);
    sock.send(encode({ type: MsgType.HELLO, txid }), SERVER);
    await w.sim.run(100);
    const cookie = inbox.find((m) => m.type === MsgType.COOKIE);
    expect(cookie?.type).toBe(MsgType.COOKIE);
    if (cookie?.type !== MsgType.COOKIE) return;
    const good = rawRegister(idn, cookie, txid, { room: 'lobby', name: 'mallory' }).bytes;

    // Replayed from another address: the cookie is bound to the first one.
    sock2.send(good, SERVER);
    await w.sim.run(100);
    expect(inbox2.at(-1)).toMatchObject({ type: MsgType.ERROR, code: 3 });
    expect(w.server.registry.size).toBe(0);

    // A signature by another key.
    const bad = Uint8Array.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1; // the signature's last byte
    sock.send(bad, SERVER);
    await w.sim.run(100);
    expect(inbox.at(-1)).toMatchObject({ type: MsgType.ERROR, code: 2 });
    expect(w.server.registry.size).toBe(0);

    // The genuine one works; a stale cookie (two buckets later) does not.
    sock.send(good, SERVER);
    await w.sim.run(100);
    expect(inbox.some((m) => m.type === MsgType.REGISTERED)).toBe(true);
    expect(w.server.registry.size).toBe(1);
    await w.sim.run(65_000);
    const before = inbox.length;
    sock.send(good, SERVER);
    await w.sim.run(100);
    expect(inbox.slice(before).some((m) => m.type === MsgType.ERROR && m.code === 3)).toBe(true);
    expect(w.server.stats.dropped.bad_cookie).toBe(2);
    expect(w.server.stats.dropped.bad_signature).toBe(1);
    sock.close();
    sock2.close();
    await w.close();
  });

  it('no answer to an unverified sender is larger than its request (no amplification)', async () => {
    const w = new SimWorld(23);
    await w.start();
    const sock = w.sim.addHost('m', { internetAddress: '203.0.113.95' }).network.createUdpSocket();
    await sock.bind(0);
    const sizes: number[] = [];
    sock.onMessage((d) => sizes.push(d.length));
    const requests = [
      encode({ type: MsgType.HELLO, txid: new Uint8Array(8) }),
      encode({
        type: MsgType.KEEPALIVE,
        txid: new Uint8Array(8),
        id: new Uint8Array(16),
        presenceVersion: 0,
      }),
      encode({
        type: MsgType.CONNECT,
        txid: new Uint8Array(8),
        id: new Uint8Array(16),
        target: new Uint8Array(16),
      }),
      encode(SAMPLES.REGISTER!),
      encodeBindingRequest(),
    ];
    for (const r of requests) {
      const n = sizes.length;
      sock.send(r, SERVER);
      await w.sim.run(50);
      expect(sizes.length).toBe(n + 1);
      expect(sizes.at(-1)!, `answer to type ${r[1]}`).toBeLessThanOrEqual(Math.max(r.length, 2 * 28));
    }
    expect(Limits.HELLO_BYTES).toBeGreaterThanOrEqual(30);
    sock.close();
    await w.close();
  });

  it('a standard STUN Binding request gets the sender public address (through a NAT)', async () => {
    const w = new SimWorld(24);
    await w.start();
    const nat = w.nat('n', { publicAddress: '203.0.113.200' });
    const sock = w.sim.addHost('c', { behind: nat }).network.createUdpSocket();
    await sock.bind(5555);
    let answer: Uint8Array | undefined;
    sock.onMessage((d) => (answer = d));
    sock.send(encodeBindingRequest(), SERVER);
    await w.sim.run(100);
    expect(decodeStun(answer!).xorMappedAddress).toEqual({ address: '203.0.113.200', port: 5555 });
    sock.close();
    await w.close();
  });
});
