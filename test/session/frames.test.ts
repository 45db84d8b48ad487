import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { Reader, Writer, fromHex, toHex } from '../../common/wire/bytes.js';
import {
  type Frame,
  decodeFrames,
  encodeFrames,
  frameSize,
  isAckEliciting,
} from '../../common/session/frames.js';
import { readVarint, varintLength, writeVarint } from '../../common/session/varint.js';

const hex = (f: Frame): string => toHex(encodeFrames([f]));

/** One sample per frame type and its bytes, worked out by hand from docs/session.md. */
const FIXTURES: [string, Frame, string][] = [
  ['PADDING x3', { type: 'padding', length: 3 }, '000000'],
  ['PING', { type: 'ping' }, '01'],
  [
    // largest 10, delay 1000 µs (2-byte varint 0x43e8), 1 more range, first range 2 (8..10),
    // gap 1 (6,7 missing), length 3 (2..5).
    'ACK',
    {
      type: 'ack',
      delayUs: 1000,
      ranges: [
        { smallest: 8, largest: 10 },
        { smallest: 2, largest: 5 },
      ],
    },
    '020a43e801020103',
  ],
  [
    // offset 70000 as a 4-byte varint (0x80011170), length 3, "abc".
    'STREAM',
    { type: 'stream', offset: 70_000, data: new TextEncoder().encode('abc') },
    '038001117003616263',
  ],
  ['RECEIPT', { type: 'receipt', count: 300 }, '04412c'],
  ['PATH_CHALLENGE', { type: 'pathChallenge', data: fromHex('0102030405060708') }, '050102030405060708'],
  ['PATH_RESPONSE', { type: 'pathResponse', data: fromHex('a1a2a3a4a5a6a7a8') }, '06a1a2a3a4a5a6a7a8'],
  ['CLOSE', { type: 'close', code: 1 }, '0701'],
];

const malformed = (fn: () => unknown): void => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isPunchlineError(err, 'MALFORMED'), String(err)).toBe(true);
};

describe('varint (RFC 9000 §16)', () => {
  it.each([
    [0, '00'],
    [37, '25'],
    [63, '3f'],
    [64, '4040'],
    [15_293, '7bbd'],
    [494_878_333, '9d7f3e7d'],
    [2 ** 30, 'c000000040000000'],
    [Number.MAX_SAFE_INTEGER, 'c01fffffffffffff'],
  ])('%d encodes as %s and back', (v, h) => {
    const w = new Writer();
    writeVarint(w, v);
    expect(toHex(w.finish())).toBe(h);
    expect(varintLength(v)).toBe(h.length / 2);
    expect(readVarint(new Reader(fromHex(h)))).toBe(v);
  });

  it('accepts the RFC non-minimal 2-byte 37 and rejects values above 2^53 - 1', () => {
    expect(readVarint(new Reader(fromHex('4025')))).toBe(37);
    // RFC 9000 A.1's 8-byte example (151288809941952652) does not fit a JS safe integer.
    malformed(() => readVarint(new Reader(fromHex('c2197c5eff14e88c'))));
    malformed(() => readVarint(new Reader(fromHex('9d7f3e'))));
    expect(() => writeVarint(new Writer(), -1)).toThrow(RangeError);
  });
});

describe('frames', () => {
  for (const [name, frame, bytes] of FIXTURES) {
    it(`${name}: byte-exact fixture, round trip, size`, () => {
      expect(hex(frame)).toBe(bytes);
      expect(decodeFrames(fromHex(bytes))).toEqual([frame]);
      expect(frameSize(frame)).toBe(bytes.length / 2);
    });
    it(`${name}: every truncation is MALFORMED or a shorter valid frame, never a throw of another kind`, () => {
      const b = fromHex(bytes);
      for (let n = 1; n < b.length; n++) {
        try {
          decodeFrames(b.subarray(0, n));
          expect(name.startsWith('PADDING')).toBe(true);
        } catch (e) {
          expect(isPunchlineError(e, 'MALFORMED')).toBe(true);
        }
      }
    });
  }

  it('decodes several frames in a row and knows which elicit an ACK', () => {
    const frames = FIXTURES.map(([, f]) => f);
    const decoded = decodeFrames(encodeFrames(frames));
    expect(decoded).toEqual(frames);
    expect(decoded.filter(isAckEliciting).map((f) => f.type)).toEqual([
      'ping',
      'stream',
      'receipt',
      'pathChallenge',
      'pathResponse',
    ]);
  });

  it('rejects hostile frames before allocating', () => {
    malformed(() => decodeFrames(fromHex('ff'))); // unknown type
    malformed(() => decodeFrames(fromHex('03004bb1'))); // STREAM of 2993 bytes > 1200
    malformed(() => decodeFrames(fromHex('0300' + '80100000'))); // STREAM claims 1 MiB
    malformed(() => decodeFrames(fromHex('020a0000' + '0b'))); // ACK range below 0
    malformed(() => decodeFrames(fromHex('020a0040' + '20'))); // 33 ranges > 32
    malformed(() => decodeFrames(fromHex('02050001' + '00' + '05' + '00'))); // second range below 0
    malformed(() => decodeFrames(fromHex('0501020304'))); // short PATH_CHALLENGE
    malformed(() => decodeFrames(fromHex('03' + 'c01fffffffffffff' + '02' + '0000'))); // offset+len > 2^53
  });

  it('merges a run of padding into one frame', () => {
    expect(decodeFrames(fromHex('0100000001'))).toEqual([
      { type: 'ping' },
      { type: 'padding', length: 3 },
      { type: 'ping' },
    ]);
  });
});
