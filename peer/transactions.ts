/**
 * Client transactions, the one engine behind every request a peer retransmits until answered:
 * its requests to the rendezvous (requests.ts), the port behaviour measurement's STUN Binding
 * requests (nat-probe.ts) and nat-check's (nat-check/stun-client.ts). Each request carries a
 * transaction id drawn from the injected random source and is sent again on a backoff schedule
 * run by the injected clock until an answer with the same id arrives (RFC 8489 §6.2.1 and §6.3.3,
 * the STUN client model); when the tries or the deadline run out it fails with the owner's error.
 * An answer with an id nothing waits for (late, duplicate or forged) is refused, and changes
 * nothing.
 *
 * It knows nothing of peers, but lives here rather than in common/net: its schedule comes from
 * common/path/backoff.ts, and common/path already imports common/net.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { PunchlineError, aborted } from '../common/errors.js';
import { backoffDelay, unitDraw } from '../common/path/backoff.js';
import type { BackoffOptions } from '../common/path/backoff.js';
import { toHex } from '../common/wire/bytes.js';

export interface RetransmitSchedule {
  /** The delay after try n is `backoffDelay(n, backoff, draw)`, the draw from the random source. */
  readonly backoff: BackoffOptions;
  /** At most this many sends. */
  readonly tries: number;
  /**
   * If set, the transaction fails this long after its first send and no try goes out at or after
   * it; otherwise it fails one backoff delay after its last try.
   */
  readonly deadlineMs?: number;
}

interface TransactionOptions {
  /** Size of a transaction id, bytes. */
  readonly txidBytes: number;
  readonly schedule: RetransmitSchedule;
  /** The error of a request nothing answered; default TIMEOUT "WHAT: no answer after N tries". */
  readonly noAnswer?: (what: string, tries: number) => PunchlineError;
}

interface TransactionComponents {
  readonly clock: Clock;
  readonly randomBytes: (n: number) => Uint8Array;
}

/** An answer with how it came: `rttMs` from the last try (an earlier one would only look slower). */
export interface Answered<A> {
  readonly answer: A;
  readonly tries: number;
  readonly rttMs: number;
}

interface Pending<A> {
  timer: TimerHandle | undefined;
  tries: number;
  lastSent: number;
  resolve: (a: A) => void;
  reject: (e: Error) => void;
}

const defaultNoAnswer = (what: string, tries: number): PunchlineError =>
  new PunchlineError('TIMEOUT', `${what}: no answer after ${tries} tries`);

export class Transactions<A> {
  private readonly pending = new Map<string, Pending<A>>();

  constructor(
    private readonly c: TransactionComponents,
    private readonly o: TransactionOptions,
  ) {}

  /** Requests waiting for their answer. */
  get size(): number {
    return this.pending.size;
  }

  /** A fresh transaction id from the random source. */
  txid(): Uint8Array {
    return this.c.randomBytes(this.o.txidBytes);
  }

  /**
   * Call `send` now and again on the schedule until `answer(txid, ...)` comes. `send` does the
   * sending, so each try may carry new bytes (a sealed request needs a fresh sequence number).
   * Rejects with the owner's no-answer error, with ABORTED ("WHAT aborted") on `signal`, or with
   * the reason given to `cancelAll`.
   */
  request(txid: Uint8Array, send: () => void, what: string, signal?: AbortSignal): Promise<Answered<A>> {
    const key = toHex(txid);
    const { clock } = this.c;
    const start = clock.now();
    return new Promise<Answered<A>>((resolve, reject) => {
      if (signal?.aborted) return reject(aborted(`${what} aborted`));
      const onAbort = (): void => this.settle(key, () => reject(aborted(`${what} aborted`)));
      const p: Pending<A> = {
        timer: undefined,
        tries: 0,
        lastSent: start,
        resolve: (answer) => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ answer, tries: p.tries, rttMs: Math.round(clock.now() - p.lastSent) });
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.pending.set(key, p);
      signal?.addEventListener('abort', onAbort, { once: true });
      const fail = (): void =>
        this.settle(key, () => p.reject((this.o.noAnswer ?? defaultNoAnswer)(what, p.tries)));
      const fire = (): void => {
        send();
        p.tries++;
        p.lastSent = clock.now();
        const { backoff, tries, deadlineMs } = this.o.schedule;
        // No jitter, no draw: a seeded random source then feeds the same values to everyone else.
        const delay = backoffDelay(p.tries - 1, backoff, backoff.jitter ? unitDraw(this.c.randomBytes) : 0.5);
        const left = deadlineMs === undefined ? Infinity : start + deadlineMs - p.lastSent;
        p.timer =
          p.tries >= tries || delay >= left
            ? clock.setTimeout(fail, Math.min(delay, left))
            : clock.setTimeout(fire, delay);
      };
      fire();
    });
  }

  /** Complete the transaction this answer belongs to; false if none is pending (late or forged). */
  answer(txid: Uint8Array, a: A): boolean {
    const p = this.pending.get(toHex(txid));
    if (!p) return false;
    this.settle(toHex(txid), () => p.resolve(a));
    return true;
  }

  /** End every pending request with `reason`. */
  cancelAll(reason: Error): void {
    for (const key of [...this.pending.keys()]) this.settle(key, (p) => p.reject(reason));
  }

  /** Take the transaction off the books, stop its timer, then end it with `end`. */
  private settle(key: string, end: (p: Pending<A>) => void): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.c.clock.clearTimeout(p.timer);
    this.pending.delete(key);
    end(p);
  }
}
