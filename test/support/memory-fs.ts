import path from 'node:path';
import type { FileFs, FileHandle, FileStat } from '../../peer/chat/file-store.js';

/** A file's bytes; the names that link to it and the handles open on it keep it alive. */
interface Inode {
  data: Uint8Array;
  length: number;
  mtimeMs: number;
  links: number;
  opens: number;
  volume: Volume;
}

/** A disk: the files under `dir` share its `bytes` (a small one mounted there, or the whole). */
interface Volume {
  dir: string;
  bytes: number;
  live: Set<Inode>;
}

export interface MemoryFsOptions {
  /** The modification time writes stamp (the simulated clock's wallNow). */
  now?: () => number;
  /** Bytes all files together may hold (default 256 MiB): the fs stays bounded in memory. */
  maxBytes?: number;
}

const errno = (code: string, op: string, file: string): NodeJS.ErrnoException => {
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    ENOSPC: 'no space left on device',
    EISDIR: 'illegal operation on a directory',
    EBADF: 'bad file descriptor',
    EXDEV: 'cross-device link not permitted',
  };
  return Object.assign(new Error(`${code}: ${text[code] ?? code}, ${op} '${file}'`), { code });
};

/**
 * The transfers' file seam (peer/chat/file-store.ts FileFs) in memory, for tests on the
 * simulated network: every operation is done when called and its promise already settled, so
 * disk work never waits for the real event loop and a simulated run replays from its seed
 * (test/simnet/files-trace.test.ts). POSIX enough for what the transfers use: hard links, rename
 * onto a name, an unlinked file that stays while open, and a disk that fills up: a write takes
 * what still fits (a short write, as write(2)) and the next one fails with ENOSPC.
 */
export class MemoryFs {
  readonly fs: FileFs;
  private readonly names = new Map<string, Inode>();
  private readonly dirs = new Set<string>(['/']);
  private readonly volumes: Volume[];
  private readonly now: () => number;
  /** Writes that failed with ENOSPC. */
  noSpace = 0;
  syncs = 0;

  constructor(opts: MemoryFsOptions = {}) {
    this.now = opts.now ?? (() => 0);
    this.volumes = [{ dir: '/', bytes: opts.maxBytes ?? 256 * 1024 * 1024, live: new Set() }];
    const at = <T>(f: () => T): Promise<T> => {
      try {
        return Promise.resolve(f());
      } catch (e) {
        return Promise.reject(e as Error);
      }
    };
    this.fs = {
      open: (file, flags) => at(() => this.open(path.resolve(file), flags)),
      link: (from, to) => at(() => this.link(path.resolve(from), path.resolve(to))),
      rename: (from, to) => at(() => this.rename(path.resolve(from), path.resolve(to))),
      unlink: (file) => at(() => this.unlink(path.resolve(file))),
      stat: (file) => at(() => this.stat(path.resolve(file))),
      mkdir: (dir) => at(() => this.mkdir(path.resolve(dir))),
      readFile: (file) => at(() => this.read(path.resolve(file)) ?? this.missing('open', file)),
      writeFile: (file, data) => at(() => this.put(file, Buffer.from(data, 'utf8'), undefined, true)),
    };
  }

  /** Files under `dir` hold at most `bytes` together from now on (a small disk mounted there). */
  mount(dir: string, bytes: number): void {
    this.mkdir(path.resolve(dir));
    this.volumes.push({ dir: path.resolve(dir), bytes, live: new Set() });
  }

  /** Create or replace `file` with `data` (its directories too); `mtimeMs` keeps a chosen time. */
  put(file: string, data: Uint8Array, mtimeMs?: number, strict = false): void {
    const full = path.resolve(file);
    if (!strict) this.mkdir(path.dirname(full));
    const h = this.open(full, 'w+');
    this.write(h.inode, data, 0, data.length, 0, full);
    if (h.inode.length < data.length) throw errno('ENOSPC', 'write', full);
    if (mtimeMs !== undefined) h.inode.mtimeMs = mtimeMs;
    this.release(h.inode);
  }

  /** The bytes of `file`, or undefined when there is none. */
  read(file: string): Uint8Array | undefined {
    const i = this.names.get(path.resolve(file));
    return i && i.data.slice(0, i.length);
  }

  /** Names directly in `dir`, sorted (files and directories). */
  list(dir: string): string[] {
    const d = path.resolve(dir);
    const inside = (p: string): boolean => path.dirname(p) === d && p !== d;
    return [...[...this.names.keys()].filter(inside), ...[...this.dirs].filter(inside)]
      .map((p) => path.basename(p))
      .sort();
  }

  /** Bytes held on the volume `dir` is on (files still open after an unlink count). */
  used(dir = '/'): number {
    return [...this.volumeOf(path.resolve(dir)).live].reduce((n, i) => n + i.length, 0);
  }

  private volumeOf(p: string): Volume {
    let best = this.volumes[0]!;
    for (const v of this.volumes)
      if ((p === v.dir || p.startsWith(`${v.dir}/`)) && v.dir.length > best.dir.length) best = v;
    return best;
  }

