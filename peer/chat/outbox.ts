import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PunchlineError } from '../../common/errors.js';
import { MAX_TEXT_BYTES, isTimestamp } from '../app-message.js';
import { Journal, ioError } from './journal.js';
import type { JournalFs } from './journal.js';

/**
 * Every outgoing message is written here before it is handed to a session: ONE record that
 * names all its recipients (a room message waits for every member it was sent to, as one atomic
 * write), then one `done` record per recipient when that recipient's receipt comes back. What is
 * not done on start-up is sent again when the recipient's session opens: the receiver drops
 * duplicates by message id, so nothing typed is lost and nothing is shown twice.
 *
 * On start the file is compacted (a new file renamed over the old one): pending messages keep
 * their text, delivered ones keep only their marks (who it went to, who has it), the newest
 * MARKS_KEPT of them, so delivery marks come back exactly after a restart.
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

export interface OutboxMessage {
  id: string;
  to: string[];
  room: boolean;
  text: string;
  ts: number;
  /** A "/me" action (peer/app-message.ts). */
  action?: boolean;
}

type Record_ =
  | {
      op: 'queue';
      id: string;
      to: string | string[];
      room: boolean;
      text: string;
      ts: number;
      action?: boolean;
    }
  | { op: 'done'; id: string; to: string }
  | { op: 'marks'; id: string; to: string[]; done: string[] };

const strings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string');

/**
 * A usable record. `ts` must be a time: JSON.parse reads 1e999 as Infinity, which would go out
 * as `"ts":null`, and 1e308 is no date; the receiver drops both as malformed (peer/app-message.ts).
 */
const isRecord = (v: unknown): v is Record_ => {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string') return false;
  if (r.op === 'done') return typeof r.to === 'string';
  if (r.op === 'marks')
    return strings(r.to) && Array.isArray(r.done) && r.done.every((s) => typeof s === 'string');
  return (
    r.op === 'queue' &&
    (typeof r.to === 'string' || strings(r.to)) &&
    typeof r.text === 'string' &&
    isTimestamp(r.ts) &&
    typeof r.room === 'boolean'
  );
};

/** Delivered messages whose marks are kept across restarts. */
const MARKS_KEPT = 10_000;
/** One outbox line: a MAX_TEXT_BYTES text JSON-escaped (at most 6 bytes a byte) and up to a room of recipients. */
const MAX_OUTBOX_RECORD_BYTES = 6 * MAX_TEXT_BYTES + 64 * 1024;

interface Held {
  id: string;
  to: string[];
  done: Set<string>;
  room: boolean;
  /** undefined once delivered to everyone (only the marks are kept) */
  text: string | undefined;
  ts: number;
  action?: boolean;
}

export class Outbox {
  private readonly journal: Journal<Record_>;
  private readonly messages = new Map<string, Held>();
  /** Damaged, over-limit or unknown records skipped at load. */
  readonly skipped: number;

  constructor(dataDir: string, opts: { durable?: boolean; fs?: JournalFs } = {}) {
    const file = path.join(dataDir, 'outbox.jsonl');
    this.journal = new Journal(file, isRecord, {
      durable: opts.durable ?? true,
      maxRecordBytes: MAX_OUTBOX_RECORD_BYTES,
      ...(opts.fs ? { fs: opts.fs } : {}),
    });
    let bad = 0;
    let lines = 0;
    const { skipped } = this.journal.scan((r) => {
      lines++;
      if (r.op === 'queue') {
        // A text over the limit (written by an older version) is never sent: it would only fail again.
        if (Buffer.byteLength(r.text) > MAX_TEXT_BYTES) return void bad++;
        const to = typeof r.to === 'string' ? [r.to] : r.to;
        const m = this.messages.get(r.id);
        if (m) {
          for (const t of to) if (!m.to.includes(t)) m.to.push(t); // old per-recipient records
        } else
          this.messages.set(r.id, {
            id: r.id,
            to: [...to],
            done: new Set(),
            room: r.room,
            text: r.text,
            ts: r.ts,
            ...(r.action === true ? { action: true } : {}),
          });
      } else if (r.op === 'done') {
        const m = this.messages.get(r.id);
        if (m && m.to.includes(r.to)) m.done.add(r.to);
      } else {
        this.messages.set(r.id, {
          id: r.id,
          to: r.to,
          done: new Set(r.done),
          room: false,
          text: undefined,
          ts: 0,
        });
      }
    });
    this.skipped = skipped + bad;
    this.file = file;
    this.durable = opts.durable ?? true;
    this.needsCompaction = lines > 0 || this.skipped > 0;
  }

