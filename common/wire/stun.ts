/**
 * STUN (RFC 8489) Binding, so that the rendezvous server answers standard STUN clients on the
 * same UDP socket that carries punchline's own protocol.
 *
 * Demultiplexing: punchline datagrams start with a version byte 0x50..0x5F; a STUN message starts
 * with two zero bits (first byte 0x00..0x3F) and carries the magic cookie at bytes 4..7
 * (RFC 8489 §5), so `isStunMessage` tells them apart from the first eight bytes.
 *
 * Every packet is hostile (docs/architecture.md house style §2): `decodeStun` checks every length against the bytes
 * that are there and throws MALFORMED; values are views into the input, never allocated from a
 * length field.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { badArgument, malformed } from '../errors.js';
import type { Endpoint } from '../endpoint.js';
import { Reader, Writer, concatBytes, utf8Encode } from './bytes.js';
import { crc32 } from './crc32.js';

/** RFC 8489 §5: fixed value at bytes 4..7 of every RFC 5389/8489 message. */
export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_SIZE = 20;
export const STUN_TXID_SIZE = 12;
/** RFC 8489 §14.7: the CRC-32 is XORed with the ASCII of "STUN". */
const FINGERPRINT_XOR = 0x5354554e;
/** RFC 8489 §14.3: USERNAME is less than 509 bytes (513 allowed by the SASLprep'd form). */
const MAX_USERNAME_BYTES = 513;
/** RFC 8489 §14.8 / §14.14: SOFTWARE and the ERROR-CODE reason are < 128 characters, ≤ 763 bytes. */
const MAX_TEXT_BYTES = 763;
/** Cap on the types listed in a 420's UNKNOWN-ATTRIBUTES, so the answer stays small. */
const MAX_UNKNOWN_LISTED = 16;

/** Methods (RFC 8489 §18.2). Only Binding is served. */
export const StunMethod = { BINDING: 0x001 } as const;

