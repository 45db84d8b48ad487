import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * A log file that costs the event loop nothing per line: lines logged in one turn of the event
 * loop go out in one asynchronous append, after that turn; at most one append is in flight, and
 * what is logged meanwhile waits for the next. Pending text is bounded (MAX_PENDING_BYTES):
 * beyond it lines are dropped and counted, and the count is written when there is room again.
 * A failing write is dropped, never fatal: logging must not take the client down.
 */
export const MAX_PENDING_BYTES = 1024 * 1024;

export interface LogFile {
  write(line: string): void;
  /** Resolves once everything logged so far is written (or dropped). */
  flush(): Promise<void>;
  /** Appends done, and lines dropped because too much was pending. */
  readonly stats: { appends: number; dropped: number };
}

export function logFile(
  file: string,
  append: (file: string, data: string) => Promise<void> = async (f, d) => {
    await mkdir(path.dirname(f), { recursive: true, mode: 0o700 });
    await appendFile(f, d, { mode: 0o600 });
  },
): LogFile {
  let pending: string[] = [];
  let pendingBytes = 0;
  let droppedSince = 0;
  let inFlight: Promise<void> | undefined;
  let scheduled = false;
  const stats = { appends: 0, dropped: 0 };

  const drain = (): void => {
    scheduled = false;
    if (inFlight || pending.length === 0) return;
    const data = pending.join('');
    pending = [];
    pendingBytes = 0;
    stats.appends++;
    inFlight = append(file, data)
      .catch(() => {})
      .finally(() => {
        inFlight = undefined;
        if (droppedSince > 0) {
          queue(`{"level":"warn","msg":"log lines dropped: too many at once","dropped":${droppedSince}}\n`);
          droppedSince = 0;
        }
        if (pending.length > 0) schedule();
      });
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  const queue = (line: string): void => {
    pending.push(line);
    pendingBytes += line.length;
  };

  return {
    stats,
    write(line) {
      if (pendingBytes + line.length > MAX_PENDING_BYTES) {
        stats.dropped++;
        droppedSince++;
        return;
      }
      queue(line);
      schedule();
    },
    async flush() {
      for (let i = 0; i < 1000 && (pending.length > 0 || inFlight || scheduled); i++) {
        if (inFlight) await inFlight;
        else drain();
      }
    },
  };
}
