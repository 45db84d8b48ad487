/**
 * Terminal text measurement: display width (East Asian wide and emoji take two cells, combining
 * marks and joined emoji none), truncation and word wrapping. Pure, so the view-model lays out every pane without a
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

// East Asian Wide and Fullwidth (UAX #11) outside emoji; emoji go by Emoji_Presentation below.
const WIDE: [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo
  [0x2329, 0x232a], // angle brackets
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
  [0x1f200, 0x1f202], // enclosed ideographic supplement
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
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

const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const ZWJ = 0x200d;
const isRegionalIndicator = (cp: number): boolean => cp >= 0x1f1e6 && cp <= 0x1f1ff;

/**
 * Cells one code point takes on its own in a terminal: 0, 1 or 2. East Asian wide and fullwidth
 * characters and emoji with emoji presentation (Unicode's Emoji_Presentation, which UAX #11 makes
 * wide) take two; combining marks, variation selectors and joiners none. Control characters
 * count 0 (sanitize first).
 */
function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (inRanges(cp, ZERO_WIDTH)) return 0;
  if (inRanges(cp, WIDE)) return 2;
  if (cp >= 0x2300 && !isRegionalIndicator(cp) && EMOJI_PRESENTATION.test(String.fromCodePoint(cp))) return 2;
  return 1;
}

/** One terminal cell's worth of text (or two for a wide one): a base and what joins it. */
export interface Unit {
  text: string;
  width: number;
}

/**
 * `s` cut into the units a terminal draws, as tmux (test/tui/tmux.test.ts captures it) and
 * current terminals do: a base character with the combining marks and variation selectors after
 * it; a zero width joiner glues the next character into the same unit (a family emoji is one
 * two-cell picture); two regional indicators make one two-cell flag, a lone one takes one cell.
 * A skin-tone modifier stays its own two-cell unit, as tmux draws it. Wrapping and truncation
 * never split a unit, so a line never ends in half a picture.
 */
export function units(s: string): Unit[] {
  const cps = Array.from(s);
  const out: Unit[] = [];
  let i = 0;
  while (i < cps.length) {
    const first = cps[i]!;
    const cp = first.codePointAt(0)!;
    let text = first;
    let width = charWidth(cp);
    i++;
    if (isRegionalIndicator(cp)) {
      if (i < cps.length && isRegionalIndicator(cps[i]!.codePointAt(0)!)) {
        text += cps[i++];
        width = 2;
      } else width = 1;
    }
    // What attaches to this base: zero-width marks, and after a joiner the joined character.
    while (i < cps.length) {
      const next = cps[i]!.codePointAt(0)!;
      if (next === ZWJ && width > 0 && i + 1 < cps.length) {
        text += cps[i]! + cps[i + 1]!;
        i += 2;
      } else if (charWidth(next) === 0 && next >= 0x20 && !(next >= 0x7f && next < 0xa0)) {
        text += cps[i++];
      } else break;
    }
    out.push({ text, width });
  }
  return out;
}

export function strWidth(s: string): number {
  // Fast path: printable ASCII is one cell a character.
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const u of units(s)) w += u.width;
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
  for (const u of units(s)) {
    if (w + u.width > width) break;
    w += u.width;
    out += u.text;
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
          const first = units(rest)[0]!.text;
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
