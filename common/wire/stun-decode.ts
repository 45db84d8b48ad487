import { createHmac, timingSafeEqual } from 'node:crypto';
import { malformed } from '../errors.js';
import { Reader } from './bytes.js';
import { crc32 } from './crc32.js';
import { decodeAddress } from './stun-address.js';
import {
  CHANGE_IP_FLAG,
  CHANGE_PORT_FLAG,
  CLASS_NAMES,
  FINGERPRINT_XOR,
  MAX_TEXT_BYTES,
  MAX_USERNAME_BYTES,
  STUN_HEADER_SIZE,
  STUN_MAGIC_COOKIE,
  STUN_TXID_SIZE,
  StunAttr,
  UNDERSTOOD_REQUIRED,
  classOf,
  methodOf,
  setLength,
  u16at,
  u32at,
} from './stun-message.js';
import type { StunAttribute, StunMessage } from './stun-message.js';

/*
 * Demultiplexing and decoding STUN, and checking FINGERPRINT and MESSAGE-INTEGRITY. Every length
 * is checked against the bytes that are there (stun.ts, docs/contributing.md §2).
 */

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

/**
 * True when the message's FINGERPRINT matches (RFC 8489 §14.7); false when it is absent or
 * wrong. Throws MALFORMED if `buf` is not a well-formed STUN message.
 */
export function verifyFingerprint(buf: Uint8Array): boolean {
  return fingerprintOk(buf, decodeStun(buf)) === true;
}

/** undefined: no FINGERPRINT; otherwise whether it matches. decodeStun put it last. */
export function fingerprintOk(buf: Uint8Array, msg: StunMessage): boolean | undefined {
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
