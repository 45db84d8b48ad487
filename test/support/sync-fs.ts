import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { JournalFs, JournalHandle } from '../../peer/chat/journal.js';

/**
 * The journal's file seam doing its work at once (synchronous calls behind resolved promises),
 * for tests on the simulated network: virtual time runs ahead of real I/O, so a real
 * asynchronous write could still be pending when the simulation looks for its effect, and a
 * test's outcome would depend on the machine's load. With this seam every write has landed (on
 * the real disk, in the test's directory) before the next simulated event.
 */
export const syncJournalFs: JournalFs = {
  openAppend(file: string): Promise<JournalHandle> {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a+', 0o600);
    const done = <T>(f: () => T): Promise<T> => {
      try {
        return Promise.resolve(f());
      } catch (e) {
        return Promise.reject(e as Error);
      }
    };
    return Promise.resolve({
      write: (buf, offset, length) => done(() => ({ bytesWritten: writeSync(fd, buf, offset, length) })),
      sync: () => done(() => fsyncSync(fd)),
      truncate: (len) => done(() => ftruncateSync(fd, len)),
      stat: () => done(() => ({ size: fstatSync(fd).size })),
      read: (buf, offset, length, position) =>
        done(() => ({ bytesRead: readSync(fd, buf, offset, length, position) })),
      close: () => done(() => closeSync(fd)),
    });
  },
  rename: (from, to) => {
    try {
      renameSync(from, to);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  },
};
