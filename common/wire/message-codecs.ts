import { malformed } from '../errors.js';
import { Reader, Writer } from './bytes.js';
import { Limits, MsgType } from './constants.js';
import { readEndpoint, readEndpointList, writeEndpoint, writeEndpointList } from './endpoint-codec.js';
import { readPortBehaviour, writePortBehaviour } from './port-behaviour-codec.js';
import { AUTH_TRAILER_BYTES } from './server-auth.js';
import type {
  DeltaEntry,
  IntroduceAck,
  Leave,
  Member,
  Message,
  MessageOf,
  PortProbe,
  Probe,
  Register,
  RelayPolicyMsg,
} from './message-types.js';

/*
 * One small codec per message kind: how its body (after the version and type bytes, before any
 * auth trailer) is written and read. messages.ts runs them; docs/protocol.md gives each layout.
 * Readers bound every length (Reader throws MALFORMED on anything short) and check every flag.
 */

/** Writes one message's body; reads it back. `read` gets the type byte already read. */
export interface MessageCodec<M extends Message> {
  write(w: Writer, m: M): void;
  read(r: Reader, type: M['type']): M;
}

function fixed(w: Writer, b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
  w.bytes(b);
}

const txid = (r: Reader): Uint8Array => r.bytes(Limits.TXID_BYTES);
const id = (r: Reader): Uint8Array => r.bytes(Limits.ID_BYTES);
const key = (r: Reader): Uint8Array => r.bytes(Limits.KEY_BYTES);

export function writeRegisterBody(w: Writer, m: Omit<Register, 'type' | 'signature'>): void {
  fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
  fixed(w, m.cookie, Limits.COOKIE_BYTES, 'cookie');
  w.u48(m.time).string8(m.room).string8(m.name);
  fixed(w, m.signKey, Limits.KEY_BYTES, 'signKey');
  fixed(w, m.dhKey, Limits.KEY_BYTES, 'dhKey');
  writeEndpointList(w, m.lan, Limits.MAX_LAN_ENDPOINTS);
}

/** PROBE bytes after the signature: 133 - 114. */
export const PROBE_PADDING =
  Limits.PROBE_BYTES - 2 - Limits.INTRO_ID_BYTES - 2 * Limits.ID_BYTES - 8 - Limits.SIG_BYTES;

export function writeProbeBody(w: Writer, m: Omit<Probe, 'signature'>): void {
  fixed(w, m.introId, Limits.INTRO_ID_BYTES, 'introId');
  fixed(w, m.from, Limits.ID_BYTES, 'from');
  fixed(w, m.to, Limits.ID_BYTES, 'to');
  w.u16(m.seq).u48(m.timestamp);
  if (m.type === MsgType.PROBE_ACK) {
    if (!m.seen) throw new RangeError('PROBE_ACK needs seen');
    writeEndpoint(w, m.seen);
  }
}

/** The part count and index of a PRESENCE or PRESENCE_DELTA, checked. */
function readParts(r: Reader, what: string): { part: number; parts: number; total: number; count: number } {
  const part = r.u8();
  const parts = r.u8();
  const total = r.u16();
  const count = r.u8();
  if (parts === 0 || part >= parts) throw malformed(`${what} part ${part} of ${parts}`);
  return { part, parts, total, count };
}

const hello: MessageCodec<MessageOf<typeof MsgType.HELLO>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    // Padding: the client pays for the server's answer (no amplification).
    w.bytes(new Uint8Array(Limits.HELLO_BYTES - 2 - Limits.TXID_BYTES));
  },
  read: (r, type) => {
    const m = { type, txid: txid(r) };
    r.bytes(Limits.HELLO_BYTES - 2 - Limits.TXID_BYTES); // padding; a short HELLO is refused
    return m;
  },
};