/** Classes (RFC 8489 §5): the two bits C1 C0 of the message type. */
export const StunClass = { REQUEST: 0b00, INDICATION: 0b01, SUCCESS: 0b10, ERROR: 0b11 } as const;
export type StunClassName = 'request' | 'indication' | 'success' | 'error';
const CLASS_NAMES: readonly StunClassName[] = ['request', 'indication', 'success', 'error'];

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
const UNDERSTOOD_REQUIRED: ReadonlySet<number> = new Set([
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
const methodOf = (type: number): number => (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
const classOf = (type: number): number => ((type >> 4) & 0b01) | ((type >> 7) & 0b10);

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
const CHANGE_IP_FLAG = 0x04;
const CHANGE_PORT_FLAG = 0x02;

// ---------------------------------------------------------------------------------------------
// Demux and decode

const u16at = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32at = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);

/**
 * Cheap demux test (RFC 8489 §5, RFC 7983): top two bits zero, the magic cookie, and a length
 * field that is a multiple of 4 and matches the datagram. Punchline's own version byte
 * (0x50..0x5F) fails the first check.
 */
export function isStunMessage(buf: Uint8Array): boolean {
  if (buf.length < STUN_HEADER_SIZE || (buf[0]! & 0xc0) !== 0) return false;
  const length = u16at(buf, 2);
  return (
    (length & 3) === 0 && length === buf.length - STUN_HEADER_SIZE && u32at(buf, 4) === STUN_MAGIC_COOKIE
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function text(value: Uint8Array, max: number, what: string): string {
  if (value.length > max) throw malformed(`stun: ${what} of ${value.length} bytes exceeds ${max}`);
  try {
    return utf8.decode(value);
  } catch {
    throw malformed(`stun: ${what} is not UTF-8`);
  }
}

/** Decode a STUN message; throws PunchlineError('MALFORMED') on anything malformed. */
export function decodeStun(buf: Uint8Array): StunMessage {
  if (buf.length < STUN_HEADER_SIZE) throw malformed(`stun: ${buf.length} bytes, shorter than the header`);
  const r = new Reader(buf, 'stun');
  const type = r.u16();
  if (type & 0xc000) throw malformed('stun: first two bits are not zero');
  const length = r.u16();
  if (r.u32() !== STUN_MAGIC_COOKIE) throw malformed('stun: no magic cookie');
  if (length !== buf.length - STUN_HEADER_SIZE)
    throw malformed(`stun: length field ${length} but ${buf.length - STUN_HEADER_SIZE} bytes follow`);
  if (length & 3) throw malformed('stun: length is not a multiple of 4');
  const txId = r.bytes(STUN_TXID_SIZE).slice();

  const attributes: StunAttribute[] = [];
  // A Set: a datagram can carry 16k distinct unknown types, and a linear search per attribute
  // made that quadratic (250 ms of CPU per 64 KB datagram).
  const unknownRequired = new Set<number>();
  const out: {
    -readonly [K in keyof StunMessage]?: StunMessage[K];
  } = {};
  let afterIntegrity = false;
  let afterFingerprint = false;
  while (r.remaining > 0) {
    if (afterFingerprint) throw malformed('stun: attribute after FINGERPRINT');
    const offset = r.offset;
    const atype = r.u16();
    const value = r.bytes(r.u16());
    r.bytes((4 - (value.length & 3)) & 3); // padding to 4: any byte values (RFC 5769 uses spaces)
    attributes.push({ type: atype, value, offset });
    if (atype === StunAttr.FINGERPRINT) afterFingerprint = true;
    // RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY(-SHA256) only MESSAGE-INTEGRITY-SHA256 and
    // FINGERPRINT count; anything else there is ignored.
    if (afterIntegrity && atype !== StunAttr.FINGERPRINT && atype !== StunAttr.MESSAGE_INTEGRITY_SHA256)
      continue;
    decodeAttribute(out, atype, value, txId, unknownRequired);
    if (atype === StunAttr.MESSAGE_INTEGRITY || atype === StunAttr.MESSAGE_INTEGRITY_SHA256)
      afterIntegrity = true;
  }
  return {
    ...out,
    type,
    method: methodOf(type),
    class: CLASS_NAMES[classOf(type)]!,
    txId,
    attributes,
    unknownRequired: [...unknownRequired],
  };
}

function decodeAttribute(
  out: { -readonly [K in keyof StunMessage]?: StunMessage[K] },
  type: number,
  value: Uint8Array,
  txId: Uint8Array,
  unknownRequired: Set<number>,
): void {
  switch (type) {
    case StunAttr.XOR_MAPPED_ADDRESS:
      out.xorMappedAddress ??= decodeAddress(value, txId, 'XOR-MAPPED-ADDRESS');
      return;
    case StunAttr.MAPPED_ADDRESS:
      out.mappedAddress ??= decodeAddress(value, undefined, 'MAPPED-ADDRESS');
      return;
    case StunAttr.RESPONSE_ORIGIN:
      out.responseOrigin ??= decodeAddress(value, undefined, 'RESPONSE-ORIGIN');
      return;
    case StunAttr.OTHER_ADDRESS:
      out.otherAddress ??= decodeAddress(value, undefined, 'OTHER-ADDRESS');
      return;
    case StunAttr.CHANGE_REQUEST: {
      // RFC 5780 §7.2: 32 bits, only A (change IP) and B (change port) defined; the rest ignored.
      if (value.length !== 4) throw malformed(`stun: CHANGE-REQUEST of ${value.length} bytes`);
      const flags = value[3]!;
      out.changeRequest ??= {
        changeIp: (flags & CHANGE_IP_FLAG) !== 0,
        changePort: (flags & CHANGE_PORT_FLAG) !== 0,
      };
      return;
    }
    case StunAttr.SOFTWARE:
      out.software ??= text(value, MAX_TEXT_BYTES, 'SOFTWARE');
      return;
    case StunAttr.USERNAME:
      out.username ??= text(value, MAX_USERNAME_BYTES, 'USERNAME');
      return;
    case StunAttr.ERROR_CODE: {
      // RFC 8489 §14.8: 21 reserved bits, class (3 bits, 3..6), number (0..99), reason phrase.
      if (value.length < 4) throw malformed('stun: ERROR-CODE shorter than 4 bytes');
      const cls = value[2]! & 0x07;
      const num = value[3]!;
      if (cls < 3 || cls > 6 || num > 99) throw malformed(`stun: ERROR-CODE ${cls}/${num} out of range`);
      const reason = text(value.subarray(4), MAX_TEXT_BYTES, 'ERROR-CODE reason');
      out.errorCode ??= { code: cls * 100 + num, reason };
      return;
    }
    case StunAttr.UNKNOWN_ATTRIBUTES: {
      if (value.length & 1) throw malformed('stun: UNKNOWN-ATTRIBUTES of odd length');
      const types: number[] = [];
      for (let i = 0; i < value.length; i += 2) types.push(u16at(value, i));
      out.unknownAttributes ??= types;
      return;
    }
    case StunAttr.MESSAGE_INTEGRITY:
      if (value.length !== 20) throw malformed(`stun: MESSAGE-INTEGRITY of ${value.length} bytes`);
      out.messageIntegrity ??= value;
      return;
    case StunAttr.MESSAGE_INTEGRITY_SHA256:
      // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.
      if (value.length < 16 || value.length > 32 || value.length & 3)
        throw malformed(`stun: MESSAGE-INTEGRITY-SHA256 of ${value.length} bytes`);
      out.messageIntegritySha256 ??= value;
      return;
    case StunAttr.FINGERPRINT:
      if (value.length !== 4) throw malformed(`stun: FINGERPRINT of ${value.length} bytes`);
      out.fingerprint = u32at(value, 0);
      return;
    default:
      if (type < 0x8000 && !UNDERSTOOD_REQUIRED.has(type)) unknownRequired.add(type);
  }
}

/** MAPPED-ADDRESS / XOR-MAPPED-ADDRESS value (RFC 8489 §14.1, §14.2). */
function decodeAddress(value: Uint8Array, txId: Uint8Array | undefined, what: string): Endpoint {
  if (value.length < 4) throw malformed(`stun: ${what} shorter than 4 bytes`);
  const family = value[1]!;
  const size = family === 0x01 ? 4 : family === 0x02 ? 16 : 0;
  if (size === 0) throw malformed(`stun: ${what} family ${family}`);
  if (value.length !== 4 + size)
    throw malformed(`stun: ${what} of ${value.length} bytes for family ${family}`);
  const ip = value.slice(4);
  let port = u16at(value, 2);
  if (txId) {
    port ^= STUN_MAGIC_COOKIE >>> 16;
    xorAddress(ip, txId);
  }
  return { address: formatIp(ip), port };
}

/** X-Address = address XOR (magic cookie ‖ transaction id), in place (RFC 8489 §14.2). */
function xorAddress(ip: Uint8Array, txId: Uint8Array): void {
  for (let i = 0; i < ip.length; i++) {
    const k = i < 4 ? (STUN_MAGIC_COOKIE >>> (24 - 8 * i)) & 0xff : txId[i - 4]!;
    ip[i] = ip[i]! ^ k;
  }
}

// ---------------------------------------------------------------------------------------------
// IP text <-> bytes

function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join('.');
  // IPv4-mapped IPv6 in the form node:dgram reports it.
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff)
    return `::ffff:${ip.subarray(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(u16at(ip, i));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Address bytes for an endpoint: 4 for IPv4 and IPv4-mapped IPv6, 16 for IPv6. */
function parseIp(address: string): Uint8Array {
  const a = address.replace(/%.*$/, ''); // drop an IPv6 zone id ("fe80::1%eth0")
  if (isIPv4(a)) return new Uint8Array(a.split('.').map(Number));
  if (!isIPv6(a)) throw badArgument(`stun: not an IP address: ${address}`);
  let s = a;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [p0, p1, p2, p3] = tail.split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((p0 << 8) | p1).toString(16)}:${((p2 << 8) | p3).toString(16)}`;
  }
  const halves = s.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length > 1 ? [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest] : head;
  const ip = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    ip[2 * i] = v >>> 8;
    ip[2 * i + 1] = v & 0xff;
  });
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12);
  return ip;
}

