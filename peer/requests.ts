import type { Clock, TimerHandle } from '../common/clock.js';
import { PunchlineError } from '../common/errors.js';
import { backoffDelay, REQUEST_BACKOFF, REQUEST_TRIES } from '../common/path/backoff.js';
import type { BackoffOptions } from '../common/path/backoff.js';
import { toHex } from '../common/wire/bytes.js';
import type { Message } from '../common/wire/messages.js';

interface Pending {
  /** The request's bytes for each (re)transmission: sealed requests need a fresh sequence number. */
  bytes: () => Uint8Array;
  attempt: number;
  timer: TimerHandle | undefined;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

/**
 * Client transactions: each request carries a random txid and is retransmitted on a backoff
 * schedule until an answer with the same txid arrives or the tries run out (the STUN client
 * model, RFC 8489 §6.2.1). The server is idempotent, so duplicates are harmless.
 */
export class Requests {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly transmit: (bytes: Uint8Array) => void,
    /** A draw in [0, 1) for the jitter, from the owner's random source (common/path/backoff.ts unitDraw). */
    private readonly random: () => number,
    private readonly backoff: BackoffOptions = REQUEST_BACKOFF,
    private readonly tries: number = REQUEST_TRIES,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Send `bytes` (or, for a sealed request, what `bytes()` makes anew each time, so a retransmission
   * is not taken for a replay) until the answer with `txid` comes.
   */
  request(txid: Uint8Array, bytes: Uint8Array | (() => Uint8Array), what: string): Promise<Message> {
    const key = toHex(txid);
    return new Promise<Message>((resolve, reject) => {
      const p: Pending = {
        bytes: typeof bytes === 'function' ? bytes : () => bytes,
        attempt: 0,
        timer: undefined,
        resolve,
        reject,
      };
      this.pending.set(key, p);
      const fire = (): void => {
        if (!this.pending.has(key)) return;
        if (p.attempt >= this.tries) {
          this.pending.delete(key);
          reject(
            new PunchlineError(
              'SERVER_UNREACHABLE',
              `${what}: no answer from the rendezvous after ${p.attempt} tries`,
            ),
          );
          return;
        }
        this.transmit(p.bytes());
        p.timer = this.clock.setTimeout(fire, backoffDelay(p.attempt, this.backoff, this.random()));
        p.attempt++;
      };
      fire();
    });
  }

  /** Complete the transaction this answer belongs to; false if none is pending (late or forged). */
  answer(txid: Uint8Array, m: Message): boolean {
    const key = toHex(txid);
    const p = this.pending.get(key);
    if (!p) return false;
    this.clock.clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve(m);
    return true;
  }

  cancelAll(reason: Error): void {
    for (const p of this.pending.values()) {
      this.clock.clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
  }
}
