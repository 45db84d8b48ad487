/**
 * What the panes are made of (lines of styled segments) and how a style role looks, in colour and
 * in monochrome. The view-model produces segments; the terminal layer turns them into SGR
 * escape sequences with toAnsi() and paints. Nothing here touches a terminal.
 */

export type Role =
  | 'plain'
  | 'time'
  | 'nick' // another person's nick: carries a palette index in colour mode
  | 'self' // your own nick
  | 'mention' // a message that names you
  | 'mark-pending'
  | 'mark-sent'
  | 'mark-delivered'
  | 'mark-held'
  | 'system'
  | 'warn'
  | 'error'
  | 'alert' // a key change: must not be missed
  | 'marker' // the "new messages" rule
  | 'heading'
  | 'key' // a key or command name in help
  | 'separator'
  | 'state-direct'
  | 'state-relay'
  | 'state-connecting'
  | 'state-online'
  | 'state-offline'
  | 'bar' // tab and status bars
  | 'bar-active'
  | 'bar-unread'
  | 'bar-alert'
  | 'bar-ok'
  | 'bar-warn'
  | 'prompt';

export interface Segment {
  text: string;
  role: Role;
  /** Index into NICK_PALETTE; only on 'nick' and 'self' segments, and never in monochrome. */
  colour?: number;
}

export type Line = Segment[];

export interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

/**
 * Nick colours: mid-luminance hues that keep their contrast on dark and on light backgrounds
 * (the bright ANSI colours vanish on white, dark blue vanishes on black). Each is an xterm-256
 * cube colour, reduced to 16 or 8 on terminals with fewer (toAnsi).
 */
export const NICK_PALETTE: readonly string[] = [
  '#0087ff', // blue
  '#d75f00', // orange
  '#00af00', // green
  '#af00af', // magenta
  '#00afaf', // teal
  '#af8700', // ochre
  '#875fff', // violet
  '#d7005f', // rose
];

/** FNV-1a over the peer id: a nick keeps its colour across runs, machines and renames. */
export function nickColour(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % NICK_PALETTE.length;
}

const COLOUR: Record<Role, Style> = {
  plain: {},
  time: { fg: 'gray' },
  nick: {},
  self: { bold: true },
  mention: { bold: true },
  'mark-pending': { fg: 'gray' },
  'mark-sent': {},
  'mark-delivered': { fg: 'green' },
  'mark-held': { fg: 'yellow', bold: true },
  system: { fg: 'gray' },
  warn: { fg: 'yellow', bold: true },
  error: { fg: 'red', bold: true },
  alert: { fg: 'white', bg: 'red', bold: true },
  marker: { fg: 'red' },
  heading: { bold: true, underline: true },
  key: { bold: true },
  separator: { fg: 'gray' },
  'state-direct': { fg: 'green' },
  'state-relay': { fg: 'yellow' },
  'state-connecting': { fg: 'cyan' },
  'state-online': {},
  'state-offline': { fg: 'gray' },
  bar: { inverse: true },
  'bar-active': { bold: true },
  'bar-unread': { inverse: true, bold: true },
  'bar-alert': { fg: 'white', bg: 'red', bold: true },
  'bar-ok': { inverse: true },
  'bar-warn': { inverse: true, bold: true },
  prompt: { bold: true },
};

/** Monochrome: only bold, underline and reverse video. No role may carry a colour here. */
const MONO: Record<Role, Style> = {
  plain: {},
  time: {},
  nick: { bold: true },
  self: { bold: true, underline: true },
  mention: { bold: true },
  'mark-pending': {},
  'mark-sent': {},
  'mark-delivered': { bold: true },
  'mark-held': { bold: true, inverse: true },
  system: {},
  warn: { bold: true },
  error: { bold: true, underline: true },
  alert: { bold: true, inverse: true },
  marker: { underline: true },
  heading: { bold: true, underline: true },
  key: { bold: true },
  separator: {},
  'state-direct': { bold: true },
  'state-relay': { underline: true },
  'state-connecting': {},
  'state-online': {},
  'state-offline': {},
  bar: { inverse: true },
  'bar-active': { bold: true },
  'bar-unread': { inverse: true, bold: true },
  'bar-alert': { bold: true, underline: true },
  'bar-ok': { inverse: true },
  'bar-warn': { inverse: true, bold: true },
  prompt: { bold: true },
};

export function styleOf(seg: Segment, monochrome: boolean): Style {
  if (monochrome) return MONO[seg.role];
  const base = COLOUR[seg.role];
  if (seg.colour !== undefined && (seg.role === 'nick' || seg.role === 'self'))
    return { ...base, fg: NICK_PALETTE[seg.colour % NICK_PALETTE.length]! };
  return base;
}

export const lineText = (line: Line): string => line.map((s) => s.text).join('');

const NAMED: Record<string, number> = {
  black: 0,
  red: 1,
  green: 2,
  yellow: 3,
  blue: 4,
  magenta: 5,
  cyan: 6,
  white: 7,
  gray: 8,
};

const CUBE = [0, 95, 135, 175, 215, 255];
const nearestLevel = (v: number): number =>
  CUBE.reduce((best, l, i) => (Math.abs(l - v) < Math.abs(CUBE[best]! - v) ? i : best), 0);

/** "#0087ff" as the nearest colour of xterm's 6x6x6 cube (16 + 36r + 6g + b): 33. */
export function cubeIndex(hex: string): number {
  const n = Number.parseInt(hex.slice(1), 16);
  return (
    16 + 36 * nearestLevel((n >> 16) & 0xff) + 6 * nearestLevel((n >> 8) & 0xff) + nearestLevel(n & 0xff)
  );
}

/**
 * A colour as an index the terminal has: a name, or a palette hex colour (all of them are in
 * xterm's colour cube) reduced by `reduce` (blessed's table) to 16 or 8 where there are fewer.
 */
function colourIndex(c: string, colours: number, reduce: Reduce): number {
  const named = NAMED[c];
  if (named !== undefined) return colours < 16 && named >= 8 ? named - 8 : named;
  const i = cubeIndex(c);
  return colours >= 256 ? i : reduce(i, colours);
}

type Reduce = (index: number, total: number) => number;

const sgrColour = (index: number, bg: boolean): string =>
  index < 8
    ? String((bg ? 40 : 30) + index)
    : index < 16
      ? String((bg ? 100 : 90) + index - 8)
      : `${bg ? 48 : 38};5;${index}`;

/**
 * One line as the bytes a terminal draws: each segment opens with a full SGR (reset first, so no
 * attribute leaks from one segment to the next) and the line ends reset. Text is written as it
 * is: it has been sanitised (panes.ts) and measured (text.ts) already.
 */
export function toAnsi(line: Line, monochrome: boolean, colours: number, reduce: Reduce): string {
  let out = '';
  for (const seg of line) {
    if (seg.text === '') continue;
    const st = styleOf(seg, monochrome);
    const p: string[] = ['0'];
    if (st.bold) p.push('1');
    if (st.underline) p.push('4');
    if (st.inverse) p.push('7');
    if (st.fg && !(st.fg === 'gray' && colours < 16))
      p.push(sgrColour(colourIndex(st.fg, colours, reduce), false));
    if (st.bg) p.push(sgrColour(colourIndex(st.bg, colours, reduce), true));
    out += `\x1b[${p.join(';')}m${seg.text}`;
  }
  return `${out}\x1b[0m`;
}