// ---------------------------------------------------------------------------------------------
// Encode

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

function setLength(msg: Uint8Array, length: number): void {
  msg[2] = length >>> 8;
  msg[3] = length & 0xff;
}

function attrHeader(type: number, length: number): Uint8Array {
  return new Uint8Array([type >>> 8, type & 0xff, length >>> 8, length & 0xff]);
}

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

/** XOR-MAPPED-ADDRESS value for `ep` (IPv4-mapped IPv6 is sent as IPv4). */
export function xorMappedAddressValue(ep: Endpoint, txId: Uint8Array): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff)
    throw badArgument(`stun: port ${ep.port}`);
  const ip = parseIp(ep.address);
  xorAddress(ip, txId);
  const xport = ep.port ^ (STUN_MAGIC_COOKIE >>> 16);
  return concatBytes(new Uint8Array([0, ip.length === 4 ? 0x01 : 0x02, xport >>> 8, xport & 0xff]), ip);
}

/** MAPPED-ADDRESS-format value (RFC 8489 §14.1), also used by RESPONSE-ORIGIN and OTHER-ADDRESS. */
export function mappedAddressValue(ep: Endpoint): Uint8Array {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff)
    throw badArgument(`stun: port ${ep.port}`);
  const ip = parseIp(ep.address);
  return concatBytes(new Uint8Array([0, ip.length === 4 ? 0x01 : 0x02, ep.port >>> 8, ep.port & 0xff]), ip);
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

