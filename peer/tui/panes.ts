/**
 * What each pane shows, as lines of styled segments of an exact width: the conversation rows of
 * a message or system line, the tab bar, the peer list, the status bar and the help overlay.
 * Pure functions of the data they are given; the view-model owns the state.
 */
import type { ChatMessage, PeerView, SelfView } from '../chat/types.js';
import { COMMANDS } from './commands.js';
import { STATE_ROLE, deliveryMark, formatRtt } from './format.js';
import type { Glyphs } from './format.js';
import { fileText } from './file-lines.js';
import type { FileLine } from './file-lines.js';
import { fit, sanitize, strWidth, truncate, wrap } from './text.js';
import { nickColour } from './theme.js';
import type { Line, Role, Segment } from './theme.js';

export type NoticeLevel = 'info' | 'warn' | 'error' | 'alert';

/** One item of a conversation; a file transfer's line changes in place as its `line` does. */
export type Entry =
  | { kind: 'message'; msg: ChatMessage }
  | { kind: 'system'; text: string; level: NoticeLevel; ts: number }
  | { kind: 'file'; line: FileLine; ts: number };

export interface PaneStyle {
  glyphs: Glyphs;
  monochrome: boolean;
  formatTime: (ts: number) => string;
}

export const lineWidth = (l: Line): number => l.reduce((w, s) => w + strWidth(s.text), 0);

/** Cut a line of segments to `width` cells and pad it with `fill` to exactly that width. */
export function fitLine(line: Line, width: number, fill: Role = 'plain', ellipsis = '…'): Line {
  const out: Line = [];
  let w = 0;
  for (const seg of line) {
    const sw = strWidth(seg.text);
    if (w + sw <= width) {
      out.push(seg);
      w += sw;
      continue;
    }
    const text = truncate(seg.text, width - w, ellipsis);
    if (text !== '') out.push({ ...seg, text });
    w += strWidth(text);
    break;
  }
  if (w < width) out.push({ text: ' '.repeat(width - w), role: fill });
  return out;
}

/** A nick: its stable colour in colour mode, none in monochrome (the theme makes it bold). */
function nickSegment(st: PaneStyle, id: string, role: 'nick' | 'self', text: string): Segment {
  return st.monochrome ? { text, role } : { text, role, colour: nickColour(id) };
}

/** Does `text` name `nick` as a whole word (case-insensitive)? */
export function mentions(nick: string, text: string): boolean {
  const n = nick.toLowerCase();
  if (n === '') return false;
  const t = text.toLowerCase();
  const word = /[\p{L}\p{N}_]/u;
  for (let i = t.indexOf(n); i >= 0; i = t.indexOf(n, i + 1)) {
    const before = i === 0 ? '' : t[i - 1]!;
    const after = t[i + n.length] ?? '';
    if (!word.test(before) && !word.test(after)) return true;
  }
  return false;
}

/** "direct 23 ms", "offline", "relay 140 ms KEY CHANGED". */
export function describeState(p: PeerView): string {
  const rtt = p.rttMs !== undefined && p.state !== 'offline' ? ` ${formatRtt(p.rttMs)}` : '';
  return `${p.state}${rtt}${p.keyChanged ? ' KEY CHANGED' : ''}`;
}

/**
 * A rule across the conversation with a label in the middle: "new" above the first message that
 * arrived while you were elsewhere, or a date (where history ends, where the day changes).
 */
export function markerRow(g: Glyphs, width: number, text = 'new'): Line {
  const label = ` ${truncate(text, Math.max(1, width - 2), g.ellipsis)} `;
  const side = Math.max(0, Math.floor((width - strWidth(label)) / 2));
  const rest = Math.max(0, width - side - strWidth(label));
  return [{ text: g.rule.repeat(side) + label + g.rule.repeat(rest), role: 'marker' }];
}

const LEVEL_ROLE: Record<NoticeLevel, Role> = {
  info: 'system',
  warn: 'warn',
  error: 'error',
  alert: 'alert',
};

/**
 * The rows of one conversation entry: "HH:MM <nick> text mark" for a message, "HH:MM -!- text"
 * for a system line ("!!!" for an alert). Continuation rows are indented under the text (at most
 * a third of the width); a report's own indented lines keep their indent when they wrap.
 */
