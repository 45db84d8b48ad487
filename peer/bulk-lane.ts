import type { Clock } from '../common/clock.js';
import { type PunchlineError, closed } from '../common/errors.js';
import type { Session } from '../common/session/session.js';
import { BULK_CHUNK_BYTES, MAX_BULK_RECORD_BYTES, type BulkRecord, encodeBulk } from './bulk-record.js';

/** What a finished transfer took. */
export interface BulkResult {
  readonly bytes: number;
  /** From the first record handed to the session to the last one delivered. */
  readonly ms: number;
}

interface Transfer {
  readonly id: string;
  /** The session the transfer rides: if it ends, the transfer fails (resuming is the caller's). */
  session: Session | undefined;
  /** Session message ids handed over and not yet delivered. */
  readonly outstanding: Set<number>;
  failed: PunchlineError | undefined;
  /** The receiver's `done` reply came: its consumer took every byte. */
  done: boolean;
  wake: (() => void) | undefined;
  /**
   * Each record is encoded here: Session.send copies it, so one buffer serves the whole transfer
   * (a new 32 KiB record per send was a second large allocation per record beside the session's
   * own copy, and more work for the collector: docs/performance.md, file transfer).
   */
  readonly scratch: Uint8Array;
}

/**
 * One peer's bulk transfers, sender side: the source is read a chunk at a time, only as fast as
 * the session's send buffer takes it (memory stays bounded by that buffer whatever the size), and
 * each chunk goes as a bulk message (Session.send with `bulk`), so chat lines overtake the
 * backlog. A transfer is done when the peer has delivered every record, the last one included:
 * its receiver released each only once its consumer had it (peer/incoming-messages.ts).
 */
export class BulkLane {
  private readonly transfers = new Set<Transfer>();
  /** Session message id -> its transfer, for the current session. */
  private readonly bySid = new Map<number, Transfer>();
  /** The session whose events this lane follows, and how to stop following them. */
  private followed: { session: Session; off: () => void } | undefined;

  constructor(
    private readonly clock: Clock,
    /** The session records may go into now: open and cleared for this peer, else undefined. */
    private readonly session: () => Session | undefined,
  ) {}

  /**
   * Send `source` as transfer `id`, its first byte at `from` (a resumed transfer: the source
   * begins there, the records say where each piece goes). `bytes` of the result counts from there.
   * Each piece is copied into its record before the next is asked for, so a source may read
   * into one buffer again and again (peer/chat/file-send.ts does).
   */
  async send(id: string, source: AsyncIterable<Uint8Array> | Uint8Array, from = 0): Promise<BulkResult> {
    const t: Transfer = {
      id,
      session: undefined,
      outstanding: new Set(),
      failed: undefined,
      done: false,
      wake: undefined,
      scratch: new Uint8Array(MAX_BULK_RECORD_BYTES),
    };
    if (!this.session()) throw closed(`no open session for transfer ${id}: connect first`);
    this.transfers.add(t);
    try {
      const start = this.clock.now();
      let offset = from;
      for await (const piece of chunks(source)) {
        await this.put(t, piece, offset, false);
        offset += piece.length;
      }
      await this.put(t, new Uint8Array(0), offset, true);
      // Receipts say the records were taken; the `done` reply says the last one was (the receiver
      // acknowledges and drops records when nothing there takes them, and says `refused`).
      while (t.outstanding.size > 0 || !t.done) await this.sleep(t);
      return { bytes: offset - from, ms: this.clock.now() - start };
    } finally {
      this.transfers.delete(t);
      for (const sid of t.outstanding) this.bySid.delete(sid);
    }
  }

  /**
   * A control record (peer/control-record.ts) as an ordinary message on the open session: false
   * when there is none (the protocol on top says it again on the next one).
   */
  control(record: Uint8Array): boolean {
    const s = this.session();
    return s !== undefined && s.send(record) !== false;
  }

  /** Follow a session's receipts and room (once per session; a new one replaces the old). */
  private follow(s: Session): void {
    if (this.followed?.session === s) return;
    this.followed?.off();
    const offDelivered = s.on('delivered', (e) => this.delivered(s, e.id));
    const offWritable = s.on('writable', () => {
      for (const t of this.transfers) t.wake?.();
    });
    this.followed = {
      session: s,
      off: () => {
        offDelivered();
        offWritable();
      },
    };
  }

  /** The session delivered message `sid` (other messages' ids are not in bySid). */
  private delivered(s: Session, sid: number): void {
    const t = this.bySid.get(sid);
    if (!t || t.session !== s) return;
    this.bySid.delete(sid);
    t.outstanding.delete(sid);
    t.wake?.();
  }

  /** The receiver's reply for one of our transfers (peer/bulk-intake.ts); unknown ids are ignored. */
  reply(r: BulkRecord): void {
    for (const t of this.transfers) {
      if (t.id !== r.transfer) continue;
      if (r.reply === 'done') t.done = true;
      else t.failed = closed(`${t.id}: the peer takes no bulk data (refused)`);
      t.wake?.();
    }
  }

  /** The session a transfer rides ended: the transfer fails. */
  sessionEnded(s: Session): void {
    for (const t of this.transfers) {
      if (t.session !== s) continue;
      t.failed = closed(`session ended during transfer ${t.id}`);
      t.wake?.();
    }
    this.bySid.clear();
    if (this.followed?.session === s) this.followed.off();
    this.followed = undefined;
  }

  close(): void {
    for (const t of this.transfers) {
      t.failed = closed(`transfer ${t.id} cancelled: the peer link closed`);
      t.wake?.();
    }
    this.followed?.off();
    this.followed = undefined;
  }

  private async put(t: Transfer, data: Uint8Array, offset: number, last: boolean): Promise<void> {
    const record = encodeBulk({ transfer: t.id, offset, last, data }, t.scratch);
    for (;;) {
      if (t.failed) throw t.failed;
      const s = this.session();
      if (s && t.session === undefined) t.session = s;
      if (s && s === t.session) {
        this.follow(s);
        const sid = s.send(record, { bulk: true });
        if (sid !== false) {
          t.outstanding.add(sid);
          this.bySid.set(sid, t);
          return;
        }
      } else if (t.session !== undefined && s !== t.session) {
        throw closed(`session ended during transfer ${t.id}`);
      }
      await this.sleep(t);
    }
  }

  private sleep(t: Transfer): Promise<void> {
    if (t.failed) return Promise.reject(t.failed);
    return new Promise((resolve) => {
      t.wake = () => {
        t.wake = undefined;
        resolve();
      };
    });
  }
}

/** The source in pieces of at most BULK_CHUNK_BYTES (views, not copies: the session copies). */
async function* chunks(source: AsyncIterable<Uint8Array> | Uint8Array): AsyncGenerator<Uint8Array> {
  const split = function* (b: Uint8Array): Generator<Uint8Array> {
    for (let o = 0; o < b.length; o += BULK_CHUNK_BYTES) yield b.subarray(o, o + BULK_CHUNK_BYTES);
  };
  if (source instanceof Uint8Array) {
    yield* split(source);
    return;
  }
  for await (const b of source) yield* split(b);
}
