/**
 * Delivery rate estimation after draft-cheng-iccrg-delivery-rate-estimation (the estimator under
 * BBR and Linux TCP): each packet remembers how much had been delivered when it was sent; when it
 * is acknowledged, the bytes delivered since, over the longer of the send and ACK intervals, is
 * the rate the path delivered at. A sample taken while the sender had nothing to send is marked
 * application-limited: it says only that the path can do at least that much.
 */

/** What a packet remembers of the connection when it is sent. */
export interface RateSnapshot {
  /** Bytes delivered (acknowledged) before it was sent. */
  readonly delivered: number;
  /** When the last of those was acknowledged (ms). */
  readonly deliveredTime: number;
  /** When the packet that began the current send interval was sent (ms). */
  readonly firstSentTime: number;
  /** Sent while the sender was application-limited. */
  readonly appLimited: boolean;
}

/** What the estimator reads of an acknowledged packet (congestion.ts's CcPacket has it). */
export interface RatedPacket {
  readonly size: number;
  readonly timeSent: number;
  readonly rate?: RateSnapshot;
}

export interface RateSample {
  /** Bytes per ms. */
  readonly bw: number;
  /** `delivered` when the packet behind the sample was sent (round counting). */
  readonly priorDelivered: number;
  readonly appLimited: boolean;
}

export class DeliveryRate {
  /** Bytes acknowledged so far. */
  delivered = 0;
  private deliveredTime = 0;
  private firstSentTime = 0;
  /** Until `delivered` passes this, samples are application-limited (0: not limited). */
  private appLimitedUntil = 0;

  onSent(now: number, bytesInFlight: number): RateSnapshot {
    // Nothing in flight: a new send interval starts now (after idle, the old ACK clock says nothing).
    if (bytesInFlight === 0) {
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
    return {
      delivered: this.delivered,
      deliveredTime: this.deliveredTime,
      firstSentTime: this.firstSentTime,
      appLimited: this.appLimitedUntil !== 0,
    };
  }

  /** The sender ran out of data with room in its window: samples until this data is delivered are app-limited. */
  markAppLimited(bytesInFlight: number): void {
    this.appLimitedUntil = Math.max(this.delivered + bytesInFlight, 1);
  }

  /**
   * The packets one ACK newly acknowledges: the sample from the most recently sent of them, or
   * undefined when there is none or its interval is shorter than min RTT (ACK compression makes
   * such samples overestimate, so the draft discards them).
   */
  onAck(acked: readonly RatedPacket[], now: number, minRtt: number): RateSample | undefined {
    let newest: RatedPacket | undefined;
    for (const p of acked) {
      this.delivered += p.size;
      if (p.rate) newest = p; // acked in packet-number order: the last is the most recently sent
    }
    if (acked.length > 0) this.deliveredTime = now;
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const snap = newest?.rate;
    if (!newest || !snap) return undefined;
    this.firstSentTime = newest.timeSent;
    const sendElapsed = newest.timeSent - snap.firstSentTime;
    const ackElapsed = now - snap.deliveredTime;
    const interval = Math.max(sendElapsed, ackElapsed);
    if (interval <= 0 || interval < minRtt) return undefined;
    return {
      bw: (this.delivered - snap.delivered) / interval,
      priorDelivered: snap.delivered,
      appLimited: snap.appLimited,
    };
  }
}
