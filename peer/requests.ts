import { PunchlineError } from '../common/errors.js';
import { REQUEST_BACKOFF, REQUEST_TRIES } from '../common/path/backoff.js';
import type { Clock } from '../common/clock.js';
import { Limits } from '../common/wire/constants.js';
import type { Message } from '../common/wire/messages.js';
import { Transactions } from './transactions.js';
import type { RetransmitSchedule } from './transactions.js';

/** The rendezvous's schedule: common/path/backoff.ts says why it is shorter than STUN's. */
const RENDEZVOUS_SCHEDULE: RetransmitSchedule = { backoff: REQUEST_BACKOFF, tries: REQUEST_TRIES };

/**
 * Requests to the rendezvous: client transactions (transactions.ts) with the rendezvous's
 * 8-byte txids and schedule, sent to the server, failing with SERVER_UNREACHABLE. The server is
 * idempotent, so duplicates are harmless.
 */
export class Requests {
  private readonly transactions: Transactions<Message>;
  /** The round trip of the last answered request (ms; from its last try), if any. */
  lastRttMs: number | undefined;

  constructor(
    clock: Clock,
    private readonly transmit: (bytes: Uint8Array) => void,
    randomBytes: (n: number) => Uint8Array,
  ) {
    this.transactions = new Transactions<Message>(
      { clock, randomBytes },
      {
        txidBytes: Limits.TXID_BYTES,
        schedule: RENDEZVOUS_SCHEDULE,
        noAnswer: (what, tries) =>
          new PunchlineError(
            'SERVER_UNREACHABLE',
            `${what}: no answer from the rendezvous after ${tries} tries`,
          ),
      },
    );
  }

  /** A fresh txid from the random source. */
  txid(): Uint8Array {
    return this.transactions.txid();
  }

  /**
   * Send `bytes` (or, for a sealed request, what `bytes()` makes anew each time, so a retransmission
   * is not taken for a replay) until the answer with `txid` comes.
   */
  async request(txid: Uint8Array, bytes: Uint8Array | (() => Uint8Array), what: string): Promise<Message> {
    const make = typeof bytes === 'function' ? bytes : () => bytes;
    const r = await this.transactions.request(txid, () => this.transmit(make()), what);
    this.lastRttMs = r.rttMs;
    return r.answer;
  }

  /** Complete the transaction this answer belongs to; false if none is pending (late or forged). */
  answer(txid: Uint8Array, m: Message): boolean {
    return this.transactions.answer(txid, m);
  }

  cancelAll(reason: Error): void {
    this.transactions.cancelAll(reason);
  }
}
