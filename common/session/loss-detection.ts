import type { AckRange } from './ack-ranges.js';
import type { CcPacket } from './congestion.js';
import { GRANULARITY_MS, type RttEstimator } from './rtt.js';

/**
 * Loss detection and the probe timeout of RFC 9002 §6 and Appendix A, for the one packet-number
 * space a session has after its handshake. Only ack-eliciting packets are tracked: ACK-only
 * packets are never acknowledged, never retransmitted and do not count towards bytes in flight.
 * What a lost packet carried is retransmitted as frames (RFC 9000 §13.3), by the session.
 */

/** What a tracked packet carried that may need sending again (RFC 9000 §13.3). */
export type SentFrame =
  | { readonly kind: 'stream'; readonly offset: number; readonly length: number }
  | { readonly kind: 'receipt'; readonly count: number }
  | { readonly kind: 'ping' };

export interface SentPacket extends CcPacket {
  readonly pn: number;
  readonly timeSent: number;
  readonly size: number;
  readonly frames: readonly SentFrame[];
  /** Largest Acknowledged of the ACK frame it carried, if any (RFC 9000 §13.2.4). */
  readonly ackLargest: number | undefined;
  /** Position among ack-eliciting packets sent: consecutive numbers had nothing between them. */
  readonly seq: number;
}

export interface LossOptions {
  /** RFC 9002 §6.1.1 kPacketThreshold = 3 (TCP's duplicate-ACK threshold, RFC 5681). */
  readonly packetThreshold: number;
  /** RFC 9002 §6.1.2 kTimeThreshold = 9/8 of an RTT. */
  readonly timeThreshold: number;
  /** RFC 9002 §7.6.1 kPersistentCongestionThreshold = 3. */
  readonly persistentCongestionThreshold: number;
  /** Cap on the backed-off probe timeout (see SESSION_DEFAULTS.maxPtoMs). */
  readonly maxPtoMs: number;
}

export const LOSS_DEFAULTS: LossOptions = {
  packetThreshold: 3,
  timeThreshold: 9 / 8,
  persistentCongestionThreshold: 3,
  maxPtoMs: 5_000,
};

export interface AckOutcome {
  readonly acked: SentPacket[];
  readonly lost: SentPacket[];
  /** The RTT sample this ACK produced, if any (ms). */
  readonly rttSample: number | undefined;
}

export type LossTimer = { readonly at: number; readonly kind: 'loss' | 'pto' };

export class LossDetector {
  /** Tracked packets by number; insertion order is packet-number order. */
  private readonly sent = new Map<number, SentPacket>();
  largestAcked = -1;
  lossTime: number | undefined;
  ptoCount = 0;
  lastAckElicitingSent: number | undefined;
  private seq = 0;

  constructor(
    readonly rtt: RttEstimator,
    private readonly opts: LossOptions = LOSS_DEFAULTS,
  ) {}

  get inFlight(): number {
    return this.sent.size;
  }

  onSent(p: Omit<SentPacket, 'seq'>): SentPacket {
    // Spelt out, not spread (this runs once per packet sent): a field added to SentPacket must be
    // added here too (test/session/throughput.test.ts fails without `rate`).
    const tracked: SentPacket = {
      pn: p.pn,
      timeSent: p.timeSent,
      size: p.size,
      cwndLimited: p.cwndLimited,
      rate: p.rate,
      frames: p.frames,
      ackLargest: p.ackLargest,
      seq: this.seq++,
    };
    this.sent.set(p.pn, tracked);
    this.lastAckElicitingSent = p.timeSent;
    return tracked;
  }

  /** The oldest packet still in flight (what a probe retransmits first). */
  oldest(): SentPacket | undefined {
    for (const p of this.sent.values()) return p;
    return undefined;
  }

