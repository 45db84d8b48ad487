import type { Endpoint } from '../endpoint.js';

/*
 * The STUN vocabulary (RFC 8489, RFC 5780): header constants, methods, classes, attribute types,
 * the message shape the decoder produces, and the few byte helpers the codec's parts share.
 * stun.ts is the STUN codec's public face.
 */

/** RFC 8489 §5: fixed value at bytes 4..7 of every RFC 5389/8489 message. */
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_SIZE = 20;
export const STUN_TXID_SIZE = 12;
/** RFC 8489 §14.7: the CRC-32 is XORed with the ASCII of "STUN". */
export const FINGERPRINT_XOR = 0x5354554e;
/** RFC 8489 §14.3: USERNAME is less than 509 bytes (513 allowed by the SASLprep'd form). */
export const MAX_USERNAME_BYTES = 513;
/** RFC 8489 §14.8 / §14.14: SOFTWARE and the ERROR-CODE reason are < 128 characters, ≤ 763 bytes. */
export const MAX_TEXT_BYTES = 763;
/** Cap on the types listed in a 420's UNKNOWN-ATTRIBUTES, so the answer stays small. */
export const MAX_UNKNOWN_LISTED = 16;

/** Methods (RFC 8489 §18.2). Only Binding is served. */
export const StunMethod = { BINDING: 0x001 } as const;

/** Classes (RFC 8489 §5): the two bits C1 C0 of the message type. */
export const StunClass = { REQUEST: 0b00, INDICATION: 0b01, SUCCESS: 0b10, ERROR: 0b11 } as const;
export type StunClassName = 'request' | 'indication' | 'success' | 'error';
export const CLASS_NAMES: readonly StunClassName[] = ['request', 'indication', 'success', 'error'];

/** Attribute types (RFC 8489 §18.3, RFC 8445 §16.1 for the ICE ones). */
export const StunAttr = {
  MAPPED_ADDRESS: 0x0001,
  /** RFC 5780 §7.2: ask the server to answer from its other IP and/or port. */
  CHANGE_REQUEST: 0x0003,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
  /** RFC 5780 §7.3: the address and port the response was sent from. */
  RESPONSE_ORIGIN: 0x802b,
  /** RFC 5780 §7.4: the server's other address and port (where "change" answers come from). */
  OTHER_ADDRESS: 0x802c,
} as const;

/**
 * Comprehension-required types (0x0000-0x7FFF) that a Binding server may meet and can safely
 * ignore: it serves no credentials (authentication attributes are ignored, RFC 8489 §9) and ICE
 * attributes only matter between ICE agents. Anything else in that range gets a 420
 * (RFC 8489 §6.3.1.1) - e.g. RFC 5780's RESPONSE-PORT. CHANGE-REQUEST is decoded; whether it can
 * be honoured depends on the server having an alternate port (`answerStunRequest`).
 */
export const UNDERSTOOD_REQUIRED: ReadonlySet<number> = new Set([
  StunAttr.MAPPED_ADDRESS,
  StunAttr.CHANGE_REQUEST,
  StunAttr.USERNAME,
  StunAttr.MESSAGE_INTEGRITY,
  StunAttr.ERROR_CODE,
  StunAttr.UNKNOWN_ATTRIBUTES,
  StunAttr.REALM,
  StunAttr.NONCE,
  StunAttr.MESSAGE_INTEGRITY_SHA256,
  StunAttr.PASSWORD_ALGORITHM,
  StunAttr.USERHASH,
  StunAttr.XOR_MAPPED_ADDRESS,
  StunAttr.PRIORITY,
  StunAttr.USE_CANDIDATE,
]);

/** RFC 8489 §5: the 14-bit type interleaves the 12 method bits with the 2 class bits. */
export function stunMessageType(method: number, cls: number): number {
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((cls & 0b01) << 4) |
    ((cls & 0b10) << 7)
  );
}
export const methodOf = (type: number): number =>
  (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
export const classOf = (type: number): number => ((type >> 4) & 0b01) | ((type >> 7) & 0b10);

export const BINDING_REQUEST = stunMessageType(StunMethod.BINDING, StunClass.REQUEST); // 0x0001
export const BINDING_SUCCESS = stunMessageType(StunMethod.BINDING, StunClass.SUCCESS); // 0x0101
export const BINDING_ERROR = stunMessageType(StunMethod.BINDING, StunClass.ERROR); // 0x0111

export interface StunAttribute {
  readonly type: number;
  /** A view into the decoded buffer (no padding). */
  readonly value: Uint8Array;
  /** Offset of the attribute's 4-byte header in the message. */
  readonly offset: number;
}

export interface StunErrorCode {
  readonly code: number; // 300..699
  readonly reason: string;
}

export interface StunMessage {
  readonly type: number;
  readonly method: number;
  readonly class: StunClassName;
  /** The 96-bit transaction id (a copy). */
  readonly txId: Uint8Array;
  /** Every attribute in order, raw, known or not. */
  readonly attributes: readonly StunAttribute[];
  /**
   * Comprehension-required types this codec does not understand, excluding those after
   * MESSAGE-INTEGRITY (which RFC 8489 §14.5 says to ignore). A request with any gets a 420.
   */
  readonly unknownRequired: readonly number[];
  // Decoded known attributes (first occurrence only, RFC 8489 §14):
  readonly xorMappedAddress?: Endpoint;
  readonly mappedAddress?: Endpoint;
  readonly software?: string;
  readonly username?: string;
  readonly errorCode?: StunErrorCode;
  readonly unknownAttributes?: readonly number[];
  readonly messageIntegrity?: Uint8Array;
  readonly messageIntegritySha256?: Uint8Array;
  readonly fingerprint?: number;
  /** RFC 5780 §7.2 CHANGE-REQUEST flags. */
  readonly changeRequest?: StunChangeRequest;
  /** RFC 5780 §7.3 RESPONSE-ORIGIN. */
  readonly responseOrigin?: Endpoint;
  /** RFC 5780 §7.4 OTHER-ADDRESS. */
  readonly otherAddress?: Endpoint;
}

/** The two flags of CHANGE-REQUEST (RFC 5780 §7.2): "change IP" (0x04) and "change port" (0x02). */
export interface StunChangeRequest {
  readonly changeIp: boolean;
  readonly changePort: boolean;
}
export const CHANGE_IP_FLAG = 0x04;
export const CHANGE_PORT_FLAG = 0x02;

/** Big-endian reads at an offset the caller has already bounded. */
export const u16at = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32at = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);

export function setLength(msg: Uint8Array, length: number): void {
  msg[2] = length >>> 8;
  msg[3] = length & 0xff;
}

export function attrHeader(type: number, length: number): Uint8Array {
  return new Uint8Array([type >>> 8, type & 0xff, length >>> 8, length & 0xff]);
}
