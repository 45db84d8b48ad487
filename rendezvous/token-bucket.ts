/**
 * A token bucket (RFC 2697's single-rate idea): `ratePerSec` tokens accrue continuously up to
 * `burst`; taking n tokens succeeds iff n are there. Refilled lazily from the injected time, so it
 * holds no timers and a test drives it with a virtual clock.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Take `n` tokens at time `now` (ms); false (and nothing taken) when there are not enough. */
  take(n: number, now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Give back tokens taken for something that then did not happen (never above the burst). */
  refund(n: number): void {
    this.tokens = Math.min(this.burst, this.tokens + n);
  }

  get available(): number {
    return this.tokens;
  }
}

/** A peer's two buckets: relay bytes and frames (messages). Both must allow a frame. */
export class PeerRateLimit {
  private readonly bytes: TokenBucket;
  private readonly frames: TokenBucket;

  constructor(
    limits: { bytesPerSec: number; burstBytes: number; framesPerSec: number; burstFrames: number },
    now: number,
  ) {
    this.bytes = new TokenBucket(limits.bytesPerSec, limits.burstBytes, now);
    this.frames = new TokenBucket(limits.framesPerSec, limits.burstFrames, now);
  }

  /** Charge one message of `size` bytes; false when either bucket is empty (nothing charged then). */
  allow(size: number, now: number): boolean {
    if (!this.frames.take(1, now)) return false;
    if (this.bytes.take(size, now)) return true;
    // Refund the frame token: a refused frame should not also cost a frame.
    this.frames.refund(1);
    return false;
  }
}
