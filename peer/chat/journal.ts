import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { PunchlineError, badArgument } from '../../common/errors.js';

/**
 * The file operations a journal needs, as a seam: tests put a full disk (ENOSPC) or a crash
 * between two writes behind it without root. The default is node:fs/promises.
 */
export interface JournalHandle {
  write(buf: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}
export interface JournalFs {
  /** Open for appending (create 0600, in a 0700 directory). */
  openAppend(file: string): Promise<JournalHandle>;
  rename(from: string, to: string): Promise<void>;
}

export const nodeJournalFs: JournalFs = {
  async openAppend(file) {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    return open(file, 'a+', 0o600);
  },
  rename: (from, to) => rename(from, to),
};

/** A file-system failure is IO whatever its errno (ENOSPC, EROFS, EACCES, EDQUOT, EIO...). */
export function ioError(e: unknown, what: string): PunchlineError {
  if (e instanceof PunchlineError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return new PunchlineError('IO', `${what}: ${code && !message.includes(code) ? `${code} ` : ''}${message}`, {
    cause: e,
  });
}

export interface JournalOptions {
  /** fsync each batch before its appends resolve (default true; tests may turn it off). */
  durable?: boolean;
  /** A record longer than this (its JSON line, in bytes) is refused before anything is written, and skipped at load. */
  maxRecordBytes?: number;
  /**
   * Rotate when a batch would take the file past this many bytes: the file becomes FILE.1
   * (replacing an older FILE.1) and a fresh file starts. Default: never.
   */
  rotateAtBytes?: number;
  /** One write + fsync per record instead of per batch (the benchmark's baseline). */
  perRecordSync?: boolean;
  fs?: JournalFs;
}

export interface LoadResult<T> {
  records: T[];
  /** Torn, invalid or over-limit lines skipped. */
  skipped: number;
  /** Bytes read from the file. */
  bytesRead: number;
}

interface Waiter {
  buf: Buffer;
  resolve: () => void;
  reject: (e: PunchlineError) => void;
}

const CHUNK = 1 << 20;

/**
 * An append-only JSON-lines file. Records appended within one turn of the event loop form a
 * batch: one write and one fsync for all of them (group commit), off the event loop, and every
 * append() of the batch resolves only after that fsync. A batch that fails rejects every one of
 * its appends and is cut off the file again (ftruncate to where it began), so a record is on
 * disk only if its append resolved; a crash mid-write leaves a torn last line that load skips
 * and the next append starts on a fresh line. Nothing is rewritten in place.
 */
export class Journal<T> {
  private handle: JournalHandle | undefined;
  private size = 0;
  private checkTail = true;
  private queue: Waiter[] = [];
  private running: Promise<void> | undefined;
  private readonly fs: JournalFs;
  private readonly durable: boolean;
  readonly maxRecordBytes: number;
  /** fsyncs issued (for tests and the benchmark). */
  syncs = 0;

  constructor(
    readonly file: string,
    private readonly validate: (v: unknown) => v is T,
    private readonly opts: JournalOptions = {},
  ) {
    this.fs = opts.fs ?? nodeJournalFs;
    this.durable = opts.durable ?? true;
    this.maxRecordBytes = opts.maxRecordBytes ?? Number.MAX_SAFE_INTEGER;
  }

  /** Every valid record, in order, read in chunks (memory: the records kept by `visit`). */
  scan(visit: (r: T) => void): { skipped: number; bytesRead: number } {
    return this.readLines(0, visit);
  }

  /** Every valid record of the whole file, in order. */
  load(): LoadResult<T> {
    const records: T[] = [];
    const r = this.readLines(0, (v) => records.push(v));
    return { records, ...r };
  }

  /**
   * The records in the last `maxBytes` of the file (the first, partial line of the window is
   * dropped): paged loading, bounded memory whatever the file's size.
   */
  loadTail(maxBytes: number): LoadResult<T> & { truncated: boolean } {
    const records: T[] = [];
    let size: number;
    try {
      const fd = openSync(this.file, 'r');
      size = fstatSync(fd).size;
      closeSync(fd);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        return { records, skipped: 0, bytesRead: 0, truncated: false };
      throw ioError(e, `cannot read ${this.file}`);
    }
    const start = Math.max(0, size - maxBytes);
    const r = this.readLines(start, (v) => records.push(v), start > 0);
    return { records, ...r, truncated: start > 0 };
  }

  private readLines(
    start: number,
    visit: (r: T) => void,
    dropFirst = false,
  ): { skipped: number; bytesRead: number } {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { skipped: 0, bytesRead: 0 };
      throw ioError(e, `cannot read ${this.file}`);
    }
    let skipped = 0;
    let bytesRead = 0;
    let carry: Buffer[] = [];
    let carryBytes = 0;
    let overlong = false; // the current line already passed maxRecordBytes: skip to its end
    let first = dropFirst;
    const line = (buf: Buffer): void => {
      if (first) {
        first = false;
        return;
      }
      if (buf.length === 0) return;
      if (buf.length > this.maxRecordBytes) return void skipped++;
      try {
        const v = JSON.parse(buf.toString('utf8')) as unknown;
        if (this.validate(v)) visit(v);
        else skipped++;
      } catch {
        skipped++;
      }
    };
    try {
      const chunk = Buffer.alloc(CHUNK);
      let pos = start;
      for (;;) {
        const n = readSync(fd, chunk, 0, CHUNK, pos);
        if (n === 0) break;
        pos += n;
        bytesRead += n;
        let from = 0;
        for (;;) {
          const nl = chunk.indexOf(0x0a, from);
          const end = nl < 0 || nl >= n ? n : nl;
          const piece = chunk.subarray(from, end);
          if (!overlong) {
            carry.push(Buffer.from(piece));
            carryBytes += piece.length;
            if (carryBytes > this.maxRecordBytes + 1) {
              overlong = true;
              carry = [];
              carryBytes = 0;
            }
          }
          if (end === n) break;
          if (overlong) {
            if (first) first = false;
            else skipped++;
          } else line(Buffer.concat(carry));
          overlong = false;
          carry = [];
          carryBytes = 0;
          from = end + 1;
        }
      }
      if (overlong) skipped++;
      else if (carryBytes > 0) line(Buffer.concat(carry)); // a torn last line: counted when it does not parse
    } catch (e) {
      throw ioError(e, `cannot read ${this.file}`);
    } finally {
      closeSync(fd);
    }
    return { skipped, bytesRead };
  }

  /**
   * Append one record; resolves once it is on disk (fsync'd with its batch). Rejects with
   * BAD_ARGUMENT (over maxRecordBytes: nothing written) or IO (nothing of it left on disk).
   */
  append(record: T): Promise<void> {
    const buf = Buffer.from(JSON.stringify(record) + '\n');
    if (buf.length > this.maxRecordBytes)
      return Promise.reject(
        badArgument(
          `record of ${buf.length} bytes for ${path.basename(this.file)}; at most ${this.maxRecordBytes}`,
        ),
      );
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ buf, resolve, reject });
      if (!this.running) this.running = new Promise<void>((r) => setImmediate(() => void this.run().then(r)));
    });
  }

  /** Resolves when everything appended so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      if (this.opts.perRecordSync) {
        for (const w of batch) await this.commit([w]);
      } else await this.commit(batch);
    }
    this.running = undefined;
  }

  private async commit(batch: Waiter[]): Promise<void> {
    const bytes = batch.reduce((n, w) => n + w.buf.length, 0);
    let begin = -1;
    try {
      const rot = this.opts.rotateAtBytes;
      if (rot !== undefined && this.handle && this.size > 0 && this.size + bytes > rot) await this.rotate();
      const h = await this.open();
      begin = this.size;
      const data = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((w) => w.buf));
      let off = 0;
      while (off < data.length) off += (await h.write(data, off, data.length - off)).bytesWritten;
      this.size += data.length;
      if (this.durable) {
        this.syncs++;
        await h.sync();
      }
    } catch (e) {
      const err = ioError(e, `cannot write ${this.file}`);
      // Nothing of a failed batch stays: its appends were refused, so its records must not come back at load.
      if (this.handle && begin >= 0) {
        try {
          await this.handle.truncate(begin);
          this.size = begin;
        } catch {
          this.checkTail = true; // at least start the next record on a fresh line
        }
      }
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) w.resolve();
  }

  private async open(): Promise<JournalHandle> {
    if (!this.handle) {
      this.handle = await this.fs.openAppend(this.file);
      this.checkTail = true;
    }
    if (this.checkTail) {
      // A torn line from an earlier crash must not swallow the next record: start on a fresh line.
      this.size = (await this.handle.stat()).size;
      if (this.size > 0) {
        const last = Buffer.alloc(1);
        await this.handle.read(last, 0, 1, this.size - 1);
        if (last[0] !== 0x0a) {
          await this.handle.write(Buffer.from('\n'), 0, 1);
          this.size++;
        }
      }
      this.checkTail = false;
    }
    return this.handle;
  }

  private async rotate(): Promise<void> {
    const h = this.handle!;
    this.handle = undefined;
    await h.close();
    await this.fs.rename(this.file, rotatedName(this.file));
    this.size = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    const h = this.handle;
    this.handle = undefined;
    if (h) await h.close().catch(() => {});
  }
}

/** history.jsonl -> history.1.jsonl */
const rotatedName = (file: string): string => {
  const ext = path.extname(file);
  return file.slice(0, file.length - ext.length) + '.1' + ext;
};
