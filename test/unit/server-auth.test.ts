import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { silentLogger } from '../../common/log.js';
import type { Endpoint } from '../../common/net/types.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import {
  AUTH_TRAILER_BYTES,
  AuthChannel,
  REPLAY_WINDOW,
  deriveServerAuthKeys,
  trailerSeq,
} from '../../common/wire/server-auth.js';
import { RendezvousClient } from '../../peer/rendezvous-client.js';
import { ServerKeyPin } from '../../peer/server-pin.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { seeded } from '../support/random.js';
import { SAMPLES } from '../wire/samples.js';

const pair = (): { server: AuthChannel; peer: AuthChannel } => {
  const shared = new Uint8Array(32).fill(5);
  const txid = new Uint8Array(8).fill(1);
  const cookie = new Uint8Array(20).fill(2);
  return {
    server: new AuthChannel(deriveServerAuthKeys(shared, 'udp', txid, cookie, 'server')),
    peer: new AuthChannel(deriveServerAuthKeys(shared, 'udp', txid, cookie, 'peer')),
  };
};

describe('server authentication (common/wire/server-auth.ts)', () => {
  it('the trailer is seq u32 then HMAC-SHA256 of everything before the MAC, cut to 16 bytes', () => {
    const keys = deriveServerAuthKeys(
      new Uint8Array(32).fill(5),
      'udp',
      new Uint8Array(8),
      new Uint8Array(20),
      'server',
    );
    const ch = new AuthChannel(keys);
    ch.seal(encode(SAMPLES.KEEPALIVE!));
    const bytes = ch.seal(encode(SAMPLES.KEEPALIVE!));
    expect(trailerSeq(bytes)).toBe(1);
    const mac = createHmac('sha256', keys.send)
      .update(bytes.subarray(0, bytes.length - 16))
      .digest();
    expect(Buffer.from(bytes.subarray(bytes.length - 16)).equals(mac.subarray(0, 16))).toBe(true);
    expect(bytes.length).toBe(encode(SAMPLES.KEEPALIVE!).length);
  });

  it('each direction has its own key; transport, txid and cookie each change both', () => {
    const s = new Uint8Array(32).fill(5);
    const t = new Uint8Array(8);
    const c = new Uint8Array(20);
    const base = deriveServerAuthKeys(s, 'udp', t, c, 'server');
    expect(deriveServerAuthKeys(s, 'udp', t, c, 'peer')).toEqual({ send: base.recv, recv: base.send });
    expect(base.send).not.toEqual(base.recv);
    for (const other of [
      deriveServerAuthKeys(s, 'ws', t, c, 'server'),
      deriveServerAuthKeys(s, 'udp', new Uint8Array(8).fill(1), c, 'server'),
      deriveServerAuthKeys(s, 'udp', t, new Uint8Array(20).fill(1), 'server'),
    ])
      expect(other.send).not.toEqual(base.send);
  });

  it('opens what the other side sealed, once; refuses tampering, its own direction and replays', () => {
    const { server, peer } = pair();
    const m = server.seal(encode(SAMPLES.PRESENCE!));
    expect(server.open(Uint8Array.from(m))).toBe(false); // a reflection of our own message
    expect(peer.open(m)).toBe(true);
    expect(peer.open(m)).toBe(false); // replay
    for (let i = 0; i < m.length; i++) {
      const t = Uint8Array.from(m);
      t[i] = t[i]! ^ 0x01;
      expect(peer.verifies(t), `byte ${i}`).toBe(false);
    }
    expect(peer.stats).toMatchObject({ opened: 1, replayed: 1 });
  });

  it('accepts reordering inside the window and nothing behind it', () => {
    const { server, peer } = pair();
    const sent = Array.from({ length: REPLAY_WINDOW + 10 }, () =>
      server.seal(encode(SAMPLES.KEEPALIVE_ACK!)),
    );
    const rand = seeded(3);
    // Deliver the last 40 shuffled, then the oldest ones: those within 64 of the highest pass.
    const late = sent.slice(-40).sort(() => rand() - 0.5);
    for (const b of late) expect(peer.open(b)).toBe(true);
    const highest = REPLAY_WINDOW + 9;
    for (let seq = 0; seq < sent.length - 40; seq++)
      expect(peer.open(sent[seq]!), `seq ${seq}`).toBe(highest - seq < REPLAY_WINDOW);
    for (const b of late) expect(peer.open(b)).toBe(false);
  });

  it('a lost answer is recovered: a retransmitted request is sealed afresh, not dropped as a replay', async () => {
    const clock = new VirtualClock();
    const SERVER: Endpoint = { address: '203.0.113.10', port: 7000 };
    const PEER: Endpoint = { address: '203.0.113.20', port: 5000 };
    const server = new RendezvousServer({}, { network: undefined as never, clock });
    let dropKeepaliveAcks = 0;
    const toClient: Uint8Array[] = [];
    const client: RendezvousClient = new RendezvousClient(
      { server: SERVER, room: 'r', name: 'p', lan: [], keepaliveMs: 1000, transport: 'udp' },
      {
        identity: generateIdentity(),
        clock,
        logger: silentLogger,
        randomBytes: (n) =>
          Uint8Array.from({ length: n }, (_, i) => (clock.now() + i * 7 + toClient.length) & 0xff),
        serverPin: new ServerKeyPin(),
        send: (bytes) =>
          server.handle(
            decode(bytes),
            {
              from: PEER,
              transport: 'udp',
              reply: (b) => {
                if (decode(b).type === MsgType.KEEPALIVE_ACK && dropKeepaliveAcks-- > 0) return;
                toClient.push(b);
                clock.setTimeout(() => client.onMessage(decode(b), b), 1);
              },
            },
            bytes,
          ),
      },
    );
    const registrations: unknown[] = [];
    client.on('registered', (e) => registrations.push(e));
    client.start();
    await clock.runUntil(() => registrations.length === 1, 5000);
    dropKeepaliveAcks = 1; // the first answer to the next KEEPALIVE is lost
    const acked = (): number => toClient.filter((b) => decode(b).type === MsgType.KEEPALIVE_ACK).length;
    await clock.runUntil(() => acked() >= 2, 10_000);
    expect(acked()).toBeGreaterThanOrEqual(2);
    expect(server.stats.dropped.bad_mac).toBe(0);
    expect(registrations.length).toBe(1); // no re-registration was needed
    expect(client.state).toBe('registered');
    client.close(false);
    expect(AUTH_TRAILER_BYTES).toBe(20);
  });
});
