import type { ErrorCode } from '../../common/errors.js';
import { malformed } from '../../common/errors.js';
import { Reader, Writer, fromHex, toHex } from '../../common/wire/bytes.js';
import { CONTROL_TAG } from '../control-record.js';

/**
 * The file-transfer control messages (docs/protocol.md, file control records): a control record
 * (peer/control-record.ts), then
 *
 *   0x01 | version 0x01 | kind | u8 id length | id (1-64 of [A-Za-z0-9_-]) | body
 *
 *   OFFER  1  u48 size | sha256 (32 bytes) | u8 name length (1-255) | name (UTF-8)   sender
 *   ACCEPT 2  u48 offset: send from here (0 for a new file, the kept bytes on a resume) receiver
 *   CANCEL 3  u8 reason | u8 text length (0-200) | text (UTF-8)                      either side
 *   RESUME 4  u48 size | sha256: where does this transfer stand? (after a new session) sender
 *   DONE   5  (none): the file hashed to the sha256 and is in place                  receiver
 *   PREFIX 6  u48 offset | sha256 of the receiver's first `offset` bytes, just before a
 *             resume's ACCEPT of that offset (> 0): the sender checks its source still has them receiver
 *   RESTART 7 u48 size | sha256: the source changed under that prefix; start again from 0
 *             with this SHA-256 (the receiver answers ACCEPT 0)                      sender
 *
 * A peer that predates PREFIX and RESTART drops them as unknown kinds (MALFORMED) and goes on as
 * before: an older receiver sends no PREFIX, so a newer sender never sends it RESTART.
 *
 * The data goes as bulk records whose transfer id is the file id (peer/bulk-record.ts).
 */
const VERSION = 0x01;
export const MAX_FILE_ID = 64;
/** A name is at most 255 bytes: what common file systems allow for one path component. */
export const MAX_NAME_BYTES = 255;
const MAX_TEXT_BYTES = 200;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Sizes fit in a u48 (256 TiB), and stay exact in a JS number. */
const MAX_SIZE = 2 ** 48 - 1;

/** CANCEL reasons on the wire and the error codes they are reported as (their one mapping). */
const REASONS: readonly ErrorCode[] = [
  'CANCELLED', // 0: the user cancelled, or the peer has no such transfer
  'REJECTED', // 1: the receiver declined the offer
  'TOO_LARGE', // 2: above the receiver's --max-file-mb
  'CHECKSUM', // 3: the bytes received do not hash to the announced sha256
  'SOURCE_CHANGED', // 4: the sender's file changed or vanished
  'IO', // 5: a disk error (full, read-only...) on either side
  'RATE_LIMITED', // 6: the receiver already holds MAX_PENDING_OFFERS unanswered offers from this peer
];

export type FileControl =
  | { kind: 'offer'; file: string; size: number; sha256: string; name: string }
  | { kind: 'accept'; file: string; offset: number }
  | { kind: 'cancel'; file: string; code: ErrorCode; text: string }
  | { kind: 'resume'; file: string; size: number; sha256: string }
  | { kind: 'done'; file: string }
  | { kind: 'prefix'; file: string; offset: number; sha256: string }
  | { kind: 'restart'; file: string; size: number; sha256: string };

const KINDS = ['offer', 'accept', 'cancel', 'resume', 'done', 'prefix', 'restart'] as const;

/** The wire reason for an error code: unknown codes go as CANCELLED. */
export const reasonOf = (code: ErrorCode): number => Math.max(0, REASONS.indexOf(code));

export function encodeFileControl(m: FileControl): Uint8Array {
  if (!ID_RE.test(m.file)) throw new RangeError(`bad file id ${JSON.stringify(m.file)}`);
  const w = new Writer(64)
    .u8(CONTROL_TAG)
    .u8(VERSION)
    .u8(KINDS.indexOf(m.kind) + 1);
  w.bytes8(Buffer.from(m.file, 'latin1'));
  switch (m.kind) {
    case 'offer':
      w.u48(m.size).bytes(fromHex(m.sha256)).bytes8(Buffer.from(m.name, 'utf8'));
      break;
    case 'accept':
      w.u48(m.offset);
      break;
    case 'cancel':
      w.u8(reasonOf(m.code)).bytes8(truncateUtf8(m.text, MAX_TEXT_BYTES));
      break;
    case 'resume':
    case 'restart':
      w.u48(m.size).bytes(fromHex(m.sha256));
      break;
    case 'prefix':
      w.u48(m.offset).bytes(fromHex(m.sha256));
      break;
    case 'done':
      break;
  }
  return w.finish();
}

/** Decode a file control record; MALFORMED on anything short, long, unknown or out of range. */
export function decodeFileControl(b: Uint8Array): FileControl {
  const r = new Reader(b, 'file control');
  if (r.u8() !== CONTROL_TAG) throw malformed('file control: wrong tag');
  const version = r.u8();
  if (version !== VERSION) throw malformed(`file control: unknown version ${version}`);
  const kind = KINDS[r.u8() - 1];
  if (!kind) throw malformed('file control: unknown kind');
  const file = Buffer.from(r.bytes8(MAX_FILE_ID)).toString('latin1');
  if (!ID_RE.test(file)) throw malformed('file control: bad file id');
  const m = body(r, kind, file);
  r.end();
  return m;
}

function body(r: Reader, kind: (typeof KINDS)[number], file: string): FileControl {
  switch (kind) {
    case 'offer': {
      const size = r.u48();
      const sha256 = toHex(r.bytes(32));
      const name = r.string8(MAX_NAME_BYTES);
      if (name.length === 0) throw malformed('file control: empty name');
      return { kind, file, size, sha256, name };
    }
    case 'accept':
      return { kind, file, offset: r.u48() };
    case 'cancel': {
      const code = REASONS[r.u8()];
      if (!code) throw malformed('file control: unknown reason');
      return { kind, file, code, text: r.string8(MAX_TEXT_BYTES) };
    }
    case 'resume':
    case 'restart':
      return { kind, file, size: r.u48(), sha256: toHex(r.bytes(32)) };
    case 'prefix':
      return { kind, file, offset: r.u48(), sha256: toHex(r.bytes(32)) };
    case 'done':
      return { kind, file };
  }
}

/** At most `max` bytes of UTF-8, cut on a character boundary. */
function truncateUtf8(s: string, max: number): Uint8Array {
  let b = Buffer.from(s, 'utf8');
  while (b.length > max) {
    s = s.slice(0, -1);
    b = Buffer.from(s, 'utf8');
  }
  return b;
}

export const isFileId = (s: unknown): s is string => typeof s === 'string' && ID_RE.test(s);
export { MAX_SIZE as MAX_FILE_SIZE };
