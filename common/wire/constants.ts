/**
 * The one table of punchline wire numbers (docs/contributing.md §1). docs/protocol.md describes each
 * message byte by byte; change both together.
 */

/** First byte of every punchline datagram: 0x50 ('P') + protocol version. STUN starts with 0b00. */
export const PROTOCOL_VERSION = 1;
export const VERSION_BYTE = 0x50 + PROTOCOL_VERSION;

export const MsgType = {
  // peer -> server
  HELLO: 0x01,
  REGISTER: 0x03,
  KEEPALIVE: 0x05,
  CONNECT: 0x08,
  INTRODUCE_ACK: 0x0a,
  LEAVE: 0x0b,
  NAT_INFO: 0x0e, // the sender's port behaviour, measured after registering (peer/nat-probe.ts)
  // server -> peer
  COOKIE: 0x02,
  REGISTERED: 0x04,
  KEEPALIVE_ACK: 0x06,
  PRESENCE: 0x07,
  INTRODUCE: 0x09,
  ERROR: 0x0c,
  PRESENCE_DELTA: 0x0d, // the room's changes since a version (rendezvous/presence.ts)
  // The node is draining (rendezvous/drain.ts): register elsewhere now. An older client decodes an
  // unknown type as MALFORMED and drops it (peer/datagram-demux.ts, peer/relay-channel.ts).
  GOING_AWAY: 0x0f,
  // peer <-> peer
  PROBE: 0x20,
  PROBE_ACK: 0x21,
  // A port search's probe (common/path/port-strategy.ts): a tag and a seq, nothing else; sent to
  // ports of a peer's public address that nobody has verified, so it names no one.
  PORT_PROBE: 0x24,
  // 0x22 and 0x23 were plain DATA and PEER_KEEPALIVE before the encrypted session; retired,
  // never to be reused with another meaning.
  // peer <-> peer secure session (common/session/packet.ts encodes these; docs/session.md).
  // The session range is 0x30-0x3F; every session packet has its destination connection id
  // at bytes 2..9, so the owner routes by connection id (connectionIdOf).
  SESSION_INIT: 0x30, // Noise XX message 1 (-> e), padded to 1200 bytes
  SESSION_RESPONSE: 0x31, // Noise XX message 2 (<- e, ee, s, es)
  SESSION_FINISH: 0x32, // Noise XX message 3 (-> s, se)
  SESSION_DATA: 0x33, // AEAD-sealed transport packet (frames)
  // peer <-> server relay, over the stream (WebSocket) connection only; never over UDP.
  // The relay range is 0x40-0x4F (rendezvous/relay.ts; docs/self-hosting.md).
  RELAY: 0x40, // peer -> server: to id (16) | payload (u16 length, bytes)
  RELAYED: 0x41, // server -> peer: from id (16) | payload (u16 length, bytes)
  // server -> peer, on registering over the stream: the relay's per-peer rate limits, which the
  // peer's relay path paces under (peer/relay-pacer.ts). A peer that does not know it drops it.
  RELAY_POLICY: 0x42, // rateBytes u32 | burstBytes u32 | rateFrames u32 | burstFrames u32
} as const;
export type MsgTypeName = keyof typeof MsgType;

/** Wire error numbers carried in ERROR messages (mapped to ErrorCode in common/wire/errors-map.ts). */
export const WireError = {
  MALFORMED: 1,
  BAD_SIGNATURE: 2,
  STALE: 3,
  NAME_TAKEN: 4,
  NOT_REGISTERED: 5,
  UNKNOWN_PEER: 6,
  ROOM_FULL: 7,
  RATE_LIMITED: 8,
  TOO_MANY_IDS: 9,
  BAD_NAME: 10,
} as const;
export type WireErrorName = keyof typeof WireError;

/** Field limits: every variable-length field is bounded before anything is allocated. */
export const Limits = {
  TXID_BYTES: 8,
  ID_BYTES: 16,
  KEY_BYTES: 32,
  SIG_BYTES: 64,
  COOKIE_BYTES: 20,
  INTRO_ID_BYTES: 8,
  MAX_ROOM_BYTES: 64,
  MAX_NAME_BYTES: 32,
  MAX_LAN_ENDPOINTS: 8,
  MAX_ERROR_TEXT_BYTES: 200,
  /** A HELLO is padded to this size so the COOKIE answer is never larger (no amplification). */
  HELLO_BYTES: 64,
  /** The truncated HMAC-SHA256 in a server-authenticated message's trailer (common/wire/server-auth.ts). */
  AUTH_MAC_BYTES: 16,
  /**
   * A PROBE is padded to this size, the largest PROBE_ACK (one with an IPv6 `seen`: 50 + 19 + 64),
   * so the answer to a PROBE, sent to its unverified source, is never larger (RFC 9000 §8).
   */
  PROBE_BYTES: 133,
  /** A PORT_PROBE's tag: truncated SHA-256 over the introduction, the sender and the seq. */
  PORT_PROBE_TAG_BYTES: 8,
  /** Every punchline datagram stays within this UDP payload (fits the IPv6 minimum MTU path). */
  MAX_DATAGRAM: 1200,
  /**
   * Hard ceiling on a RELAY/RELAYED payload (the decoder's bound). The server's own, smaller limit
   * is a flag (--relay-max-frame, default 1400). 16 KiB: a quarter of DERP's 64 KiB frame cap.
   */
  MAX_RELAY_PAYLOAD: 16_384,
  /** RELAY/RELAYED bytes before the payload: version, type, peer id, u16 length. */
  RELAY_HEADER_BYTES: 20,
} as const;

/**
 * The relay's per-peer token buckets (rendezvous/token-bucket.ts) as a server announces them in
 * RELAY_POLICY: rates per second, bursts in bytes and messages, every stream message charged its
 * whole size. These are the server's defaults (rendezvous/options.ts takes them from here), and
 * what a peer assumes of a server that announces nothing (one from before RELAY_POLICY).
 */
export interface RelayPolicy {
  readonly rateBytes: number;
  readonly burstBytes: number;
  readonly rateFrames: number;
  readonly burstFrames: number;
}

export const RELAY_POLICY_DEFAULTS: RelayPolicy = {
  rateBytes: 1_048_576,
  burstBytes: 2_097_152,
  rateFrames: 2000,
  burstFrames: 4000,
};
