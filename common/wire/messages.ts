import { malformed } from '../errors.js';
import type { Endpoint } from '../endpoint.js';
import { Reader, Writer } from './bytes.js';
import { Limits, MsgType, VERSION_BYTE } from './constants.js';
import { readEndpoint, readEndpointList, writeEndpoint, writeEndpointList } from './endpoint-codec.js';
import { AUTH_TRAILER_BYTES } from './server-auth.js';

/**
 * Every punchline datagram: [version byte][type byte][body]. One encode/decode pair per
 * message type; docs/protocol.md gives the byte layout of each. Decoders throw MALFORMED
 * on anything short, long or out of bounds.
 */

export interface Hello {
  type: typeof MsgType.HELLO;
  txid: Uint8Array;
}
export interface Cookie {
  type: typeof MsgType.COOKIE;
  txid: Uint8Array;
  cookie: Uint8Array;
  /** The server's long-term X25519 public key: pinned by peers, the root of server authentication. */
  serverKey: Uint8Array;
}
export interface Register {
  type: typeof MsgType.REGISTER;
  txid: Uint8Array;
  cookie: Uint8Array;
  /**
   * The peer's wall clock, ms (u48): the server refuses a REGISTER older than the binding it
   * holds, so a captured registration replayed within the cookie's life cannot reset it.
   */
  time: number;
  room: string;
  name: string;
  signKey: Uint8Array; // Ed25519 public key
  dhKey: Uint8Array; // X25519 public key (the Noise static key)
  lan: Endpoint[];
  signature: Uint8Array; // Ed25519 over registerSigningBytes()
}
export interface Registered {
  type: typeof MsgType.REGISTERED;
  txid: Uint8Array;
  id: Uint8Array;
  observed: Endpoint;
  keepaliveMs: number;
  expiryMs: number;
}
export interface Keepalive {
  type: typeof MsgType.KEEPALIVE;
  txid: Uint8Array;
  id: Uint8Array;
  presenceVersion: number;
}
export interface KeepaliveAck {
  type: typeof MsgType.KEEPALIVE_ACK;
  txid: Uint8Array;
  observed: Endpoint;
  presenceVersion: number;
}
export interface Member {
  id: Uint8Array;
  name: string;
}
export interface Presence {
  type: typeof MsgType.PRESENCE;
  version: number;
  part: number; // 0-based
  parts: number;
  total: number; // members in the whole list
  members: Member[];
}
/** One member's state after a change: present under `name`, or gone (`name` undefined). */
export interface DeltaEntry {
  id: Uint8Array;
  /** The member's name now; undefined: it left (LEAVE, expiry, another room). */
  name: string | undefined;
}
/**
 * The room's changes from version `from` to version `to` (rendezvous/presence.ts): for every id
 * that changed in between, its state at `to`. A peer whose list is at a version in [from, to)
 * applies it and is at `to`; one below `from` missed a change and asks for the full list.
 */
export interface PresenceDelta {
  type: typeof MsgType.PRESENCE_DELTA;
  from: number;
  to: number;
  part: number; // 0-based
  parts: number;
  total: number; // members in the room at version `to`
  entries: DeltaEntry[];
}
export interface Connect {
  type: typeof MsgType.CONNECT;
  txid: Uint8Array;
  id: Uint8Array;
  target: Uint8Array;
}
export interface Introduce {
  type: typeof MsgType.INTRODUCE;
  txid: Uint8Array; // the requester's CONNECT txid, or a fresh one for the target
  introId: Uint8Array; // shared by both introductions: names the punch attempt
  initiator: boolean; // true for the side that asked
  id: Uint8Array;
  name: string;
  signKey: Uint8Array;
  dhKey: Uint8Array;
  observed: Endpoint;
  lan: Endpoint[];
}
export interface IntroduceAck {
  type: typeof MsgType.INTRODUCE_ACK;
  txid: Uint8Array;
  id: Uint8Array;
}
export interface Leave {
  type: typeof MsgType.LEAVE;
  txid: Uint8Array;
  id: Uint8Array;
}
export interface ErrorMsg {
  type: typeof MsgType.ERROR;
  txid: Uint8Array;
  code: number;
  message: string;
}
export interface Probe {
  type: typeof MsgType.PROBE | typeof MsgType.PROBE_ACK;
  introId: Uint8Array;
  from: Uint8Array;
  to: Uint8Array;
  seq: number;
  timestamp: number; // sender's clock, echoed in the ACK for an RTT sample
  /** In PROBE_ACK: the source endpoint the answering side saw the PROBE come from. */
  seen: Endpoint | undefined;
  signature: Uint8Array;
}
/**
 * Relay frames, over the stream (WebSocket) connection only. RELAY asks the server to forward an
 * opaque payload (an already-encrypted session packet) to the peer `peer`; the server delivers it
 * as RELAYED with `peer` set to the sender. Layout: version | type | peer id (16) | u16 length |
 * payload (at most Limits.MAX_RELAY_PAYLOAD).
 */
