import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Session } from '../common/session/session.js';
import { type BulkRecord, decodeBulk, encodeBulk } from './bulk-record.js';

/**
 * The application's consumer of bulk records: a record is acknowledged once this resolves. It
 * resolves 'refused' for a transfer it does not take (unknown, cancelled): the record is dropped
 * and the sender hears `refused`.
 */
export type BulkSink = (r: BulkRecord) => Promise<void | 'refused'>;

/** Replies waiting for room in our send buffer: one per transfer normally, a bound against many. */
const MAX_WAITING_REPLIES = 64;

export interface IntakeComponents {
  clock: Clock;
  logger: Logger;
  peer: string;
  retryMs: number;
  current: () => Session | undefined;
  /** A reply to one of this side's transfers (`done` or `refused`): for peer/bulk-lane.ts. */
  onReply?: (r: BulkRecord) => void;
}

interface Queued {
  readonly s: Session;
  readonly sid: number;
  readonly r: BulkRecord;
  readonly sink: BulkSink;
}

/**
 * One peer's incoming bulk records, receiver side. They go to the application's sink one at a
 * time, in stream order, and each is released to the session (so the sender hears it delivered)
 * only once the sink resolves: records waiting hold the session's receive window, which bounds
 * this side's memory. A sink that rejects gets the same record again after `retryMs` while the
 * session lasts, and the records behind it wait. Once the sink took a transfer's last record, a
 * `done` reply goes back (the sender's transfer completes on it, not on receipts alone). Without
 * a sink the record is acknowledged and dropped, and a transfer's first and last records are
 * answered `refused` (a reply is smaller than the record it answers). A malformed record is
 * acknowledged and dropped (logged).
 */
export class BulkIntake {
  private warnedNoSink = false;
  private queue: Queued[] = [];
  private busy = false;
  private timer: TimerHandle | undefined;
  /** Replies our full send buffer refused, tried again on `replyTimer`. */
  private waitingReplies: { s: Session; record: Uint8Array }[] = [];
  private replyTimer: TimerHandle | undefined;

  constructor(private readonly c: IntakeComponents) {}

  receive(s: Session, sid: number, data: Uint8Array, sink: BulkSink | undefined): void {
    let r: BulkRecord;
    try {
      r = decodeBulk(data);
    } catch (e) {
      this.c.logger.warn('dropped a malformed bulk record', { peer: this.c.peer, error: String(e) });
      return void s.release(sid);
    }
    if (r.reply !== undefined) {
      s.release(sid);
      return this.c.onReply?.(r);
    }
    if (!sink) {
      if (!this.warnedNoSink)
        this.c.logger.warn('dropped bulk records: nothing here takes them', { peer: this.c.peer });
      this.warnedNoSink = true;
      s.release(sid);
      if (r.offset === 0 || r.last) this.answer(s, r, 'refused');
      return;
    }
    this.queue.push({ s, sid, r, sink });
    this.next();
  }

  close(): void {
    this.c.clock.clearTimeout(this.timer);
    this.c.clock.clearTimeout(this.replyTimer);
    this.timer = this.replyTimer = undefined;
    this.waitingReplies = [];
    this.queue = [];
  }

  /** Offer the oldest record, unless one is with the sink or waiting to be offered again. */
  private next(): void {
    if (this.busy || this.timer) return;
    // Records of a session that ended are the sender's to send again.
    while (this.queue.length > 0 && !this.live(this.queue[0]!.s)) this.queue.shift();
    const q = this.queue[0];
    if (!q) return;
    this.busy = true;
    Promise.resolve()
      .then(() => q.sink(q.r))
      .then(
        (outcome: void | 'refused') => {
          this.busy = false;
          this.queue.shift();
          if (this.live(q.s)) {
            q.s.release(q.sid);
            if (outcome === 'refused') this.answer(q.s, q.r, 'refused');
            else if (q.r.last) this.answer(q.s, q.r, 'done');
          }
          this.next();
        },
        (e: unknown) => {
          this.busy = false;
          this.c.logger.warn('bulk record not taken; offered again', {
            peer: this.c.peer,
            transfer: q.r.transfer,
            offset: q.r.offset,
            error: String(e),
          });
          this.timer = this.c.clock.setTimeout(() => {
            this.timer = undefined;
            this.next();
          }, this.c.retryMs);
        },
      );
  }

  /**
   * A reply for the transfer `r` belongs to, as an ordinary (not bulk) message. If our send
   * buffer is full it waits and is tried again every `retryMs` (at most MAX_WAITING_REPLIES).
   */
  private answer(s: Session, r: BulkRecord, reply: 'done' | 'refused'): void {
    const data = new Uint8Array(0);
    const record = encodeBulk({ transfer: r.transfer, offset: r.offset, last: false, data, reply });
    if (!this.live(s) || s.send(record) !== false) return;
    if (this.waitingReplies.length < MAX_WAITING_REPLIES) this.waitingReplies.push({ s, record });
    this.armReplies();
  }

  private armReplies(): void {
    if (this.replyTimer || this.waitingReplies.length === 0) return;
    this.replyTimer = this.c.clock.setTimeout(() => {
      this.replyTimer = undefined;
      this.waitingReplies = this.waitingReplies.filter((w) => this.live(w.s) && w.s.send(w.record) === false);
      this.armReplies();
    }, this.c.retryMs);
  }

  private live(s: Session): boolean {
    return this.c.current() === s && s.state !== 'closed';
  }
}