const cookie: MessageCodec<MessageOf<typeof MsgType.COOKIE>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.cookie, Limits.COOKIE_BYTES, 'cookie');
    fixed(w, m.serverKey, Limits.KEY_BYTES, 'serverKey');
  },
  read: (r, type) => ({ type, txid: txid(r), cookie: r.bytes(Limits.COOKIE_BYTES), serverKey: key(r) }),
};

const register: MessageCodec<Register> = {
  write: (w, m) => {
    writeRegisterBody(w, m);
    fixed(w, m.signature, Limits.SIG_BYTES, 'signature');
  },
  read: (r, type) => ({
    type,
    txid: txid(r),
    cookie: r.bytes(Limits.COOKIE_BYTES),
    time: r.u48(),
    room: r.string8(Limits.MAX_ROOM_BYTES),
    name: r.string8(Limits.MAX_NAME_BYTES),
    signKey: key(r),
    dhKey: key(r),
    lan: readEndpointList(r, Limits.MAX_LAN_ENDPOINTS),
    signature: r.bytes(Limits.SIG_BYTES),
  }),
};

const registered: MessageCodec<MessageOf<typeof MsgType.REGISTERED>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.id, Limits.ID_BYTES, 'id');
    writeEndpoint(w, m.observed);
    w.u32(m.keepaliveMs).u32(m.expiryMs);
  },
  read: (r, type) => ({
    type,
    txid: txid(r),
    id: id(r),
    observed: readEndpoint(r),
    keepaliveMs: r.u32(),
    expiryMs: r.u32(),
  }),
};

const keepalive: MessageCodec<MessageOf<typeof MsgType.KEEPALIVE>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.id, Limits.ID_BYTES, 'id');
    w.u32(m.presenceVersion);
  },
  read: (r, type) => ({ type, txid: txid(r), id: id(r), presenceVersion: r.u32() }),
};

const keepaliveAck: MessageCodec<MessageOf<typeof MsgType.KEEPALIVE_ACK>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    writeEndpoint(w, m.observed);
    w.u32(m.presenceVersion);
  },
  read: (r, type) => ({ type, txid: txid(r), observed: readEndpoint(r), presenceVersion: r.u32() }),
};

const presence: MessageCodec<MessageOf<typeof MsgType.PRESENCE>> = {
  write: (w, m) => {
    w.u32(m.version).u8(m.part).u8(m.parts).u16(m.total).u8(m.members.length);
    for (const mem of m.members) {
      fixed(w, mem.id, Limits.ID_BYTES, 'member id');
      w.string8(mem.name);
    }
  },
  read: (r, type) => {
    const version = r.u32();
    const { part, parts, total, count } = readParts(r, 'presence');
    if (count > total) throw malformed('presence count exceeds total');
    const members: Member[] = [];
    for (let i = 0; i < count; i++) members.push({ id: id(r), name: r.string8(Limits.MAX_NAME_BYTES) });
    return { type, version, part, parts, total, members };
  },
};

const presenceDelta: MessageCodec<MessageOf<typeof MsgType.PRESENCE_DELTA>> = {
  write: (w, m) => {
    w.u32(m.from).u32(m.to).u8(m.part).u8(m.parts).u16(m.total).u8(m.entries.length);
    for (const e of m.entries) {
      fixed(w, e.id, Limits.ID_BYTES, 'entry id');
      w.u8(e.name === undefined ? 0 : 1).string8(e.name ?? '');
    }
  },
  read: (r, type) => {
    const from = r.u32();
    const to = r.u32();
    const { part, parts, total, count } = readParts(r, 'presence delta');
    if (from > to) throw malformed('presence delta goes backwards');
    const entries: DeltaEntry[] = [];
    for (let i = 0; i < count; i++) {
      const entryId = id(r);
      const present = r.u8();
      if (present > 1) throw malformed('presence delta entry flag');
      const name = r.string8(Limits.MAX_NAME_BYTES);
      if (present === 0 && name.length > 0) throw malformed('a departed member with a name');
      entries.push({ id: entryId, name: present === 1 ? name : undefined });
    }
    return { type, from, to, part, parts, total, entries };
  },
};

