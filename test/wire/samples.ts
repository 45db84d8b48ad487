import { MsgType, RELAY_POLICY_DEFAULTS } from '../../common/wire/constants.js';
import type { Message } from '../../common/wire/messages.js';

/** Deterministic bytes: 0x11 0x12 ... so fixtures are readable. */
export const seqBytes = (n: number, start = 0x11): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

const txid = seqBytes(8, 0xa0);
const id = seqBytes(16, 0x10);
const id2 = seqBytes(16, 0x30);
const key = seqBytes(32, 0x40);
const key2 = seqBytes(32, 0x80);
const sig = seqBytes(64, 0xc0);
const ep = { address: '203.0.113.7', port: 40000 };
const lan = [{ address: '10.0.1.2', port: 5000 }];

/** One sample of every message type; test/fixtures/messages.json holds their exact bytes. */
export const SAMPLES: Record<string, Message> = {
  HELLO: { type: MsgType.HELLO, txid },
  COOKIE: { type: MsgType.COOKIE, txid, cookie: seqBytes(20, 0x60), serverKey: key2 },
  REGISTER: {
    type: MsgType.REGISTER,
    txid,
    cookie: seqBytes(20, 0x60),
    time: 1_764_700_000_123,
    room: 'lobby',
    name: 'alice',
    signKey: key,
    dhKey: key2,
    lan,
    signature: sig,
  },
  REGISTERED: { type: MsgType.REGISTERED, txid, id, observed: ep, keepaliveMs: 15000, expiryMs: 50000 },
  KEEPALIVE: { type: MsgType.KEEPALIVE, txid, id, presenceVersion: 7 },
  KEEPALIVE_ACK: { type: MsgType.KEEPALIVE_ACK, txid, observed: ep, presenceVersion: 7 },
  PRESENCE: {
    type: MsgType.PRESENCE,
    version: 7,
    part: 0,
    parts: 1,
    total: 2,
    members: [
      { id, name: 'alice' },
      { id: id2, name: 'bob' },
    ],
  },
  PRESENCE_DELTA: {
    type: MsgType.PRESENCE_DELTA,
    from: 7,
    to: 9,
    part: 0,
    parts: 1,
    total: 2,
    entries: [
      { id, name: undefined },
      { id: id2, name: 'bob' },
    ],
  },
  CONNECT: { type: MsgType.CONNECT, txid, id, target: id2 },
  INTRODUCE: {
    type: MsgType.INTRODUCE,
    txid,
    introId: seqBytes(8, 0xe0),
    initiator: true,
    id: id2,
    name: 'bob',
    signKey: key,
    dhKey: key2,
    observed: ep,
    lan,
  },
  INTRODUCE_ACK: { type: MsgType.INTRODUCE_ACK, txid, id },
  LEAVE: { type: MsgType.LEAVE, txid, id },
  NAT_INFO: { type: MsgType.NAT_INFO, txid, id, nat: { kind: 'sequential', step: 1, last: 40001 } },
  ERROR: { type: MsgType.ERROR, txid, code: 4, message: 'name taken' },
  GOING_AWAY: { type: MsgType.GOING_AWAY, withinMs: 10_000 },
  PROBE: {
    type: MsgType.PROBE,
    introId: seqBytes(8, 0xe0),
    from: id,
    to: id2,
    seq: 3,
    timestamp: 123456,
    seen: undefined,
    signature: sig,
  },
  PROBE_ACK: {
    type: MsgType.PROBE_ACK,
    introId: seqBytes(8, 0xe0),
    from: id2,
    to: id,
    seq: 3,
    timestamp: 123456,
    seen: ep,
    signature: sig,
  },
  PORT_PROBE: { type: MsgType.PORT_PROBE, tag: seqBytes(8, 0xf0), seq: 0x1234 },
  RELAY: { type: MsgType.RELAY, peer: id2, payload: seqBytes(6, 0x90) },
  RELAYED: { type: MsgType.RELAYED, peer: id, payload: seqBytes(6, 0x90) },
  RELAY_POLICY: { type: MsgType.RELAY_POLICY, ...RELAY_POLICY_DEFAULTS },
};
