import { malformed } from '../common/errors.js';
import { Reader, putU48 } from '../common/wire/bytes.js';

/**
 * A piece of a bulk transfer inside one session message (docs/protocol.md, bulk records). Chat
 * messages are JSON and start with `{`; a bulk record starts with the byte 0x00, so the two never
 * mix up, and a peer that predates bulk records drops one as a malformed message.
 *
 *   0x00 | version 0x01 | flags | u8 id length | id (1-64 of [A-Za-z0-9_-]) | u48 offset | data
 *
 * Flags (at most one): bit 0 `last` (the sender's final record), bit 1 `done` and bit 2 `refused`
 * (the receiver's reply for a transfer: every byte up to `offset` taken by its consumer, or
 * nothing here takes bulk data). A reply carries no data. `offset` is where `data` starts.
 */
export const BULK_TAG = 0x00;
const BULK_VERSION = 0x01;
const LAST_FLAG = 0x01;
const DONE_FLAG = 0x02;
const REFUSED_FLAG = 0x04;
export const MAX_TRANSFER_ID = 64;
/** Bytes of data per record a sender puts in: small enough that a chat line never waits long behind one. */
export const BULK_CHUNK_BYTES = 32 * 1024;
/** The largest record a sender encodes: the header with the longest id, and a full chunk. */
export const MAX_BULK_RECORD_BYTES = 4 + MAX_TRANSFER_ID + 6 + BULK_CHUNK_BYTES;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface BulkRecord {
  readonly transfer: string;
  readonly offset: number;
  readonly last: boolean;
  readonly data: Uint8Array;
  /** Set on the receiver's reply records only (no data, not `last`). */
  readonly reply?: 'done' | 'refused';
}

export const isBulkRecord = (b: Uint8Array): boolean => b.length > 0 && b[0] === BULK_TAG;

/**
 * Encode `r`; into `scratch` (the result is a view of it) when it is large enough, else into a
 * new buffer. A sender that hands each record to Session.send, which copies it, can reuse one
 * scratch buffer for a whole transfer (peer/bulk-lane.ts).
 */
export function encodeBulk(r: BulkRecord, scratch?: Uint8Array): Uint8Array {
  if (!ID_RE.test(r.transfer)) throw new RangeError(`bad transfer id ${JSON.stringify(r.transfer)}`);
  if (!Number.isSafeInteger(r.offset) || r.offset < 0 || r.offset >= 2 ** 48)
    throw new RangeError(`bad offset ${r.offset}`);
  const id = Buffer.from(r.transfer, 'latin1');
  const size = 4 + id.length + 6 + r.data.length;
  const out = scratch && scratch.length >= size ? scratch.subarray(0, size) : new Uint8Array(size);
  out[0] = BULK_TAG;
  out[1] = BULK_VERSION;
  if (r.reply !== undefined && (r.last || r.data.length > 0)) throw new RangeError('a reply carries no data');
  out[2] = r.reply === 'done' ? DONE_FLAG : r.reply === 'refused' ? REFUSED_FLAG : r.last ? LAST_FLAG : 0;
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
  if (![0, LAST_FLAG, DONE_FLAG, REFUSED_FLAG].includes(flags))
    throw malformed(`bulk record: flags 0x${flags.toString(16)}`);
  const idBytes = r.bytes8(MAX_TRANSFER_ID);
  const transfer = Buffer.from(idBytes).toString('latin1');
  if (!ID_RE.test(transfer)) throw malformed('bulk record: bad transfer id');
  const offset = r.u48();
  const data = r.rest();
  if (flags === DONE_FLAG || flags === REFUSED_FLAG) {
    if (data.length > 0) throw malformed('bulk record: a reply with data');
    return { transfer, offset, last: false, data, reply: flags === DONE_FLAG ? 'done' : 'refused' };
  }
  return { transfer, offset, last: flags === LAST_FLAG, data };
}
