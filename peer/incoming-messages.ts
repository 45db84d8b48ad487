import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Session } from '../common/session/session.js';
import { decodeApp } from './app-message.js';
import type { AppMessage } from './app-message.js';
import { BulkIntake, type BulkSink } from './bulk-intake.js';
import { type BulkRecord, isBulkRecord } from './bulk-record.js';
import { isControlRecord } from './control-record.js';

/** Incoming message ids remembered per peer for dropping resends (a restart forgets them; the chat history does not). */
export const SEEN_IDS = 10_000;

/** Default pause before an incoming message whose store failed is offered to the store again. */
export const STORE_RETRY_MS = 2_000;

/** The application's store: a message is acknowledged once this resolves (LinkComponents.accept). */
export type MessageStore = (m: AppMessage) => Promise<void>;

export interface IncomingComponents {
  clock: Clock;
  logger: Logger;
  /** The peer's id (hex), for the log. */
  peer: string;
  /** How long after a rejected store to offer the message again. */
  retryMs: number;
  /** The link's current session: a message of another one is the sender's to resend. */
  current: () => Session | undefined;
  /** A message for the application (when there is no store). */
  emit: (m: AppMessage) => void;
  /** The application's consumer of bulk records, if it has one (peer/bulk-intake.ts). */
  bulkSink?: () => BulkSink | undefined;
  /** A `done` or `refused` reply to one of this side's bulk transfers (peer/bulk-intake.ts). */
  onReply?: (r: BulkRecord) => void;
  /** The application's taker of control records (peer/control-record.ts), if it has one. */
  control?: (data: Uint8Array) => void;
}

interface Unstored {
  sid: number;
  msg: AppMessage;
  session: Session;
}

/**
 * One peer's incoming messages: decoded, resends dropped by id, and acknowledged to the sender (the
 * session's release) only once the application's store has them. A store that fails keeps the
 * message unacknowledged and offers it again every `retryMs` while its session lasts.
 */
export class IncomingMessages {
  private readonly seen = new Set<string>();
  /** Stores under way, by message id (a resend on a new session waits for the same store). */
  private readonly storing = new Map<string, Promise<void>>();
  /** Messages of the current session whose store failed, waiting for the retry timer. */
  private unstored: Unstored[] = [];
  private retryTimer: TimerHandle | undefined;
  private readonly intake: BulkIntake;

  constructor(private readonly c: IncomingComponents) {
    this.intake = new BulkIntake(c);
  }

  /** Session message `sid` of session `s` arrived with these bytes. */
  receive(s: Session, sid: number, data: Uint8Array, store: MessageStore | undefined): void {
    if (isBulkRecord(data)) return this.intake.receive(s, sid, data, this.c.bulkSink?.());
    if (isControlRecord(data)) {
      s.release(sid);
      return this.c.control?.(data);
    }
    let m: AppMessage;
    try {
      m = decodeApp(data);
    } catch (e) {
      // Nothing to keep: acknowledged, so the sender does not offer it forever.
      this.c.logger.warn('dropped a malformed message', { peer: this.c.peer, error: String(e) });
      s.release(sid);
      return;
    }
    if (this.seen.has(m.id)) return void s.release(sid); // a resend after a reconnect: shown once
    if (!store) {
      this.remember(m.id);
      this.c.emit(m);
      return;
    }
    this.offer(s, sid, m, store);
  }

  /** The session ended: its unstored messages are the sender's to resend (it has no receipt for them). */
  sessionDropped(): void {
    this.unstored = [];
  }

  close(): void {
    this.intake.close();
    if (this.retryTimer !== undefined) this.c.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value!);
  }

  /** Hand a message to the store; acknowledge it when stored, else keep it for a retry. */
  private offer(s: Session, sid: number, m: AppMessage, store: MessageStore): void {
    let p = this.storing.get(m.id);
    if (!p) {
      p = Promise.resolve()
        .then(() => store(m))
        .then(
          () => {
            this.storing.delete(m.id);
            this.remember(m.id);
          },
          (e: unknown) => {
            this.storing.delete(m.id);
            throw e;
          },
        );
      this.storing.set(m.id, p);
    }
    p.then(
      () => s.release(sid),
      () => {
        if (this.c.current() !== s || s.state === 'closed') return; // the sender resends on the next session
        this.unstored.push({ sid, msg: m, session: s });
        this.armRetry(store);
      },
    );
  }

  private armRetry(store: MessageStore): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.c.clock.setTimeout(() => {
      this.retryTimer = undefined;
      const again = this.unstored;
      this.unstored = [];
      for (const u of again)
        if (u.session === this.c.current() && u.session.state !== 'closed')
          this.offer(u.session, u.sid, u.msg, store);
    }, this.c.retryMs);
  }
}
