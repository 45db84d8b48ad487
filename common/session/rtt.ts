/**
 * The round-trip time estimator of RFC 9002 §5: min_rtt, smoothed_rtt and rttvar from samples
 * taken when an ACK newly acknowledges the largest packet it names (§5.1). All values in ms.
 */

/** RFC 9002 §6.2.2: the initial RTT before any sample, 333 ms. */
export const INITIAL_RTT_MS = 333;
/** RFC 9002 §6.1.2 kGranularity: the timer granularity, 1 ms. */
export const GRANULARITY_MS = 1;

export class RttEstimator {
  latest = 0;
  smoothed: number;
  rttvar: number;
  min = Infinity;
  /** Whether any sample arrived yet (persistent congestion needs one, RFC 9002 §7.6.2). */
  hasSample = false;
  /** When the first sample arrived (clock ms), or undefined. */
  firstSampleAt: number | undefined;

  constructor(readonly initialRttMs = INITIAL_RTT_MS) {
    this.smoothed = initialRttMs;
    this.rttvar = initialRttMs / 2;
  }

  /**
   * RFC 9002 §5.3. `ackDelayMs` is what the peer reported, already limited to its max_ack_delay
   * by the caller; it is subtracted only when that leaves at least min_rtt (so a lying peer
   * cannot drive the estimate below the minimum).
   */
  update(latestMs: number, ackDelayMs: number, now: number): void {
    const latest = Math.max(latestMs, 0);
    this.latest = latest;
    if (!this.hasSample) {
      this.hasSample = true;
      this.firstSampleAt = now;
      this.min = latest;
      this.smoothed = latest;
      this.rttvar = latest / 2;
      return;
    }
    this.min = Math.min(this.min, latest);
    const adjusted = latest >= this.min + ackDelayMs ? latest - ackDelayMs : latest;
    this.rttvar = (3 / 4) * this.rttvar + (1 / 4) * Math.abs(this.smoothed - adjusted);
    this.smoothed = (7 / 8) * this.smoothed + (1 / 8) * adjusted;
  }

  /** RFC 9002 §6.2.1: smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay. */
  pto(maxAckDelayMs: number): number {
    return this.smoothed + Math.max(4 * this.rttvar, GRANULARITY_MS) + maxAckDelayMs;
  }

  /** Back to the initial state (a new path has its own RTT, RFC 9000 §9.4). */
  reset(): void {
    this.latest = 0;
    this.smoothed = this.initialRttMs;
    this.rttvar = this.initialRttMs / 2;
    this.min = Infinity;
    this.hasSample = false;
    this.firstSampleAt = undefined;
  }
}
