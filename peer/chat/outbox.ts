import path from 'node:path';
import { isTimestamp } from '../app-message.js';
import { Journal } from './journal.js';

/**
 * Every outgoing message is written here before it is shown as pending, once per recipient,
 * and marked done when that recipient's receipt comes back. What is not done on start-up is
 * sent again when the recipient's session opens: the receiver drops duplicates by message id,
 * so nothing typed is lost and nothing is shown twice.
 */
export interface OutboxEntry {
  id: string; // message id (nanoid), shared by all recipients of a room message
  to: string; // recipient peer id
  room: boolean;
  text: string;
  ts: number;
  /** A "/me" action (peer/app-message.ts). */
  action?: boolean;
}

type Record_ = ({ op: 'queue' } & OutboxEntry) | { op: 'done'; id: string; to: string };

/**
 * A usable record. `ts` must be a time: JSON.parse reads 1e999 as Infinity, which would go out
 * as `"ts":null`, and 1e308 is no date; the receiver drops both as malformed (peer/app-message.ts).
 */
const isRecord = (v: unknown): v is Record_ => {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.to !== 'string') return false;
  if (r.op === 'done') return true;
  return r.op === 'queue' && typeof r.text === 'string' && isTimestamp(r.ts) && typeof r.room === 'boolean';
};

const key = (id: string, to: string): string => `${id}|${to}`;

export class Outbox {
  private readonly journal: Journal<Record_>;
  private readonly pending = new Map<string, OutboxEntry>();
  readonly skipped: number;

  constructor(dataDir: string, durable = true) {
    this.journal = new Journal(path.join(dataDir, 'outbox.jsonl'), isRecord, durable);
    const { records, skipped } = this.journal.load();
    this.skipped = skipped;
    for (const r of records) {
      if (r.op === 'queue')
        this.pending.set(key(r.id, r.to), { id: r.id, to: r.to, room: r.room, text: r.text, ts: r.ts });
      else this.pending.delete(key(r.id, r.to));
    }
  }

  add(e: OutboxEntry): void {
    if (this.pending.has(key(e.id, e.to))) return;
    this.journal.append({ op: 'queue', ...e });
    this.pending.set(key(e.id, e.to), e);
  }

  done(id: string, to: string): boolean {
    if (!this.pending.delete(key(id, to))) return false;
    this.journal.append({ op: 'done', id, to });
    return true;
  }

  /** Undelivered messages for one recipient, oldest first. */
  pendingFor(to: string): OutboxEntry[] {
    return [...this.pending.values()].filter((e) => e.to === to).sort((a, b) => a.ts - b.ts);
  }

  /** The recipients one message still waits for. */
  forMessage(id: string): OutboxEntry[] {
    return [...this.pending.values()].filter((e) => e.id === id);
  }

  isPending(id: string, to: string): boolean {
    return this.pending.has(key(id, to));
  }

  get size(): number {
    return this.pending.size;
  }

  close(): void {
    this.journal.close();
  }
}
