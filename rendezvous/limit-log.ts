import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';

/** One log line per reason at most this often: what an attacker's flood can cost the log. */
const LIMIT_LOG_WINDOW_MS = 10_000;

interface Window {
  timer: TimerHandle;
  /** Events since the last line. */
  count: number;
  lastIp: string | undefined;
}

/**
 * Log lines for limits that bite (refusals, timeouts, drops), aggregated: the first event of a
 * reason is logged at once, then at most one line per reason per window with the count of what
 * happened in it, so an attacker who trips a limit a million times makes a line every 10 s, not a
 * million. The counters on /metrics (rendezvous/metrics.ts) stay exact; this is for the operator
 * who reads the log.
 */
export class LimitLog {
  private readonly windows = new Map<string, Window>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly windowMs = LIMIT_LOG_WINDOW_MS,
  ) {}

  note(reason: string, ip?: string): void {
    if (this.stopped) return;
    const w = this.windows.get(reason);
    if (w) {
      w.count++;
      if (ip !== undefined) w.lastIp = ip;
      return;
    }
    this.log.warn('limit', { reason, count: 1, ...(ip !== undefined ? { ip } : {}) });
    this.open(reason);
  }

  private open(reason: string): void {
    const w: Window = {
      count: 0,
      lastIp: undefined,
      timer: this.clock.setTimeout(() => this.flush(reason, w), this.windowMs),
    };
    this.windows.set(reason, w);
  }

  private flush(reason: string, w: Window): void {
    this.windows.delete(reason);
    if (w.count === 0) return; // quiet: the next event is logged at once again
    this.log.warn('limit', {
      reason,
      count: w.count,
      windowMs: this.windowMs,
      ...(w.lastIp !== undefined ? { lastIp: w.lastIp } : {}),
    });
    this.open(reason);
  }

  /** Forget pending counts and timers (server shutdown); idempotent. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.windows.values()) this.clock.clearTimeout(w.timer);
    this.windows.clear();
  }
}
