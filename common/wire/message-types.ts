import type { Endpoint } from '../endpoint.js';
import type { PortBehaviour } from '../nat-behaviour.js';
import type { MsgType, RelayPolicy } from './constants.js';

/*
 * The shape of every punchline message once decoded (messages.ts is the codec's public face;
 * docs/protocol.md gives the byte layout of each).
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
  /**
   * How the other peer's NAT allocates ports, as it measured and told the server (NAT_INFO).
   * Absent when unknown, or not sent: the server adds it only for a recipient that itself sent
   * NAT_INFO (an older peer refuses the longer message; docs/protocol.md).
   */
  nat?: PortBehaviour;
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
/** The sender's port behaviour (peer/nat-probe.ts); answered with KEEPALIVE_ACK. */
export interface NatInfo {
  type: typeof MsgType.NAT_INFO;
  txid: Uint8Array;
  id: Uint8Array;
  nat: PortBehaviour;
}
/**
 * The server is draining (rendezvous/drain.ts): it takes no new registrations and stops within
 * `withinMs`; the client registers at its next server at once (peer/server-failover.ts).
 */
export interface GoingAway {
  type: typeof MsgType.GOING_AWAY;
  /** How long the node may still run, ms: the rest of its drain time. */
  withinMs: number;
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
 * A port search's probe (docs/protocol.md): 12 bytes. `tag` proves the sender knows the
 * introduction (peer/port-probe.ts) without naming either peer to whoever the port belongs to.
 */
export interface PortProbe {
  type: typeof MsgType.PORT_PROBE;
  tag: Uint8Array;
  seq: number;
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

/**
 * The relay's per-peer limits, server -> peer over the stream only, sent when a REGISTER on it
 * succeeds (just before REGISTERED). Every field is at least 1.
 */
export interface RelayPolicyMsg extends RelayPolicy {
  type: typeof MsgType.RELAY_POLICY;
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
  | NatInfo
  | ErrorMsg
  | GoingAway
  | Probe
  | PortProbe
  | Relay
  | RelayPolicyMsg;

/** The message whose `type` field admits T (PROBE and PROBE_ACK share one shape, as do RELAY and RELAYED). */
export type MessageOf<T extends Message['type']> = Message extends infer M
  ? M extends Message
    ? T extends M['type']
      ? M
      : never
    : never
  : never;
