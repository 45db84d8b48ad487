import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { PunchlineError } from '../../common/errors.js';

/**
 * An append-only JSON-lines file, crash-safe by construction: each record is one line written
 * with a single write(2) and fsync'd before append() returns, so a record is either whole on
 * disk or (a crash mid-write) a torn last line that load() skips. Nothing is rewritten in place.
 */
export class Journal<T> {
  private fd: number | undefined;

  constructor(
    readonly file: string,
    private readonly validate: (v: unknown) => v is T,
    private readonly durable = true,
  ) {}

  /** Every valid record, in order; torn or invalid lines are skipped (and counted). */
  load(): { records: T[]; skipped: number } {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], skipped: 0 };
      throw new PunchlineError('IO', `cannot read ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    const records: T[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const v = JSON.parse(line) as unknown;
        if (this.validate(v)) records.push(v);
        else skipped++;
      } catch {
        skipped++;
      }
    }
    return { records, skipped };
  }

  append(record: T): void {
    if (this.fd === undefined) {
      try {
        mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
        this.fd = openSync(this.file, 'a+', 0o600);
      } catch (e) {
        throw new PunchlineError('IO', `cannot open ${this.file}: ${(e as Error).message}`, { cause: e });
      }
      // A torn line from an earlier crash must not swallow this record: start on a fresh line.
      const size = fstatSync(this.fd).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(this.fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) writeSync(this.fd, '\n');
      }
    }
    const line = Buffer.from(JSON.stringify(record) + '\n');
    writeSync(this.fd, line);
    if (this.durable) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
