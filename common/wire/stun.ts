/**
 * STUN (RFC 8489) Binding, so that the rendezvous server answers standard STUN clients on the
 * same UDP socket that carries punchline's own protocol.
 *
 * Demultiplexing: punchline datagrams start with a version byte 0x50..0x5F; a STUN message starts
 * with two zero bits (first byte 0x00..0x3F) and carries the magic cookie at bytes 4..7
 * (RFC 8489 §5), so `isStunMessage` tells them apart from the first eight bytes.
 *
 * Every packet is hostile (docs/contributing.md §2): `decodeStun` checks every length against the bytes
 * that are there and throws MALFORMED; values are views into the input, never allocated from a
 * length field.
 *
 * The codec is in parts: stun-message.ts (the vocabulary), stun-address.ts (address attributes),
 * stun-decode.ts and stun-encode.ts; this file is its public face and the server's answer.
 */
import type { Endpoint } from '../endpoint.js';
import { decodeOrDrop } from './decode-or-drop.js';
import { decodeStun, fingerprintOk, isStunMessage } from './stun-decode.js';
import { encodeBindingError, encodeBindingSuccess } from './stun-encode.js';
import { StunMethod, StunAttr } from './stun-message.js';

export {
  BINDING_ERROR,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  STUN_HEADER_SIZE,
  STUN_MAGIC_COOKIE,
  STUN_TXID_SIZE,
  StunAttr,
  StunClass,
  StunMethod,
  stunMessageType,
} from './stun-message.js';
export type {
  StunAttribute,
  StunChangeRequest,
  StunClassName,
  StunErrorCode,
  StunMessage,
} from './stun-message.js';
export { mappedAddressValue, xorMappedAddressValue } from './stun-address.js';
export { decodeStun, isStunMessage, verifyFingerprint, verifyMessageIntegrity } from './stun-decode.js';
export {
  encodeBindingError,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStunMessage,
  randomTxId,
  shortTermKey,
} from './stun-encode.js';
export type {
  BindingErrorOptions,
  BindingRequestOptions,
  BindingSuccessOptions,
  StunAttributeInput,
  StunEncodeOptions,
} from './stun-encode.js';

/** What the rendezvous server puts in SOFTWARE (RFC 8489 §14.14). */
export const STUN_SOFTWARE = 'punchline';

/** A Binding answer and the socket it must leave from: this one, or the other (a "change port"). */
export interface StunAnswer {
  readonly bytes: Uint8Array;
  readonly via: 'this' | 'other';
}

/**
 * The pure server-side handler (RFC 8489 §6.3, RFC 5780 §6): a Binding request gets a Binding
 * success with XOR-MAPPED-ADDRESS = `from`, SOFTWARE and FINGERPRINT; a request carrying unknown
 * comprehension-required attributes gets 420 with UNKNOWN-ATTRIBUTES. Everything else is
 * dropped (undefined): not STUN, malformed, a wrong FINGERPRINT (§7.3), indications,
 * responses, and requests for other methods (we are no TURN server; silence is cheapest).
 *
 * CHANGE-REQUEST (RFC 5780 §7.2) depends on `alternatePort`: whether the server has a second
 * socket on another port of its one IP address (the rendezvous's `--alt-port`).
 * - Without one, any CHANGE-REQUEST gets 420, as RFC 5780 §6 requires of a server that has no
 *   alternate address and port.
 * - With one, a CHANGE-REQUEST with no flag set is a plain request, and "change port" is answered
 *   the same way but from the other socket (`via: 'other'`): that lets a client test its NAT's
 *   filtering. "Change IP" (with or without "change port") cannot be honoured with one address
 *   and is dropped unanswered. Not a 420: RFC 5780 clients (stuntman) take any answer bearing
 *   their transaction id as "the filter let it in" and would report endpoint-independent
 *   filtering; silence makes them go on to the "change port" test. It also keeps the 420
 *   truthful: with an alternate port, CHANGE-REQUEST is understood.
 *
 * Successes never carry OTHER-ADDRESS: RFC 5780 §6 forbids it to a server that cannot offer the
 * same ports on a second IP address, and for good reason: standard clients that see it run the
 * full RFC 5780 test series against the "other" address, which here is the same IP (coturn's
 * turnutils_stunclient then blocks forever; stuntman's mapping test sends to OTHER-ADDRESS's IP
 * with the main port, the main port again, and reports endpoint-independent mapping behind any
 * NAT). `punchline nat-check` knows the alternate port without it (PORT+1 by default, or where a
 * "change port" answer came from). Nor RESPONSE-ORIGIN: the datagram's source says the same, and
 * it would make answers larger than the 56 bytes every other answer to a 20-byte request keeps to.
 *
 * Never throws. The answers are small (56 bytes for IPv4, 68 for IPv6; a 420 at most 92), the
 * same size from either socket, so the server is a poor amplifier.
 */
export function answerStunRequest(
  buf: Uint8Array,
  from: Endpoint,
  opts: { readonly alternatePort?: boolean } = {},
): StunAnswer | undefined {
  if (!isStunMessage(buf)) return undefined;
  // No count here: the caller counts every request that gets no answer (rendezvous/server.ts).
  const msg = decodeOrDrop(decodeStun, buf, () => {});
  if (!msg) return undefined;
  try {
    if (msg.class !== 'request' || msg.method !== StunMethod.BINDING) return undefined;
    if (fingerprintOk(buf, msg) === false) return undefined;
    const change = msg.changeRequest;
    const alt = opts.alternatePort === true;
    const unknown =
      change && !alt ? [StunAttr.CHANGE_REQUEST as number, ...msg.unknownRequired] : msg.unknownRequired;
    if (unknown.length > 0) {
      const bytes = encodeBindingError(msg.txId, 420, 'Unknown Attribute', {
        unknownAttributes: unknown,
        fingerprint: true,
      });
      return { bytes, via: 'this' };
    }
    if (change?.changeIp) return undefined; // one IP address: see above
    const bytes = encodeBindingSuccess(msg.txId, from, { software: STUN_SOFTWARE, fingerprint: true });
    return { bytes, via: change?.changePort ? 'other' : 'this' };
  } catch {
    return undefined; // an unusable `from` (not an IP address): drop
  }
}

/**
 * `answerStunRequest` for a server with one socket (no alternate port): the answer, if any, goes
 * back from the socket the request arrived on.
 */
export function handleStunRequest(buf: Uint8Array, from: Endpoint): Uint8Array | undefined {
  return answerStunRequest(buf, from)?.bytes;
}
