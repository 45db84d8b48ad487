/**
 * What the panes are made of (lines of styled segments) and how a style role looks, in colour and
 * in monochrome. The view-model produces segments; the widget layer turns them into blessed tags
 * with toTags() and paints. Nothing here touches a terminal.
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
 * (the bright ANSI colours vanish on white, dark blue vanishes on black). blessed maps each to the
 * nearest colour the terminal has (256 or 8).
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

/** blessed treats `{...}` as tags; user text must not be able to open one. */
export function escapeTags(s: string): string {
  return s.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

/**
 * One line as blessed tag markup. `colours` is what the terminal has: with fewer than 16, blessed
 * would turn gray into black (invisible on a dark background), so gray is left out there.
 */
export function toTags(line: Line, monochrome: boolean, colours = 256): string {
  let out = '';
  for (const seg of line) {
    if (seg.text === '') continue;
    const st = styleOf(seg, monochrome);
    let open = '';
    if (st.fg && !(st.fg === 'gray' && colours < 16)) open += `{${st.fg}-fg}`;
    if (st.bg) open += `{${st.bg}-bg}`;
    if (st.bold) open += '{bold}';
    if (st.underline) open += '{underline}';
    if (st.inverse) open += '{inverse}';
    out += open === '' ? escapeTags(seg.text) : `${open}${escapeTags(seg.text)}{/}`;
  }
  return out;
}

export const lineText = (line: Line): string => line.map((s) => s.text).join('');
