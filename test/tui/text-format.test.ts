import { describe, expect, it } from 'vitest';
import {
  ASCII_GLYPHS,
  UNICODE_GLYPHS,
  deliveryMark,
  formatInfo,
  formatRtt,
  formatTime,
  localeIsUtf8,
} from '../../peer/tui/format.js';
import { cutCells } from '../../peer/tui/compose.js';
import { sanitize, sliceWidth, strWidth, truncate, units, wrap } from '../../peer/tui/text.js';
import blessed from 'blessed';
import { NICK_PALETTE, cubeIndex, lineText, nickColour, styleOf, toAnsi } from '../../peer/tui/theme.js';
import type { Role } from '../../peer/tui/theme.js';
import { fakeId } from './fake-service.js';
import { T0 } from './helpers.js';

const colours = blessed.colors as unknown as { reduce(index: number, total: number): number };
const ansi = (line: Parameters<typeof toAnsi>[0], mono: boolean, n: number): string =>
  toAnsi(line, mono, n, colours.reduce);

describe('text measurement', () => {
  it('counts wide characters twice and combining marks not at all', () => {
    expect(strWidth('abc')).toBe(3);
    expect(strWidth('中文')).toBe(4);
    expect(strWidth('😀')).toBe(2);
    expect(strWidth('e\u0301')).toBe(1);
    expect(strWidth('✓✓')).toBe(2);
  });

  it('measures as tmux draws: flags, joined emoji and combining marks are one unit, skin tones two', () => {
    // Each width here is the cursor advance tmux 3.3a shows after printing the string.
    expect(strWidth('👍')).toBe(2);
    expect(strWidth('🇫🇷')).toBe(2);
    expect(strWidth('🇫')).toBe(1);
    expect(strWidth('👨‍👩‍👧')).toBe(2);
    expect(strWidth('👩‍💻x')).toBe(3);
    expect(strWidth('👍🏽')).toBe(4);
    expect(strWidth('❤️')).toBe(1);
    expect(strWidth('⌚')).toBe(2);
    expect(strWidth('🌡')).toBe(1);
    expect(strWidth('漢字')).toBe(4);
    expect(units('a👨‍👩‍👧e\u0301🇫🇷').map((u) => [u.text, u.width])).toEqual([
      ['a', 1],
      ['👨‍👩‍👧', 2],
      ['e\u0301', 1],
      ['🇫🇷', 2],
    ]);
  });

  it('never cuts inside a flag, a joined emoji or a combining sequence', () => {
    expect(sliceWidth('🇫🇷🇩🇪', 3)).toBe('🇫🇷');
    expect(sliceWidth('👨‍👩‍👧x', 2)).toBe('👨‍👩‍👧');
    expect(sliceWidth('cafe\u0301', 4)).toBe('cafe\u0301');
    expect(wrap('👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧', 4)).toEqual(['👨‍👩‍👧👨‍👩‍👧', '👨‍👩‍👧']);
    expect(truncate('ab🇫🇷cd', 4)).toBe('ab…');
  });

  it('cuts a line of cells with a wide character on the edge turned into spaces', () => {
    const line = [{ text: 'a漢b', role: 'plain' as const }];
    expect(lineText(cutCells(line, 0, 2))).toBe('a ');
    expect(lineText(cutCells(line, 2, 4))).toBe(' b');
    expect(lineText(cutCells(line, 1, 3))).toBe('漢');
    expect(lineText(cutCells(line, 3, 6))).toBe('b  ');
  });

  it('truncates with an ellipsis to the exact width', () => {
    expect(truncate('hello world', 8)).toBe('hello w…');
    expect(truncate('中文中文', 5)).toBe('中文…');
    expect(truncate('short', 8)).toBe('short');
    expect(truncate('hello', 3, '~')).toBe('he~');
  });

  it('wraps on words, breaks long words, honours newlines, never exceeds the width', () => {
    expect(wrap('the quick brown fox', 10)).toEqual(['the quick', 'brown fox']);
    expect(wrap('abcdefghijkl', 5)).toEqual(['abcde', 'fghij', 'kl']);
    expect(wrap('a\nb', 10)).toEqual(['a', 'b']);
    expect(wrap('one two three', 20, 4)).toEqual(['one', 'two three']);
    const long = 'lorem ipsum 中文中文中文 dolor sit amet, consectetur adipiscing elit 😀😀😀 '.repeat(5);
    for (const w of [7, 13, 40])
      for (const line of wrap(long, w)) expect(strWidth(line)).toBeLessThanOrEqual(w);
  });

  it('removes escape sequences and bidi overrides from hostile text', () => {
    expect(sanitize('\x1b[2Jgone\x07')).toBe('\ufffd[2Jgone\ufffd');
    expect(sanitize('a\u202eb')).toBe('a\ufffdb');
    expect(sanitize('a\tb\nc')).toBe('a b\ufffdc');
    expect(sanitize('a\nb\r', true)).toBe('a\nb');
  });
});

