import {
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { PunchlineError } from '../common/errors.js';

/**
 * The data directory's pin files (peers.json: peer keys by name, peer/chat/trust.ts; servers.json:
 * server fingerprints by HOST:PORT, peer/known-servers.ts) are read and written here, the same way.
 *
 * A missing file is an empty store. Anything else that is not exactly the expected shape is an IO
 * error naming the file, never an empty store: an empty store would pin whatever key answers next,
 * which is the very attack pinning is there to stop. Writes are atomic (temp file, fsync, rename)
 * with mode 0600 in a 0700 directory.
 */

/** A shape check that failed: the text ends up in "FILE is damaged (TEXT); fix or move it away". */
export class PinFileShapeError extends Error {}

/** Throw a shape error unless `ok`. */
export function expectShape(ok: boolean, what: string): asserts ok {
  if (!ok) throw new PinFileShapeError(what);
}

/** A plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` as lowercase hex of exactly `bytes` bytes, or a shape error naming `what`. */
export function hexField(v: unknown, bytes: number, what: string): string {
  expectShape(
    typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-f]+$/.test(v),
    `${what} is not ${bytes * 2} lowercase hex digits`,
  );
  return v;
}

/** A `since` time: ms since 1970, a non-negative finite number. */
export function sinceField(v: unknown, what: string): number {
  expectShape(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${what}.since is not a time`);
  return v;
}

/**
 * Read and parse `file`. Returns undefined when it does not exist. `parse` gets the JSON value and
 * throws (PinFileShapeError or anything else) when the shape is wrong; that, unreadable text and
 * bad JSON all become PunchlineError IO "FILE is damaged (...); fix or move it away".
 */
export function loadPinFile<T>(file: string, parse: (json: unknown) => T): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PunchlineError('IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return parse(JSON.parse(text) as unknown);
  } catch (e) {
    throw new PunchlineError('IO', `${file} is damaged (${(e as Error).message}); fix or move it away`, {
      cause: e,
    });
  }
}

/** Write `value` as JSON to `file` atomically: a 0600 temp file, fsync, rename; the directory 0700. */
export function savePinFile(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      fchmodSync(fd, 0o600); // a temp file left by a crash keeps its mode otherwise
      writeSync(fd, JSON.stringify(value, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new PunchlineError('IO', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
}
