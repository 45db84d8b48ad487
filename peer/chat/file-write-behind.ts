import { writeAll, type FileHandle } from './file-store.js';

/**
 * Received bytes are gathered into writes of this size: one write(2) per 32 KiB record cost a
 * thread-pool round trip each, and while it ran the record held the session's receive window.
 */
export const FLUSH_BYTES = 1024 * 1024;
/** Written bytes are synced, and their offset saved to files.json, this often: what a crash can lose. */
export const SYNC_EVERY_BYTES = 8 * 1024 * 1024;

export interface WriteBehindOptions {
  flushBytes?: number;
  syncEveryBytes?: number;
  /** The first `offset` bytes are on disk and synced (fsync returned): files.json may say so. */
  onSynced(offset: number): void;
}

/**
 * The receiving side's writes to one temporary file, behind the network: `put` copies a record
 * into a buffer and returns at once (the record can be acknowledged) unless both buffers are
 * taken, one filling and one being written, so memory stays within 2 x FLUSH_BYTES per transfer
 * and a slow disk slows the sender through the session's window. Every SYNC_EVERY_BYTES of
 * completed writes an fsync runs beside the next writes (it covers what was written before it
 * started) and only then `onSynced` moves the durable offset: a crash loses buffered and unsynced
 * bytes, and resume never counts them. The first failure (a full disk) is kept and thrown by every
 * later call.
 */
export class WriteBehind {
  /** Bytes put so far (buffered or on disk), as a file position. */
  taken: number;
  /** Bytes whose write completed. */
  private written: number;
  private synced: number;
  private buf: Uint8Array | undefined;
  private spare: Uint8Array | undefined;
  private fill = 0;
  /** The write under way (at most one), and the background fsync. */
  private writing: Promise<void> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private failure: unknown;
  private readonly flushBytes: number;
  private readonly syncEvery: number;

  constructor(
    private readonly h: FileHandle,
    at: number,
    private readonly o: WriteBehindOptions,
  ) {
    this.taken = this.written = this.synced = at;
    this.flushBytes = o.flushBytes ?? FLUSH_BYTES;
    this.syncEvery = o.syncEveryBytes ?? SYNC_EVERY_BYTES;
  }

  /** Take `data` (the next bytes of the file); resolves once it is buffered (or written). */
  async put(data: Uint8Array): Promise<void> {
    this.check();
    for (let at = 0; at < data.length;) {
      this.buf ??= this.spare ?? new Uint8Array(this.flushBytes);
      this.spare = undefined;
      const n = Math.min(data.length - at, this.buf.length - this.fill);
      this.buf.set(data.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      this.taken += n;
      if (this.fill === this.buf.length) await this.flush();
    }
  }

  /** Everything put is written (not synced); throws the first failure. */
  async drain(): Promise<void> {
    if (this.fill > 0) await this.flush();
    await this.writing;
    this.check();
  }

  /** Everything put is written and synced; returns that offset. */
  async sync(): Promise<number> {
    await this.drain();
    await this.syncing;
    this.check();
    if (this.synced < this.written) {
      const upTo = this.written;
      await this.h.sync();
      this.synced = upTo;
    }
    return this.synced;
  }

  /** Wait for the write and fsync under way (before the handle closes); never throws. */
  async settle(): Promise<void> {
    await this.writing.catch(() => {});
    await this.syncing?.catch(() => {});
    this.buf = this.spare = undefined;
  }

  /** Hand the full buffer to a write once the one before it finished (the bound on memory). */
  private async flush(): Promise<void> {
    await this.writing;
    this.check();
    const buf = this.buf!;
    const data = buf.subarray(0, this.fill);
    const at = this.taken - this.fill;
    this.buf = undefined;
    this.fill = 0;
    this.writing = writeAll(this.h, data, at).then(
      () => {
        this.written = at + data.length;
        this.spare = buf;
        this.syncSoon();
      },
      (e: unknown) => {
        this.failure ??= e;
      },
    );
  }

  /** Past SYNC_EVERY_BYTES unsynced: fsync what is written, beside the next writes. */
  private syncSoon(): void {
    if (this.syncing || this.written - this.synced < this.syncEvery) return;
    const upTo = this.written;
    this.syncing = this.h.sync().then(
      () => {
        this.syncing = undefined;
        this.synced = Math.max(this.synced, upTo);
        if (this.failure === undefined) this.o.onSynced(this.synced);
      },
      (e: unknown) => {
        this.syncing = undefined;
        this.failure ??= e;
      },
    );
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
