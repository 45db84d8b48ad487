import type { Clock, TimerHandle } from '../clock.js';

/** One owner's pending wakeup: due any time from `lo`, at `hi` at the latest. */
export interface CoalescedTimer {
  lo: number;
  hi: number;
  run(): void;
}

/**
 * One clock timer for many owners' periodic work (the heartbeats of every session of a node,
 * docs/session.md "Idle timers"). Each owner says when its work may run (`lo`) and when it must
 * (`hi`); when the timer fires, every owner whose `lo` has passed runs in the same wakeup, so N
 * idle sessions wake the process about once per heartbeat interval instead of N times, each at
 * its own moment. Owners that moved their window later are simply checked again on the next
 * firing; only an earlier `hi` moves the one timer.
 */
export class TimerCoalescer {
  private readonly owners = new Set<CoalescedTimer>();
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private firing = false;
  /** Times the shared timer fired (its wakeups). */
  wakeups = 0;

  constructor(private readonly clock: Clock) {}

  /** Add or move an owner's window (lo <= hi); runs it in the next firing from `lo` on. */
  set(t: CoalescedTimer): void {
    this.owners.add(t);
    if (!this.firing && t.hi < this.timerAt) this.schedule(t.hi);
  }

  /** Forget an owner. Idempotent. */
  delete(t: CoalescedTimer): void {
    this.owners.delete(t);
    if (this.owners.size === 0) this.cancelTimer();
  }

  /** Stop the timer and forget every owner. Idempotent. */
  close(): void {
    this.owners.clear();
    this.cancelTimer();
  }

  private cancelTimer(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private schedule(at: number): void {
    this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.wakeups++;
    const now = this.clock.now();
    // Owners whose window opened join one that must run now; if none must (every window moved
    // later since the timer was set), nobody runs early: the timer moves to the next `hi`.
    const owners = [...this.owners];
    const due = owners.some((t) => t.hi <= now) ? owners.filter((t) => t.lo <= now) : [];
    this.firing = true;
    let failure: unknown;
    for (const t of due) {
      // An owner that ran is out until it sets a new window (it may not want one).
      this.owners.delete(t);
      try {
        t.run();
      } catch (err) {
        failure ??= err; // the others still run, and the timer goes on
      }
    }
    this.firing = false;
    let next = Infinity;
    for (const t of this.owners) next = Math.min(next, t.hi);
    if (next < Infinity) this.schedule(next);
    if (failure !== undefined) throw failure;
  }
}
