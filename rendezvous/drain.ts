import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { MsgType } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { Bindings } from './bindings.js';

/**
 * How often a draining node tells the members still bound to it to go: GOING_AWAY travels over
 * UDP too, where one copy may be lost, and a member's move takes one HELLO/REGISTER round trip
 * at its next server (peer/server-failover.ts), so a second copy a second later is rarely needed.
 */
export const DRAIN_RESEND_MS = 1_000;

/** Default bound on a drain, ms (`punchline rendezvous --drain-ms`; docs/self-hosting.md). */
export const DEFAULT_DRAIN_MS = 10_000;

export interface DrainHost {
  clock: Clock;
  log: Logger;
  bindings: Bindings;
  /** Members that left but are not yet announced by another node of the cluster (rendezvous/handover.ts). */
  handingOver?: () => number;
}

/** How a drain ended: every member gone, or the bound reached with `left` bindings still here. */
export interface DrainResult {
  left: number;
  waitedMs: number;
}

/**
 * A node going down for maintenance (SIGTERM): it takes no new registrations (the server drops
 * HELLO and REGISTER, counted `draining`), tells every member bound here, over UDP and over the
 * stream, to move (GOING_AWAY, sealed with the member's own channel so nobody else can say it),
 * and ends when the last binding went (LEAVE, a closed stream, expiry) or at the bound.
 */
export class Drain {
  private resendTimer: TimerHandle | undefined;
  private boundTimer: TimerHandle | undefined;
  private startedAt = 0;
  private deadline = 0;
  private done: ((r: DrainResult) => void) | undefined;
  /** GOING_AWAY messages sent (each copy to each binding). */
  sent = 0;

  constructor(private readonly host: DrainHost) {}

  /** Start draining for at most `ms`; resolves when every binding has gone, or at the bound. */
  run(ms: number): Promise<DrainResult> {
    const { clock, log } = this.host;
    this.startedAt = clock.now();
    this.deadline = this.startedAt + ms;
    const result = new Promise<DrainResult>((resolve) => (this.done = resolve));
    log.info('draining', { members: this.remaining(), boundMs: ms });
    this.boundTimer = clock.setTimeout(() => this.finish(), ms);
    this.tell();
    this.check();
    return result;
  }

  /** Bindings still held here (a member on UDP and the stream counts twice), and departures held back. */
  private remaining(): number {
    const { udp, ws } = this.host.bindings.size;
    return udp + ws + (this.host.handingOver?.() ?? 0);
  }

  /** After a departure: done when none is left. */
  check(): void {
    if (this.done && this.remaining() === 0) this.finish();
  }

  /** GOING_AWAY to every binding, again every DRAIN_RESEND_MS while any is left. */
  private tell(): void {
    // Whole ms (the system clock counts fractions; the field is a u32).
    const withinMs = Math.max(0, Math.round(this.deadline - this.host.clock.now()));
    const bytes = encode({ type: MsgType.GOING_AWAY, withinMs });
    this.host.bindings.each((_id, _transport, b) => {
      b.send(b.auth.sealCopy(bytes));
      this.sent++;
    });
    this.resendTimer = this.host.clock.setTimeout(() => this.tell(), DRAIN_RESEND_MS);
  }

  private finish(): void {
    const done = this.done;
    if (!done) return;
    this.done = undefined;
    this.close();
    const r = { left: this.remaining(), waitedMs: this.host.clock.now() - this.startedAt };
    this.host.log.info('drained', r);
    done(r);
  }

  /** Stop the timers; idempotent. A pending run() resolves with what is left. */
  close(): void {
    this.host.clock.clearTimeout(this.resendTimer);
    this.host.clock.clearTimeout(this.boundTimer);
    this.resendTimer = undefined;
    this.boundTimer = undefined;
    if (this.done) this.finish();
  }
}