  /**
   * RFC 9002 A.7 OnAckReceived, for ranges highest first. `ackDelayMs` is the peer's reported
   * delay; it counts for at most `maxAckDelayMs` (§5.3).
   */
  onAck(ranges: readonly AckRange[], ackDelayMs: number, maxAckDelayMs: number, now: number): AckOutcome {
    const head = ranges[0];
    if (!head) return { acked: [], lost: [], rttSample: undefined };
    const largest = head.largest;
    this.largestAcked = Math.max(this.largestAcked, largest);
    const acked: SentPacket[] = [];
    let ri = ranges.length - 1; // walk ranges lowest first alongside the packets
    for (const p of this.sent.values()) {
      if (p.pn > largest) break;
      while (ri >= 0 && ranges[ri]!.largest < p.pn) ri--;
      if (ri < 0) break;
      if (p.pn >= ranges[ri]!.smallest) acked.push(p);
    }
    if (acked.length === 0) return { acked, lost: [], rttSample: undefined };
    for (const p of acked) this.sent.delete(p.pn);
    // §5.1: a sample only when the largest acknowledged is newly acknowledged (and ack-eliciting,
    // which every tracked packet is).
    let rttSample: number | undefined;
    const newest = acked[acked.length - 1]!;
    if (newest.pn === largest) {
      rttSample = now - newest.timeSent;
      this.rtt.update(rttSample, Math.min(ackDelayMs, maxAckDelayMs), now);
    }
    const lost = this.detectLost(now);
    // A.7: a new acknowledgement resets the probe backoff.
    this.ptoCount = 0;
    return { acked, lost, rttSample };
  }

  /** RFC 9002 A.10 DetectAndRemoveLostPackets. */
  detectLost(now: number): SentPacket[] {
    this.lossTime = undefined;
    const lossDelay = Math.max(
      this.opts.timeThreshold * Math.max(this.rtt.latest, this.rtt.smoothed),
      GRANULARITY_MS,
    );
    const lost: SentPacket[] = [];
    for (const p of this.sent.values()) {
      if (p.pn > this.largestAcked) break;
      // time_sent <= now - loss_delay, written as the loss time itself so the timer armed for
      // that time always finds the packet lost (no floating-point near miss re-arming at 0 ms).
      const at = p.timeSent + lossDelay;
      if (at <= now || this.largestAcked >= p.pn + this.opts.packetThreshold) {
        lost.push(p);
      } else {
        this.lossTime = this.lossTime === undefined ? at : Math.min(this.lossTime, at);
      }
    }
    for (const p of lost) this.sent.delete(p.pn);
    return lost;
  }

  /**
   * RFC 9002 A.8 SetLossDetectionTimer: the loss time if one is pending, otherwise the probe
   * timeout after the last ack-eliciting packet, doubled per unanswered probe (§6.2.1) and
   * capped at maxPtoMs; nothing when nothing is in flight.
   */
  timer(maxAckDelayMs: number): LossTimer | undefined {
    if (this.lossTime !== undefined) return { at: this.lossTime, kind: 'loss' };
    if (this.sent.size === 0 || this.lastAckElicitingSent === undefined) return undefined;
    return { at: this.lastAckElicitingSent + this.ptoDuration(maxAckDelayMs), kind: 'pto' };
  }

  /** The current probe timeout with backoff (ms). */
  ptoDuration(maxAckDelayMs: number): number {
    const base = this.rtt.pto(maxAckDelayMs);
    return Math.max(base, Math.min(base * 2 ** this.ptoCount, this.opts.maxPtoMs));
  }

  /** A.9: the probe timer fired; the next one waits twice as long. */
  onPtoTimeout(): void {
    this.ptoCount++;
  }

  /**
   * RFC 9002 §7.6.2: persistent congestion when two lost ack-eliciting packets, with nothing
   * acknowledged sent between them, were sent further apart than the persistent congestion
   * duration, and an RTT sample existed before the first was sent. "Nothing between them" is
   * judged from this batch only (consecutive ack-eliciting send positions), which may miss
   * some cases but never declares one falsely (§7.6.2 allows that simplification).
   */
  persistentCongestion(lost: readonly SentPacket[], maxAckDelayMs: number): boolean {
    const first = this.rtt.firstSampleAt;
    if (first === undefined) return false;
    const duration =
      (this.rtt.smoothed + Math.max(4 * this.rtt.rttvar, GRANULARITY_MS) + maxAckDelayMs) *
      this.opts.persistentCongestionThreshold;
    let runStart: SentPacket | undefined;
    let prev: SentPacket | undefined;
    for (const p of lost) {
      if (p.timeSent <= first) continue;
      if (!prev || p.seq !== prev.seq + 1) runStart = p;
      prev = p;
      if (p.timeSent - runStart!.timeSent > duration) return true;
    }
    return false;
  }

  /** Stop tracking everything (the path changed); returns what was in flight, oldest first. */
  takeAll(): SentPacket[] {
    const all = [...this.sent.values()];
    this.sent.clear();
    this.lossTime = undefined;
    this.ptoCount = 0;
    return all;
  }
}
