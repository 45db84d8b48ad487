import { createHmac, randomBytes } from 'node:crypto';
import { badArgument } from '../errors.js';
import type { Endpoint } from '../endpoint.js';
import { Writer, concatBytes, utf8Encode } from './bytes.js';
import { crc32 } from './crc32.js';
import { mappedAddressValue, xorMappedAddressValue } from './stun-address.js';
import {
  BINDING_ERROR,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  CHANGE_IP_FLAG,
  CHANGE_PORT_FLAG,
  FINGERPRINT_XOR,
  MAX_TEXT_BYTES,
  MAX_UNKNOWN_LISTED,
  MAX_USERNAME_BYTES,
  STUN_HEADER_SIZE,
  STUN_MAGIC_COOKIE,
  STUN_TXID_SIZE,
  StunAttr,
  attrHeader,
  setLength,
} from './stun-message.js';
import type { StunChangeRequest } from './stun-message.js';

/* Encoding STUN messages: any message, and the three Binding messages punchline sends. */

export interface StunAttributeInput {
  readonly type: number;
  readonly value: Uint8Array;
}

export interface StunEncodeOptions {
  /** Append MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with this key. */
  readonly integrityKey?: Uint8Array;
  /** Append FINGERPRINT (RFC 8489 §14.7), always last. */
  readonly fingerprint?: boolean;
  /** Padding byte (RFC 8489 §14: any value, ignored by receivers); 0 by default. RFC 5769 used 0x20. */
  readonly padding?: number;
}

/** A random 96-bit transaction id (RFC 8489 §5: cryptographically random). */
export const randomTxId = (): Uint8Array => new Uint8Array(randomBytes(STUN_TXID_SIZE));

/**
 * Encode any STUN message: header, attributes (zero-padded to 4), then optionally
 * MESSAGE-INTEGRITY and FINGERPRINT, each computed over the message with the length field
 * already counting the attribute being added (RFC 8489 §14.5, §14.7).
 */
export function encodeStunMessage(
  type: number,
  txId: Uint8Array,
  attributes: readonly StunAttributeInput[],
  opts: StunEncodeOptions = {},
): Uint8Array {
  if (type < 0 || type > 0x3fff) throw badArgument(`stun: message type ${type} out of range`);
  if (txId.length !== STUN_TXID_SIZE) throw badArgument(`stun: transaction id of ${txId.length} bytes`);
  const w = new Writer(STUN_HEADER_SIZE + 64);
  w.u16(type).u16(0).u32(STUN_MAGIC_COOKIE).bytes(txId);
  for (const a of attributes) {
    if (a.value.length > 0xffff) throw badArgument(`stun: attribute of ${a.value.length} bytes`);
    w.u16(a.type).u16(a.value.length).bytes(a.value);
    for (let p = a.value.length; p & 3; p++) w.u8(opts.padding ?? 0);
  }
  let msg = w.finish();
  if (opts.integrityKey) {
    setLength(msg, msg.length - STUN_HEADER_SIZE + 24);
    const mac = createHmac('sha1', opts.integrityKey).update(msg).digest();
    msg = concatBytes(msg, attrHeader(StunAttr.MESSAGE_INTEGRITY, 20), mac);
  }
  if (opts.fingerprint) {
    setLength(msg, msg.length - STUN_HEADER_SIZE + 8);
    const crc = (crc32(msg) ^ FINGERPRINT_XOR) >>> 0;
    const v = new Uint8Array([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]);
    msg = concatBytes(msg, attrHeader(StunAttr.FINGERPRINT, 4), v);
  }
  if (msg.length - STUN_HEADER_SIZE > 0xffff) throw badArgument('stun: message too long');
  setLength(msg, msg.length - STUN_HEADER_SIZE);
  return msg;
}

function softwareAttr(software: string | undefined): StunAttributeInput[] {
  if (software === undefined) return [];
  const value = utf8Encode(software);
  if (value.length > MAX_TEXT_BYTES) throw badArgument('stun: SOFTWARE too long');
  return [{ type: StunAttr.SOFTWARE, value }];
}

export interface BindingSuccessOptions {
  readonly software?: string;
  readonly fingerprint?: boolean;
  /** RFC 5780 §7.3 RESPONSE-ORIGIN: where this response leaves from. */
  readonly responseOrigin?: Endpoint;
  /** RFC 5780 §7.4 OTHER-ADDRESS: the server's other address and port. */
  readonly otherAddress?: Endpoint;
}

/**
 * Binding success response: XOR-MAPPED-ADDRESS, then RESPONSE-ORIGIN and OTHER-ADDRESS if given,
 * then SOFTWARE and FINGERPRINT if asked.
 */
