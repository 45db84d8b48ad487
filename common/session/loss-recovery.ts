import type { Clock, TimerHandle } from '../clock.js';
import { Bbr } from './bbr.js';
import type { CongestionController } from './congestion.js';
import { type AckOutcome, LossDetector, type SentFrame, type SentPacket } from './loss-detection.js';
import { LossMeter } from './loss-meter.js';
import type { SessionTuning } from './options.js';
import { Pacer } from './pacer.js';
import type { Receipts } from './receipts.js';
import { RttEstimator } from './rtt.js';
import type { SendBuffer } from './send-buffer.js';
import type { SessionStats } from './stats.js';

/** Probe packets per probe timeout (RFC 9002 §6.2.4: one or two; two, so one loss does not cost a PTO). */
export const PROBES_PER_PTO = 2;

export type RecoveryTuning = Pick<
  SessionTuning,
  'initialRttMs' | 'packetThreshold' | 'timeThreshold' | 'persistentCongestionThreshold' | 'maxPtoMs'
>;

export interface RecoveryHooks {
  /** Is the session open? The timer stops when it is not. */
  active(): boolean;
  /** The peer's max_ack_delay (ms), or ours until it is known. */
  peerMaxAckDelay(): number;
  /** Send a PING with the next packet (a probe with nothing else to carry). */
  ping(): void;
  /** Send what is pending now. */
  flush(): void;
}

/**
 * Loss recovery and congestion control after RFC 9002 for the packets this side sends: the RTT
 * estimate, loss detection (packet and time thresholds), the loss timer with its probe timeout,
 * the congestion controller (BBR, bbr.ts) and the pacer, and what a lost packet's frames put
 * back in line (frames, not packets, are sent again: RFC 9000 §13.3).
 */
export class LossRecovery {
  readonly rtt: RttEstimator;
  readonly loss: LossDetector;
  readonly pacer = new Pacer();
  readonly lossMeter = new LossMeter();
  private timer: TimerHandle | undefined;
  /** Packets the probe timeout allows beyond the congestion window (RFC 9002 §7.5). */
  private probes = 0;
  readonly n = { packetsLost: 0, retransmits: 0, retransmittedBytes: 0, probeTimeouts: 0 };

  constructor(
    private readonly clock: Clock,
    t: RecoveryTuning,
    private readonly sendBuf: SendBuffer,
    private readonly receipts: Receipts,
    private readonly hooks: RecoveryHooks,
    /** The congestion controller (docs/session.md, "Congestion control"); a test may pass another. */
    readonly cc: CongestionController = new Bbr(),
  ) {
    this.rtt = new RttEstimator(t.initialRttMs);
    this.loss = new LossDetector(this.rtt, {
      packetThreshold: t.packetThreshold,
      timeThreshold: t.timeThreshold,
      persistentCongestionThreshold: t.persistentCongestionThreshold,
      maxPtoMs: t.maxPtoMs,
    });
  }

  /** A probe may go now, whatever the congestion window says. */
  get probing(): boolean {
    return this.probes > 0;
  }

  /** May stream data go out: a probe, or room in the congestion window and the pacer's say-so. */
  canSend(): boolean {
    return this.probes > 0 || (this.cc.canSend() && this.pacingWait() === 0);
  }

  /**
   * ms until the pacer lets the next full packet go (RFC 9002 §7.7); 0 when it may go now.
   * Probes are not paced, like they are not held to the window.
   */
  pacingWait(): number {
    if (this.probes > 0) return 0;
    return this.pacer.wait(this.clock.now(), this.cc.pacingRate(this.rtt));
  }

  /** The window has room for more but nothing waits to be sent. */
  onAppLimited(): void {
    this.cc.onAppLimited();
  }

  /** An ack-eliciting packet went out. */
  onSent(p: Omit<SentPacket, 'seq' | 'cwndLimited' | 'rate'>): void {
    const now = this.clock.now();
    // RFC 9002 §7.8: the window counts as used when it is at least half full.
    const cwndLimited = (this.cc.bytesInFlight + p.size) * 2 >= this.cc.cwnd;
    if (this.probes === 0) this.pacer.onSent(now, this.cc.pacingRate(this.rtt), p.size);
    const rate = this.cc.onSent(p.size, now);
    // Spelt out, not spread: this runs once per packet sent.
    this.loss.onSent({
      pn: p.pn,
      timeSent: p.timeSent,
      size: p.size,
      frames: p.frames,
      ackLargest: p.ackLargest,
      cwndLimited,
      rate,
    });
    if (this.probes > 0) this.probes--;
  }

