import type { Clock } from '../common/clock.js';
import { Limits, RELAY_POLICY_DEFAULTS } from '../common/wire/constants.js';
import type { RelayPolicy } from '../common/wire/constants.js';

/**
 * The share of the server's announced rates a peer uses. The server refills its buckets by its
 * own clock as frames arrive; frames that left evenly can arrive bunched (TCP, the server's event
 * loop), and 10% leaves room for that and for what is sent without asking (ACKs, signalling).
 */
export const RELAY_PACE_SHARE = 0.9;
/**
 * The pacer's own burst, in ms of its rate. Timers fire a few ms late (node's fire no sooner than
 * 1 ms), so a smaller bucket would throw away credit the sender is owed (common/session/pacer.ts
 * sizes its burst the same way); far below the server's (2 s by default) and below a receiver's
 * relay queue (--relay-queue-bytes, 64 KiB = 60 ms at 1 MiB/s), so a burst is not dropped there.
 */
export const RELAY_PACE_BURST_MS = 20;
/** The bucket holds at least this many full session packets, whatever the rate. */
const MIN_BURST_FRAMES = 2;
const FULL_FRAME = Limits.MAX_DATAGRAM + Limits.RELAY_HEADER_BYTES;
/** Tokens (bytes or frames) a bucket may be short and still allow: far below what anything costs. */
const SHORT_ENOUGH = 1e-6;

/** A token bucket that may go into debt: what is sent unasked (ACKs) is charged all the same. */
class Bucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perMs: number,
    readonly cap: number,
    now: number,
  ) {
    this.tokens = cap;
    this.last = now;
  }

  /** ms until `n` tokens are there (n above the cap: until it is full). */
  wait(now: number, n: number): number {
    this.refill(now);
    const short = Math.min(n, this.cap) - this.tokens;
    // A hair short counts as enough: a timer set for the exact shortfall must find the frame
    // allowed, not a floating-point rounding short of it (which re-armed it at the same instant).
    return short <= SHORT_ENOUGH ? 0 : short / this.perMs;
  }

  take(now: number, n: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.cap, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }
}

/**
 * What the peer may send on its relay stream so that the server's per-peer token buckets
 * (rendezvous/token-bucket.ts: bytes and messages, every message charged its whole size) never
 * run dry: two buckets at RELAY_PACE_SHARE of the announced rates (RELAY_POLICY, or
 * RELAY_POLICY_DEFAULTS from a server that announces nothing). Every message sent is charged;
 * session packets ask wait() first (the relay SessionPath), so bulk data waits in the session's
 * send buffer, where a chat line overtakes it, instead of being dropped by the server.
 */
export class RelayPacer {
  private bytes!: Bucket;
  private frames!: Bucket;
  policy: RelayPolicy = RELAY_POLICY_DEFAULTS;

  constructor(private readonly clock: Clock) {
    this.setPolicy(RELAY_POLICY_DEFAULTS);
  }

  /** The server's limits (a new connection starts from the defaults): buckets start full, as its do. */
  setPolicy(p: RelayPolicy): void {
    this.policy = p;
    const now = this.clock.now();
    const bytesPerMs = (p.rateBytes * RELAY_PACE_SHARE) / 1000;
    const framesPerMs = (p.rateFrames * RELAY_PACE_SHARE) / 1000;
    const burst = (perMs: number, least: number, server: number): number =>
      Math.min(server, Math.max(least, perMs * RELAY_PACE_BURST_MS));
    this.bytes = new Bucket(bytesPerMs, burst(bytesPerMs, MIN_BURST_FRAMES * FULL_FRAME, p.burstBytes), now);
    this.frames = new Bucket(framesPerMs, burst(framesPerMs, MIN_BURST_FRAMES, p.burstFrames), now);
  }

  /** ms until a RELAY carrying `payload` bytes keeps within both buckets; 0: now. */
  wait(payload: number): number {
    const now = this.clock.now();
    return Math.max(this.bytes.wait(now, payload + Limits.RELAY_HEADER_BYTES), this.frames.wait(now, 1));
  }

  /** A message of `size` bytes went on the stream (any kind: the server charges them all). */
  onSent(size: number): void {
    const now = this.clock.now();
    this.bytes.take(now, size);
    this.frames.take(now, 1);
  }
}
