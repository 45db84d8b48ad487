import {
  type CcPacket,
  type CongestionController,
  INITIAL_WINDOW,
  MAX_DATAGRAM_SIZE,
  MINIMUM_WINDOW,
  type RttView,
} from './congestion.js';
import { DeliveryRate, type RateSample, type RateSnapshot } from './delivery-rate.js';

/**
 * Congestion control after BBR (Cardwell et al., "BBR: Congestion-Based Congestion Control",
 * ACM Queue 14(5), 2016; draft-cardwell-iccrg-bbr-congestion-control): a model of the path, the
 * bottleneck bandwidth (windowed maximum of delivery-rate samples) and the minimum RTT, sets the
 * pacing rate (gain × bandwidth) and the window (2 × bandwidth × min RTT). Random loss does not
 * move the model, so a lossy path is not mistaken for a congested one (NewReno halves per lossy
 * round trip and collapses at a few percent of random loss).
 *
 * Loss still counts when it comes with a queue: a loss while the latest RTT stands more than
 * queueThresholdMs above the minimum means the sender overflowed a bottleneck queue. Once per round trip it then ends Startup or an upward probe, and caps the bandwidth
 * estimate at max(what the last round delivered, LOSS_BETA × the estimate), after BBRv2's bw_lo
 * (draft-cardwell-iccrg-bbr-congestion-control-02): the next upward probe finds any more.
 * Persistent congestion (RFC 9002 §7.6) collapses the window to the minimum and starts over.
 */

/** Startup's gain, 2/ln 2: the smallest that doubles the delivery rate every round (BBR paper). */
export const STARTUP_GAIN = 2 / Math.LN2;
/** ProbeBW's pacing gains, one round each: probe up, drain what the probe queued, cruise six rounds. */
export const PROBE_GAINS: readonly number[] = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** The window allows twice the bandwidth-delay product (ACK aggregation, delayed ACKs). */
export const CWND_GAIN = 2;
/** The bandwidth filter's length in round trips. */
export const BW_WINDOW_ROUNDS = 10;
/** Startup ends after this many rounds without 25% more bandwidth. */
export const FULL_BW_ROUNDS = 3;
export const FULL_BW_GROWTH = 1.25;
/**
 * A loss counts as congestion when the latest RTT is this far above min RTT (a queue): HyStart++'s
 * RTT threshold (RFC 9406 §4.2), min RTT / 8 clamped to [4, 16] ms, so that timer and event-loop
 * jitter of a few ms on a short path is not taken for a queue.
 */
export const queueThresholdMs = (minRtt: number): number => Math.min(Math.max(minRtt / 8, 4), 16);
/** How far one congestion round lowers the bandwidth used (BBRv2's beta). */
export const LOSS_BETA = 0.7;
/** BBR's floor: four packets keep the ACK clock going with delayed ACKs. */
export const BBR_MIN_WINDOW = 4 * MAX_DATAGRAM_SIZE;

export type BbrState = 'startup' | 'drain' | 'probeBw';

export class Bbr implements CongestionController {
  cwnd = INITIAL_WINDOW;
  /** No slow-start threshold: reported as Infinity (stats). */
  readonly ssthresh = Infinity;
  bytesInFlight = 0;
  congestionEvents = 0;
  persistentCongestionEvents = 0;
  state: BbrState = 'startup';
  private rate = new DeliveryRate();
  /** Best sample per round for the last BW_WINDOW_ROUNDS rounds. */
  private bwRounds: { round: number; bw: number }[] = [];
  /** Best sample this round, and in the round before. */
  private bwThisRound = 0;
  private bwLastRound = 0;
  private round = 0;
  private nextRoundDelivered = 0;
  private fullBw = 0;
  private fullBwRounds = 0;
  private filledPipe = false;
  private cycle = 0;
  private cycleStart = 0;
  private pacing = 0;
  private minRtt = Infinity;
  private lossRound = -1;

