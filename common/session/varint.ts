import { malformed } from '../errors.js';
import type { Reader, Writer } from '../wire/bytes.js';

/**
 * QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
 * length (1, 2, 4 or 8 bytes), the rest is the value, big-endian. Session frames use them so a
 * small ACK or STREAM header costs a few bytes. JS numbers hold integers exactly up to 2^53 - 1,
 * so a decoded value above that is rejected as MALFORMED instead of being rounded.
 */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;

export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x4000_0000 ? 4 : 8;
}

export function writeVarint(w: Writer, v: number): Writer {
  switch (varintLength(v)) {
    case 1:
      return w.u8(v);
    case 2:
      return w.u16(0x4000 | v);
    case 4:
      return w.u32((0x8000_0000 | v) >>> 0);
    case 8:
      w.u32((0xc000_0000 | Math.floor(v / 2 ** 32)) >>> 0);
      return w.u32(v >>> 0);
  }
}

export function readVarint(r: Reader): number {
  const first = r.u8();
  const extra = (1 << (first >> 6)) - 1; // 0, 1, 3 or 7 more bytes
  let v = first & 0x3f;
  for (let i = 0; i < extra; i++) v = v * 256 + r.u8();
  if (v > MAX_VARINT) throw malformed('varint above 2^53 - 1');
  return v;
}
