/**
 * One error type with stable codes (docs/contributing.md §6). Codes are part of the public
 * contract: they appear in `{"event":"error","code":...}` lines and in docs/cli.md.
 * Wire error numbers (sent by the rendezvous server) live in common/wire/constants.ts
 * and are mapped onto these codes in one place.
 */
export type ErrorCode =
  | 'MALFORMED' // a packet or message failed to decode
  | 'BAD_ARGUMENT' // a CLI flag, command or field is invalid
  | 'BAD_SIGNATURE' // a signature did not verify
  | 'STALE' // a cookie or timestamp outside its freshness window
  | 'NAME_TAKEN' // the name is held by another key in this room
  | 'NOT_REGISTERED' // the server does not know this peer (expired or never registered)
  | 'UNKNOWN_PEER' // no such peer in the room
  | 'ROOM_FULL' // the room reached its member limit
  | 'RATE_LIMITED' // too many requests
  | 'TOO_MANY_IDS' // the server holds as many peer ids from this address as it allows (--max-ids-per-ip)
  | 'BAD_NAME' // the name mixes scripts (Latin with Cyrillic, ...): refused as a lookalike risk
  | 'TIMEOUT' // an operation did not complete in time
  | 'PUNCH_FAILED' // hole punching found no working path before its deadline
  | 'SERVER_UNREACHABLE' // the rendezvous server did not answer
  | 'RELAY_UNAVAILABLE' // the relay refused this client for a reason retrying cannot fix (TLS trust, not a relay)
  | 'KEY_MISMATCH' // a peer proved a different key than the one introduced
  | 'KEY_CHANGED' // a peer's name is held by another id or other keys than the pinned ones (peer/chat/trust.ts)
  | 'SERVER_KEY_CHANGED' // the rendezvous server showed another key than the pinned one
  | 'ABORTED' // the operation was cancelled through its AbortSignal
  | 'CLOSED' // the component was closed
  | 'IO' // a file or socket operation failed (ENOSPC, EROFS, EACCES, ...)
  | 'QUOTA' // a storage quota is full (a peer's incoming bytes for the day)
  | 'TOO_LARGE' // a file offered is larger than this side takes (--max-file-mb)
  | 'REJECTED' // the peer declined a file offered
  | 'CANCELLED' // a file transfer was cancelled by either side, or the peer no longer has it
  | 'CHECKSUM' // a file received does not hash to the SHA-256 its sender announced
  | 'SOURCE_CHANGED' // the file being sent changed (size or modification time) or vanished
  | 'INTERNAL'; // a bug: reported, never silent

export class PunchlineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PunchlineError';
    this.code = code;
  }
}

export const malformed = (what: string): PunchlineError => new PunchlineError('MALFORMED', what);
export const badArgument = (what: string): PunchlineError => new PunchlineError('BAD_ARGUMENT', what);
export const timeout = (what: string): PunchlineError => new PunchlineError('TIMEOUT', what);
export const aborted = (what = 'aborted'): PunchlineError => new PunchlineError('ABORTED', what);
export const closed = (what = 'closed'): PunchlineError => new PunchlineError('CLOSED', what);

export function isPunchlineError(e: unknown, code?: ErrorCode): e is PunchlineError {
  return e instanceof PunchlineError && (code === undefined || e.code === code);
}

/** Turn anything thrown into a PunchlineError, keeping the original as `cause`. */
export function toPunchlineError(e: unknown): PunchlineError {
  if (e instanceof PunchlineError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new PunchlineError('INTERNAL', message, { cause: e });
}