  /** The bottleneck bandwidth estimate (bytes per ms), 0 before the first sample. */
  get maxBw(): number {
    let m = 0;
    for (const r of this.bwRounds) m = Math.max(m, r.bw);
    return m;
  }

  /** The bandwidth the model uses. */
  get bw(): number {
    return this.maxBw;
  }

  get pacingGain(): number {
    if (this.state === 'startup') return STARTUP_GAIN;
    if (this.state === 'drain') return 1 / STARTUP_GAIN;
    return PROBE_GAINS[this.cycle]!;
  }

  canSend(bytes = MAX_DATAGRAM_SIZE): boolean {
    return this.bytesInFlight + bytes <= this.cwnd;
  }

  pacingRate(rtt: RttView): number {
    if (this.pacing > 0) return this.pacing;
    // No bandwidth sample yet: Startup's gain over the window per RTT, once there is an RTT.
    return rtt.hasSample ? (STARTUP_GAIN * this.cwnd) / Math.max(rtt.min, 1) : Infinity;
  }

  onSent(bytes: number, now: number): RateSnapshot {
    const snap = this.rate.onSent(now, this.bytesInFlight);
    this.bytesInFlight += bytes;
    return snap;
  }

  onAppLimited(): void {
    if (this.bytesInFlight < this.cwnd) this.rate.markAppLimited(this.bytesInFlight);
  }

  onAcked(acked: readonly CcPacket[], rtt: RttView, now: number): void {
    if (acked.length === 0) return;
    let bytes = 0;
    for (const p of acked) bytes += p.size;
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
    if (rtt.hasSample) this.minRtt = rtt.min;
    const sample = this.rate.onAck(acked, now, this.minRtt);
    const roundStart = sample !== undefined && this.updateRound(sample);
    if (sample) this.updateBw(sample);
    if (roundStart && sample && !sample.appLimited) this.checkFullPipe();
    this.updateState(now, false);
    this.updatePacing(rtt);
    this.updateCwnd(bytes);
  }

  onLost(lost: readonly CcPacket[], now: number, persistentCongestion: boolean, rtt: RttView): void {
    if (lost.length === 0) return;
    for (const p of lost) this.bytesInFlight = Math.max(0, this.bytesInFlight - p.size);
    if (persistentCongestion) {
      this.persistentCongestionEvents++;
      this.congestionEvents++;
      this.restart();
      this.cwnd = MINIMUM_WINDOW;
      return;
    }
    if (!this.queueBuilt(rtt) || this.lossRound === this.round) return;
    this.lossRound = this.round;
    this.congestionEvents++;
    // The estimate is stale (the bottleneck got slower, or another flow took a share): keep no
    // more of it than the path delivered lately, or LOSS_BETA of it. Probing finds any more.
    const cap = Math.max(this.bwLastRound, this.bwThisRound, LOSS_BETA * this.maxBw);
    for (const r of this.bwRounds) r.bw = Math.min(r.bw, cap);
    if (this.state === 'startup') this.filledPipe = true;
    this.updateState(now, true);
    this.updatePacing(rtt);
    this.cwnd = Math.max(Math.min(this.cwnd, this.target()), BBR_MIN_WINDOW);
  }