const connect: MessageCodec<MessageOf<typeof MsgType.CONNECT>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.id, Limits.ID_BYTES, 'id');
    fixed(w, m.target, Limits.ID_BYTES, 'target');
  },
  read: (r, type) => ({ type, txid: txid(r), id: id(r), target: id(r) }),
};

const introduce: MessageCodec<MessageOf<typeof MsgType.INTRODUCE>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.introId, Limits.INTRO_ID_BYTES, 'introId');
    w.u8(m.initiator ? 1 : 0);
    fixed(w, m.id, Limits.ID_BYTES, 'id');
    w.string8(m.name);
    fixed(w, m.signKey, Limits.KEY_BYTES, 'signKey');
    fixed(w, m.dhKey, Limits.KEY_BYTES, 'dhKey');
    writeEndpoint(w, m.observed);
    writeEndpointList(w, m.lan, Limits.MAX_LAN_ENDPOINTS);
    // Optional, last: written only when known (an unknown behaviour and none mean the same).
    if (m.nat && m.nat.kind !== 'unknown') writePortBehaviour(w, m.nat);
  },
  read: (r, type) => {
    const t = txid(r);
    const introId = r.bytes(Limits.INTRO_ID_BYTES);
    const flag = r.u8();
    if (flag > 1) throw malformed('INTRODUCE initiator flag');
    const m: MessageOf<typeof MsgType.INTRODUCE> = {
      type,
      txid: t,
      introId,
      initiator: flag === 1,
      id: id(r),
      name: r.string8(Limits.MAX_NAME_BYTES),
      signKey: key(r),
      dhKey: key(r),
      observed: readEndpoint(r),
      lan: readEndpointList(r, Limits.MAX_LAN_ENDPOINTS),
    };
    // The port behaviour is there when more than the auth trailer remains (an older server never
    // sends it). A truncated copy that loses it still fails its MAC (AuthChannel). Unknown is sent
    // as no field, so the field saying it is refused: one meaning, one encoding.
    if (r.remaining > AUTH_TRAILER_BYTES) {
      const nat = readPortBehaviour(r);
      if (nat.kind === 'unknown') throw malformed('INTRODUCE port behaviour unknown: trailing bytes');
      m.nat = nat;
    }
    return m;
  },
};

const natInfo: MessageCodec<MessageOf<typeof MsgType.NAT_INFO>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    fixed(w, m.id, Limits.ID_BYTES, 'id');
    writePortBehaviour(w, m.nat);
  },
  read: (r, type) => ({ type, txid: txid(r), id: id(r), nat: readPortBehaviour(r) }),
};

/** INTRODUCE_ACK and LEAVE: a transaction id and the sender's id. */
function txidAndId<M extends IntroduceAck | Leave>(): MessageCodec<M> {
  return {
    write: (w, m) => {
      fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
      fixed(w, m.id, Limits.ID_BYTES, 'id');
    },
    read: (r, type) => ({ type, txid: txid(r), id: id(r) }) as M,
  };
}

const error: MessageCodec<MessageOf<typeof MsgType.ERROR>> = {
  write: (w, m) => {
    fixed(w, m.txid, Limits.TXID_BYTES, 'txid');
    w.u16(m.code).string8(m.message);
  },
  read: (r, type) => ({
    type,
    txid: txid(r),
    code: r.u16(),
    message: r.string8(Limits.MAX_ERROR_TEXT_BYTES),
  }),
};

const goingAway: MessageCodec<MessageOf<typeof MsgType.GOING_AWAY>> = {
  write: (w, m) => void w.u32(m.withinMs),
  read: (r, type) => ({ type, withinMs: r.u32() }),
};