  private missing(op: string, file: string): never {
    throw errno('ENOENT', op, file);
  }

  private parent(op: string, file: string): void {
    if (!this.dirs.has(path.dirname(file))) this.missing(op, file);
    if (this.dirs.has(file)) throw errno('EISDIR', op, file);
  }

  private open(file: string, flags: 'w+' | 'wx' | 'r+' | 'r'): { inode: Inode } & FileHandle {
    this.parent('open', file);
    let inode = this.names.get(file);
    if (inode && flags === 'wx') throw errno('EEXIST', 'open', file);
    if (!inode && (flags === 'r' || flags === 'r+')) this.missing('open', file);
    if (!inode) {
      const volume = this.volumeOf(file);
      inode = { data: new Uint8Array(0), length: 0, mtimeMs: this.now(), links: 1, opens: 0, volume };
      volume.live.add(inode);
      this.names.set(file, inode);
    } else if (flags === 'w+') this.resize(inode, 0);
    return this.handle(inode, file, flags !== 'r');
  }

  private handle(inode: Inode, file: string, writable: boolean): { inode: Inode } & FileHandle {
    inode.opens++;
    let open = true;
    const live = <T>(f: () => T): Promise<T> => {
      if (!open) return Promise.reject(errno('EBADF', 'use', file));
      try {
        return Promise.resolve(f());
      } catch (e) {
        return Promise.reject(e as Error);
      }
    };
    const writing = (op: string): void => {
      if (!writable) throw errno('EBADF', op, file);
    };
    return {
      inode,
      write: (buf, offset, length, position) =>
        live(
          () => (writing('write'), { bytesWritten: this.write(inode, buf, offset, length, position, file) }),
        ),
      read: (buf, offset, length, position) =>
        live(() => {
          const n = Math.max(0, Math.min(length, inode.length - position));
          buf.set(inode.data.subarray(position, position + n), offset);
          return { bytesRead: n };
        }),
      truncate: (len) => live(() => (writing('ftruncate'), this.resize(inode, len))),
      sync: () => live(() => void this.syncs++),
      close: () =>
        live(() => {
          open = false;
          this.release(inode);
        }),
    };
  }

  /** Write what fits on the volume: fewer bytes than asked when it fills up, ENOSPC when none fit. */
  private write(
    i: Inode,
    buf: Uint8Array,
    offset: number,
    length: number,
    position: number,
    file: string,
  ): number {
    const free = i.volume.bytes - this.used(i.volume.dir);
    const n = Math.min(length, Math.max(0, free + Math.max(0, i.length - position)));
    if (n === 0 && length > 0) {
      this.noSpace++;
      throw errno('ENOSPC', 'write', file);
    }
    if (position + n > i.length) this.resize(i, position + n);
    i.data.set(buf.subarray(offset, offset + n), position);
    i.mtimeMs = this.now();
    return n;
  }

  private resize(i: Inode, len: number): void {
    if (len > i.data.length) {
      const grown = new Uint8Array(Math.max(len, Math.min(i.data.length * 2, len + (1 << 24))));
      grown.set(i.data.subarray(0, i.length));
      i.data = grown;
    } else if (len < i.length) i.data.fill(0, len, i.length);
    i.length = len;
    i.mtimeMs = this.now();
  }

  private release(i: Inode): void {
    i.opens--;
    if (i.opens === 0 && i.links === 0) i.volume.live.delete(i);
  }

  private link(from: string, to: string): void {
    const i = this.names.get(from) ?? this.missing('link', from);
    this.parent('link', to);
    if (this.names.has(to)) throw errno('EEXIST', 'link', to);
    if (this.volumeOf(to) !== i.volume) throw errno('EXDEV', 'link', to);
    i.links++;
    this.names.set(to, i);
  }

  private rename(from: string, to: string): void {
    const i = this.names.get(from) ?? this.missing('rename', from);
    this.parent('rename', to);
    if (this.volumeOf(to) !== i.volume) throw errno('EXDEV', 'rename', to);
    if (this.names.get(to) !== i) {
      if (this.names.has(to)) this.unlink(to);
      this.names.set(to, i);
      this.names.delete(from);
    }
  }

  private unlink(file: string): void {
    const i = this.names.get(file) ?? this.missing('unlink', file);
    this.names.delete(file);
    i.links--;
    if (i.links === 0 && i.opens === 0) i.volume.live.delete(i);
  }

  private stat(file: string): FileStat {
    if (this.dirs.has(file)) return { size: 0, mtimeMs: 0, isFile: false };
    const i = this.names.get(file) ?? this.missing('stat', file);
    return { size: i.length, mtimeMs: i.mtimeMs, isFile: true };
  }

  private mkdir(dir: string): void {
    for (let d = dir; !this.dirs.has(d); d = path.dirname(d)) {
      if (this.names.has(d)) throw errno('EEXIST', 'mkdir', d);
      this.dirs.add(d);
    }
  }
}