export interface Relay {
  type: typeof MsgType.RELAY | typeof MsgType.RELAYED;
  /** RELAY: the destination peer id; RELAYED: the source peer id. */
  peer: Uint8Array;
  payload: Uint8Array;
}

export type Message =
  | Hello
  | Cookie
  | Register
  | Registered
  | Keepalive
  | KeepaliveAck
  | Presence
  | PresenceDelta
  | Connect
  | Introduce
  | IntroduceAck
  | Leave
  | ErrorMsg
  | Probe
  | Relay;

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
  MsgType.ERROR,
]);

const header = (type: number): Writer => new Writer().u8(VERSION_BYTE).u8(type);

function fixed(w: Writer, b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
  w.bytes(b);
}

/** The bytes a REGISTER signature covers: a domain label, then the body up to the signature. */
export function registerSigningBytes(m: Omit<Register, 'type' | 'signature'>): Uint8Array {
  const w = new Writer().string8('punchline/register/v1');
  writeRegisterBody(w, m);
  return w.finish();
}

function writeRegisterBody(w: Writer, m: Omit<Register, 'type' | 'signature'>): void {
  fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
  fixed(w, m.cookie, Limits.COOKIE_BYTES, 'cookie');
  w.u48(m.time).string8(m.room).string8(m.name);
  fixed(w, m.signKey, Limits.KEY_BYTES, 'signKey');
  fixed(w, m.dhKey, Limits.KEY_BYTES, 'dhKey');
  writeEndpointList(w, m.lan, Limits.MAX_LAN_ENDPOINTS);
}

/** The bytes a PROBE / PROBE_ACK signature covers. */
export function probeSigningBytes(m: Omit<Probe, 'signature'>): Uint8Array {
  const w = new Writer().string8(m.type === MsgType.PROBE ? 'punchline/probe/v1' : 'punchline/probe-ack/v1');
  writeProbeBody(w, m);
  return w.finish();
}

/** PROBE bytes after the signature: 133 - 114. */
const PROBE_PADDING =
  Limits.PROBE_BYTES - 2 - Limits.INTRO_ID_BYTES - 2 * Limits.ID_BYTES - 8 - Limits.SIG_BYTES;

function writeProbeBody(w: Writer, m: Omit<Probe, 'signature'>): void {
  fixed(w, m.introId, Limits.INTRO_ID_BYTES, 'introId');
  fixed(w, m.from, Limits.ID_BYTES, 'from');
  fixed(w, m.to, Limits.ID_BYTES, 'to');
  w.u16(m.seq).u48(m.timestamp);
  if (m.type === MsgType.PROBE_ACK) {
    if (!m.seen) throw new RangeError('PROBE_ACK needs seen');
    writeEndpoint(w, m.seen);
  }
}

