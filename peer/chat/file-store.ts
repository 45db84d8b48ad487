import { createHash } from 'node:crypto';
import { open, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PunchlineError } from '../../common/errors.js';
import { numbered } from './file-names.js';

/** An open file a transfer writes to (a seam: tests put a full disk behind it, test/support/faulty-fs.ts). */
export interface FileHandle {
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  truncate(len: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** What `FileFs.stat` tells of a path. */
export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
}

/**
 * Every file operation of the transfers (sources, temporary files, placement, files.json); the
 * default is node:fs/promises. Simulated-network tests put an in-memory one behind it
 * (test/support/memory-fs.ts), so a run on virtual time never waits for a real disk and
 * replays from its seed.
 */
export interface FileFs {
  /** 'w+' creates or truncates (0600), 'wx' creates a new file only (EEXIST), 'r+' opens an existing file, 'r' reads. */
  open(file: string, flags: 'w+' | 'wx' | 'r+' | 'r'): Promise<FileHandle>;
  /** A hard link: fails with EEXIST rather than replace anything (never overwrite). */
  link(from: string, to: string): Promise<void>;
  /** Replaces `to` (placeFile only renames onto a name it created itself). */
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  stat(file: string): Promise<FileStat>;
  /** Creates the directory and any missing parents (mode for those it creates). */
  mkdir(dir: string, mode?: number): Promise<void>;
  readFile(file: string): Promise<Uint8Array>;
  /** Creates or replaces the file (0600) with `data`. */
  writeFile(file: string, data: string): Promise<void>;
}

export const nodeFileFs: FileFs = {
  open: (file, flags) => open(file, flags, 0o600),
  link: (from, to) => link(from, to),
  rename: (from, to) => rename(from, to),
  unlink: (file) => unlink(file),
  stat: async (file) => {
    const st = await stat(file);
    return { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile() };
  },
  mkdir: async (dir, mode) => {
    await mkdir(dir, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  },
  readFile: (file) => readFile(file),
  writeFile: (file, data) => writeFile(file, data, { mode: 0o600 }),
};

/** What the sender remembers of a transfer (files.json): enough to resume after a restart. */
export interface SendRecord {
  file: string;
  peerId: string;
  peer: string;
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  accepted: boolean;
}

/** What the receiver remembers of an accepted transfer: `offset` bytes of `temp` are synced. */
export interface ReceiveRecord {
  file: string;
  peerId: string;
  peer: string;
  name: string;
  size: number;
  sha256: string;
  dir: string;
  temp: string;
  offset: number;
}

export interface FileBookState {
  send: SendRecord[];
  receive: ReceiveRecord[];
  /** Transfers this side received in full (file id, peer id), newest last: a late RESUME hears DONE. */
  done: { file: string; peerId: string }[];
}

export const FILES_FILE = 'files.json';

const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const FILE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HEX = (n: number): RegExp => new RegExp(`^[0-9a-f]{${n}}$`);
const PEER_ID = HEX(32);
const SHA256 = HEX(64);
/** The fields every record names its transfer and peer by. */
const named = (r: Record<string, unknown>): boolean =>
  isStr(r.file) && FILE_ID.test(r.file) && isStr(r.peerId) && PEER_ID.test(r.peerId);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A sound SendRecord as read from disk (a hand-edited or damaged one is left out). */
const soundSend = (r: unknown): r is SendRecord =>
  isObj(r) &&
  named(r) &&
  [r.peer, r.path, r.name].every(isStr) &&
  isCount(r.size) &&
  typeof r.mtimeMs === 'number' &&
  isStr(r.sha256) &&
  SHA256.test(r.sha256) &&
  typeof r.accepted === 'boolean';

/** A sound ReceiveRecord as read from disk. */
const soundReceive = (r: unknown): r is ReceiveRecord =>
  isObj(r) &&
  named(r) &&
  [r.peer, r.name, r.dir, r.temp].every(isStr) &&
  isCount(r.size) &&
  isCount(r.offset) &&
  r.offset <= r.size &&
  isStr(r.sha256) &&
  SHA256.test(r.sha256);
/** Finished transfers remembered for a RESUME whose DONE was lost with its session. */
const DONE_KEPT = 64;

/**
 * The transfers to resume, in `files.json` in the data directory: rewritten whole (a temporary
 * file, then a rename: a crash leaves the old or the new one) on every change of state; a few
 * records, so that is cheap. A damaged file is set aside (files.json.bad) and starts empty.
 */
export class FileBook {
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly fs: FileFs = nodeFileFs,
  ) {
    this.file = path.join(dataDir, FILES_FILE);
  }

  async load(): Promise<FileBookState> {
    try {
      const v = JSON.parse(Buffer.from(await this.fs.readFile(this.file)).toString('utf8')) as FileBookState;
      if (!Array.isArray(v.send) || !Array.isArray(v.receive) || !Array.isArray(v.done))
        throw new Error('shape');
      // Records are checked one by one: a damaged one is dropped, the others still resume.
      return {
        send: v.send.filter(soundSend),
        receive: v.receive.filter(soundReceive),
        done: v.done.filter((d: unknown) => isObj(d) && named(d)),
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        await this.fs.rename(this.file, `${this.file}.bad`).catch(() => {});
      return { send: [], receive: [], done: [] };
    }
  }

  /** Write the state (after the writes before it); rejects IO when it cannot. */
  save(s: FileBookState): Promise<void> {
    const text = JSON.stringify({ ...s, done: s.done.slice(-DONE_KEPT) });
    const next = this.writing.then(async () => {
      await this.fs.mkdir(path.dirname(this.file), 0o700);
      await this.fs.writeFile(`${this.file}.tmp`, text);
      await this.fs.rename(`${this.file}.tmp`, this.file);
    });
    this.writing = next.catch(() => {});
    return next;
  }
}

/** SHA-256 of the first `length` bytes of a file, read 1 MiB at a time (bounded memory). */
export async function hashPrefix(
  fs: FileFs,
  file: string,
  length: number,
): Promise<ReturnType<typeof createHash>> {
  const h = createHash('sha256');
  if (length === 0) return h;
  const fh = await fs.open(file, 'r');
  try {
    const buf = new Uint8Array(1 << 20);
    for (let at = 0; at < length;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - at), at);
      if (bytesRead === 0)
        throw new PunchlineError('SOURCE_CHANGED', `${file} is shorter than ${length} bytes`);
      h.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return h;
}

/**
 * Write all of `data` at `position`: a write may take fewer bytes than asked without an error
 * (a disk filling up mid-record, write(2)); the rest is written again, and a write that takes
 * none is an IO error. Ignoring the count would leave a hole of zeros in the file while the
 * SHA-256, taken over the bytes received, still matched.
 */
export async function writeAll(h: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < data.length;) {
    const { bytesWritten } = await h.write(data, at, data.length - at, position + at);
    if (!(bytesWritten > 0))
      throw new PunchlineError('IO', `wrote 0 of ${data.length - at} bytes at ${position + at}`);
    at += bytesWritten;
  }
}

/** Errors of a file system that has no hard links (FAT, exFAT, some network mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Put a finished temporary file in place under the first free name (`name`, `name (1).ext`,
 * ...): a hard link fails on an existing name instead of replacing it, so nothing is ever
 * overwritten, even a file created meanwhile. Where there are no hard links, the name is taken
 * by creating it exclusively ('wx') and the temporary file renamed onto that empty file of ours.
 * Returns the path it got.
 */
export async function placeFile(fs: FileFs, temp: string, dir: string, name: string): Promise<string> {
  let links = true;
  for (let n = 0; ; n++) {
    const target = path.join(dir, numbered(name, n));
    try {
      if (links) await fs.link(temp, target);
      else await (await fs.open(target, 'wx')).close();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (links && NO_LINKS.has(code)) {
        links = false;
        n--; // the same name again, without a link
        continue;
      }
      if (code === 'EEXIST' && n < 10_000) continue;
      throw e;
    }
    if (links) await fs.unlink(temp);
    else
      await fs.rename(temp, target).catch(async (e: unknown) => {
        await fs.unlink(target).catch(() => {}); // our empty placeholder
        throw e;
      });
    return target;
  }
}