export function encodeBindingSuccess(
  txId: Uint8Array,
  mapped: Endpoint,
  opts: BindingSuccessOptions = {},
): Uint8Array {
  return encodeStunMessage(
    BINDING_SUCCESS,
    txId,
    [
      { type: StunAttr.XOR_MAPPED_ADDRESS, value: xorMappedAddressValue(mapped, txId) },
      ...(opts.responseOrigin
        ? [{ type: StunAttr.RESPONSE_ORIGIN, value: mappedAddressValue(opts.responseOrigin) }]
        : []),
      ...(opts.otherAddress
        ? [{ type: StunAttr.OTHER_ADDRESS, value: mappedAddressValue(opts.otherAddress) }]
        : []),
      ...softwareAttr(opts.software),
    ],
    { fingerprint: opts.fingerprint ?? false },
  );
}

export interface BindingRequestOptions {
  readonly software?: string;
  readonly username?: string;
  /** Short-term credential key (see `shortTermKey`): adds MESSAGE-INTEGRITY. */
  readonly integrityKey?: Uint8Array;
  readonly fingerprint?: boolean;
  /** RFC 5780 §7.2 CHANGE-REQUEST (sent even with both flags false when given). */
  readonly changeRequest?: Partial<StunChangeRequest>;
}

/** Binding request (for our own NAT check and tests); a random transaction id by default. */
export function encodeBindingRequest(
  txId: Uint8Array = randomTxId(),
  opts: BindingRequestOptions = {},
): Uint8Array {
  const attrs = softwareAttr(opts.software);
  if (opts.changeRequest) {
    const flags =
      (opts.changeRequest.changeIp ? CHANGE_IP_FLAG : 0) |
      (opts.changeRequest.changePort ? CHANGE_PORT_FLAG : 0);
    attrs.push({ type: StunAttr.CHANGE_REQUEST, value: new Uint8Array([0, 0, 0, flags]) });
  }
  if (opts.username !== undefined) {
    const value = utf8Encode(opts.username);
    if (value.length > MAX_USERNAME_BYTES) throw badArgument('stun: USERNAME too long');
    attrs.push({ type: StunAttr.USERNAME, value });
  }
  return encodeStunMessage(BINDING_REQUEST, txId, attrs, {
    ...(opts.integrityKey ? { integrityKey: opts.integrityKey } : {}),
    fingerprint: opts.fingerprint ?? false,
  });
}

export interface BindingErrorOptions {
  /** For a 420: the unknown comprehension-required types (RFC 8489 §14.9). */
  readonly unknownAttributes?: readonly number[];
  readonly software?: string;
  readonly fingerprint?: boolean;
}

/** Binding error response with ERROR-CODE (RFC 8489 §14.8), e.g. 400 Bad Request, 420 Unknown Attribute. */
export function encodeBindingError(
  txId: Uint8Array,
  code: number,
  reason: string,
  opts: BindingErrorOptions = {},
): Uint8Array {
  if (!Number.isInteger(code) || code < 300 || code > 699) throw badArgument(`stun: error code ${code}`);
  const reasonBytes = utf8Encode(reason);
  if (reasonBytes.length > MAX_TEXT_BYTES) throw badArgument('stun: reason phrase too long');
  const attrs: StunAttributeInput[] = [
    {
      type: StunAttr.ERROR_CODE,
      value: concatBytes(new Uint8Array([0, 0, Math.floor(code / 100), code % 100]), reasonBytes),
    },
  ];
  if (opts.unknownAttributes?.length) {
    const list = opts.unknownAttributes.slice(0, MAX_UNKNOWN_LISTED);
    const value = new Uint8Array(list.length * 2);
    list.forEach((t, i) => {
      value[2 * i] = (t >>> 8) & 0xff;
      value[2 * i + 1] = t & 0xff;
    });
    attrs.push({ type: StunAttr.UNKNOWN_ATTRIBUTES, value });
  }
  attrs.push(...softwareAttr(opts.software));
  return encodeStunMessage(BINDING_ERROR, txId, attrs, { fingerprint: opts.fingerprint ?? false });
}

/**
 * Short-term credential key (RFC 8489 §9.1.1): the password processed with OpaqueString
 * (RFC 8265 §4.2): non-ASCII spaces mapped to U+0020, NFC-normalized, control characters
 * refused. For ASCII passwords (ICE's, RFC 5769's) this is just their bytes. An approximation:
 * the full PRECIS tables (e.g. unassigned code points) are not checked.
 */
export function shortTermKey(password: string): Uint8Array {
  const prepared = password.replace(/\p{Zs}/gu, ' ').normalize('NFC');
  if (prepared.length === 0 || /\p{Cc}/u.test(prepared))
    throw badArgument('stun: password not allowed by OpaqueString');
  return utf8Encode(prepared);
}