export function encode(m: Message): Uint8Array {
  const w = header(m.type);
  switch (m.type) {
    case MsgType.HELLO:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      // Padding: the client pays for the server's answer (no amplification).
      w.bytes(new Uint8Array(Limits.HELLO_BYTES - 2 - Limits.TXID_BYTES));
      break;
    case MsgType.COOKIE:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.cookie, Limits.COOKIE_BYTES, 'cookie');
      fixed(w, m.serverKey, Limits.KEY_BYTES, 'serverKey');
      break;
    case MsgType.REGISTER:
      writeRegisterBody(w, m);
      fixed(w, m.signature, Limits.SIG_BYTES, 'signature');
      break;
    case MsgType.REGISTERED:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.id, Limits.ID_BYTES, 'id');
      writeEndpoint(w, m.observed);
      w.u32(m.keepaliveMs).u32(m.expiryMs);
      break;
    case MsgType.KEEPALIVE:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.id, Limits.ID_BYTES, 'id');
      w.u32(m.presenceVersion);
      break;
    case MsgType.KEEPALIVE_ACK:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      writeEndpoint(w, m.observed);
      w.u32(m.presenceVersion);
      break;
    case MsgType.PRESENCE:
      w.u32(m.version).u8(m.part).u8(m.parts).u16(m.total).u8(m.members.length);
      for (const mem of m.members) {
        fixed(w, mem.id, Limits.ID_BYTES, 'member id');
        w.string8(mem.name);
      }
      break;
    case MsgType.PRESENCE_DELTA:
      w.u32(m.from).u32(m.to).u8(m.part).u8(m.parts).u16(m.total).u8(m.entries.length);
      for (const e of m.entries) {
        fixed(w, e.id, Limits.ID_BYTES, 'entry id');
        w.u8(e.name === undefined ? 0 : 1).string8(e.name ?? '');
      }
      break;
    case MsgType.CONNECT:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.id, Limits.ID_BYTES, 'id');
      fixed(w, m.target, Limits.ID_BYTES, 'target');
      break;
    case MsgType.INTRODUCE:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.introId, Limits.INTRO_ID_BYTES, 'introId');
      w.u8(m.initiator ? 1 : 0);
      fixed(w, m.id, Limits.ID_BYTES, 'id');
      w.string8(m.name);
      fixed(w, m.signKey, Limits.KEY_BYTES, 'signKey');
      fixed(w, m.dhKey, Limits.KEY_BYTES, 'dhKey');
      writeEndpoint(w, m.observed);
      writeEndpointList(w, m.lan, Limits.MAX_LAN_ENDPOINTS);
      break;
    case MsgType.INTRODUCE_ACK:
    case MsgType.LEAVE:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.id, Limits.ID_BYTES, 'id');
      break;
    case MsgType.ERROR:
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      w.u16(m.code).string8(m.message);
      break;
    case MsgType.PROBE:
    case MsgType.PROBE_ACK:
      writeProbeBody(w, m);
      fixed(w, m.signature, Limits.SIG_BYTES, 'signature');
      // Zero padding, outside the signature: the prober pays for the PROBE_ACK (no amplification).
      if (m.type === MsgType.PROBE) w.bytes(new Uint8Array(PROBE_PADDING));
      break;
    case MsgType.RELAY:
    case MsgType.RELAYED:
      // Stream-only: bounded by MAX_RELAY_PAYLOAD rather than the datagram limit.
      return encodeRelayFrame(m.type, m.peer, m.payload);
  }
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

