/**
 * The input line: text with a cursor (in code points), readline-style editing, the history that
 * Up/Down walk (with the unsent draft kept aside), and Tab completion that cycles through the
 * candidates on repeated Tab. Pure state; the view-model decides what the candidates are.
 */
import { sanitize, strWidth, truncate, units } from './text.js';

/** The line as the units a terminal draws: a flag, a joined emoji or e + U+0301 is one. */
const split = (text: string): string[] => units(text).map((u) => u.text);
import type { Line } from './theme.js';

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

export class InputLine {
  private chars: string[] = [];
  private cur = 0;
  private readonly history: string[] = [];
  private histPos: number | null = null;
  private draft = '';
  private completion: { start: number; candidates: string[]; index: number; inserted: number } | null = null;

  constructor(private readonly historyMax = 500) {}

  get text(): string {
    return this.chars.join('');
  }

  get cursor(): number {
    return this.cur;
  }

  get empty(): boolean {
    return this.chars.length === 0;
  }

  set(text: string): void {
    this.completion = null;
    this.chars = split(text);
    this.cur = this.chars.length;
  }

  insert(text: string): void {
    this.completion = null;
    this.edit(this.cur, this.cur, text);
  }

  /** Any key but Tab ends a completion cycle. */
  endCompletion(): void {
    this.completion = null;
  }

  moveTo(i: number): void {
    this.cur = clamp(i, 0, this.chars.length);
  }

  moveBy(d: number): void {
    this.moveTo(this.cur + d);
  }

  moveEnd(): void {
    this.cur = this.chars.length;
  }

  deleteBack(): void {
    this.edit(this.cur - 1, this.cur, '');
  }

  deleteForward(): void {
    this.edit(this.cur, this.cur + 1, '');
  }

  killToStart(): void {
    this.edit(0, this.cur, '');
  }

  killToEnd(): void {
    this.edit(this.cur, this.chars.length, '');
  }

  /** Ctrl-W: the word before the cursor and the spaces after it. */
  deleteWordBack(): void {
    let i = this.cur;
    while (i > 0 && this.chars[i - 1] === ' ') i--;
    while (i > 0 && this.chars[i - 1] !== ' ') i--;
    this.edit(i, this.cur, '');
  }

  private edit(from: number, to: number, text: string): void {
    const a = clamp(from, 0, this.chars.length);
    const b = clamp(to, a, this.chars.length);
    // Segmented again as a whole: a combining mark typed after "e" joins it, Backspace then
    // removes "é" whole, and the cursor never stands inside a flag or a joined emoji.
    const before = this.chars.slice(0, a).join('') + text;
    this.chars = split(before + this.chars.slice(b).join(''));
    this.cur = split(before).length;
  }

  /** Enter: hand the line over, remember it (without repeating the last one), start afresh. */
  take(): string {
    const line = this.text;
    if (line.trim() !== '' && this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      if (this.history.length > this.historyMax) this.history.shift();
    }
    this.histPos = null;
    this.draft = '';
    this.set('');
    return line;
  }

  historyPrev(): void {
    if (this.history.length === 0) return;
    if (this.histPos === null) {
      this.draft = this.text;
      this.histPos = this.history.length - 1;
    } else if (this.histPos > 0) this.histPos--;
    else return;
    this.set(this.history[this.histPos]!);
  }

  historyNext(): void {
    if (this.histPos === null) return;
    if (this.histPos < this.history.length - 1) {
      this.histPos++;
      this.set(this.history[this.histPos]!);
    } else {
      this.histPos = null;
      this.set(this.draft);
    }
  }

  /**
   * Tab: replace the word before the cursor (a space escaped as "\\ " does not end it) with the
   * first of `candidates(word, textBeforeTheWord)`; Tab again replaces it with the next one,
   * cycling. No candidate: nothing changes. After a single candidate Tab starts afresh, so a
   * directory completed to "docs/" lists what is inside it next, as a shell does.
   */
  complete(candidates: (word: string, before: string) => string[]): void {
    const c = this.completion;
    if (c && c.candidates.length > 1) {
      c.index = (c.index + 1) % c.candidates.length;
      this.edit(c.start, c.start + c.inserted, c.candidates[c.index]!);
      c.inserted = split(c.candidates[c.index]!).length;
      return;
    }
    let start = this.cur;
    while (start > 0 && !(this.chars[start - 1] === ' ' && this.chars[start - 2] !== '\\')) start--;
    const word = this.chars.slice(start, this.cur).join('');
    const list = candidates(word, this.chars.slice(0, start).join(''));
    if (list.length === 0) return;
    this.edit(start, this.cur, list[0]!);
    this.completion = { start, candidates: list, index: 0, inserted: split(list[0]!).length };
  }

  /**
   * The line at a width behind a prompt, scrolled sideways so the cursor stays visible, and the
   * cursor's column.
   */
  render(width: number, title: string, ellipsis: string): { line: Line; cursor: number } {
    let prompt = `[${truncate(sanitize(title), 16, ellipsis)}] `;
    if (strWidth(prompt) > width / 2) prompt = '';
    const pw = strWidth(prompt);
    const avail = Math.max(1, width - pw);
    const chars = this.chars.map((c) => sanitize(c));
    const widthOf = (a: number, b: number): number => strWidth(chars.slice(a, b).join(''));
    let start = 0;
    while (start < this.cur && widthOf(start, this.cur) > avail - 1) start++;
    let end = start;
    let w = 0;
    while (end < chars.length && w + strWidth(chars[end]!) <= avail) w += strWidth(chars[end++]!);
    const shown = chars.slice(start, end).join('');
    const line: Line = [
      { text: prompt, role: 'prompt' },
      { text: shown, role: 'plain' },
      { text: ' '.repeat(Math.max(0, width - pw - w)), role: 'plain' },
    ];
    return { line, cursor: Math.min(width - 1, pw + widthOf(start, this.cur)) };
  }
}