// ---------------------------------------------------------------------------------------------
// Integrity

/**
 * True when the message's FINGERPRINT matches (RFC 8489 §14.7); false when it is absent or
 * wrong. Throws MALFORMED if `buf` is not a well-formed STUN message.
 */
export function verifyFingerprint(buf: Uint8Array): boolean {
  return fingerprintOk(buf, decodeStun(buf)) === true;
}

/** undefined: no FINGERPRINT; otherwise whether it matches. decodeStun put it last. */
function fingerprintOk(buf: Uint8Array, msg: StunMessage): boolean | undefined {
  const last = msg.attributes[msg.attributes.length - 1];
  if (!last || last.type !== StunAttr.FINGERPRINT) return undefined;
  // The header's length already counts FINGERPRINT, as §14.7 asks, since it is last.
  return (crc32(buf.subarray(0, last.offset)) ^ FINGERPRINT_XOR) >>> 0 === msg.fingerprint;
}

/**
 * True when the first MESSAGE-INTEGRITY is HMAC-SHA1(key) over the message up to it, with the
 * header length set to end just after it (RFC 8489 §14.5); false when absent or wrong. Throws
 * MALFORMED if `buf` is not a well-formed STUN message.
 */
export function verifyMessageIntegrity(buf: Uint8Array, key: Uint8Array): boolean {
  const msg = decodeStun(buf);
  const mi = msg.attributes.find((a) => a.type === StunAttr.MESSAGE_INTEGRITY);
  if (!mi || mi.value.length !== 20) return false;
  const covered = buf.slice(0, mi.offset); // bounded: a prefix of a datagram we already hold
  setLength(covered, mi.offset - STUN_HEADER_SIZE + 24);
  const mac = createHmac('sha1', key).update(covered).digest();
  return timingSafeEqual(mac, mi.value);
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

// ---------------------------------------------------------------------------------------------
// Server side

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
  try {
    const msg = decodeStun(buf);
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
    return undefined; // malformed request, or an unusable `from`: drop
  }
}

/**
 * `answerStunRequest` for a server with one socket (no alternate port): the answer, if any, goes
 * back from the socket the request arrived on.
 */
export function handleStunRequest(buf: Uint8Array, from: Endpoint): Uint8Array | undefined {
  return answerStunRequest(buf, from)?.bytes;
}