export function entryRows(st: PaneStyle, e: Entry, width: number, selfName: string): Line[] {
  const time: Segment = { text: `${st.formatTime(e.kind === 'message' ? e.msg.ts : e.ts)} `, role: 'time' };
  const tw = strWidth(time.text);
  const indentRow = (n: number): Segment => ({ text: ' '.repeat(n), role: 'plain' });
  if (e.kind === 'file') {
    // Drawn as the system line it reads as now, at the width its text column has.
    const f = fileText(e.line, st.glyphs, width - Math.min(tw + 4, Math.floor(width / 3)));
    return entryRows(
      st,
      { kind: 'system', text: f.text, level: f.error ? 'error' : 'info', ts: e.ts },
      width,
      selfName,
    );
  }
  if (e.kind === 'system') {
    const prefix = e.level === 'alert' ? '!!! ' : '-!- ';
    const role = LEVEL_ROLE[e.level];
    const indent = Math.min(tw + prefix.length, Math.floor(width / 3));
    const first = width - tw - prefix.length;
    const lines: string[] = [];
    for (const para of sanitize(e.text, true).split('\n')) {
      const lead = Math.min(/^ */.exec(para)![0].length, Math.floor(width / 4));
      const w = width - indent - lead;
      const firstW = lines.length === 0 ? first - lead : w;
      lines.push(...wrap(para.trimStart(), w, firstW).map((l) => ' '.repeat(lead) + l));
    }
    return lines.map((l, i) =>
      i === 0
        ? [time, { text: prefix, role: e.level === 'info' ? 'system' : role }, { text: l, role }]
        : [indentRow(indent), { text: l, role }],
    );
  }
  const m = e.msg;
  // "/me waves" reads "* alice waves".
  const nick = nickSegment(
    st,
    m.fromId,
    m.outgoing ? 'self' : 'nick',
    m.action === true ? `* ${sanitize(m.fromName)}` : `<${sanitize(m.fromName)}>`,
  );
  const prefixW = tw + strWidth(nick.text) + 1;
  const indent = Math.min(prefixW, Math.floor(width / 3));
  const textRole: Role = !m.outgoing && mentions(selfName, m.text) ? 'mention' : 'plain';
  const rows: Line[] = wrap(sanitize(m.text, true), width - indent, width - prefixW).map((l, i) =>
    i === 0
      ? [time, nick, { text: ' ', role: 'plain' }, { text: l, role: textRole }]
      : [indentRow(indent), { text: l, role: textRole }],
  );
  if (m.outgoing) {
    const mark = deliveryMark(m.delivery, st.glyphs);
    const last = rows[rows.length - 1]!;
    if (lineWidth(last) + 1 + lineWidth(mark) <= width) last.push({ text: ' ', role: 'plain' }, ...mark);
    else rows.push([indentRow(indent), ...mark]);
  }
  return rows;
}

export interface Tab {
  title: string;
  unread: number;
  mention: boolean;
  /** The peer's key changed. */
  alert: boolean;
}

/** The tab bar: a window of tabs around the active one, "<" / ">" when some are off screen. */
export function tabBar(g: Glyphs, tabs: Tab[], active: number, width: number): Line {
  const items = tabs.map((t, i): Segment => {
    const unread = t.unread > 0 ? `(${t.unread}${t.mention ? '!' : ''})` : '';
    const text = ` ${i + 1}:${truncate(sanitize(t.title), 16, g.ellipsis)}${unread}${t.alert ? '!' : ''} `;
    const role: Role =
      i === active ? 'bar-active' : t.alert ? 'bar-alert' : t.unread > 0 ? 'bar-unread' : 'bar';
    return { text, role };
  });
  let from = active;
  let to = active + 1;
  let w = strWidth(items[from]!.text);
  const room = width - 2; // for the "<" and ">" hints
  for (;;) {
    const right = to < items.length && w + strWidth(items[to]!.text) <= room;
    if (right) w += strWidth(items[to++]!.text);
    const left = from > 0 && w + strWidth(items[from - 1]!.text) <= room;
    if (left) w += strWidth(items[--from]!.text);
    if (!right && !left) break;
  }
  const hint = (text: string, hidden: Segment[]): Segment => ({
    text,
    role: hidden.some((s) => s.role !== 'bar') ? 'bar-unread' : 'bar',
  });
  const line: Line = [];
  if (from > 0) line.push(hint('<', items.slice(0, from)));
  line.push(...items.slice(from, to));
  if (to < items.length) line.push(hint('>', items.slice(to)));
  return fitLine(line, width, 'bar', g.ellipsis);
}

/**
 * The peer list: the room and its size, you, then every peer with its state and round trip
 * (offline last), "!" before a peer whose key changed, "+N more" when they do not fit. The last
 * column is the separator from the conversation.
 */
export function peerList(
  st: PaneStyle,
  self: SelfView,
  peers: PeerView[],
  width: number,
  height: number,
  /** You and the members not offline. */
  online = peers.filter((p) => p.state !== 'offline').length + 1,
): Line[] {
  const cw = width - 1;
  const g = st.glyphs;
  const out: Line[] = [];
  const row = (segs: Line): void => {
    out.push([...fitLine(segs, cw, 'plain', g.ellipsis), { text: g.separator, role: 'separator' }]);
  };
  row([{ text: sanitize(`${self.room} (${online})`), role: 'heading' }]);
  row([
    { text: ' ', role: 'plain' },
    nickSegment(st, self.id, 'self', truncate(sanitize(self.name), cw - 7, g.ellipsis)),
    { text: ' (you)', role: 'plain' },
  ]);
  const slots = height - out.length;
  const shown = peers.length > slots ? Math.max(0, slots - 1) : peers.length;
  for (const p of peers.slice(0, shown)) {
    let right: string = p.state;
    if (p.rttMs !== undefined && p.state !== 'offline' && p.state !== 'connecting')
      right += ` ${formatRtt(p.rttMs, true)}`;
    if (cw - 2 - strWidth(right) < 4) right = truncate(right, Math.max(1, cw - 6), g.ellipsis);
    const nameW = Math.max(1, cw - 2 - strWidth(right));
    row([
      p.keyChanged ? { text: '!', role: 'alert' } : { text: ' ', role: 'plain' },
      nickSegment(st, p.id, 'nick', fit(sanitize(p.name), nameW, g.ellipsis)),
      { text: ' ', role: 'plain' },
      { text: right, role: p.keyChanged ? 'alert' : STATE_ROLE[p.state] },
    ]);
  }
  if (shown < peers.length) row([{ text: ` +${peers.length - shown} more (/who)`, role: 'system' }]);
  while (out.length < height) row([]);
  return out.slice(0, height);
}

