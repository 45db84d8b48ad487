import type { DeliveryBook } from './delivery.js';
import type { History, HistoryRecord } from './history.js';
import { ioError } from './journal.js';
import type { Outbox } from './outbox.js';
import type { StorageErrors } from './storage-errors.js';

/**
 * At start: repair history from the outbox (missingHistory), compact the outbox, and bring the
 * delivery marks back from it: delivered where the receipt was recorded, else pending. Returns
 * the history records written again.
 */
export function recoverStores(s: {
  history: History;
  outbox: Outbox;
  self: { id: string; name: string };
  delivery: DeliveryBook;
  errors: StorageErrors;
}): HistoryRecord[] {
  const missing = missingHistory(s.history, s.outbox, s.self);
  s.outbox.compact();
  const restore = (r: HistoryRecord): void => {
    const marks = s.outbox.marks(r.id);
    if (marks) s.delivery.restore(r.id, marks);
  };
  for (const r of missing) restore(r);
  for (const r of missing)
    s.history.add(r).catch((e: unknown) => s.errors.report(undefined, ioError(e, 'history.jsonl')));
  for (const conv of s.history.conversations()) for (const r of s.history.list(conv)) if (r.out) restore(r);
  return missing;
}

/**
 * The outbox record of a message is written before its history record; a crash between the two
 * (or a failed history write) leaves messages in the outbox that history lacks. They are the
 * newest outbox messages (both files are written in the same order), so walking the outbox from
 * its newest message back to the first one history has finds them all. Returns their history
 * records, oldest first; call before the outbox is compacted.
 */
export function missingHistory(
  history: History,
  outbox: Outbox,
  self: { id: string; name: string },
): HistoryRecord[] {
  const loaded = history.takeLoaded();
  const oldestLoadedTs = history.truncated ? (loaded[0]?.ts ?? Infinity) : -Infinity;
  const missing: HistoryRecord[] = [];
  const pending = outbox.loaded();
  for (let i = pending.length - 1; i >= 0; i--) {
    const m = pending[i]!;
    if (history.has(self.id, m.id) || m.ts < oldestLoadedTs) break;
    missing.unshift({
      id: m.id,
      conv: m.room ? 'room' : m.to[0]!,
      fromId: self.id,
      fromName: self.name,
      text: m.text,
      ts: m.ts,
      out: true,
    });
  }
  return missing;
}
