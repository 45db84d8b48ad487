/**
 * What the terminal client's keys do to the input line and the help overlay, as blessed names
 * them (`C-a`, `M-backspace`, `pageup`...). Pure: ChatViewModel (view-model.ts) applies them.
 */
import { completeCommand } from './commands.js';
import type { InputLine } from './input-line.js';
import { completePath } from './paths.js';
import type { PathContext } from './paths.js';
import { sanitize } from './text.js';

/** The editing keys (Emacs-style and the usual ones): the edit to make, or undefined for another key. */
export function lineEdit(
  l: InputLine,
  full: string,
  candidates: (word: string, before: string) => string[],
): (() => void) | undefined {
  const edits: Record<string, () => void> = {
    up: () => l.historyPrev(),
    down: () => l.historyNext(),
    tab: () => l.complete(candidates),
    left: () => l.moveBy(-1),
    'C-b': () => l.moveBy(-1),
    right: () => l.moveBy(1),
    'C-f': () => l.moveBy(1),
    home: () => l.moveTo(0),
    'C-a': () => l.moveTo(0),
    end: () => l.moveEnd(),
    'C-e': () => l.moveEnd(),
    backspace: () => l.deleteBack(),
    'C-h': () => l.deleteBack(),
    delete: () => l.deleteForward(),
    'C-u': () => l.killToStart(),
    'C-k': () => l.killToEnd(),
    'C-w': () => l.deleteWordBack(),
    'M-backspace': () => l.deleteWordBack(),
  };
  return Object.hasOwn(edits, full) ? edits[full] : undefined;
}

/** The text a key types: its character made safe, or '' for control and meta keys. */
export function typedText(full: string, ch: string | undefined): string {
  if (ch === undefined || ch === '' || full.startsWith('C-') || full.startsWith('M-')) return '';
  return cleanText(ch);
}

/** Text for the input line: no control characters, nothing the decoder could not read. */
export const cleanText = (s: string): string => sanitize(s).replace(/\ufffd/g, '');

/** A key while the help overlay is open: the new scroll position, 'close', or undefined (ignored). */
export function helpKey(full: string, scroll: number): number | 'close' | undefined {
  if (['escape', 'f1', 'enter', 'q'].includes(full)) return 'close';
  if (full === 'up') return Math.max(0, scroll - 1);
  if (full === 'down') return scroll + 1;
  if (full === 'pageup') return Math.max(0, scroll - 10);
  if (full === 'pagedown') return scroll + 10;
  return undefined;
}

/**
 * Tab candidates: a path after `/send NAME ` (a directory after `/accept `), command names after a
 * "/" at the start, else peers' names ("name: " at the start). `before` is the line before the word.
 */
export function tabCandidates(
  word: string,
  before: string,
  names: (prefix: string) => string[],
  paths?: PathContext,
): string[] {
  const kind = paths ? pathArgument(before) : null;
  if (paths && kind) return completePath(paths, word, kind === 'dir');
  if (word === '') return [];
  const atStart = before === '';
  if (atStart && word.startsWith('/')) return completeCommand(word.slice(1)).map((n) => `/${n} `);
  const suffix = atStart ? ': ' : ' ';
  return names(word).map((n) => n + suffix);
}

/** Is the word after `before` a path: the PATH of `/send NAME PATH`, the DIR of `/accept [ID] DIR`? */
function pathArgument(before: string): 'file' | 'dir' | null {
  if (/^\/send\s+("[^"]*"|\S+)\s+/i.test(before)) return 'file';
  if (/^\/accept\s+/i.test(before)) return 'dir';
  return null;
}
