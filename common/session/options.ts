import { badArgument } from '../errors.js';
import { MAX_ACK_RANGES } from './ack-ranges.js';
import { MAX_ACK_DELAY_LIMIT_MS } from './handshake-payload.js';
import { LOSS_DEFAULTS } from './loss-detection.js';
import { INITIAL_RTT_MS } from './rtt.js';
import { MESSAGE_HEADER_BYTES } from './send-buffer.js';

/**
 * Every timer, threshold and bound of a session, with its default and where the default comes
 * from (docs/contributing.md §5, §9). docs/session.md repeats the table.
 */
export interface SessionTuning {
  /** First handshake retransmission: RFC 9002 §6.2.2's PTO before any RTT sample (333 ms initial RTT: 333 + 4 * 166.5 ≈ 1 s). */
  handshakeRetransmitMs: number;
  /** Handshake retransmissions double up to this (RFC 9002 §6.2.1 backoff; 8 s like the rendezvous requests). */
  handshakeRetransmitMaxMs: number;
  /** Give up the handshake (or an unconfirmed one) after this: 30 s spans retransmissions at 1, 3, 7, 15 and 23 s. */
  handshakeTimeoutMs: number;
  /** RFC 9002 §6.2.2 kInitialRtt. */
  initialRttMs: number;
  /**
   * How long an ACK for a lone packet may wait; announced to the peer in the handshake. 5 ms, not
   * RFC 9000 §18.2's 25 ms: the peer's probe timeout adds it, and a lost lone chat packet is found
   * by that timeout (docs/session.md); every second packet is acknowledged at once anyway.
   */
  maxAckDelayMs: number;
  /** RFC 9000 §13.2.2: acknowledge at least every second ack-eliciting packet. */
  ackElicitingThreshold: number;
  /** RFC 9002 §6.1.1 kPacketThreshold. */
  packetThreshold: number;
  /** RFC 9002 §6.1.2 kTimeThreshold. */
  timeThreshold: number;
  /** RFC 9002 §7.6.1 kPersistentCongestionThreshold. */
  persistentCongestionThreshold: number;
  /**
   * Cap on the backed-off probe timeout. RFC 9002 sets none; 5 s (the heartbeat interval) keeps
   * a session that lost its path probing often enough to notice the path come back.
   */
  maxPtoMs: number;
  /**
   * An idle session sends a PING this often: iroh's 5 s heartbeat. It measures RTT and loss
   * continuously, refreshes NAT mappings (often ~30 s on home routers) and lets the dead timeout see
   * three missed heartbeats. Tailscale uses 3 s on a direct path.
   */
  pingIntervalMs: number;
  /** No authenticated packet for this long declares the path dead: iroh's path idle timeout, 15 s. */
  deadAfterMs: number;
  /**
   * Rotate the sending key after this many packets. Packet numbers (the nonce) are 48-bit and
   * never reused, so the nonce cannot wrap; rotating every 2^20 packets (~1.2 GB) limits what any
   * one key protects, far inside ChaCha20-Poly1305's limits (RFC 9001 §6.6).
   */
  rekeyAfterPackets: number;
  /** Packets of reordering the replay window tolerates (WireGuard uses 2048 - 64). */
  replayWindowPackets: number;
  /** ACK frames name at most this many ranges. */
  maxAckRanges: number;
  /** Largest message (1 MiB, the bound). */
  maxMessageBytes: number;
  /** Bound of the send buffer (written, unacknowledged bytes): beyond it send() returns false. */
  sendBufferBytes: number;
  /** Stream bytes accepted past the last delivered message: one maximum message and as much again. */
  receiveWindowBytes: number;
  /** Out-of-order pieces held (a 2 MiB window in ~1150-byte frames is ~1800). */
  maxOutOfOrderSegments: number;
  /** PATH_CHALLENGE tries before a new path is given up (RFC 9000 §8.2.4 abandons after ~3 PTO). */
  pathChallengeTries: number;
}

export const SESSION_DEFAULTS: Readonly<SessionTuning> = {
  handshakeRetransmitMs: 1_000,
  handshakeRetransmitMaxMs: 8_000,
  handshakeTimeoutMs: 30_000,
  initialRttMs: INITIAL_RTT_MS,
  maxAckDelayMs: 5,
  ackElicitingThreshold: 2,
  packetThreshold: LOSS_DEFAULTS.packetThreshold,
  timeThreshold: LOSS_DEFAULTS.timeThreshold,
  persistentCongestionThreshold: LOSS_DEFAULTS.persistentCongestionThreshold,
  maxPtoMs: LOSS_DEFAULTS.maxPtoMs,
  pingIntervalMs: 5_000,
  deadAfterMs: 15_000,
  rekeyAfterPackets: 2 ** 20,
  replayWindowPackets: 2048,
  maxAckRanges: MAX_ACK_RANGES,
  maxMessageBytes: 1024 * 1024,
  sendBufferBytes: 4 * 1024 * 1024,
  receiveWindowBytes: 2 * 1024 * 1024,
  maxOutOfOrderSegments: 4096,
  pathChallengeTries: 3,
};

/** The tuning fields of a larger options object (the rest, such as keys and roles, left out). */
export function pickTuning(o: object): Partial<SessionTuning> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(SESSION_DEFAULTS)) if (k in o) out[k] = (o as Record<string, unknown>)[k];
  return out as Partial<SessionTuning>;
}

export function resolveTuning(t: Partial<SessionTuning> = {}): SessionTuning {
  const o = { ...SESSION_DEFAULTS, ...t };
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw badArgument(`session option ${k} must be > 0`);
  }
  if (o.maxAckDelayMs > MAX_ACK_DELAY_LIMIT_MS) throw badArgument('maxAckDelayMs must be < 16384');
  if (o.maxAckRanges > MAX_ACK_RANGES) throw badArgument(`maxAckRanges must be ≤ ${MAX_ACK_RANGES}`);
  if (o.receiveWindowBytes < o.maxMessageBytes + MESSAGE_HEADER_BYTES || o.receiveWindowBytes > 0xffff_ffff)
    throw badArgument('receiveWindowBytes must hold one maximum message and fit 32 bits');
  if (o.sendBufferBytes < o.maxMessageBytes + MESSAGE_HEADER_BYTES)
    throw badArgument('sendBufferBytes must hold one maximum message');
  if (o.replayWindowPackets % 32 !== 0) throw badArgument('replayWindowPackets must be a multiple of 32');
  if (o.packetThreshold < 1 || o.timeThreshold < 1) throw badArgument('loss thresholds must be ≥ 1');
  return o;
}