describe('formatting', () => {
  it('HH:MM, RTTs, locale detection', () => {
    expect(formatTime(T0)).toBe('09:05');
    expect(formatRtt(23.4)).toBe('23 ms');
    expect(formatRtt(1234)).toBe('1.2 s');
    expect(formatRtt(23, true)).toBe('23ms');
    expect(localeIsUtf8({ LANG: 'en_US.UTF-8' })).toBe(true);
    expect(localeIsUtf8({ LANG: 'C' })).toBe(false);
    expect(localeIsUtf8({ LANG: 'en_US.UTF-8', LC_ALL: 'C' })).toBe(false);
    expect(localeIsUtf8({})).toBe(false);
  });

  const mark = (d: Record<string, 'pending' | 'sent' | 'delivered' | 'held'>, ascii = false): string =>
    lineText(deliveryMark(d, ascii ? ASCII_GLYPHS : UNICODE_GLYPHS));

  it('delivery marks: one recipient, a room, held, and the ASCII fallbacks', () => {
    expect(mark({ b: 'pending' })).toBe('…');
    expect(mark({ b: 'sent' })).toBe('✓');
    expect(mark({ b: 'delivered' })).toBe('✓✓');
    expect(mark({ b: 'delivered', c: 'delivered', d: 'sent' })).toBe('✓ 2/3');
    expect(mark({ b: 'delivered', c: 'delivered', d: 'delivered' })).toBe('✓✓ 3/3');
    expect(mark({ b: 'delivered', c: 'sent', d: 'pending' })).toBe('… 1/3');
    expect(mark({ b: 'held' })).toBe('⚠ held');
    expect(mark({ b: 'held', c: 'delivered' })).toBe('✓✓ 1/2 ⚠ held 1');
    expect(mark({ b: 'pending' }, true)).toBe('-');
    expect(mark({ b: 'sent' }, true)).toBe('+');
    expect(mark({ b: 'delivered' }, true)).toBe('++');
    expect(mark({ b: 'held' }, true)).toBe('! held');
    expect(deliveryMark({ b: 'pending' }, UNICODE_GLYPHS)[0]!.role).toBe('mark-pending');
    expect(deliveryMark({ b: 'delivered' }, UNICODE_GLYPHS)[0]!.role).toBe('mark-delivered');
  });

  it('/info shows every field', () => {
    const lines = formatInfo(
      {
        id: fakeId('bob'),
        name: 'bob',
        fingerprint: 'aaaa:bbbb:cccc:dddd',
        state: 'direct',
        path: 'direct',
        remote: '203.0.113.7:41234',
        candidates: [
          { endpoint: '192.168.1.20:41234', kind: 'host', answered: false },
          { endpoint: '203.0.113.7:41234', kind: 'srflx', answered: true },
        ],
        rttMs: 23,
        lossPct: 0.4,
        retransmits: 3,
        connectMs: 184,
      },
      UNICODE_GLYPHS,
    );
    expect(lines).toEqual([
      'bob  fingerprint aaaa:bbbb:cccc:dddd',
      `  id ${fakeId('bob')}`,
      '  state direct, path direct to 203.0.113.7:41234',
      '  connected in 184 ms',
      '  rtt 23 ms  loss 0.4%  retransmits 3',
      '  candidates tried (2):',
      '    ✗ host 192.168.1.20:41234 no answer',
      '    ✓ srflx 203.0.113.7:41234 answered',
    ]);
    const bare = formatInfo({ id: 'x', name: 'dave', fingerprint: 'f', state: 'offline' }, ASCII_GLYPHS);
    expect(bare.slice(2)).toEqual([
      '  state offline, path none yet',
      '  rtt -  loss -  retransmits -',
      '  candidates tried: none',
    ]);
  });
});

