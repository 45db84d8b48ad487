import type { RateSnapshot } from './delivery-rate.js';

/**
 * The congestion controller seam loss-recovery.ts drives (docs/session.md, "Congestion
 * control"), and NewReno as RFC 9002 §7 and Appendix B describe it. The session uses the BBR
 * model in bbr.ts; NewReno stays as the reference the controller is measured against.
 */

/** RFC 9002 §7.2 / B.2: the max_datagram_size the window is counted in. */
export const MAX_DATAGRAM_SIZE = 1200;
/** RFC 9002 §7.2: min(10 * max_datagram_size, max(2 * max_datagram_size, 14720)) = 12000. */
export const INITIAL_WINDOW = Math.min(10 * MAX_DATAGRAM_SIZE, Math.max(2 * MAX_DATAGRAM_SIZE, 14_720));
/** RFC 9002 §7.2 kMinimumWindow: 2 * max_datagram_size. */
export const MINIMUM_WINDOW = 2 * MAX_DATAGRAM_SIZE;
/** RFC 9002 §7.3.2 kLossReductionFactor. */
export const LOSS_REDUCTION_FACTOR = 0.5;

/** What the controller needs to know about a packet. */
export interface CcPacket {
  readonly size: number;
  readonly timeSent: number;
  /** The window was at least half full when it was sent (RFC 9002 §7.8, see onAcked). */
  readonly cwndLimited: boolean;
  /** The delivery-rate state when it was sent (controllers that estimate bandwidth). */
  readonly rate?: RateSnapshot;
}

/** What a controller reads of the RTT estimator (rtt.ts), in ms. */
export interface RttView {
  readonly hasSample: boolean;
  readonly latest: number;
  readonly smoothed: number;
  readonly min: number;
}

/** A congestion controller, pure and clock-driven: the caller passes the time. */
export interface CongestionController {
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly bytesInFlight: number;
  /** Losses the controller answered by sending less. */
  readonly congestionEvents: number;
  readonly persistentCongestionEvents: number;
  /** Room for `bytes` more in flight. */
  canSend(bytes?: number): boolean;
  /** Bytes per ms packets should leave at (RFC 9002 §7.7); Infinity: unpaced. */
  pacingRate(rtt: RttView): number;
  /** An ack-eliciting packet of `bytes` went out; what to remember with it. */
  onSent(bytes: number, now: number): RateSnapshot | undefined;
  /** The packets one ACK newly acknowledged, in packet-number order. */
  onAcked(acked: readonly CcPacket[], rtt: RttView, now: number): void;
  onLost(lost: readonly CcPacket[], now: number, persistentCongestion: boolean, rtt: RttView): void;
  /** The sender has nothing more to send (it is application-limited). */
  onAppLimited(): void;
  /** Forget packets without a congestion signal (they left on a path we no longer use). */
  discard(bytes: number): void;
  /** A new path starts afresh (RFC 9000 §9.4). */
  reset(): void;
}

/** RFC 9002 §7.7: pace at N × cwnd / smoothed_rtt, N = 1.25 so a window still fits in an RTT. */
const NEWRENO_PACING_GAIN = 1.25;

/**
 * NewReno in bytes of UDP payload: slow start, congestion avoidance, a recovery period so one
 * loss episode halves the window once, a floor of two datagrams, and persistent congestion (§7.6).
 */
export class NewReno implements CongestionController {
  cwnd = INITIAL_WINDOW;
  ssthresh = Infinity;
  bytesInFlight = 0;
  /** congestion_recovery_start_time (RFC 9002 B.2); undefined when not in recovery. */
  recoveryStart: number | undefined;
  congestionEvents = 0;
  persistentCongestionEvents = 0;

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /** Room for one more full datagram (ACK-only packets and probes do not ask). */
  canSend(bytes = MAX_DATAGRAM_SIZE): boolean {
    return this.bytesInFlight + bytes <= this.cwnd;
  }

  pacingRate(rtt: RttView): number {
    return rtt.hasSample ? (NEWRENO_PACING_GAIN * this.cwnd) / Math.max(rtt.smoothed, 1) : Infinity;
  }

  onSent(bytes: number): undefined {
    this.bytesInFlight += bytes;
    return undefined;
  }

  onAcked(acked: readonly CcPacket[]): void {
    for (const p of acked) this.onAckedOne(p);
  }

  onAppLimited(): void {
    // §7.8 is applied per packet (cwndLimited) instead.
  }

  /** RFC 9002 B.5 OnPacketsAcked, for one packet. */
  private onAckedOne(p: CcPacket): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - p.size);
    // B.5: no increase for packets sent before recovery began.
    if (this.inRecovery(p.timeSent)) return;
    // §7.8: do not grow a window the sender is not using (an application-limited chat would
    // otherwise build a huge window it never tested, then burst into it).
    if (!p.cwndLimited) return;
    if (this.inSlowStart) this.cwnd += p.size;
    else this.cwnd += (MAX_DATAGRAM_SIZE * p.size) / this.cwnd;
  }

  /**
   * RFC 9002 B.8 OnPacketsLost: take the lost packets out of flight, start a congestion event
   * for the newest one (B.6: at most one per recovery period), and collapse the window to the
   * minimum on persistent congestion (§7.6.2).
   */
  onLost(lost: readonly CcPacket[], now: number, persistentCongestion: boolean): void {
    if (lost.length === 0) return;
    let newest = -Infinity;
    for (const p of lost) {
      this.bytesInFlight = Math.max(0, this.bytesInFlight - p.size);
      newest = Math.max(newest, p.timeSent);
    }
    this.onCongestionEvent(newest, now);
    if (persistentCongestion) {
      this.persistentCongestionEvents++;
      this.cwnd = MINIMUM_WINDOW;
      this.recoveryStart = undefined;
    }
  }

  /** Forget packets without a congestion signal (they left on a path we no longer use). */
  discard(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  /** RFC 9002 B.6 OnCongestionEvent. */
  private onCongestionEvent(sentTime: number, now: number): void {
    if (this.inRecovery(sentTime)) return;
    this.congestionEvents++;
    this.recoveryStart = now;
    this.ssthresh = this.cwnd * LOSS_REDUCTION_FACTOR;
    this.cwnd = Math.max(this.ssthresh, MINIMUM_WINDOW);
  }

  /** RFC 9002 B.4 InCongestionRecovery. */
  inRecovery(sentTime: number): boolean {
    return this.recoveryStart !== undefined && sentTime <= this.recoveryStart;
  }

  /** A new path starts from the initial window (RFC 9000 §9.4). */
  reset(): void {
    this.cwnd = INITIAL_WINDOW;
    this.ssthresh = Infinity;
    this.bytesInFlight = 0;
    this.recoveryStart = undefined;
  }
}
