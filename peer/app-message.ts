import { malformed } from '../common/errors.js';

/**
 * What travels inside one session message: a chat message with an id chosen by the sender
 * (so the receiver can drop a resend after a reconnect or restart) and the sender's timestamp.
 * JSON is fine here: it is inside the authenticated, encrypted session, and easy to extend.
 */
export interface AppMessage {
  id: string;
  /** Sender's wall clock, ms since 1970. */
  ts: number;
  /** Sent to the room's shared conversation (one copy per member) rather than privately. */
  room: boolean;
  text: string;
  /**
   * A "/me" action ("* alice waves"). On the wire only when true (`"action": true`); a peer that
   * predates it ignores the field and shows the text as a plain message.
   */
  action?: boolean;
}

export const MAX_APP_ID = 64;
/** Text limit: the session carries 1 MiB messages; the JSON envelope and escaping fit in the rest. */
export const MAX_TEXT_BYTES = 1_000_000;

/** ECMAScript's time range (ECMA-262 §21.4.1.22): 10^8 days either side of 1970, in ms. */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** A number that is a point in time a Date can show (not Infinity from "1e999", not 1e308). */
export const isTimestamp = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_TIMESTAMP_MS;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeApp(m: AppMessage): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: 1,
      id: m.id,
      ts: m.ts,
      room: m.room,
      text: m.text,
      ...(m.action ? { action: true } : {}),
    }),
  );
}

export function decodeApp(bytes: Uint8Array): AppMessage {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    throw malformed('app message: not UTF-8 JSON');
  }
  if (typeof v !== 'object' || v === null) throw malformed('app message: not an object');
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw malformed(`app message: unknown version ${String(o.v)}`);
  if (typeof o.id !== 'string' || o.id.length === 0 || o.id.length > MAX_APP_ID)
    throw malformed('app message: bad id');
  if (!isTimestamp(o.ts)) throw malformed('app message: bad ts');
  if (typeof o.room !== 'boolean') throw malformed('app message: bad room flag');
  if (typeof o.text !== 'string') throw malformed('app message: bad text');
  if (o.action !== undefined && typeof o.action !== 'boolean')
    throw malformed('app message: bad action flag');
  return { id: o.id, ts: o.ts, room: o.room, text: o.text, ...(o.action === true ? { action: true } : {}) };
}