const probe: MessageCodec<Probe> = {
  write: (w, m) => {
    writeProbeBody(w, m);
    fixed(w, m.signature, Limits.SIG_BYTES, 'signature');
    // Zero padding, outside the signature: the prober pays for the PROBE_ACK (no amplification).
    if (m.type === MsgType.PROBE) w.bytes(new Uint8Array(PROBE_PADDING));
  },
  read: (r, type) => {
    const m: Probe = {
      type,
      introId: r.bytes(Limits.INTRO_ID_BYTES),
      from: id(r),
      to: id(r),
      seq: r.u16(),
      timestamp: r.u48(),
      seen: type === MsgType.PROBE_ACK ? readEndpoint(r) : undefined,
      signature: r.bytes(Limits.SIG_BYTES),
    };
    // Padding; a short PROBE is refused, and so is one whose padding is not zero (one PROBE, one encoding).
    if (type === MsgType.PROBE && r.bytes(PROBE_PADDING).some((x) => x !== 0))
      throw malformed('PROBE padding not zero');
    return m;
  },
};

const portProbe: MessageCodec<PortProbe> = {
  write: (w, m) => {
    fixed(w, m.tag, Limits.PORT_PROBE_TAG_BYTES, 'tag');
    w.u16(m.seq);
  },
  read: (r, type) => ({ type, tag: r.bytes(Limits.PORT_PROBE_TAG_BYTES), seq: r.u16() }),
};

/** Stream-only frames; messages.ts encodes them with encodeRelayFrame, in one allocation. */
const relay: MessageCodec<MessageOf<typeof MsgType.RELAY>> = {
  write: () => {
    throw new RangeError('RELAY and RELAYED are encoded by encodeRelayFrame');
  },
  // The payload is a view into the datagram, not a copy: the relay forwards it straight on.
  read: (r, type) => ({ type, peer: id(r), payload: r.bytes16(Limits.MAX_RELAY_PAYLOAD) }),
};

/** The relay's limits: four u32, each at least 1 (a zero rate would stop the peer's relay for good). */
const relayPolicy: MessageCodec<RelayPolicyMsg> = {
  write: (w, m) => {
    for (const v of [m.rateBytes, m.burstBytes, m.rateFrames, m.burstFrames]) w.u32(v);
  },
  read: (r, type) => {
    const m = { type, rateBytes: r.u32(), burstBytes: r.u32(), rateFrames: r.u32(), burstFrames: r.u32() };
    if (m.rateBytes === 0 || m.burstBytes === 0 || m.rateFrames === 0 || m.burstFrames === 0)
      throw malformed('RELAY_POLICY field is zero');
    return m;
  },
};

/** Every message kind's codec, by type byte. */
export const MESSAGE_CODECS: { readonly [T in Message['type']]: MessageCodec<MessageOf<T>> } = {
  [MsgType.HELLO]: hello,
  [MsgType.COOKIE]: cookie,
  [MsgType.REGISTER]: register,
  [MsgType.REGISTERED]: registered,
  [MsgType.KEEPALIVE]: keepalive,
  [MsgType.KEEPALIVE_ACK]: keepaliveAck,
  [MsgType.PRESENCE]: presence,
  [MsgType.PRESENCE_DELTA]: presenceDelta,
  [MsgType.CONNECT]: connect,
  [MsgType.INTRODUCE]: introduce,
  [MsgType.INTRODUCE_ACK]: txidAndId<IntroduceAck>(),
  [MsgType.LEAVE]: txidAndId<Leave>(),
  [MsgType.NAT_INFO]: natInfo,
  [MsgType.ERROR]: error,
  [MsgType.GOING_AWAY]: goingAway,
  [MsgType.PROBE]: probe,
  [MsgType.PROBE_ACK]: probe,
  [MsgType.PORT_PROBE]: portProbe,
  [MsgType.RELAY]: relay,
  [MsgType.RELAYED]: relay,
  [MsgType.RELAY_POLICY]: relayPolicy,
};
