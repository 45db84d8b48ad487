import path from 'node:path';
import type { ChatMessage, ConversationId } from './types.js';
import { isTimestamp } from '../app-message.js';
import { Journal } from './journal.js';

/**
 * Conversation history: one append-only journal for all conversations (history.jsonl), reloaded
 * into scrollback on start. It also remembers which incoming message ids were seen, so a message
 * resent after a restart (the sender's outbox) is shown once.
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

/** How many messages per conversation stay in memory for scrollback (the file keeps all). */
export const SCROLLBACK = 2000;

export const toConversation = (conv: string): ConversationId =>
  conv === 'room' ? { kind: 'room' } : { kind: 'peer', peerId: conv };

export class History {
  private readonly journal: Journal<HistoryRecord>;
  private readonly byConv = new Map<string, HistoryRecord[]>();
  private readonly seen = new Set<string>();
  readonly skipped: number;

  constructor(dataDir: string, durable = true) {
    this.journal = new Journal(path.join(dataDir, 'history.jsonl'), isRecord, durable);
    const { records, skipped } = this.journal.load();
    this.skipped = skipped;
    for (const r of records) this.remember(r);
  }

  private remember(r: HistoryRecord): void {
    this.seen.add(`${r.fromId}|${r.id}`);
    let list = this.byConv.get(r.conv);
    if (!list) this.byConv.set(r.conv, (list = []));
    list.push(r);
    if (list.length > SCROLLBACK) list.splice(0, list.length - SCROLLBACK);
  }

  /** Has a message with this id from this sender been recorded? */
  has(fromId: string, id: string): boolean {
    return this.seen.has(`${fromId}|${id}`);
  }

  /** Record a message; returns false (and records nothing) if it is a duplicate. */
  add(r: HistoryRecord): boolean {
    if (this.has(r.fromId, r.id)) return false;
    this.journal.append(r);
    this.remember(r);
    return true;
  }

  list(conv: string, limit = SCROLLBACK): HistoryRecord[] {
    const l = this.byConv.get(conv) ?? [];
    return l.slice(Math.max(0, l.length - limit));
  }

  conversations(): string[] {
    return [...this.byConv.keys()];
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

  close(): void {
    this.journal.close();
  }
}
