import type { ErrorCode, PunchlineError } from '../../common/errors.js';
import type { ChatEvents } from './types.js';

/**
 * Storage failures, each reported once until the same store succeeds again: per peer for its
 * incoming messages, per file otherwise (`slot`), so one failing file never hides another.
 */
export class StorageErrors {
  /** The last error reported per slot. */
  private readonly failing = new Map<string, ErrorCode>();

  constructor(private readonly tell: (e: ChatEvents['error']) => void) {}

  report(peer: string | undefined, err: PunchlineError, slot?: string): void {
    const k = slot ?? peer ?? '';
    if (this.failing.get(k) === err.code) return;
    this.failing.set(k, err.code);
    this.tell({ code: err.code, message: err.message, ...(peer !== undefined ? { peer } : {}) });
  }

  /** Records skipped at load (damaged or over the limit): told once, after the constructor's caller subscribed. */
  skipped(count: number): void {
    if (count > 0)
      setImmediate(() =>
        this.tell({
          code: 'MALFORMED',
          message: `skipped ${count} damaged or over-limit record${count > 1 ? 's' : ''} in outbox.jsonl/history.jsonl`,
        }),
      );
  }

  /** A store into this slot succeeded (a peer's name, or '' for history.jsonl). */
  clear(slot: string): void {
    this.failing.delete(slot);
  }
}
