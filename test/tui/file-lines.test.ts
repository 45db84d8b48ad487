/** How a transfer reads: sizes, durations, the bar in Unicode and ASCII, the /info list. */
import { describe, expect, it } from 'vitest';
import { fileReport, formatBytes, formatDuration, progressText } from '../../peer/tui/file-lines.js';
import type { FileLine } from '../../peer/tui/file-lines.js';
import { ASCII_GLYPHS, UNICODE_GLYPHS } from '../../peer/tui/format.js';

const line: FileLine = {
  file: 'AbCdEfGh12345678901234',
  direction: 'receive',
  peer: 'bob',
  name: 'a.bin',
  size: 1000,
  phase: 'active',
  bytes: 500,
  rate: 100,
  etaMs: 5000,
};

describe('file lines', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [10 * 1024, '10 KiB'],
    [5.25 * 1024 ** 3, '5.3 GiB'],
    [3 * 1024 ** 5, '3072 TiB'],
  ])('formatBytes(%d) = %s', (n, want) => expect(formatBytes(n)).toBe(want));

  it.each([
    [400, '0.4 s'],
    [42_000, '42 s'],
    [185_000, '3 min 5 s'],
    [7_800_000, '2 h 10 min'],
  ])('formatDuration(%d) = %s', (ms, want) => expect(formatDuration(ms)).toBe(want));

  it('the bar fills with the percentage, in Unicode and in ASCII; no time left while the rate is 0', () => {
    expect(progressText(line, UNICODE_GLYPHS, 51)).toBe('[██████░░░░░░] 50% 500 B/1000 B 100 B/s 5.0 s left');
    expect(progressText({ ...line, rate: 0, etaMs: undefined }, ASCII_GLYPHS, 49)).toBe(
      `[${'#'.repeat(11)}${'.'.repeat(12)}] 50% 500 B/1000 B 0 B/s`,
    );
    // Too narrow for a 12-cell bar beside the numbers: they go under it.
    expect(progressText(line, ASCII_GLYPHS, 30)).toBe(
      `[${'#'.repeat(11)}${'.'.repeat(12)}] 50%\n500 B/1000 B 100 B/s 5.0 s left`,
    );
  });

  it('/info lists each transfer with its direction, state, bytes and id', () => {
    expect(fileReport([])).toEqual(['files: none in progress']);
    const v = { ...line, sha256: '', state: 'waiting' as const, peerId: 'x' };
    expect(fileReport([v])).toEqual([
      'files (1):',
      '  a.bin from bob  waiting  500 B/1000 B 50%  id AbCdEfGh',
    ]);
  });
});
