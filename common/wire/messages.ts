import { malformed } from '../errors.js';
import { Reader, Writer } from './bytes.js';
import { Limits, MsgType, VERSION_BYTE } from './constants.js';
import { MESSAGE_CODECS, writeProbeBody, writeRegisterBody } from './message-codecs.js';
import type { MessageCodec } from './message-codecs.js';
import type { Message, Probe, Register } from './message-types.js';
import { AUTH_TRAILER_BYTES } from './server-auth.js';

/**
 * Every punchline datagram: [version byte][type byte][body]. One encode/decode pair per
 * message type (message-codecs.ts, one small codec per kind; message-types.ts has their shapes);
 * docs/protocol.md gives the byte layout of each. Decoders throw MALFORMED on anything short,
 * long or out of bounds.
 */

export type {
  Hello,
  Cookie,
  Register,
  Registered,
  Keepalive,
  KeepaliveAck,
  Member,
  Presence,
  DeltaEntry,
  PresenceDelta,
  Connect,
  Introduce,
  IntroduceAck,
  Leave,
  NatInfo,
  ErrorMsg,
  GoingAway,
  Probe,
  PortProbe,
  Relay,
  RelayPolicyMsg,
  Message,
  MessageOf,
} from './message-types.js';

/**
 * The messages that carry an auth trailer (seq u32 | HMAC 16): everything a registered peer and
 * the server say to each other after REGISTER. An ERROR sent before a key exists has it zeroed.
 */
export const AUTHENTICATED_TYPES: ReadonlySet<number> = new Set<number>([
  MsgType.REGISTERED,
  MsgType.KEEPALIVE,
  MsgType.KEEPALIVE_ACK,
  MsgType.PRESENCE,
  MsgType.PRESENCE_DELTA,
  MsgType.CONNECT,
  MsgType.INTRODUCE,
  MsgType.INTRODUCE_ACK,
  MsgType.LEAVE,
  MsgType.NAT_INFO,
  MsgType.ERROR,
  MsgType.GOING_AWAY,
]);

/** The bytes a REGISTER signature covers: a domain label, then the body up to the signature. */
export function registerSigningBytes(m: Omit<Register, 'type' | 'signature'>): Uint8Array {
  const w = new Writer().string8('punchline/register/v1');
  writeRegisterBody(w, m);
  return w.finish();
}

/** The bytes a PROBE / PROBE_ACK signature covers. */
export function probeSigningBytes(m: Omit<Probe, 'signature'>): Uint8Array {
  const w = new Writer().string8(m.type === MsgType.PROBE ? 'punchline/probe/v1' : 'punchline/probe-ack/v1');
  writeProbeBody(w, m);
  return w.finish();
}

/** Encode one message: version, type, its body, room for an auth trailer where it has one. */
export function encode(m: Message): Uint8Array {
  // Stream-only: bounded by MAX_RELAY_PAYLOAD rather than the datagram limit.
  if (m.type === MsgType.RELAY || m.type === MsgType.RELAYED)
    return encodeRelayFrame(m.type, m.peer, m.payload);
  const w = new Writer().u8(VERSION_BYTE).u8(m.type);
  (MESSAGE_CODECS[m.type] as MessageCodec<Message>).write(w, m);
  // Room for the auth trailer, zeroed: AuthChannel.seal() fills it in (server-auth.ts).
  if (AUTHENTICATED_TYPES.has(m.type)) w.bytes(new Uint8Array(AUTH_TRAILER_BYTES));
  const out = w.finish();
  if (out.length > Limits.MAX_DATAGRAM)
    throw new RangeError(`message of ${out.length} bytes exceeds datagram limit`);
  return out;
}

/**
 * RELAY / RELAYED in one allocation and two copies: the relay's hot path (encode() gives the same
 * bytes, through this function).
 */
export function encodeRelayFrame(
  type: typeof MsgType.RELAY | typeof MsgType.RELAYED,
  peer: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  if (peer.length !== Limits.ID_BYTES)
    throw new RangeError(`peer must be ${Limits.ID_BYTES} bytes, got ${peer.length}`);
  if (payload.length > Limits.MAX_RELAY_PAYLOAD)
    throw new RangeError(`relay payload of ${payload.length} bytes exceeds ${Limits.MAX_RELAY_PAYLOAD}`);
  const out = new Uint8Array(Limits.RELAY_HEADER_BYTES + payload.length);
  out[0] = VERSION_BYTE;
  out[1] = type;
  out.set(peer, 2);
  out[18] = payload.length >>> 8;
  out[19] = payload.length & 0xff;
  out.set(payload, Limits.RELAY_HEADER_BYTES);
  return out;
}

/** True when the datagram carries punchline's version byte (STUN and others are demuxed elsewhere). */
export const isPunchline = (buf: Uint8Array): boolean => buf.length >= 2 && buf[0] === VERSION_BYTE;

const isMessageType = (type: number): type is Message['type'] => Object.hasOwn(MESSAGE_CODECS, type);

/** Decode one message; throws MALFORMED on an unknown version or type, or a malformed body. */
export function decode(buf: Uint8Array): Message {
  const r = new Reader(buf, 'punchline message');
  const version = r.u8();
  if (version !== VERSION_BYTE) throw malformed(`unknown version byte 0x${version.toString(16)}`);
  const type = r.u8();
  if (!isMessageType(type)) throw malformed(`unknown message type 0x${type.toString(16)}`);
  const m = (MESSAGE_CODECS[type] as MessageCodec<Message>).read(r, type);
  if (AUTHENTICATED_TYPES.has(type)) r.bytes(AUTH_TRAILER_BYTES); // checked by the receiver's AuthChannel
  r.end();
  return m;
}