  private readonly file: string;
  private readonly durable: boolean;
  private needsCompaction: boolean;

  /**
   * Every message read at start that still has its text, in the order written (delivered ones
   * too, until compact()): what history recovery compares against.
   */
  loaded(): OutboxMessage[] {
    return [...this.messages.values()]
      .filter((m) => m.text !== undefined)
      .map((m) => ({ id: m.id, to: [...m.to], room: m.room, text: m.text!, ts: m.ts }));
  }

  /**
   * Drop the text of messages delivered to everyone (their marks stay, MARKS_KEPT of them) and
   * rewrite the file with what is still needed. Called once at start, after recovery.
   */
  compact(): void {
    for (const m of this.messages.values()) if (m.to.every((t) => m.done.has(t))) m.text = undefined;
    this.trimMarks();
    if (this.needsCompaction) this.rewrite(this.file, this.durable);
    this.needsCompaction = false;
  }

  private trimMarks(): void {
    let delivered = 0;
    for (const m of this.messages.values()) if (m.text === undefined) delivered++;
    for (const [id, m] of this.messages) {
      if (delivered <= MARKS_KEPT) break;
      if (m.text === undefined) {
        this.messages.delete(id);
        delivered--;
      }
    }
  }

  /** Rewrite the file with what is still needed (write a new file, fsync, rename over the old). */
  private rewrite(file: string, durable: boolean): void {
    const tmp = `${file}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        for (const m of this.messages.values()) {
          const rec: Record_[] =
            m.text === undefined
              ? [{ op: 'marks', id: m.id, to: m.to, done: [...m.done] }]
              : [
                  {
                    op: 'queue',
                    id: m.id,
                    to: m.to,
                    room: m.room,
                    text: m.text,
                    ts: m.ts,
                    ...(m.action ? { action: true } : {}),
                  },
                  ...[...m.done].map((to): Record_ => ({ op: 'done', id: m.id, to })),
                ];
          for (const r of rec) writeSync(fd, JSON.stringify(r) + '\n');
        }
        if (durable) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (e) {
      throw ioError(e, `cannot compact ${file}`);
    }
  }

  /** Write one message for all its recipients; resolves once it is on disk. Nothing is written if it is refused. */
  async add(m: OutboxMessage): Promise<void> {
    if (Buffer.byteLength(m.text) > MAX_TEXT_BYTES)
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `text is ${Buffer.byteLength(m.text)} bytes; at most ${MAX_TEXT_BYTES} fit in one message`,
      );
    if (this.messages.has(m.id)) return;
    // In memory before the write completes: the message is already on its way, and its receipt
    // (done) may come back before the fsync; its 'done' record is appended after this one.
    this.messages.set(m.id, { ...m, to: [...m.to], done: new Set() });
    try {
      await this.journal.append({ op: 'queue', ...m });
    } catch (e) {
      this.messages.delete(m.id);
      throw e;
    }
  }

  /** A recipient's receipt came back: recorded at once in memory, on disk with the next batch. */
  done(id: string, to: string): Promise<boolean> {
    const m = this.messages.get(id);
    if (!m || !m.to.includes(to) || m.done.has(to)) return Promise.resolve(false);
    m.done.add(to);
    if (m.to.every((t) => m.done.has(t))) m.text = undefined;
    return this.journal.append({ op: 'done', id, to }).then(() => true);
  }

  /** Undelivered messages for one recipient, oldest first. */
  pendingFor(to: string): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const m of this.messages.values())
      if (m.text !== undefined && m.to.includes(to) && !m.done.has(to))
        out.push({
          id: m.id,
          to,
          room: m.room,
          text: m.text,
          ts: m.ts,
          ...(m.action ? { action: true } : {}),
        });
    return out.sort((a, b) => a.ts - b.ts);
  }

  /** Who a message went to and who has it (also for delivered messages, MARKS_KEPT of them). */
  marks(id: string): { to: string[]; done: string[] } | undefined {
    const m = this.messages.get(id);
    return m ? { to: [...m.to], done: [...m.done] } : undefined;
  }

  isPending(id: string, to: string): boolean {
    const m = this.messages.get(id);
    return m !== undefined && m.to.includes(to) && !m.done.has(to);
  }

  get size(): number {
    let n = 0;
    for (const m of this.messages.values()) for (const t of m.to) if (!m.done.has(t)) n++;
    return n;
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
