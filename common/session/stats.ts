/** What a session counts (docs/contributing.md §8): tests and benchmarks assert on these. */

/** Why received datagrams were dropped. */
export interface DropCounts {
  /** Not a well-formed session packet, a bad frame, a bad handshake message or payload. */
  malformed: number;
  /** Destination connection id is not this session's (the owner mis-routed it). */
  unknownCid: number;
  /** AEAD or handshake authentication failed: tampered, forged, or sealed with a retired key. */
  auth: number;
  /** Packet number already received, or older than the replay window. */
  replay: number;
  /** A data packet before this side has keys (message 3 still on its way). */
  early: number;
  /** A handshake packet that does not fit the state (late duplicate, the losing side of a simultaneous open). */
  stray: number;
  /** STREAM data beyond the receive window (a sender ignoring flow control). */
  flowControl: number;
  /** Too many out-of-order pieces held. */
  reassemblyFull: number;
  /** Authenticated but against the protocol: an ACK of unsent packets, a receipt for unsent messages. */
  protocol: number;
  /** A PATH_RESPONSE that answers no challenge of ours from that path. */
  pathResponse: number;
  /** Arrived after close(). */
  closed: number;
  /** A bug caught at the receive boundary (also logged). */
  internal: number;
  /**
   * A handshake message proving another static key than the introduced one, on a path that does
   * not vouch for its sender: a forgery by anyone who saw the introduction id, dropped so the real
   * peer's handshake can still finish (the session fails with KEY_MISMATCH at its deadline if no
   * handshake succeeded).
   */
  keyMismatch: number;
}

export const newDropCounts = (): DropCounts => ({
  malformed: 0,
  unknownCid: 0,
  auth: 0,
  replay: 0,
  early: 0,
  stray: 0,
  flowControl: 0,
  reassemblyFull: 0,
  protocol: 0,
  pathResponse: 0,
  closed: 0,
  internal: 0,
  keyMismatch: 0,
});

export interface SessionStats {
  state: 'idle' | 'handshaking' | 'open' | 'closed';
  role: 'initiator' | 'responder';
  /** The path packets go out on, as describePath writes it (common/path/path-id.ts). */
  path: string | undefined;
  dead: boolean;
  /** smoothed_rtt (RFC 9002 §5.3); the initial 333 ms until a sample arrives. */
  rttMs: number;
  /** min_rtt, 0 before any sample. */
  minRttMs: number;
  rttVarMs: number;
  latestRttMs: number;
  /** The current probe timeout without backoff (RFC 9002 §6.2.1). */
  ptoMs: number;
  /** Fraction of the last 256 ack-eliciting packets declared lost. */
  loss: number;
  cwnd: number;
  ssthresh: number;
  bytesInFlight: number;
  congestionEvents: number;
  persistentCongestion: number;
  /** STREAM/RECEIPT frames queued to be sent again after a loss or a probe timeout. */
  retransmits: number;
  retransmittedBytes: number;
  probeTimeouts: number;
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  bytesSent: number;
  bytesReceived: number;
  /** Largest datagram (handshake or data) this session handed to a path (never above 1200). */
  largestDatagram: number;
  handshakeRetransmits: number;
  messagesSent: number;
  messagesReceived: number;
  /** Messages the peer's application has (RECEIPT). */
  messagesDelivered: number;
  sendBufferBytes: number;
  keyPhase: { send: 0 | 1; receive: 0 | 1; sendRotations: number; receiveRotations: number };
  pathChallenges: number;
  pathsValidated: number;
  pathValidationsFailed: number;
  deadEvents: number;
  dropped: DropCounts;
}
