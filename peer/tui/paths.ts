/**
 * The file system as the terminal client sees it for `/send` and `/accept`: a path typed at the
 * input line made absolute (`~` is the home directory, a relative path starts at the working
 * directory), what is there, and Tab completion of a path like a shell's (directories end with
 * "/", spaces are escaped). Reading a directory is bounded: a directory of a million files costs
 * at most LIST_MAX entries per Tab, never a stall of the screen.
 */
import { opendirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { escapePath } from './commands.js';

/** Entries read from one directory per Tab, at most. */
export const LIST_MAX = 200;

export type PathKind = 'file' | 'dir' | 'other' | 'missing';

/** The file system seam: tests give a temporary directory, or a fake. */
export interface FileSystemView {
  /** Up to `max` entries of `dir` (no order promised); [] when it cannot be read. */
  list(dir: string, max: number): { name: string; dir: boolean }[];
  /** What is at `p`, following symbolic links. */
  kind(p: string): PathKind;
}

export const nodeFileSystem: FileSystemView = {
  list(dir, max) {
    const out: { name: string; dir: boolean }[] = [];
    let d;
    try {
      d = opendirSync(dir);
    } catch {
      return out;
    }
    try {
      for (let e = d.readSync(); e && out.length < max; e = d.readSync()) {
        // A link is what it points to: a link to a directory completes with "/".
        const isDir =
          e.isDirectory() || (e.isSymbolicLink() && nodeFileSystem.kind(path.join(dir, e.name)) === 'dir');
        out.push({ name: e.name, dir: isDir });
      }
    } catch {
      /* an entry vanished or the directory became unreadable: what was read is enough */
    } finally {
      d.closeSync();
    }
    return out;
  },
  kind(p) {
    try {
      const st = statSync(p);
      return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    } catch {
      return 'missing';
    }
  },
};

export interface PathContext {
  fs: FileSystemView;
  cwd: string;
  home: string;
}

export const defaultPathContext = (): PathContext => ({
  fs: nodeFileSystem,
  cwd: process.cwd(),
  home: os.homedir(),
});

/** A typed path made absolute: "~" and "~/x" are under the home directory, "x" under cwd. */
export function absolutePath(ctx: PathContext, typed: string): string {
  if (typed === '~') return ctx.home;
  if (typed.startsWith('~/')) return path.join(ctx.home, typed.slice(2));
  return path.resolve(ctx.cwd, typed);
}

/**
 * Tab candidates for a path word as typed (escaped spaces and all): each entry of its directory
 * that starts with what follows the last "/", as the whole word to put back (escaped; "/" after a
 * directory, a space after a file). Dot files only when the name typed starts with ".". Sorted,
 * directories and files together, as a shell lists them.
 */
export function completePath(ctx: PathContext, word: string, dirsOnly = false): string[] {
  const typed = word.replace(/\\(.)/g, '$1');
  if (typed === '~') return ['~/'];
  const cut = typed.lastIndexOf('/') + 1;
  const dirPart = typed.slice(0, cut);
  const base = typed.slice(cut);
  const dir = dirPart === '' ? ctx.cwd : absolutePath(ctx, dirPart);
  return ctx.fs
    .list(dir, LIST_MAX)
    .filter((e) => e.name.startsWith(base) && (base.startsWith('.') || !e.name.startsWith('.')))
    .filter((e) => e.dir || !dirsOnly)
    .map((e) => escapePath(dirPart + e.name) + (e.dir ? '/' : ' '))
    .sort();
}