  /** An ACK frame: the packets it newly acknowledges (the window grows) and those now deemed lost. */
  onAck(ranges: readonly { smallest: number; largest: number }[], delayUs: number): AckOutcome {
    const now = this.clock.now();
    const out = this.loss.onAck(ranges, delayUs / 1000, this.hooks.peerMaxAckDelay(), now);
    this.cc.onAcked(out.acked, this.rtt, now);
    for (let i = 0; i < out.acked.length; i++) this.lossMeter.record(false);
    return out;
  }

  /** Packets deemed lost: count them, put their frames back in line, tell the window. */
  onLost(lost: SentPacket[]): void {
    if (lost.length === 0) return;
    for (const p of lost) {
      this.n.packetsLost++;
      this.lossMeter.record(true);
      this.requeue(p);
    }
    const persistent = this.loss.persistentCongestion(lost, this.hooks.peerMaxAckDelay());
    this.cc.onLost(lost, this.clock.now(), persistent, this.rtt);
  }

  /**
   * The path changed: what is in flight went to the old one, so its frames go back in line
   * without a congestion signal. On a new route (resetEstimates) the window and RTT estimate
   * start afresh (RFC 9000 §9.4).
   */
  onPathChanged(resetEstimates: boolean): void {
    for (const p of this.loss.takeAll()) {
      this.cc.discard(p.size);
      this.requeue(p);
    }
    if (resetEstimates) {
      this.cc.reset();
      this.pacer.reset();
      this.rtt.reset();
    }
  }

  /** (Re)arm the loss timer for the earliest loss time or probe timeout. */
  arm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.hooks.active()) return;
    const t = this.loss.timer(this.hooks.peerMaxAckDelay());
    if (!t) return;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, t.at - this.clock.now()));
  }

  /** This part's figures in SessionStats. */
  stats(): Pick<
    SessionStats,
    | 'rttMs'
    | 'minRttMs'
    | 'rttVarMs'
    | 'latestRttMs'
    | 'ptoMs'
    | 'loss'
    | 'cwnd'
    | 'ssthresh'
    | 'bytesInFlight'
    | 'congestionEvents'
    | 'persistentCongestion'
    | keyof LossRecovery['n']
  > {
    const { rtt, cc } = this;
    return {
      rttMs: rtt.smoothed,
      minRttMs: rtt.hasSample ? rtt.min : 0,
      rttVarMs: rtt.rttvar,
      latestRttMs: rtt.latest,
      ptoMs: rtt.pto(this.hooks.peerMaxAckDelay()),
      loss: this.lossMeter.fraction,
      cwnd: cc.cwnd,
      ssthresh: cc.ssthresh,
      bytesInFlight: cc.bytesInFlight,
      congestionEvents: cc.congestionEvents,
      persistentCongestion: cc.persistentCongestionEvents,
      ...this.n,
    };
  }

  /** Stop the timer. Idempotent. */
  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Send again what a packet carried that still matters. */
  private requeue(p: { readonly frames: readonly SentFrame[] }): void {
    for (const f of p.frames) {
      if (f.kind === 'stream') {
        const bytes = this.sendBuf.onLost(f.offset, f.length);
        if (bytes > 0) {
          this.n.retransmits++;
          this.n.retransmittedBytes += bytes;
        }
      } else if (f.kind === 'receipt' && this.receipts.onLost(f.count)) {
        this.n.retransmits++;
      }
    }
  }

  /** RFC 9002 A.9 OnLossDetectionTimeout. */
  private onTimer(): void {
    this.timer = undefined;
    if (!this.hooks.active()) return;
    const t = this.loss.timer(this.hooks.peerMaxAckDelay());
    if (!t) return;
    if (t.kind === 'loss') {
      this.onLost(this.loss.detectLost(this.clock.now()));
    } else {
      this.loss.onPtoTimeout();
      this.n.probeTimeouts++;
      this.probes = PROBES_PER_PTO;
      // Probe with new data if there is any, else with what the oldest packet carried.
      if (!this.sendBuf.hasLost() && !this.sendBuf.hasNew()) {
        const oldest = this.loss.oldest();
        if (oldest) this.requeue(oldest);
        if (!this.sendBuf.hasLost() && this.receipts.allSent) this.hooks.ping();
      }
    }
    this.hooks.flush();
    this.arm();
  }
}