/**
 * The status bar: key-change alerts first, the scroll hint, your nick, fingerprint, public
 * endpoint and the server's state; on the right where Enter sends (the room's size, or the
 * peer's path and RTT). On a narrow screen the fingerprint gives way first.
 */
export function statusBar(
  g: Glyphs,
  self: SelfView,
  peers: PeerView[],
  /** The scroll hint ("-- more below: 3 new --"), or null when following the conversation. */
  scrolled: string | null,
  where: string,
  width: number,
  /** While the server is lost: what would fix it ("name taken: /nick NEWNAME"). */
  serverNote?: string,
): Line {
  const sep: Segment = { text: ` ${g.separator} `, role: 'bar' };
  const alerts: Line = [];
  for (const p of peers)
    if (p.keyChanged) alerts.push({ text: ` KEY CHANGED: ${sanitize(p.name)} (/trust) `, role: 'bar-alert' });
  if (scrolled !== null) alerts.push({ text: ` ${scrolled} `, role: 'bar-warn' });
  const name: Line = [
    { text: ' ', role: 'bar' },
    { text: sanitize(self.name), role: 'bar-unread' },
  ];
  const fingerprint: Segment = { text: ` ${self.fingerprint}`, role: 'bar' };
  const endpoint: Segment = { text: self.publicEndpoint ?? 'endpoint ?', role: 'bar' };
  // With several servers (--server A,B) the bar names the one in use.
  const which = self.serverName !== undefined ? ` ${sanitize(self.serverName)}` : '';
  const server: Segment =
    self.server === 'registered'
      ? { text: `server${which} ok`, role: 'bar-ok' }
      : self.server === 'connecting'
        ? { text: `server${which} connecting${g.ellipsis}`, role: 'bar-warn' }
        : { text: `SERVER${which} LOST${serverNote ? `: ${serverNote}` : ''}`, role: 'bar-alert' };
  const right: Segment = { text: ` ${sanitize(where)} `, role: 'bar' };
  const left: Line = [...alerts, ...name, fingerprint, sep, endpoint, sep, server];
  const lw = lineWidth(left);
  const rw = strWidth(right.text);
  if (lw + rw <= width) return [...left, { text: ' '.repeat(width - lw - rw), role: 'bar' }, right];
  return fitLine(
    [...alerts, ...name, { text: ' ', role: 'bar' }, server, sep, endpoint, fingerprint],
    width,
    'bar',
    g.ellipsis,
  );
}

const HELP_KEYS: [string, string][] = [
  ['Enter', 'send the line (//text sends "/text")'],
  ['Up / Down', 'input history'],
  ['Tab', 'complete a nick or command; again: next'],
  ['PgUp / PgDn', 'scroll the conversation'],
  ['Alt-1..9', 'go to conversation 1..9'],
  ['Ctrl-N / Ctrl-P', 'next / previous conversation'],
  ['Ctrl-L', 'redraw the screen'],
  ['Ctrl-C', 'quit (also /quit)'],
];

/** The help overlay's lines at a content width: keys, commands, marks. */
export function helpLines(g: Glyphs, width: number): Line[] {
  const cmds: [string, string][] = COMMANDS.map((c) => [c.usage, c.about]);
  const kw = Math.max(...[...HELP_KEYS, ...cmds].map(([k]) => strWidth(k))) + 2;
  const fitted = (l: Line): Line => fitLine(l, width, 'plain', g.ellipsis);
  const row = ([k, d]: [string, string]): Line =>
    fitted([
      { text: ' ' + k.padEnd(kw), role: 'key' },
      { text: d, role: 'plain' },
    ]);
  const marks = `${g.pending} pending  ${g.sent} sent  ${g.delivered} delivered  ${g.held} held`;
  return [
    fitted([{ text: 'Keys', role: 'heading' }]),
    ...HELP_KEYS.map(row),
    fitted([{ text: 'Commands', role: 'heading' }]),
    ...cmds.map(row),
    fitted([
      { text: 'Marks ', role: 'heading' },
      { text: marks, role: 'plain' },
    ]),
  ];
}
