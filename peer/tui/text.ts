/**
 * Terminal text measurement: display width (East Asian wide and emoji take two cells, combining
 * marks none), truncation and word wrapping. Pure, so the view-model lays out every pane without a
 * terminal. Text from peers is hostile: sanitize() removes control characters (an ESC in a
 * message must not reach the terminal) and bidi overrides (they can make text read backwards).
 */

const ZERO_WIDTH: [number, number][] = [
  [0x0300, 0x036f], // combining diacritical marks
  [0x0483, 0x0489],
  [0x0591, 0x05bd],
  [0x0610, 0x061a],
  [0x064b, 0x065f],
  [0x0e31, 0x0e31],
  [0x0e34, 0x0e3a],
  [0x0e47, 0x0e4e],
  [0x1ab0, 0x1aff],
  [0x1dc0, 0x1dff],
  [0x200b, 0x200f], // zero width space, joiners, marks
  [0x20d0, 0x20ff],
  [0xfe00, 0xfe0f], // variation selectors
  [0xfe20, 0xfe2f],
  [0xe0100, 0xe01ef],
];

const WIDE: [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e], // CJK radicals, punctuation
  [0x3041, 0x33ff], // kana, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f], // symbols, pictographs, emoticons
  [0x1f680, 0x1f6ff], // transport and map
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff], // supplemental symbols and pictographs
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd], // CJK extensions B and beyond
];

function inRanges(cp: number, ranges: [number, number][]): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (cp < r[0]) hi = mid - 1;
    else if (cp > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Cells one code point takes in a terminal: 0, 1 or 2. Control characters count 0 (sanitize first). */
export function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (inRanges(cp, ZERO_WIDTH)) return 0;
  return inRanges(cp, WIDE) ? 2 : 1;
}

export function strWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/**
 * Replace what must never reach the terminal: C0/C1 controls (ESC starts escape sequences), DEL,
 * and the bidi embedding/override/isolate controls. Tabs become a space; newlines are kept only
 * when `keepNewlines` (message text is wrapped on them).
 */
export function sanitize(s: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\t') return ' ';
    if (c === '\n' && keepNewlines) return '\n';
    if (c === '\r') return keepNewlines ? '' : ' ';
    return '\ufffd';
  });
}

/** The longest prefix of `s` that fits in `width` cells. */
export function sliceWidth(s: string, width: number): string {
  let w = 0;
  let out = '';
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width) break;
    w += cw;
    out += ch;
  }
  return out;
}

/** `s` cut to `width` cells, ending in `ellipsis` when something was cut. */
export function truncate(s: string, width: number, ellipsis = '…'): string {
  if (width <= 0) return '';
  if (strWidth(s) <= width) return s;
  const ew = strWidth(ellipsis);
  if (ew >= width) return sliceWidth(s, width);
  return sliceWidth(s, width - ew) + ellipsis;
}

/** `s` truncated and then padded with spaces to exactly `width` cells. */
export function fit(s: string, width: number, ellipsis = '…'): string {
  const t = truncate(s, width, ellipsis);
  return t + ' '.repeat(Math.max(0, width - strWidth(t)));
}

/**
 * Word-wrap `s` into lines of at most `width` cells (`firstWidth` for the first line). Newlines force a break; a word longer than a
 * line is broken inside; spaces at a wrap point are dropped. Always returns at least one line.
 */
export function wrap(s: string, width: number, firstWidth = width): string[] {
  const out: string[] = [];
  // The first line may be narrower (it follows a prefix such as "12:00 <nick> ").
  const lim = (): number => Math.max(1, out.length === 0 ? firstWidth : width);
  for (const para of s.split('\n')) {
    let line = '';
    let lineW = 0;
    for (const token of para.split(/( +)/)) {
      if (token === '') continue;
      const tw = strWidth(token);
      const w = lim();
      if (lineW + tw <= w) {
        line += token;
        lineW += tw;
        continue;
      }
      if (token.startsWith(' ')) {
        // A run of spaces at the wrap point: break here and drop it.
        out.push(line.trimEnd());
        line = '';
        lineW = 0;
        continue;
      }
      if (lineW > 0 && tw <= Math.max(1, width)) {
        out.push(line.trimEnd());
        line = token;
        lineW = tw;
        continue;
      }
      // A word longer than a line: fill the current line, then break it into chunks.
      let rest = token;
      while (strWidth(rest) > lim() - lineW) {
        const head = sliceWidth(rest, lim() - lineW);
        if (head === '' && lineW === 0) {
          // A wide character in a one-cell line: emit it anyway rather than loop.
          const first = Array.from(rest)[0]!;
          out.push(first);
          rest = rest.slice(first.length);
          continue;
        }
        out.push((line + head).trimEnd());
        line = '';
        lineW = 0;
        rest = rest.slice(head.length);
      }
      line += rest;
      lineW += strWidth(rest);
    }
    out.push(line.trimEnd());
  }
  return out;
}