describe('theme', () => {
  it('a nick keeps its colour: a pure function of the id', () => {
    const ids = ['bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].map(fakeId);
    const first = ids.map(nickColour);
    expect(ids.map(nickColour)).toEqual(first);
    for (const c of first) expect(c).toBeGreaterThanOrEqual(0);
    for (const c of first) expect(c).toBeLessThan(NICK_PALETTE.length);
    // The hash spreads: eight names use at least four colours.
    expect(new Set(first).size).toBeGreaterThanOrEqual(4);
    expect(nickColour('5c43f7ea37c570d45d0d7faf29c60701')).toBe(
      nickColour('5c43f7ea37c570d45d0d7faf29c60701'),
    );
  });

  it('monochrome styles use no colour at all; colour styles do', () => {
    const roles: Role[] = [
      'nick',
      'self',
      'mark-delivered',
      'alert',
      'state-direct',
      'state-relay',
      'bar-alert',
      'error',
    ];
    for (const role of roles) {
      const mono = styleOf({ text: 'x', role, colour: 3 }, true);
      expect(mono.fg, role).toBeUndefined();
      expect(mono.bg, role).toBeUndefined();
    }
    expect(styleOf({ text: 'x', role: 'nick', colour: 3 }, false).fg).toBe(NICK_PALETTE[3]);
    expect(
      ansi(
        [
          { text: 'bob', role: 'nick', colour: 3 },
          { text: ' direct', role: 'state-direct' },
        ],
        true,
        256,
      ),
    ).toBe('\x1b[0;1mbob\x1b[0;1m direct\x1b[0m');
  });

  it('text goes out as it is, each segment after a full reset; the line ends reset', () => {
    expect(ansi([{ text: '{bold} \u00e9', role: 'plain' }], false, 256)).toBe('\x1b[0m{bold} \u00e9\x1b[0m');
    // A palette colour is the nearest of xterm's 256, reduced where the terminal has fewer.
    expect(ansi([{ text: 'bob', role: 'nick', colour: 0 }], false, 256)).toBe('\x1b[0;38;5;33mbob\x1b[0m');
    expect(ansi([{ text: 'bob', role: 'nick', colour: 0 }], false, 8)).toMatch(
      // eslint-disable-next-line no-control-regex
      /^\x1b\[0;3[0-7]mbob\x1b\[0m$/,
    );
    expect(NICK_PALETTE.map(cubeIndex)).toEqual([33, 166, 34, 127, 37, 136, 99, 161]);
    expect(ansi([{ text: '!', role: 'alert' }], false, 256)).toBe('\x1b[0;1;37;41m!\x1b[0m');
  });

  it('gray is left out on 8-colour terminals, where it would be black', () => {
    expect(ansi([{ text: '09:05', role: 'time' }], false, 256)).toBe('\x1b[0;90m09:05\x1b[0m');
    expect(ansi([{ text: '09:05', role: 'time' }], false, 8)).toBe('\x1b[0m09:05\x1b[0m');
  });
});
