/**
 * How values read on screen: times, round trips, peer states, delivery marks and the /info
 * report. Glyphs come in a Unicode and an ASCII set; the ASCII one is used when the locale is not
 * UTF-8 (a terminal that cannot show "✓" shows "+" rather than garbage).
 */
import type { DeliveryState, PeerInfo, PeerPresence } from '../chat/types.js';
import type { Line, Role } from './theme.js';

export interface Glyphs {
  pending: string;
  sent: string;
  delivered: string;
  held: string;
  ellipsis: string;
  separator: string;
  rule: string;
  answered: string;
  unanswered: string;
  /** A progress bar's done and to-do cells. */
  barDone: string;
  barTodo: string;
}

export const UNICODE_GLYPHS: Glyphs = {
  pending: '…',
  sent: '✓',
  delivered: '✓✓',
  held: '⚠',
  ellipsis: '…',
  separator: '│',
  rule: '─',
  answered: '✓',
  unanswered: '✗',
  barDone: '█',
  barTodo: '░',
};

export const ASCII_GLYPHS: Glyphs = {
  pending: '-',
  sent: '+',
  delivered: '++',
  held: '!',
  ellipsis: '~',
  separator: '|',
  rule: '-',
  answered: '+',
  unanswered: 'x',
  barDone: '#',
  barTodo: '.',
};

/** True when the locale says UTF-8 (LC_ALL overrides LC_CTYPE overrides LANG, as in POSIX). */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const loc = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(loc);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** HH:MM in local time. */
export function formatTime(ts: number): string {
  const d = new Date(ts);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** "23 ms", "1.2 s"; `compact` drops the space for the narrow peer list. */
export function formatRtt(ms: number, compact = false): string {
  const sp = compact ? '' : ' ';
  if (ms < 1000) return `${Math.round(ms)}${sp}ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}${sp}s`;
}

export const STATE_ROLE: Record<PeerPresence, Role> = {
  direct: 'state-direct',
  relay: 'state-relay',
  connecting: 'state-connecting',
  online: 'state-online',
  offline: 'state-offline',
};

/** Sort rank in the peer list: reachable first, offline last. */
export const STATE_RANK: Record<PeerPresence, number> = {
  direct: 0,
  relay: 0,
  connecting: 0,
  online: 0,
  offline: 1,
};

const ORDER: Record<DeliveryState, number> = { held: 0, pending: 1, sent: 2, delivered: 3 };

/**
 * The mark after an outgoing message. One recipient: "…", "✓" or "✓✓". Several (a room
 * message): the weakest state among the recipients and how many have it delivered, "✓ 2/3".
 * Held messages (the recipient's key changed) add a loud "⚠ held".
 */
export function deliveryMark(delivery: Record<string, DeliveryState> | undefined, g: Glyphs): Line {
  const states = Object.values(delivery ?? {});
  if (states.length === 0) return [{ text: g.sent, role: 'mark-sent' }];
  const held = states.filter((s) => s === 'held').length;
  const others = states.filter((s) => s !== 'held');
  const out: Line = [];
  if (others.length > 0) {
    const min = others.reduce((a, b) => (ORDER[b] < ORDER[a] ? b : a));
    const role: Role = min === 'pending' ? 'mark-pending' : min === 'sent' ? 'mark-sent' : 'mark-delivered';
    const glyph = min === 'pending' ? g.pending : min === 'sent' ? g.sent : g.delivered;
    const delivered = others.filter((s) => s === 'delivered').length;
    out.push({ text: states.length > 1 ? `${glyph} ${delivered}/${states.length}` : glyph, role });
  }
  if (held > 0) {
    if (out.length > 0) out.push({ text: ' ', role: 'plain' });
    out.push({ text: `${g.held} held${states.length > 1 ? ` ${held}` : ''}`, role: 'mark-held' });
  }
  return out;
}

const dash = (v: string | undefined): string => v ?? '-';

/** The /info report: identity, path, candidates tried, and the session's counters. */
export function formatInfo(info: PeerInfo, g: Glyphs): string[] {
  const lines = [`${info.name}  fingerprint ${info.fingerprint}`, `  id ${info.id}`];
  const path = info.path ? `${info.path}${info.remote ? ` to ${info.remote}` : ''}` : 'none yet';
  lines.push(`  state ${info.state}, path ${path}`);
  if (info.connectMs !== undefined) lines.push(`  connected in ${formatRtt(info.connectMs)}`);
  lines.push(
    `  rtt ${info.rttMs !== undefined ? formatRtt(info.rttMs) : '-'}` +
      `  loss ${info.lossPct !== undefined ? `${info.lossPct.toFixed(1)}%` : '-'}` +
      `  retransmits ${dash(info.retransmits?.toString())}`,
  );
  const cands = info.candidates ?? [];
  if (cands.length === 0) lines.push('  candidates tried: none');
  else {
    lines.push(`  candidates tried (${cands.length}):`);
    for (const c of cands)
      lines.push(
        `    ${c.answered ? g.answered : g.unanswered} ${c.kind} ${c.endpoint}${c.answered ? ' answered' : ' no answer'}`,
      );
  }
  return lines;
}
