import type { Clock, TimerHandle } from '../clock.js';
import { ackRangesOf } from './ack-ranges.js';
import type { Frame } from './frames.js';
import { RangeSet } from './range-set.js';
import type { SessionTuning } from './options.js';

export type AckTuning = Pick<SessionTuning, 'maxAckRanges' | 'maxAckDelayMs' | 'ackElicitingThreshold'>;

/**
 * The receive side of acknowledgement: which packet numbers the next ACK frame reports, and when
 * an ACK is due. RFC 9000 §13.2.1: at once when a packet arrives out of order or leaves a gap;
 * §13.2.2: at least every second ack-eliciting packet; otherwise within max_ack_delay, when
 * `onDue` is called so the owner sends it.
 */
export class AckTracker {
  private readonly toAck = new RangeSet();
  private largest = -1;
  private largestAt = 0;
  private pendingAck = false;
  private dueNow = false;
  private elicitingSinceAck = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly t: AckTuning,
    private readonly onDue: () => void,
  ) {}

  /** Something waits to be acknowledged (it may ride on any packet). */
  get pending(): boolean {
    return this.pendingAck;
  }
  /** The ACK must go now, in a packet of its own if nothing else is sent. */
  get due(): boolean {
    return this.dueNow;
  }

  /**
   * An authenticated packet `pn` arrived at `now`. Returns whether it is the newest so far
   * (RFC 9000 §9.3: only the newest may start a migration) and whether it came out of order.
   */
  onReceived(pn: number, now: number): { newest: boolean; outOfOrder: boolean } {
    const previous = this.largest;
    const newest = pn > previous;
    if (newest) {
      this.largest = pn;
      this.largestAt = now;
    }
    return { newest, outOfOrder: !newest || pn > previous + 1 };
  }

  /**
   * The packet carried an ack-eliciting frame: acknowledge it. A PING (heartbeat or probe) is
   * there to measure the path, so it is answered without delay and min_rtt is not inflated by
   * max_ack_delay on an idle session.
   */
  onAckEliciting(pn: number, outOfOrder: boolean, ping: boolean): void {
    this.toAck.add(pn, pn + 1);
    this.toAck.keepHighest(this.t.maxAckRanges);
    this.pendingAck = true;
    this.elicitingSinceAck++;
    if (outOfOrder || ping || this.elicitingSinceAck >= this.t.ackElicitingThreshold) this.dueNow = true;
    else if (!this.timer)
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.dueNow = true;
        this.onDue();
      }, this.t.maxAckDelayMs);
  }

  /** The ACK frame for what is held, or undefined (and nothing pending) when nothing is. */
  frame(now: number): Frame | undefined {
    if (this.toAck.isEmpty) {
      this.pendingAck = false;
      return undefined;
    }
    const ranges = ackRangesOf(this.toAck, this.t.maxAckRanges);
    const delayMs = ranges[0]!.largest === this.largest ? now - this.largestAt : 0;
    return { type: 'ack', delayUs: Math.max(0, Math.round(delayMs * 1000)), ranges };
  }

  /** An ACK frame went out: nothing is due until the next ack-eliciting packet. */
  onSent(): void {
    this.pendingAck = false;
    this.dueNow = false;
    this.elicitingSinceAck = 0;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** RFC 9000 §13.2.4: the peer has our ACK up to `largest`; stop repeating those ranges. */
  onPeerHas(largest: number): void {
    this.toAck.remove(0, largest + 1);
  }

  /** Stop the delay timer. Idempotent. */
  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
