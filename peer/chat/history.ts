import path from 'node:path';
import { MAX_TEXT_BYTES } from '../app-message.js';
import type { ChatMessage, ConversationId } from './types.js';
import { isTimestamp } from '../app-message.js';
import { Journal } from './journal.js';
import type { JournalFs } from './journal.js';

/**
 * Conversation history: one append-only journal for all conversations (history.jsonl). On start
 * only its tail is read (paged loading: `tailBytes`, whatever the file's size) into scrollback,
 * itself bounded per conversation in messages and bytes. The file rotates at `maxBytes`
 * (history.jsonl -> history.1.jsonl), so the disk holds at most about twice that. It also
 * remembers which incoming message ids were seen (those loaded and those of this run, bounded),
 * so a message resent after a restart (the sender's outbox) is stored and shown once.
 */
export interface HistoryRecord {
  id: string;
  conv: 'room' | string; // 'room' or the other peer's id
  fromId: string;
  fromName: string;
  text: string;
  ts: number;
  out: boolean;
  /** A "/me" action (peer/app-message.ts). */
  action?: boolean;
}

const isRecord = (v: unknown): v is HistoryRecord => {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.id === 'string' &&
    typeof r.conv === 'string' &&
    typeof r.fromId === 'string' &&
    typeof r.fromName === 'string' &&
    typeof r.text === 'string' &&
    isTimestamp(r.ts) && // not Infinity (1e999 parses so) nor 1e308: a time to show
    typeof r.out === 'boolean'
  );
};

/** How many messages per conversation stay in memory for scrollback (the file keeps more). */
const SCROLLBACK = 2000;

const HISTORY_DEFAULTS = {
  /** Rotate history.jsonl at this size (one rotated file is kept). */
  maxBytes: 64 * 1024 * 1024,
  /** Read at most this much of the end of history.jsonl at start. */
  tailBytes: 8 * 1024 * 1024,
  /** Text kept in memory per conversation for scrollback (the newest message always stays). */
  scrollbackBytes: 4 * 1024 * 1024,
  /** Incoming message ids remembered for dropping resends (FIFO). */
  seenIds: 100_000,
};

/**
 * One history line holds a message of up to MAX_TEXT_BYTES; JSON escaping can at most sextuple
 * it (\u0000 for each byte), plus the other fields.
 */
const MAX_HISTORY_RECORD_BYTES = 6 * MAX_TEXT_BYTES + 4096;

export interface HistoryOptions {
  durable?: boolean;
  maxBytes?: number;
  tailBytes?: number;
  scrollbackBytes?: number;
  seenIds?: number;
  fs?: JournalFs;
}

const toConversation = (conv: string): ConversationId =>
  conv === 'room' ? { kind: 'room' } : { kind: 'peer', peerId: conv };

interface Scrollback {
  list: HistoryRecord[];
  bytes: number;
}

export class History {
  private readonly journal: Journal<HistoryRecord>;
  private readonly byConv = new Map<string, Scrollback>();
  private readonly seen = new Set<string>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly scrollbackBytes: number;
  private readonly seenIds: number;
  readonly skipped: number;
  /** Bytes read at start (at most tailBytes). */
  readonly bytesRead: number;
  /** The tail did not reach the start of the file: older records were not read. */
  readonly truncated: boolean;
  /** The records read at start, oldest first (for recovery; not kept). */
  private loaded: HistoryRecord[] | undefined;

  constructor(dataDir: string, opts: HistoryOptions = {}) {
    this.scrollbackBytes = opts.scrollbackBytes ?? HISTORY_DEFAULTS.scrollbackBytes;
    this.seenIds = opts.seenIds ?? HISTORY_DEFAULTS.seenIds;
    this.journal = new Journal(path.join(dataDir, 'history.jsonl'), isRecord, {
      durable: opts.durable ?? true,
      maxRecordBytes: MAX_HISTORY_RECORD_BYTES,
      rotateAtBytes: opts.maxBytes ?? HISTORY_DEFAULTS.maxBytes,
      ...(opts.fs ? { fs: opts.fs } : {}),
    });
    const { records, skipped, bytesRead, truncated } = this.journal.loadTail(
      opts.tailBytes ?? HISTORY_DEFAULTS.tailBytes,
    );
    let bad = skipped;
    for (const r of records) {
      // Over-limit text from an older version: skipped, never shown or resent.
      if (Buffer.byteLength(r.text) > MAX_TEXT_BYTES) bad++;
      else if (!this.seen.has(key(r.fromId, r.id))) this.remember(r);
    }
    this.skipped = bad;
    this.bytesRead = bytesRead;
    this.truncated = truncated;
    this.loaded = records;
  }

  /** The records read at start; handed out once (recovery), then dropped. */
  takeLoaded(): HistoryRecord[] {
    const l = this.loaded ?? [];
    this.loaded = undefined;
    return l;
  }

  private remember(r: HistoryRecord): void {
    this.seen.add(key(r.fromId, r.id));
    if (this.seen.size > this.seenIds) this.seen.delete(this.seen.values().next().value!);
    let sb = this.byConv.get(r.conv);
    if (!sb) this.byConv.set(r.conv, (sb = { list: [], bytes: 0 }));
    sb.list.push(r);
    sb.bytes += r.text.length;
    let drop = 0;
    while (
      sb.list.length - drop > 1 &&
      (sb.list.length - drop > SCROLLBACK || sb.bytes > this.scrollbackBytes)
    )
      sb.bytes -= sb.list[drop++]!.text.length;
    if (drop > 0) sb.list.splice(0, drop);
  }

  /** Has a message with this id from this sender been recorded? */
  has(fromId: string, id: string): boolean {
    return this.seen.has(key(fromId, id));
  }

  /**
   * Record a message durably; resolves true once it is on disk, false if it was already
   * recorded. Rejects (IO, BAD_ARGUMENT) with nothing recorded.
   */
  add(r: HistoryRecord): Promise<boolean> {
    const k = key(r.fromId, r.id);
    if (this.seen.has(k)) return Promise.resolve(false);
    const running = this.inflight.get(k);
    if (running) return running.then(() => false);
    const p = this.journal.append(r).then(
      () => {
        this.inflight.delete(k);
        this.remember(r);
        return true;
      },
      (e: unknown) => {
        this.inflight.delete(k);
        throw e;
      },
    );
    this.inflight.set(k, p);
    return p;
  }

  list(conv: string, limit = SCROLLBACK): HistoryRecord[] {
    const l = this.byConv.get(conv)?.list ?? [];
    return l.slice(Math.max(0, l.length - limit));
  }

  conversations(): string[] {
    return [...this.byConv.keys()];
  }

  /** Text bytes held in memory for scrollback (tests: bounded whatever was received). */
  get memoryBytes(): number {
    let n = 0;
    for (const sb of this.byConv.values()) n += sb.bytes;
    return n;
  }

  static toMessage(r: HistoryRecord): ChatMessage {
    return {
      id: r.id,
      conversation: toConversation(r.conv),
      fromId: r.fromId,
      fromName: r.fromName,
      text: r.text,
      ts: r.ts,
      outgoing: r.out,
      ...(r.action === true ? { action: true } : {}),
    };
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}

const key = (fromId: string, id: string): string => `${fromId}|${id}`;
