import { nodeJournalFs } from '../../peer/chat/journal.js';
import type { JournalFs, JournalHandle } from '../../peer/chat/journal.js';
import { nodeFileFs } from '../../peer/chat/file-store.js';
import type { FileFs, FileHandle } from '../../peer/chat/file-store.js';

/**
 * The journal's file seam with a switchable fault, for tests without root: while `fail` is set
 * (an errno such as ENOSPC or EROFS), writes to files matching `only` write half their bytes
 * and then throw, like a disk that fills up mid-write.
 */
export function faultyFs(only: RegExp = /./): { fs: JournalFs; fail: string | undefined; failures: number } {
  const state = { fail: undefined as string | undefined, failures: 0, fs: undefined as unknown as JournalFs };
  const fault = (): NodeJS.ErrnoException => {
    state.failures++;
    const e = new Error(`${state.fail}: injected fault, write`) as NodeJS.ErrnoException;
    e.code = state.fail;
    return e;
  };
  state.fs = {
    async openAppend(file) {
      const h = await nodeJournalFs.openAppend(file);
      if (!only.test(file)) return h;
      const wrapped: JournalHandle = {
        write: async (buf, offset, length) => {
          if (state.fail === undefined) return h.write(buf, offset, length);
          const half = Math.floor(length / 2);
          if (half > 0) await h.write(buf, offset, half);
          throw fault();
        },
        sync: () => h.sync(),
        truncate: (len) => h.truncate(len),
        stat: () => h.stat(),
        read: (buf, offset, length, position) => h.read(buf, offset, length, position),
        close: () => h.close(),
      };
      return wrapped;
    },
    rename: (from, to) => nodeJournalFs.rename(from, to),
  };
  return state;
}

/** node's file system for transfers (peer/chat/file-store.ts) with every handle's write replaced. */
export function withWrites(
  write: (
    h: FileHandle,
    buf: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ) => Promise<{ bytesWritten: number }>,
): FileFs {
  return {
    ...nodeFileFs,
    async open(file, flags) {
      const h = await nodeFileFs.open(file, flags);
      return {
        ...h,
        read: (b, o, l, p) => h.read(b, o, l, p),
        truncate: (len) => h.truncate(len),
        sync: () => h.sync(),
        close: () => h.close(),
        write: (buf, offset, length, position) => write(h, buf, offset, length, position),
      };
    },
  };
}

/**
 * The received files' seam (peer/chat/file-store.ts) with the same switchable fault: while
 * `fail` is set, writes write half their bytes and throw (a disk that fills up mid-file).
 */
export function faultyFileFs(): {
  fs: FileFs;
  fail: string | undefined;
  failures: number;
  /** Fail with ENOSPC from this write on (counted from 1), whatever the timing: a disk filling up mid-file. */
  failFromWrite: number | undefined;
  /** Hold every write from this one on (counted from 1) until release(): a transfer caught mid-file. */
  holdFromWrite: number | undefined;
  /** Writes waiting for release(). */
  held: number;
  release(): void;
} {
  const state = {
    fail: undefined as string | undefined,
    failures: 0,
    failFromWrite: undefined as number | undefined,
    holdFromWrite: undefined as number | undefined,
    held: 0,
    writes: 0,
    gate: undefined as Promise<void> | undefined,
    open: (): void => {},
    release(): void {
      state.holdFromWrite = undefined;
      state.open();
    },
    fs: undefined as unknown as FileFs,
  };
  state.gate = new Promise<void>((r) => (state.open = r));
  state.fs = withWrites(async (h, buf, offset, length, position) => {
    state.writes++;
    if (state.holdFromWrite !== undefined && state.writes >= state.holdFromWrite) {
      state.held++;
      await state.gate;
    }
    if (state.failFromWrite !== undefined && state.writes >= state.failFromWrite) state.fail ??= 'ENOSPC';
    if (state.fail === undefined) return h.write(buf, offset, length, position);
    const half = Math.floor(length / 2);
    if (half > 0) await h.write(buf, offset, half, position);
    state.failures++;
    const e = new Error(`${state.fail}: injected fault, write`) as NodeJS.ErrnoException;
    e.code = state.fail;
    throw e;
  });
  return state;
}
