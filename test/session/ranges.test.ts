import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { ackRangesOf, fromWireRanges, toWireRanges } from '../../common/session/ack-ranges.js';
import { RangeSet } from '../../common/session/range-set.js';
import { ReplayWindow } from '../../common/session/replay-window.js';

const setOf = (...pns: number[]): RangeSet => {
  const s = new RangeSet();
  for (const n of pns) s.add(n, n + 1);
  return s;
};

describe('ACK range encoding (RFC 9000 §19.3.1)', () => {
  it.each([
    // received packet numbers, expected wire fields
    [[0], { largest: 0, firstRange: 0, rest: [] }],
    [[0, 1, 2, 3], { largest: 3, firstRange: 3, rest: [] }],
    [[0, 1, 2, 5, 6, 7], { largest: 7, firstRange: 2, rest: [{ gap: 1, length: 2 }] }],
    [
      [9, 4, 2, 1],
      {
        largest: 9,
        firstRange: 0,
        rest: [
          { gap: 3, length: 0 },
          { gap: 0, length: 1 },
        ],
      },
    ],
    [
      [100, 102, 104],
      {
        largest: 104,
        firstRange: 0,
        rest: [
          { gap: 0, length: 0 },
          { gap: 0, length: 0 },
        ],
      },
    ],
  ])('%j -> %j and back', (pns, wire) => {
    const ranges = ackRangesOf(setOf(...pns));
    expect(toWireRanges(ranges)).toEqual(wire);
    expect(fromWireRanges(wire)).toEqual(ranges);
  });

  it('keeps only the highest ranges', () => {
    const s = setOf(1, 3, 5, 7, 9);
    expect(ackRangesOf(s, 2)).toEqual([
      { smallest: 9, largest: 9 },
      { smallest: 7, largest: 7 },
    ]);
  });

  it('rejects ranges that would go below packet 0', () => {
    for (const w of [
      { largest: 2, firstRange: 3, rest: [] },
      { largest: 5, firstRange: 0, rest: [{ gap: 4, length: 0 }] },
      { largest: 5, firstRange: 0, rest: [{ gap: 0, length: 4 }] },
    ]) {
      let err: unknown;
      try {
        fromWireRanges(w);
      } catch (e) {
        err = e;
      }
      expect(isPunchlineError(err, 'MALFORMED')).toBe(true);
    }
  });
});

describe('RangeSet', () => {
  it('adds, merges adjacent ranges, removes and answers membership', () => {
    const s = new RangeSet();
    s.add(10, 20);
    s.add(30, 40);
    s.add(20, 25); // adjacent: merges
    expect(s.ranges).toEqual([
      { start: 10, end: 25 },
      { start: 30, end: 40 },
    ]);
    s.add(0, 100);
    expect(s.ranges).toEqual([{ start: 0, end: 100 }]);
    s.remove(40, 60);
    s.remove(0, 5);
    expect(s.ranges).toEqual([
      { start: 5, end: 40 },
      { start: 60, end: 100 },
    ]);
    expect([s.has(4), s.has(5), s.has(39), s.has(40), s.has(60), s.has(99), s.has(100)]).toEqual([
      false,
      true,
      true,
      false,
      true,
      true,
      false,
    ]);
    expect(s.covers(6, 40)).toBe(true);
    expect(s.covers(6, 41)).toBe(false);
    expect(s.count).toBe(75);
    const parts: [number, number][] = [];
    s.forEachOverlap(30, 70, (a, b) => parts.push([a, b]));
    expect(parts).toEqual([
      [30, 40],
      [60, 70],
    ]);
    s.keepHighest(1);
    expect(s.ranges).toEqual([{ start: 60, end: 100 }]);
  });
});

describe('ReplayWindow', () => {
  it('follows a table of arrivals', () => {
    const w = new ReplayWindow(64);
    const table: [number, 'new' | 'duplicate' | 'tooOld'][] = [
      [0, 'new'],
      [0, 'duplicate'],
      [5, 'new'],
      [3, 'new'],
      [3, 'duplicate'],
      [5, 'duplicate'],
      [100, 'new'],
      [37, 'new'], // 100 - 64 < 37: inside the window
      [36, 'tooOld'], // 100 - 64 = 36: just outside
      [5, 'tooOld'],
      [99, 'new'],
      [99, 'duplicate'],
      [164, 'new'], // the window slides by exactly its size: everything older is gone
      [100, 'tooOld'],
      [101, 'new'],
      [1000, 'new'],
      [999, 'new'],
      [1000, 'duplicate'],
    ];
    for (const [pn, verdict] of table) {
      expect(w.check(pn), `packet ${pn}`).toBe(verdict);
      if (verdict === 'new') w.accept(pn);
    }
    expect(w.largest).toBe(1000);
  });

  it('clears the bits it slides over', () => {
    const w = new ReplayWindow(32);
    for (let pn = 0; pn < 32; pn++) w.accept(pn);
    w.accept(40); // slides by 9: 9..31 still recorded, 33..39 fresh
    for (let pn = 9; pn < 32; pn++) expect(w.check(pn)).toBe('duplicate');
    for (let pn = 32; pn < 40; pn++) expect(w.check(pn)).toBe('new');
    expect(w.check(8)).toBe('tooOld');
  });
});
