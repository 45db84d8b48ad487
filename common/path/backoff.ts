/**
 * Retry schedules as pure functions (docs/contributing.md §4, §5): callers pass the attempt number and a
 * random draw, so tests check the schedule with tables and no clock.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** Fraction of the delay drawn at random (0..1): spreads retry storms after an outage. */
  jitter?: number;
}

/**
 * A draw in [0, 1) from a source of random bytes: how jitter comes from the injected random
 * source, so a seeded run (the simulator, the demo) replays exactly. 32 bits are plenty for a
 * delay.
 */
export function unitDraw(randomBytes: (n: number) => Uint8Array): number {
  const b = randomBytes(4);
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32;
}

/** Delay before retry number `attempt` (0 = first retry). `rand` in [0,1). */
export function backoffDelay(attempt: number, o: BackoffOptions, rand = 0.5): number {
  const base = Math.min(o.maxMs, o.initialMs * (o.factor ?? 2) ** Math.max(0, attempt));
  const j = o.jitter ?? 0;
  return Math.round(base * (1 - j + 2 * j * rand));
}

/**
 * Request retransmission towards the rendezvous: 250 ms then doubling to 8 s. Shorter than
 * STUN's 500 ms RTO (RFC 8489 §6.2.1) because punchline's server is one known hop away and a
 * lost registration should cost a user a quarter second, not two.
 */
export const REQUEST_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 8_000, factor: 2, jitter: 0.1 };

/** After this many unanswered tries a request is reported as failed (250+500+1000+2000+4000 ms ~ 7.75 s). */
export const REQUEST_TRIES = 5;
