/**
 * One conversation of the terminal client (the room, or a private one with a peer): its
 * entries, unread count, "new" marker and scroll position, and how its entries become display
 * rows at a width, with the dated rules (end of history, day changed) and the "new" rule.
 * ChatViewModel (view-model.ts) owns the list of them.
 */
import type { ConversationId } from '../chat/types.js';
import { conversationKey } from '../chat/types.js';
import { clamp } from './layout.js';
import { entryRows, fitLine, markerRow } from './panes.js';
import type { Entry, PaneStyle } from './panes.js';
import type { Line } from './theme.js';

export interface Conversation {
  id: ConversationId;
  key: string;
  /** A title to fall back on when the peer is no longer in the room. */
  name: string;
  entries: Entry[];
  unread: number;
  mention: boolean;
  /** Index of the first entry that arrived while you were elsewhere; the "new" rule goes there. */
  markerAt: number | null;
  /** Rows scrolled up from the bottom (0: following the conversation). */
  scroll: number;
  /** Lines that arrived below while scrolled up (the status bar counts them). */
  newBelow: number;
  /** Entries loaded from history when the conversation opened: a dated rule follows them. */
  historyEnd: number;
  /** When the conversation was opened (the history rule's date). */
  openedAt: number;
}

export interface ConversationView {
  key: string;
  id: ConversationId;
  title: string;
  unread: number;
  /** An unread message names you. */
  mention: boolean;
  active: boolean;
}

/** How rows are drawn: the pane style, the day rules' date format, and whose name is "you". */
export interface RowStyle {
  style: PaneStyle;
  formatDate: (ts: number) => string;
  selfName: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "Thu 2 Jan 2025" in local time. */
export function formatDate(ts: number): string {
  const d = new Date(ts);
  return `${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
}

const dayOf = (ts: number): string => {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
};
const entryTs = (e: Entry): number => (e.kind === 'message' ? e.msg.ts : e.ts);

/** A conversation with nothing in it yet, opened at `openedAt`. */
export function emptyConversation(id: ConversationId, name: string, openedAt: number): Conversation {
  return {
    id,
    key: conversationKey(id),
    name,
    entries: [],
    unread: 0,
    mention: false,
    markerAt: null,
    scroll: 0,
    newBelow: 0,
    historyEnd: 0,
    openedAt,
  };
}

/** Drop the oldest entries beyond `max`, keeping the marker and the history rule in place. */
export function dropOldest(c: Conversation, max: number): Entry[] {
  if (c.entries.length <= max) return [];
  const drop = c.entries.length - max;
  if (c.markerAt !== null) c.markerAt = Math.max(0, c.markerAt - drop);
  c.historyEnd = Math.max(0, c.historyEnd - drop);
  return c.entries.splice(0, drop);
}

/**
 * Every display row of a conversation at a width, with the "new" rule where it belongs when
 * `marker` (the conversation is the one shown). `owners`, when given, gets the entry each row
 * belongs to (a rule belongs to the entry after it).
 */
export function conversationRows(
  c: Conversation,
  width: number,
  r: RowStyle,
  marker: boolean,
  owners?: Entry[],
): Line[] {
  const g = r.style.glyphs;
  const out: Line[] = [];
  let lastDay: string | null = null;
  let lastTs = -Infinity;
  c.entries.forEach((e, i) => {
    // A dated rule where the history loaded at start ends, and wherever the day moves on (a
    // sender's clock running behind does not count).
    if (i === c.historyEnd && i > 0) {
      out.push(markerRow(g, width, `end of history, ${r.formatDate(c.openedAt)}`));
      lastDay = dayOf(c.openedAt);
      lastTs = Math.max(lastTs, c.openedAt);
    }
    const ts = entryTs(e);
    if (ts >= lastTs) {
      if (lastDay !== null && dayOf(ts) !== lastDay)
        out.push(markerRow(g, width, `day changed to ${r.formatDate(ts)}`));
      lastDay = dayOf(ts);
      lastTs = ts;
    }
    if (i === c.markerAt && marker) out.push(markerRow(g, width));
    out.push(...entryRows(r.style, e, width, r.selfName));
    while (owners && owners.length < out.length) owners.push(e);
  });
  return out;
}

/** The top row of a scrolled-up window: the entry it belongs to, and which of that entry's rows. */
export interface Anchor {
  entry: Entry;
  row: number;
}

/** Where the window of `height` rows starts, given the owner of every row (undefined: not scrolled). */
export function topAnchor(c: Conversation, owners: readonly Entry[], height: number): Anchor | undefined {
  if (c.scroll <= 0 || owners.length <= height) return undefined;
  const top = clamp(owners.length - c.scroll - height, 0, owners.length - 1);
  const entry = owners[top]!;
  return { entry, row: top - owners.indexOf(entry) };
}

/**
 * Scroll so that the window starts at `a` again after the rows changed (a line changed in place,
 * lines came below or dropped off the top): the same rows stay in view. An entry that is gone,
 * or is now shorter, keeps what is nearest.
 */
export function holdAnchor(c: Conversation, a: Anchor, owners: readonly Entry[], height: number): void {
  const first = owners.indexOf(a.entry);
  if (first < 0) return;
  let rows = 1;
  while (owners[first + rows] === a.entry) rows++;
  const top = first + Math.min(a.row, rows - 1);
  c.scroll = Math.max(0, owners.length - height - top);
}

/**
 * The rows of the log pane: the window of `rows` the scroll position shows (the scroll clamped
 * to what there is; back at the bottom, nothing is new below), padded at the top to `height`.
 */
export function logWindow(
  c: Conversation,
  rows: Line[],
  width: number,
  height: number,
  ellipsis: string,
): Line[] {
  c.scroll = clamp(c.scroll, 0, Math.max(0, rows.length - height));
  if (c.scroll === 0) c.newBelow = 0;
  const end = rows.length - c.scroll;
  const visible = rows.slice(Math.max(0, end - height), end);
  const pad: Line[] = Array.from({ length: height - visible.length }, () => []);
  return [...pad, ...visible].map((l) => fitLine(l, width, 'plain', ellipsis));
}
