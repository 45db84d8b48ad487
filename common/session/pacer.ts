import { MAX_DATAGRAM_SIZE } from './congestion.js';

/** Packets that may leave back to back after idle: Linux's initial quantum (net/sched/sch_fq.c). */
export const PACING_BURST_PACKETS = 10;
/**
 * At high rates the burst is this much time at the pacing rate instead (Linux sizes its TSO
 * bursts at ~1 ms of the rate): node's timers fire no sooner than 1 ms and often later, so a
 * smaller bucket would throw away credit the sender is owed by the time its timer fires.
 */
export const PACING_BURST_MS = 2;

/**
 * A token bucket in bytes that spaces packets at the pacing rate (RFC 9002 §7.7): it fills at
 * the rate, up to the burst allowance, and every packet sent takes its size out. Pure: the
 * caller gives the time and rate; Infinity means not paced.
 */
export class Pacer {
  private tokens = 0;
  private last: number | undefined;

  /** ms until a packet of `bytes` may go at `rate` (bytes per ms); 0 when it may go now. */
  wait(now: number, rate: number, bytes = MAX_DATAGRAM_SIZE): number {
    if (!Number.isFinite(rate)) return 0;
    this.refill(now, rate);
    const short = bytes - this.tokens;
    // Up to a byte short counts as enough: a timer set for the exact shortfall must find the
    // packet allowed, not a floating-point hair short (which re-armed it at the same instant).
    return short <= 1 ? 0 : short / rate;
  }

  onSent(now: number, rate: number, bytes: number): void {
    if (!Number.isFinite(rate)) return;
    this.refill(now, rate);
    this.tokens -= bytes;
  }

  /** Forget the history (a new path). */
  reset(): void {
    this.tokens = 0;
    this.last = undefined;
  }

  private refill(now: number, rate: number): void {
    const cap = Math.max(PACING_BURST_PACKETS * MAX_DATAGRAM_SIZE, rate * PACING_BURST_MS);
    this.tokens = this.last === undefined ? cap : Math.min(cap, this.tokens + (now - this.last) * rate);
    this.last = now;
  }
}
