import { malformed } from '../errors.js';

/**
 * Bounded big-endian reader over untrusted bytes. Every read checks the remaining length
 * first and throws MALFORMED, so no decoder reads past the end or allocates from an
 * unbounded length field (docs/contributing.md §2).
 */
export class Reader {
  private off = 0;
  constructor(
    readonly buf: Uint8Array,
    private readonly what = 'message',
  ) {}
  get offset(): number {
    return this.off;
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  private need(n: number): void {
    if (n < 0 || this.off + n > this.buf.length)
      throw malformed(`${this.what}: truncated at byte ${this.off}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }
  u16(): number {
    this.need(2);
    const v = (this.buf[this.off]! << 8) | this.buf[this.off + 1]!;
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.off;
    this.off += 4;
    return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }
  /** 48-bit unsigned (timestamps in ms, packet numbers): exact in a JS number. */
  u48(): number {
    const hi = this.u16();
    return hi * 2 ** 32 + this.u32();
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  /** Length-prefixed (u8) bytes, at most `max`. */
  bytes8(max: number): Uint8Array {
    const n = this.u8();
    if (n > max) throw malformed(`${this.what}: field of ${n} bytes exceeds ${max}`);
    return this.bytes(n);
  }
  /** Length-prefixed (u16) bytes, at most `max`. */
  bytes16(max: number): Uint8Array {
    const n = this.u16();
    if (n > max) throw malformed(`${this.what}: field of ${n} bytes exceeds ${max}`);
    return this.bytes(n);
  }
  /** u8-length-prefixed UTF-8 string of at most `max` bytes; rejects invalid UTF-8. */
  string8(max: number): string {
    return decodeUtf8(this.bytes8(max), this.what);
  }
  string16(max: number): string {
    return decodeUtf8(this.bytes16(max), this.what);
  }
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
  /** Decoders call this last: trailing bytes mean a malformed (or mis-typed) message. */
  end(): void {
    if (this.off !== this.buf.length) throw malformed(`${this.what}: ${this.remaining} trailing bytes`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw malformed(`${what}: invalid UTF-8`);
  }
}

/**
 * Growable big-endian writer. A number that does not fit its field (negative, fractional, too
 * large) is a RangeError, never wrapped: a wrapped port or length is another, valid-looking value.
 */
export class Writer {
  private buf: Uint8Array;
  private off = 0;
  /** A size to start with, or a buffer to write into (it grows into a new one if outgrown). */
  constructor(initial: number | Uint8Array = 128) {
    this.buf = typeof initial === 'number' ? new Uint8Array(initial) : initial;
  }
  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.off));
    this.buf = next;
  }
  get length(): number {
    return this.off;
  }
  u8(v: number): this {
    if ((v & 0xff) !== v) throw new RangeError(`u8 out of range: ${v}`);
    this.room(1);
    this.buf[this.off++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    if ((v & 0xffff) !== v) throw new RangeError(`u16 out of range: ${v}`);
    this.room(2);
    this.buf[this.off++] = (v >>> 8) & 0xff;
    this.buf[this.off++] = v & 0xff;
    return this;
  }
  u32(v: number): this {
    if (v >>> 0 !== v) throw new RangeError(`u32 out of range: ${v}`);
    this.room(4);
    this.buf[this.off++] = (v >>> 24) & 0xff;
    this.buf[this.off++] = (v >>> 16) & 0xff;
    this.buf[this.off++] = (v >>> 8) & 0xff;
    this.buf[this.off++] = v & 0xff;
    return this;
  }
  u48(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 48) throw new RangeError(`u48 out of range: ${v}`);
    this.u16(Math.floor(v / 2 ** 32));
    return this.u32(v >>> 0);
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
    return this;
  }
  bytes8(b: Uint8Array): this {
    if (b.length > 255) throw new RangeError(`field too long for u8 length: ${b.length}`);
    return this.u8(b.length).bytes(b);
  }
  bytes16(b: Uint8Array): this {
    if (b.length > 65535) throw new RangeError(`field too long for u16 length: ${b.length}`);
    return this.u16(b.length).bytes(b);
  }
  string8(s: string): this {
    return this.bytes8(utf8Encode(s));
  }
  string16(s: string): this {
    return this.bytes16(utf8Encode(s));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.off);
  }
  /** What was written, without a copy: valid until the buffer is written again. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.off);
  }
}

/** `v` (0 <= v < 2^48) as 6 big-endian bytes at `out[at]`: packet numbers and offsets, no Writer. */
export function putU48(out: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / 2 ** 32);
  const lo = v >>> 0;
  out[at] = hi >>> 8;
  out[at + 1] = hi & 0xff;
  out[at + 2] = lo >>> 24;
  out[at + 3] = (lo >>> 16) & 0xff;
  out[at + 4] = (lo >>> 8) & 0xff;
  out[at + 5] = lo & 0xff;
}

const encoder = new TextEncoder();
export const utf8Encode = (s: string): Uint8Array => encoder.encode(s);

export const toHex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export function fromHex(s: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw malformed('invalid hex');
  return new Uint8Array(Buffer.from(s, 'hex'));
}
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
