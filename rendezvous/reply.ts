import type { Endpoint } from '../common/net/types.js';
import { Limits, MsgType, WireError } from '../common/wire/constants.js';
import type { WireErrorName } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { AuthChannel } from '../common/wire/server-auth.js';
import type { MemberRecord, Transport } from './registry.js';

/** Where a message came from and how to answer it: UDP, or a stream (WebSocket) connection. */
export interface ReplyContext {
  from: Endpoint;
  transport: Transport;
  reply: (bytes: Uint8Array) => void;
  /** Streams: the connection's id; only that connection speaks for a peer registered on it. */
  connection?: number;
  /** Streams: told when a REGISTER on this connection succeeded (the connection is now that peer's). */
  onRegistered?: (rec: MemberRecord) => void;
  /** Streams: whether the connection is still open (a cluster's name claim answers later). */
  open?: () => boolean;
}

/**
 * Answer with an ERROR: sealed with `auth` when the peer holds a key for it, else with a zeroed
 * trailer (peers treat those as hints: retry, never give up). Its text is cut so the answer is
 * never larger than the request it answers (`limit`), whoever sent that.
 */
export function sendError(
  ctx: ReplyContext,
  txid: Uint8Array,
  code: WireErrorName,
  message: string,
  auth?: AuthChannel,
  limit = Infinity,
): void {
  const at = (text: string): Uint8Array =>
    encode({ type: MsgType.ERROR, txid, code: WireError[code], message: text });
  let text = clipUtf8(message, Limits.MAX_ERROR_TEXT_BYTES);
  let bytes = at(text);
  if (bytes.length > limit) {
    text = clipUtf8(text, Math.max(0, Buffer.byteLength(text) - (bytes.length - limit)));
    bytes = at(text);
  }
  ctx.reply(auth ? auth.seal(bytes) : bytes);
}

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary. */
function clipUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch);
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}
