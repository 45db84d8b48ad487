import type { Clock, TimerHandle } from '../clock.js';
import type { SessionTuning } from './options.js';

export type LivenessTuning = Pick<SessionTuning, 'pingIntervalMs' | 'deadAfterMs'>;

export interface LivenessHooks {
  /** Nothing authenticated arrived for deadAfterMs (the 'dead' event). */
  dead(silentMs: number): void;
  /** Send a PING now; false when it could not go (no path). */
  ping(): boolean;
  /** Is the session open? The timer stops when it is not. */
  active(): boolean;
}

/**
 * Heartbeats and dead-path detection for an open session: a PING after pingIntervalMs without
 * an ack-eliciting packet sent (it measures RTT and loss and keeps NAT bindings warm), and
 * 'dead' once after deadAfterMs without an authenticated packet received, until one arrives.
 */
export class LivenessMonitor {
  private lastReceivedAt = 0;
  private lastSentAt = 0;
  private isDead = false;
  private timer: TimerHandle | undefined;
  /** Times the path was declared dead. */
  deadEvents = 0;

  constructor(
    private readonly clock: Clock,
    private readonly t: LivenessTuning,
    private readonly hooks: LivenessHooks,
  ) {}

  get dead(): boolean {
    return this.isDead;
  }

  /** The session opened at `now`: both silences count from here. Call arm() after. */
  reset(now: number): void {
    this.lastReceivedAt = now;
    this.lastSentAt = now;
  }

  /** An authenticated packet arrived: true when this ends a 'dead' (the caller says 'alive', then arm()). */
  heard(now: number): boolean {
    this.lastReceivedAt = now;
    if (!this.isDead) return false;
    this.isDead = false;
    return true;
  }

  /** An ack-eliciting packet went out: the next heartbeat is due pingIntervalMs from now. */
  sent(now: number): void {
    this.lastSentAt = now;
  }

  /** (Re)arm the timer for the next heartbeat or the dead deadline, whichever is first. */
  arm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.hooks.active()) return;
    const pingAt = this.lastSentAt + this.t.pingIntervalMs;
    const deadAt = this.isDead ? Infinity : this.lastReceivedAt + this.t.deadAfterMs;
    const at = Math.min(pingAt, deadAt);
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.clock.now()));
  }

  /** Stop the timer. Idempotent. */
  close(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.hooks.active()) return;
    const now = this.clock.now();
    // Compared as "now >= deadline" (the very sum the timer was armed for): a difference could
    // fall short by a rounding error and re-arm the timer at 0 ms forever.
    if (!this.isDead && now >= this.lastReceivedAt + this.t.deadAfterMs) {
      this.isDead = true;
      this.deadEvents++;
      this.hooks.dead(now - this.lastReceivedAt);
      if (!this.hooks.active()) return;
    }
    // Nothing was sent (no path): count the heartbeat as done so the timer does not spin.
    if (now >= this.lastSentAt + this.t.pingIntervalMs && !this.hooks.ping()) this.lastSentAt = now;
    this.arm();
  }
}
