import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Session } from '../common/session/session.js';
import { type BulkRecord, decodeBulk } from './bulk-record.js';

/** The application's consumer of bulk records: a record is acknowledged once this resolves. */
export type BulkSink = (r: BulkRecord) => Promise<void>;

export interface IntakeComponents {
  clock: Clock;
  logger: Logger;
  peer: string;
  retryMs: number;
  current: () => Session | undefined;
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
 * session lasts, and the records behind it wait. Without a sink, or for a malformed record, the
 * record is acknowledged and dropped (logged).
 */
export class BulkIntake {
  private warnedNoSink = false;
  private queue: Queued[] = [];
  private busy = false;
  private timer: TimerHandle | undefined;

  constructor(private readonly c: IntakeComponents) {}

  receive(s: Session, sid: number, data: Uint8Array, sink: BulkSink | undefined): void {
    let r: BulkRecord;
    try {
      r = decodeBulk(data);
    } catch (e) {
      this.c.logger.warn('dropped a malformed bulk record', { peer: this.c.peer, error: String(e) });
      return void s.release(sid);
    }
    if (!sink) {
      if (!this.warnedNoSink)
        this.c.logger.warn('dropped bulk records: nothing here takes them', { peer: this.c.peer });
      this.warnedNoSink = true;
      return void s.release(sid);
    }
    this.queue.push({ s, sid, r, sink });
    this.next();
  }

  close(): void {
    this.c.clock.clearTimeout(this.timer);
    this.timer = undefined;
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
        () => {
          this.busy = false;
          this.queue.shift();
          if (this.live(q.s)) q.s.release(q.sid);
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

  private live(s: Session): boolean {
    return this.c.current() === s && s.state !== 'closed';
  }
}
