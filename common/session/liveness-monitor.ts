import type { Clock } from '../clock.js';
import type { Frame } from './frames.js';
import type { SessionTuning } from './options.js';
import { type CoalescedTimer, TimerCoalescer } from './timer-coalescer.js';

/** A packet of only these frames is a heartbeat or its answer (an idle session's traffic). */
export const isHeartbeat = (f: Frame): boolean =>
  f.type === 'ping' || f.type === 'ack' || f.type === 'padding';

export type LivenessTuning = Pick<SessionTuning, 'pingIntervalMs' | 'deadAfterMs'>;

export interface LivenessHooks {
  /** Nothing authenticated arrived for deadAfterMs (the 'dead' event). */
  dead(silentMs: number): void;
  /** Send a PING now; false when it could not go (no path). */
  ping(): boolean;
  /** Is the session open? The timer stops when it is not. */
  active(): boolean;
  /**
   * Does this side leave the heartbeat to the peer while the peer's ack-eliciting packets keep
   * coming (the session's responder does)? Its ACKs answer them: they refresh this side's NAT
   * mapping, and the peer's PINGs prove the path to this side, so one PING per interval serves both.
   */
  defers?(): boolean;
  /** The shared timer (a node's, for all its sessions); default one of its own. */
  timers?: TimerCoalescer;
}

/**
 * Heartbeats may go this fraction of pingIntervalMs early, so the heartbeats of a node's sessions
 * fall into the same wakeup of the shared timer (TimerCoalescer) instead of each its own.
 */
export const HEARTBEAT_SLACK = 0.5;

/**
 * Heartbeats and dead-path detection for an open session: a PING after pingIntervalMs without
 * an ack-eliciting packet sent (it measures RTT and loss and keeps NAT bindings warm), and
 * 'dead' once after deadAfterMs without an authenticated packet received, until one arrives.
 * The side that defers (hooks.defers) pings only when the peer's own heartbeats stop arriving:
 * pingIntervalMs plus a margin after the last one, the margin short enough that its PING is
 * answered before its own dead timeout. The timer is one window of a TimerCoalescer, shared by
 * every session of a node when the owner passes one (docs/session.md, "Idle timers").
 */
export class LivenessMonitor {
  private lastReceivedAt = 0;
  private lastSentAt = 0;
  /** When the peer's last ack-eliciting packet (its heartbeat, or data) arrived. */
  private lastPeerElicitingAt = -Infinity;
  private isDead = false;
  private readonly window: CoalescedTimer = { lo: 0, hi: 0, run: () => this.onTimer() };
  private armed = false;
  private readonly timers: TimerCoalescer;
  /** Times the path was declared dead. */
  deadEvents = 0;

  constructor(
    private readonly clock: Clock,
    private readonly t: LivenessTuning,
    private readonly hooks: LivenessHooks,
  ) {
    this.timers = hooks.timers ?? new TimerCoalescer(clock);
  }

  get dead(): boolean {
    return this.isDead;
  }

  /** The session opened at `now`: both silences count from here. Call arm() after. */
  reset(now: number): void {
    this.lastReceivedAt = now;
    this.lastSentAt = now;
  }

  /**
   * An authenticated packet arrived (`eliciting`: one the peer wants acknowledged): true when this
   * ends a 'dead' (the caller says 'alive', then arm()). The window moves later with it, at no
   * cost: the shared timer checks it again when it fires.
   */
  heard(now: number, eliciting = false): boolean {
    this.lastReceivedAt = now;
    if (eliciting) this.lastPeerElicitingAt = now;
    if (this.isDead) {
      this.isDead = false;
      return true;
    }
    if (this.armed) this.arm();
    return false;
  }

  /** An ack-eliciting packet went out: the next heartbeat is due pingIntervalMs from now. */
  sent(now: number): void {
    this.lastSentAt = now;
  }

  /** (Re)arm the timer for the next heartbeat or the dead deadline, whichever is first. */
  arm(): void {
    if (!this.hooks.active()) return this.close();
    const { lo, hi } = this.pingWindow();
    const deadAt = this.isDead ? Infinity : this.lastReceivedAt + this.t.deadAfterMs;
    this.window.lo = Math.min(lo, deadAt);
    this.window.hi = Math.min(hi, deadAt);
    this.armed = true;
    this.timers.set(this.window);
  }

  /** Stop the timer. Idempotent. */
  close(): void {
    this.armed = false;
    this.timers.delete(this.window);
  }

  /** When the next heartbeat may go (lo) and must (hi). */
  private pingWindow(): { lo: number; hi: number } {
    const every = this.t.pingIntervalMs;
    let lo = this.lastSentAt + every * (1 - HEARTBEAT_SLACK);
    let hi = this.lastSentAt + every;
    if (this.hooks.defers?.()) {
      // Past the peer's next heartbeat (due every pingIntervalMs) by a margin, but answered
      // before this side's own dead timeout would run out.
      const margin = Math.min(every / 2, Math.max(0, this.t.deadAfterMs - every) / 2);
      const after = this.lastPeerElicitingAt + every + margin;
      lo = Math.max(lo, after);
      hi = Math.max(hi, after);
    }
    return { lo, hi };
  }

  private onTimer(): void {
    this.armed = false;
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
    if (now >= this.pingWindow().lo && !this.hooks.ping()) this.lastSentAt = now;
    this.arm();
  }
}
