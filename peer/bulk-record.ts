import { malformed } from '../common/errors.js';
import { Reader, putU48 } from '../common/wire/bytes.js';

/**
 * A piece of a bulk transfer inside one session message (docs/protocol.md, bulk records). Chat
 * messages are JSON and start with `{`; a bulk record starts with the byte 0x00, so the two never
 * mix up, and a peer that predates bulk records drops one as a malformed message.
 *
 *   0x00 | version 0x01 | flags (bit 0: last) | u8 id length | id (1-64 of [A-Za-z0-9_-]) |
 *   u48 offset | data
 *
 * `offset` is where `data` starts in the transfer; the last record carries no data past the end.
 */
export const BULK_TAG = 0x00;
const BULK_VERSION = 0x01;
const LAST_FLAG = 0x01;
export const MAX_TRANSFER_ID = 64;
/** Bytes of data per record a sender puts in: small enough that a chat line never waits long behind one. */
export const BULK_CHUNK_BYTES = 32 * 1024;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface BulkRecord {
  readonly transfer: string;
  readonly offset: number;
  readonly last: boolean;
  readonly data: Uint8Array;
}

export const isBulkRecord = (b: Uint8Array): boolean => b.length > 0 && b[0] === BULK_TAG;

export function encodeBulk(r: BulkRecord): Uint8Array {
  if (!ID_RE.test(r.transfer)) throw new RangeError(`bad transfer id ${JSON.stringify(r.transfer)}`);
  if (!Number.isSafeInteger(r.offset) || r.offset < 0 || r.offset >= 2 ** 48)
    throw new RangeError(`bad offset ${r.offset}`);
  const id = Buffer.from(r.transfer, 'latin1');
  const out = new Uint8Array(4 + id.length + 6 + r.data.length);
  out[0] = BULK_TAG;
  out[1] = BULK_VERSION;
  out[2] = r.last ? LAST_FLAG : 0;
  out[3] = id.length;
  out.set(id, 4);
  putU48(out, 4 + id.length, r.offset);
  out.set(r.data, 4 + id.length + 6);
  return out;
}

/** Decode a bulk record; MALFORMED on a wrong tag, version, flag, id or a truncated header. */
export function decodeBulk(b: Uint8Array): BulkRecord {
  const r = new Reader(b, 'bulk record');
  if (r.u8() !== BULK_TAG) throw malformed('bulk record: wrong tag');
  const version = r.u8();
  if (version !== BULK_VERSION) throw malformed(`bulk record: unknown version ${version}`);
  const flags = r.u8();
  if ((flags & ~LAST_FLAG) !== 0) throw malformed('bulk record: reserved flag bits set');
  const idBytes = r.bytes8(MAX_TRANSFER_ID);
  const transfer = Buffer.from(idBytes).toString('latin1');
  if (!ID_RE.test(transfer)) throw malformed('bulk record: bad transfer id');
  const offset = r.u48();
  return { transfer, offset, last: (flags & LAST_FLAG) !== 0, data: r.rest() };
}
