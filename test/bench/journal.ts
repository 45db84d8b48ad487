/**
 * The chat journal (peer/chat/journal.ts): records/s with one write + fsync per record on the
 * event loop (what the journal did before group commit), one async fsync per record, and group
 * commit (records appended in one tick share one write and one fsync), with the same producers:
 * PRODUCERS concurrent writers, each appending a record and waiting for it before the next (a
 * chat with that many messages arriving at once). Same directory, same record size.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal } from '../../peer/chat/journal.js';

export interface JournalBenchRow {
  mode: string;
  records: number;
  seconds: number;
  perSec: number;
  fsyncs: number;
}

const isAny = (v: unknown): v is object => typeof v === 'object';

export async function journalBench(records = 2000, producers = 32, bytes = 200): Promise<JournalBenchRow[]> {
  const dir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'punchline-journal-'));
  const rec = (n: number): object => ({ n, text: 'x'.repeat(bytes) });
  const rows: JournalBenchRow[] = [];
  try {
    {
      const fd = openSync(path.join(dir, 'sync.jsonl'), 'a', 0o600);
      const t0 = performance.now();
      for (let n = 0; n < records; n++) {
        writeSync(fd, JSON.stringify(rec(n)) + '\n');
        fsyncSync(fd);
      }
      const s = (performance.now() - t0) / 1000;
      closeSync(fd);
      rows.push({
        mode: 'writeSync + fsyncSync per record (before)',
        records,
        seconds: s,
        perSec: records / s,
        fsyncs: records,
      });
    }
    for (const [mode, perRecordSync] of [
      ['async, one fsync per record', true],
      ['group commit (one fsync per batch)', false],
    ] as const) {
      const j = new Journal(path.join(dir, `${perRecordSync ? 'per' : 'group'}.jsonl`), isAny, {
        perRecordSync,
      });
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: producers }, async () => {
          while (next < records) await j.append(rec(next++));
        }),
      );
      const s = (performance.now() - t0) / 1000;
      rows.push({ mode, records, seconds: s, perSec: records / s, fsyncs: j.syncs });
      await j.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
