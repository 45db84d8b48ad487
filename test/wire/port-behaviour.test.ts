import { describe, expect, it } from 'vitest';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import { Reader, Writer, fromHex, toHex } from '../../common/wire/bytes.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Introduce } from '../../common/wire/messages.js';
import { readPortBehaviour, writePortBehaviour } from '../../common/wire/port-behaviour-codec.js';
import { AUTH_TRAILER_BYTES } from '../../common/wire/server-auth.js';
import { SAMPLES } from './samples.js';

const bytesOf = (b: PortBehaviour): string => {
  const w = new Writer();
  writePortBehaviour(w, b);
  return toHex(w.finish());
};
const read = (hex: string): PortBehaviour => readPortBehaviour(new Reader(fromHex(hex)));
const INTRO = SAMPLES.INTRODUCE as Introduce;

describe('port behaviour on the wire (common/wire/port-behaviour-codec.ts)', () => {
  it.each<[PortBehaviour, string]>([
    [{ kind: 'unknown' }, '00'],
    [{ kind: 'consistent', preserved: true }, '0101'],
    [{ kind: 'consistent', preserved: false }, '0100'],
    [{ kind: 'sequential', step: 1, last: 40001 }, '02019c41'],
    [{ kind: 'sequential', step: -16, last: 1 }, '02f00001'],
    [{ kind: 'random' }, '03'],
  ])('%j is %s and reads back', (b, hex) => {
    expect(bytesOf(b)).toBe(hex);
    expect(read(hex)).toEqual(b);
  });

  it.each([
    ['an unknown kind', '04'],
    ['a preserved flag other than 0 or 1', '0102'],
    ['step 0', '02009c41'],
    ['step 17', '02119c41'],
    ['step -17', '02ef9c41'],
    ['last port 0', '02010000'],
    ['a sequential cut short', '0201'],
    ['nothing', ''],
  ])('%s is MALFORMED', (_, hex) => {
    expect(() => read(hex)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
  });

  it('the writer refuses a step or port it cannot carry', () => {
    for (const b of [
      { kind: 'sequential', step: 0, last: 1 },
      { kind: 'sequential', step: 17, last: 1 },
      { kind: 'sequential', step: 1.5, last: 1 },
      { kind: 'sequential', step: 1, last: 0 },
      { kind: 'sequential', step: 1, last: 65536 },
    ] as const)
      expect(() => bytesOf(b)).toThrow(RangeError);
  });
});

describe('NAT_INFO and the INTRODUCE port behaviour field (docs/protocol.md)', () => {
  it('NAT_INFO (at least 47 bytes) is never smaller than its KEEPALIVE_ACK answer (41)', () => {
    const smallest = encode({ ...SAMPLES.NAT_INFO!, nat: { kind: 'random' } } as never);
    expect(smallest.length).toBe(47);
    expect(encode(SAMPLES.KEEPALIVE_ACK!).length).toBe(41);
  });

  it('NAT_INFO refuses a malformed behaviour', () => {
    const bytes = encode(SAMPLES.NAT_INFO!);
    bytes[27] = 0; // the step of the sample's sequential behaviour
    expect(() => decode(bytes)).toThrow(/step/);
  });

  it('an INTRODUCE without the field is byte for byte the older one, and decodes with no nat', () => {
    const bytes = encode({ ...INTRO, nat: { kind: 'unknown' } });
    expect(bytes).toEqual(encode(INTRO));
    expect('nat' in (decode(bytes) as Introduce)).toBe(false);
  });

  it.each<PortBehaviour>([
    { kind: 'consistent', preserved: true },
    { kind: 'sequential', step: -3, last: 61000 },
    { kind: 'random' },
  ])('an INTRODUCE carrying %j round-trips; the field sits between lan and the trailer', (nat) => {
    const older = encode(INTRO);
    const bytes = encode({ ...INTRO, nat });
    const field = bytesOf(nat);
    expect(bytes.length).toBe(older.length + field.length / 2);
    const at = older.length - AUTH_TRAILER_BYTES;
    expect(toHex(bytes.subarray(at, at + field.length / 2))).toBe(field);
    expect(decode(bytes)).toEqual({ ...INTRO, nat });
  });

  it('an INTRODUCE whose field says unknown, or is malformed, is refused', () => {
    const older = encode(INTRO);
    const at = older.length - AUTH_TRAILER_BYTES;
    const withField = (hex: string): Uint8Array => {
      const f = fromHex(hex);
      const out = new Uint8Array(older.length + f.length);
      out.set(older.subarray(0, at));
      out.set(f, at);
      return out;
    };
    expect(() => decode(withField('00'))).toThrow(/unknown/);
    expect(() => decode(withField('05'))).toThrow(/kind 5/);
    expect(() => decode(withField('02000001'))).toThrow(/step/);
    expect(decode(withField('03'))).toEqual({ ...INTRO, nat: { kind: 'random' } });
  });
});
