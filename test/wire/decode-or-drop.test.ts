import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { decodeOrDrop } from '../../common/wire/decode-or-drop.js';
import { decode, encode } from '../../common/wire/messages.js';
import { Limits, MsgType } from '../../common/wire/constants.js';

describe('decodeOrDrop: the receive path decodes, counts and drops', () => {
  it('a good message decodes and nothing is counted', () => {
    const txid = new Uint8Array(Limits.TXID_BYTES).fill(7);
    let dropped = 0;
    const m = decodeOrDrop(decode, encode({ type: MsgType.HELLO, txid }), () => dropped++);
    expect(m).toEqual({ type: MsgType.HELLO, txid });
    expect(dropped).toBe(0);
  });

  it('a malformed message is dropped: undefined, counted once, with the MALFORMED error', () => {
    const errors: unknown[] = [];
    for (const bad of [new Uint8Array(0), new Uint8Array([0x50]), new Uint8Array([0x50, 0xff, 1, 2])])
      expect(decodeOrDrop(decode, bad, (e) => errors.push(e))).toBeUndefined();
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => isPunchlineError(e, 'MALFORMED'))).toBe(true);
  });

  it('works with any decoder, and whatever it throws is dropped, not thrown', () => {
    let count = 0;
    const boom = (): never => {
      throw new TypeError('a decoder bug');
    };
    expect(decodeOrDrop(boom, new Uint8Array(4), () => count++)).toBeUndefined();
    expect(count).toBe(1);
    expect(
      decodeOrDrop(
        (b) => b.length,
        new Uint8Array(4),
        () => count++,
      ),
    ).toBe(4);
    expect(count).toBe(1);
  });
});
