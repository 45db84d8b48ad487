import { PunchlineError } from '../../common/errors.js';
import { MAX_TEXT_BYTES } from '../app-message.js';
import type { History, HistoryRecord } from './history.js';
import { ioError } from './journal.js';
import type { StorageErrors } from './storage-errors.js';
import type { ChatEvents } from './types.js';

const DAY_MS = 86_400_000;
/** Messages remembered as shown but not yet stored. */
const SHOWN_UNSTORED_MAX = 10_000;

/** A message a peer sent us, as the node hands it over (presentation.ts incomingOf). */
export interface IncomingMessage {
  id: string;
  fromId: string;
  fromName: string;
  text: string;
  /** Sender's wall clock, ms since 1970. */
  ts: number;
  room: boolean;
  action?: boolean;
}

export interface IncomingHooks {
  history: History;
  errors: StorageErrors;
  /** Text bytes stored per sending peer per UTC day. */
  peerBytesPerDay: number;
  now: () => number;
  /** An error that is not a storage failure (a message dropped as malformed). */
  tell(e: ChatEvents['error']): void;
  /**
   * A new message arrived and is within quota: show it now, while it is being stored (the sender
   * hears `delivered` only once it is stored). Called once per message in a run, also when its
   * first store failed and the sender offers it again.
   */
  arrived(r: HistoryRecord): void;
}

/**
 * Incoming messages, stored before their sender may call them delivered: into history.jsonl
 * (fsync'd), within each sender's daily quota, once per sender and message id. A message is
 * shown as soon as it passes the quota, not after the fsync: the disk's latency stays off the
 * screen, and only the acknowledgement waits for it (docs/architecture.md, Storage).
 */
export class IncomingStore {
  /** Incoming messages refused (IO or QUOTA), retries included. */
  failures = 0;
  /** The UTC day `received` counts for. */
  private quotaDay = -1;
  /** Text bytes stored (or being stored) per sending peer on `quotaDay`. */
  private readonly received = new Map<string, number>();
  /** Shown, not yet stored ("sender|id"): a resend after a failed store is not shown twice. */
  private readonly shownUnstored = new Set<string>();

  constructor(private readonly h: IncomingHooks) {}

  /**
   * Store one message, then show it. A refusal (QUOTA) or a failure (IO) rejects: the session
   * keeps it unacknowledged and offers it again later (peer/peer-link.ts), and the sender keeps
   * it in its outbox.
   */
  async store(m: IncomingMessage): Promise<void> {
    const bytes = Buffer.byteLength(m.text);
    if (bytes > MAX_TEXT_BYTES) {
      // A conforming sender never sends it; storing would fail forever, so it is acknowledged and dropped.
      this.h.tell({
        code: 'MALFORMED',
        message: `dropped message ${m.id} from ${m.fromName}: ${bytes} bytes of text, at most ${MAX_TEXT_BYTES}`,
        peer: m.fromName,
      });
      return;
    }
    if (this.h.history.has(m.fromId, m.id)) return; // stored before: a resend after a lost receipt
    this.takeQuota(m, bytes);
    const rec: HistoryRecord = {
      id: m.id,
      conv: m.room ? 'room' : m.fromId,
      fromId: m.fromId,
      fromName: m.fromName,
      text: m.text,
      ts: m.ts,
      out: false,
      ...(m.action ? { action: true } : {}),
    };
    const key = `${m.fromId}|${m.id}`;
    if (!this.shownUnstored.has(key)) {
      this.shownUnstored.add(key);
      // Bounded while stores keep failing (a peer may resend across many sessions): past the
      // bound the oldest is forgotten, at worst shown once more when it comes again.
      if (this.shownUnstored.size > SHOWN_UNSTORED_MAX)
        this.shownUnstored.delete(this.shownUnstored.values().next().value!);
      this.h.arrived(rec);
    }
    let added: boolean;
    try {
      added = await this.h.history.add(rec);
    } catch (e) {
      this.giveBack(m.fromId, bytes);
      this.refuse(m.fromName, ioError(e, 'cannot store an incoming message in history.jsonl'));
    }
    this.shownUnstored.delete(key);
    if (!added) this.giveBack(m.fromId, bytes);
    this.h.errors.clear(m.fromName);
  }

  /** Count the bytes against the sender's quota for today, or refuse the message (QUOTA). */
  private takeQuota(m: IncomingMessage, bytes: number): void {
    const day = Math.floor(this.h.now() / DAY_MS);
    if (day !== this.quotaDay) {
      this.quotaDay = day;
      this.received.clear();
    }
    const used = this.received.get(m.fromId) ?? 0;
    const limit = this.h.peerBytesPerDay;
    if (used + bytes > limit)
      this.refuse(
        m.fromName,
        new PunchlineError(
          'QUOTA',
          `${m.fromName} reached today's storage quota (${used} of ${limit} bytes); its messages wait unacknowledged until tomorrow`,
        ),
      );
    this.received.set(m.fromId, used + bytes);
  }

  private giveBack(peerId: string, bytes: number): void {
    this.received.set(peerId, (this.received.get(peerId) ?? bytes) - bytes);
  }

  private refuse(peer: string, err: PunchlineError): never {
    this.failures++;
    this.h.errors.report(peer, err);
    throw err;
  }
}