  discard(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  reset(): void {
    this.restart();
    this.cwnd = INITIAL_WINDOW;
    this.bytesInFlight = 0;
    this.rate = new DeliveryRate();
    this.minRtt = Infinity;
    this.round = 0;
    this.nextRoundDelivered = 0;
    this.lossRound = -1;
  }

  /** Back to Startup with no bandwidth estimate (persistent congestion, a new path). */
  private restart(): void {
    this.state = 'startup';
    this.bwRounds = [];
    this.bwThisRound = 0;
    this.bwLastRound = 0;
    this.fullBw = 0;
    this.fullBwRounds = 0;
    this.filledPipe = false;
    this.pacing = 0;
  }

  /** A queue stands at the bottleneck: the latest RTT is well above the minimum. */
  private queueBuilt(rtt: RttView): boolean {
    return rtt.hasSample && rtt.latest > rtt.min + queueThresholdMs(rtt.min);
  }

  /** A round trip ends when a packet sent after it began is acknowledged. */
  private updateRound(s: RateSample): boolean {
    if (s.priorDelivered < this.nextRoundDelivered) return false;
    this.nextRoundDelivered = this.rate.delivered;
    this.round++;
    this.bwLastRound = this.bwThisRound;
    this.bwThisRound = 0;
    return true;
  }

  private updateBw(s: RateSample): void {
    this.bwThisRound = Math.max(this.bwThisRound, s.bw);
    // An application-limited sample only says the path does at least that much.
    if (s.appLimited && s.bw < this.maxBw) return;
    const last = this.bwRounds[this.bwRounds.length - 1];
    if (last && last.round === this.round) last.bw = Math.max(last.bw, s.bw);
    else this.bwRounds.push({ round: this.round, bw: s.bw });
    while (this.bwRounds.length > 0 && this.bwRounds[0]!.round <= this.round - BW_WINDOW_ROUNDS)
      this.bwRounds.shift();
  }

  /** Startup has filled the pipe when three rounds brought no 25% more bandwidth. */
  private checkFullPipe(): void {
    if (this.filledPipe) return;
    if (this.maxBw >= this.fullBw * FULL_BW_GROWTH) {
      this.fullBw = this.maxBw;
      this.fullBwRounds = 0;
      return;
    }
    if (++this.fullBwRounds >= FULL_BW_ROUNDS) this.filledPipe = true;
  }

  private updateState(now: number, congested: boolean): void {
    if (this.state === 'startup' && this.filledPipe) this.state = 'drain';
    if (this.state === 'drain' && this.bytesInFlight <= this.bdp(1)) this.enterProbeBw(now, 2);
    if (this.state !== 'probeBw') return;
    const gain = PROBE_GAINS[this.cycle]!;
    const full = now - this.cycleStart > this.minRtt;
    const next =
      gain > 1
        ? congested || (full && this.bytesInFlight >= this.bdp(gain))
        : gain < 1
          ? full || this.bytesInFlight <= this.bdp(1)
          : full;
    if (next) this.enterProbeBw(now, (this.cycle + 1) % PROBE_GAINS.length);
  }

  private enterProbeBw(now: number, cycle: number): void {
    this.state = 'probeBw';
    this.cycle = cycle;
    this.cycleStart = now;
  }

  private updatePacing(rtt: RttView): void {
    if (this.pacing === 0 && rtt.hasSample) this.pacing = this.pacingRate(rtt);
    const bw = this.bw;
    if (bw <= 0) return;
    const rate = this.pacingGain * bw;
    // In Startup the rate only rises: an early low sample must not slow the ramp.
    if (this.filledPipe || rate > this.pacing) this.pacing = rate;
  }

  /** gain × the bandwidth-delay product (bytes); the initial window before there is a model. */
  private bdp(gain: number): number {
    const bw = this.bw;
    if (bw <= 0 || !Number.isFinite(this.minRtt)) return INITIAL_WINDOW;
    return gain * bw * this.minRtt;
  }

  /** The window the model asks for, with room for three packets of ACK aggregation (as BBR). */
  private target(): number {
    const gain = this.state === 'probeBw' ? CWND_GAIN : STARTUP_GAIN;
    return this.bdp(gain) + 3 * MAX_DATAGRAM_SIZE;
  }

  /** Grow towards the target by what was acknowledged; once the pipe is full, never beyond it. */
  private updateCwnd(acked: number): void {
    const target = this.target();
    if (this.filledPipe) this.cwnd = Math.min(this.cwnd + acked, target);
    else if (this.cwnd < target || this.rate.delivered < INITIAL_WINDOW) this.cwnd += acked;
    this.cwnd = Math.max(this.cwnd, BBR_MIN_WINDOW);
  }
}
