/**
 * The view model's pure parts on their own: the roster (peer/tui/roster.ts), the key bindings
 * (key-bindings.ts), one conversation's rows and window (conversation.ts) and the layout
 * (layout.ts).
 */
import { describe, expect, it } from 'vitest';
import type { PeerView } from '../../peer/chat/types.js';
import { ROOM } from '../../peer/chat/types.js';
import { dropOldest, emptyConversation, logWindow } from '../../peer/tui/conversation.js';
import { UNICODE_GLYPHS } from '../../peer/tui/format.js';
import { InputLine } from '../../peer/tui/input-line.js';
import { helpKey, lineEdit, tabCandidates, typedText } from '../../peer/tui/key-bindings.js';
import { computeLayout } from '../../peer/tui/layout.js';
import { Roster } from '../../peer/tui/roster.js';
import { lineText } from '../../peer/tui/theme.js';

const peer = (id: string, name: string, extra: Partial<PeerView> = {}): PeerView => ({
  id,
  name,
  state: 'direct',
  ...extra,
});

describe('roster', () => {
  it('leaves you out, reports renames, and orders direct before offline', () => {
    const r = new Roster();
    r.replace([peer('me', 'alice'), peer('b', 'bob'), peer('d', 'dave', { state: 'offline' })], 'me');
    expect(r.size).toBe(2);
    expect(r.onlineCount()).toBe(2);
    const { renamed } = r.replace([peer('b', 'robert'), peer('d', 'dave', { state: 'offline' })], 'me');
    expect(renamed).toEqual([{ from: 'bob', peer: peer('b', 'robert') }]);
    expect(r.sorted().map((p) => p.name)).toEqual(['robert', 'dave']);
    expect(r.namesStarting('RO')).toEqual(['robert']);
  });

  it('warns once per name about a changed key, again after trust and a new change', () => {
    const r = new Roster();
    const { keyChanged } = r.replace([peer('b', 'bob', { keyChanged: true })], 'me');
    expect(keyChanged.map((p) => p.id)).toEqual(['b']);
    expect(r.flagKeyChange(keyChanged[0]!)).toBe(true);
    expect(r.flagKeyChange(peer('b2', 'bob'))).toBe(false);
    r.trusted(peer('b', 'bob'));
    expect(r.get('b')?.keyChanged).toBe(false);
    expect(r.flagKeyChange(peer('b', 'bob'))).toBe(true);
    expect(r.flaggedOrNamed('bob')?.id).toBe('b');
  });
});

describe('key bindings', () => {
  it('edits the line; other keys are not edits', () => {
    const l = new InputLine(10);
    l.insert('hello world');
    lineEdit(l, 'C-w', () => [])!();
    expect(l.text).toBe('hello ');
    lineEdit(l, 'C-a', () => [])!();
    expect(l.cursor).toBe(0);
    expect(lineEdit(l, 'f5', () => [])).toBeUndefined();
    expect(lineEdit(l, 'constructor', () => [])).toBeUndefined();
  });

  it('typed text drops control and meta keys; help keys scroll and close', () => {
    expect(typedText('a', 'a')).toBe('a');
    expect(typedText('C-x', '\x18')).toBe('');
    expect(typedText('M-x', 'x')).toBe('');
    expect(helpKey('down', 0)).toBe(1);
    expect(helpKey('up', 0)).toBe(0);
    expect(helpKey('pagedown', 3)).toBe(13);
    expect(helpKey('escape', 4)).toBe('close');
    expect(helpKey('x', 4)).toBeUndefined();
  });

  it('Tab offers commands after "/" at the start, else names', () => {
    const names = (prefix: string): string[] => ['bob', 'bobby'].filter((n) => n.startsWith(prefix));
    expect(tabCandidates('/ms', '', names)).toEqual(['/msg ']);
    expect(tabCandidates('bo', '', names)).toEqual(['bob: ', 'bobby: ']);
    expect(tabCandidates('bo', 'hi ', names)).toEqual(['bob ', 'bobby ']);
  });
});

describe('one conversation', () => {
  it('drops the oldest entries beyond the limit, keeping the marker and the history rule in place', () => {
    const c = emptyConversation(ROOM, 'lobby', 0);
    for (let i = 0; i < 5; i++) c.entries.push({ kind: 'system', text: `${i}`, level: 'info', ts: i });
    c.markerAt = 3;
    c.historyEnd = 1;
    expect(dropOldest(c, 3).map((e) => (e.kind === 'system' ? e.text : ''))).toEqual(['0', '1']);
    expect([c.markerAt, c.historyEnd, c.entries.length]).toEqual([1, 0, 3]);
    expect(dropOldest(c, 3)).toEqual([]);
  });

  it('the log window pads at the top, clamps the scroll, and clears "new below" at the bottom', () => {
    const c = emptyConversation(ROOM, 'lobby', 0);
    const rows = ['a', 'b', 'c'].map((t) => [{ text: t, role: 'plain' as const }]);
    c.scroll = 10;
    c.newBelow = 2;
    expect(logWindow(c, rows, 2, 2, '…').map((l) => lineText(l))).toEqual(['a ', 'b ']);
    expect(c.scroll).toBe(1);
    c.scroll = 0;
    expect(logWindow(c, rows, 2, 4, '…').map((l) => lineText(l))).toEqual(['  ', 'a ', 'b ', 'c ']);
    expect(c.newBelow).toBe(0);
  });
});

describe('layout', () => {
  it('the peer list appears from 60 columns; the input is the last row', () => {
    const narrow = computeLayout(59, 20, UNICODE_GLYPHS);
    expect(narrow.peers).toBeNull();
    expect(narrow.log).toMatchObject({ left: 0, width: 59, height: 17 });
    const wide = computeLayout(100, 30, UNICODE_GLYPHS);
    expect(wide.peers).toMatchObject({ left: 0, width: 25 });
    expect(wide.log.left).toBe(26);
    expect(wide.input.top).toBe(29);
  });
});