export function decode(buf: Uint8Array): Message {
  const r = new Reader(buf, 'punchline message');
  const version = r.u8();
  if (version !== VERSION_BYTE) throw malformed(`unknown version byte 0x${version.toString(16)}`);
  const type = r.u8();
  const txid = (): Uint8Array => r.bytes(Limits.TXID_BYTES);
  const id = (): Uint8Array => r.bytes(Limits.ID_BYTES);
  const key = (): Uint8Array => r.bytes(Limits.KEY_BYTES);
  let m: Message;
  switch (type) {
    case MsgType.HELLO:
      m = { type, txid: txid() };
      r.bytes(Limits.HELLO_BYTES - 2 - Limits.TXID_BYTES); // padding; a short HELLO is refused
      break;
    case MsgType.COOKIE:
      m = { type, txid: txid(), cookie: r.bytes(Limits.COOKIE_BYTES), serverKey: key() };
      break;
    case MsgType.REGISTER:
      m = {
        type,
        txid: txid(),
        cookie: r.bytes(Limits.COOKIE_BYTES),
        time: r.u48(),
        room: r.string8(Limits.MAX_ROOM_BYTES),
        name: r.string8(Limits.MAX_NAME_BYTES),
        signKey: key(),
        dhKey: key(),
        lan: readEndpointList(r, Limits.MAX_LAN_ENDPOINTS),
        signature: r.bytes(Limits.SIG_BYTES),
      };
      break;
    case MsgType.REGISTERED:
      m = {
        type,
        txid: txid(),
        id: id(),
        observed: readEndpoint(r),
        keepaliveMs: r.u32(),
        expiryMs: r.u32(),
      };
      break;
    case MsgType.KEEPALIVE:
      m = { type, txid: txid(), id: id(), presenceVersion: r.u32() };
      break;
    case MsgType.KEEPALIVE_ACK:
      m = { type, txid: txid(), observed: readEndpoint(r), presenceVersion: r.u32() };
      break;
    case MsgType.PRESENCE: {
      const version = r.u32();
      const part = r.u8();
      const parts = r.u8();
      const total = r.u16();
      const count = r.u8();
      if (parts === 0 || part >= parts) throw malformed(`presence part ${part} of ${parts}`);
      if (count > total) throw malformed('presence count exceeds total');
      const members: Member[] = [];
      for (let i = 0; i < count; i++) members.push({ id: id(), name: r.string8(Limits.MAX_NAME_BYTES) });
      m = { type, version, part, parts, total, members };
      break;
    }
    case MsgType.PRESENCE_DELTA: {
      const from = r.u32();
      const to = r.u32();
      const part = r.u8();
      const parts = r.u8();
      const total = r.u16();
      const count = r.u8();
      if (parts === 0 || part >= parts) throw malformed(`presence delta part ${part} of ${parts}`);
      if (from > to) throw malformed('presence delta goes backwards');
      const entries: DeltaEntry[] = [];
      for (let i = 0; i < count; i++) {
        const entryId = id();
        const present = r.u8();
        if (present > 1) throw malformed('presence delta entry flag');
        const name = r.string8(Limits.MAX_NAME_BYTES);
        if (present === 0 && name.length > 0) throw malformed('a departed member with a name');
        entries.push({ id: entryId, name: present === 1 ? name : undefined });
      }
      m = { type, from, to, part, parts, total, entries };
      break;
    }
    case MsgType.CONNECT:
      m = { type, txid: txid(), id: id(), target: id() };
      break;
    case MsgType.INTRODUCE: {
      const t = txid();
      const introId = r.bytes(Limits.INTRO_ID_BYTES);
      const flag = r.u8();
      if (flag > 1) throw malformed('INTRODUCE initiator flag');
      m = {
        type,
        txid: t,
        introId,
        initiator: flag === 1,
        id: id(),
        name: r.string8(Limits.MAX_NAME_BYTES),
        signKey: key(),
        dhKey: key(),
        observed: readEndpoint(r),
        lan: readEndpointList(r, Limits.MAX_LAN_ENDPOINTS),
      };
      break;
    }
    case MsgType.INTRODUCE_ACK:
    case MsgType.LEAVE:
      m = { type, txid: txid(), id: id() };
      break;
    case MsgType.ERROR:
      m = { type, txid: txid(), code: r.u16(), message: r.string8(Limits.MAX_ERROR_TEXT_BYTES) };
      break;
    case MsgType.PROBE:
    case MsgType.PROBE_ACK:
      m = {
        type,
        introId: r.bytes(Limits.INTRO_ID_BYTES),
        from: id(),
        to: id(),
        seq: r.u16(),
        timestamp: r.u48(),
        seen: type === MsgType.PROBE_ACK ? readEndpoint(r) : undefined,
        signature: r.bytes(Limits.SIG_BYTES),
      };
      // Padding; a short PROBE is refused, and so is one whose padding is not zero (one PROBE, one encoding).
      if (type === MsgType.PROBE && r.bytes(PROBE_PADDING).some((x) => x !== 0))
        throw malformed('PROBE padding not zero');
      break;
    case MsgType.RELAY:
    case MsgType.RELAYED:
      // The payload is a view into `buf`, not a copy: the relay forwards it straight on.
      m = { type, peer: id(), payload: r.bytes16(Limits.MAX_RELAY_PAYLOAD) };
      break;
    default:
      throw malformed(`unknown message type 0x${type.toString(16)}`);
  }
  if (AUTHENTICATED_TYPES.has(type)) r.bytes(AUTH_TRAILER_BYTES); // checked by the receiver's AuthChannel
  r.end();
  return m;
}
