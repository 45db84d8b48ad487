import { TAG_LEN } from '../crypto/aead.js';
import type { CipherState } from '../crypto/cipher-state.js';
import { malformed } from '../errors.js';
import { Reader, putU48, toHex } from '../wire/bytes.js';
import { Limits, MsgType, VERSION_BYTE } from '../wire/constants.js';

/**
 * Session packets on the wire (docs/session.md has the byte map). Every one starts like every
 * punchline datagram, [version byte][type byte], followed by the 8-byte destination connection
 * id, so the owner routes it to a session by connection id (connectionIdOf), never by source
 * address: a session survives its peer's address changing (the QUIC/Mosh idea).
 *
 * Handshake packet:  0x51 | type 0x30-0x32 | dcid (8) | Noise handshake message
 * Data packet:       0x51 | 0x33 | dcid (8) | flags (1) | packet number (6) | AEAD(frames) + tag (16)
 *
 * A data packet's 17 header bytes are the AEAD associated data, so none of them can be changed
 * in flight; the nonce is the packet number (Noise §11.4 allows an explicit nonce for lossy,
 * reordering transports), and packet numbers are never reused within a session.
 */
export const CID_BYTES = 8;
export const HANDSHAKE_HEADER_BYTES = 2 + CID_BYTES;
export const DATA_HEADER_BYTES = 2 + CID_BYTES + 1 + 6;
/** Every session datagram fits 1200 bytes of UDP payload (the IPv6 minimum MTU path, QUIC's floor). */
export const MAX_DATAGRAM = Limits.MAX_DATAGRAM;
/** Frame bytes one data packet can carry: 1200 - 17 header - 16 tag = 1167. */
export const MAX_PLAINTEXT = MAX_DATAGRAM - DATA_HEADER_BYTES - TAG_LEN;
/** Packet numbers are 48-bit on the wire; the session ends long before (rekeying is far earlier). */
export const MAX_PACKET_NUMBER = 2 ** 48 - 1;
/** Flags byte: bit 0 is the key phase (RFC 9001 §6 idea); the other bits must be zero. */
export const KEY_PHASE_BIT = 0x01;

export type HandshakeType =
  typeof MsgType.SESSION_INIT | typeof MsgType.SESSION_RESPONSE | typeof MsgType.SESSION_FINISH;

const SESSION_TYPES = new Set<number>([
  MsgType.SESSION_INIT,
  MsgType.SESSION_RESPONSE,
  MsgType.SESSION_FINISH,
  MsgType.SESSION_DATA,
]);

/** Whether a datagram claims to be a session packet (cheap; it may still be garbage). */
export const isSessionPacket = (datagram: Uint8Array): boolean =>
  datagram.length >= HANDSHAKE_HEADER_BYTES &&
  datagram[0] === VERSION_BYTE &&
  SESSION_TYPES.has(datagram[1]!);

/**
 * The destination connection id of a session packet as hex (the owner's routing key), or
 * undefined if the datagram is not a session packet.
 */
export function connectionIdOf(datagram: Uint8Array): string | undefined {
  return isSessionPacket(datagram) ? toHex(datagram.subarray(2, 2 + CID_BYTES)) : undefined;
}

export interface DataHeader {
  readonly dcid: Uint8Array;
  readonly keyPhase: 0 | 1;
  readonly pn: number;
}

export function encodeDataHeader(h: DataHeader): Uint8Array {
  return writeDataHeader(new Uint8Array(DATA_HEADER_BYTES), h);
}

/** The 17 header bytes written at the start of `out`. */
function writeDataHeader(out: Uint8Array, h: DataHeader): Uint8Array {
  if (h.dcid.length !== CID_BYTES) throw new RangeError('connection id must be 8 bytes');
  if (!Number.isSafeInteger(h.pn) || h.pn < 0 || h.pn > MAX_PACKET_NUMBER)
    throw new RangeError(`packet number out of range: ${h.pn}`);
  out[0] = VERSION_BYTE;
  out[1] = MsgType.SESSION_DATA;
  out.set(h.dcid, 2);
  out[2 + CID_BYTES] = h.keyPhase;
  putU48(out, 3 + CID_BYTES, h.pn);
  return out;
}

export interface ParsedDataPacket {
  readonly header: DataHeader;
  /** The 17 header bytes as received: the associated data. */
  readonly ad: Uint8Array;
  readonly sealed: Uint8Array;
}

/** Split a data packet; throws MALFORMED when it is too short or too long, or a reserved bit is set. */
export function parseDataPacket(datagram: Uint8Array): ParsedDataPacket {
  if (datagram.length > MAX_DATAGRAM) throw malformed(`session packet of ${datagram.length} bytes`);
  if (datagram.length < DATA_HEADER_BYTES + TAG_LEN) throw malformed('session packet truncated');
  const r = new Reader(datagram, 'session packet');
  if (r.u8() !== VERSION_BYTE || r.u8() !== MsgType.SESSION_DATA) throw malformed('not a data packet');
  const dcid = r.bytes(CID_BYTES);
  const flags = r.u8();
  if ((flags & ~KEY_PHASE_BIT) !== 0) throw malformed('reserved flag bits set');
  const pn = r.u48();
  return {
    header: { dcid, keyPhase: (flags & KEY_PHASE_BIT) as 0 | 1, pn },
    ad: datagram.subarray(0, DATA_HEADER_BYTES),
    sealed: datagram.subarray(DATA_HEADER_BYTES),
  };
}

/**
 * Header || ENCRYPT(k, pn, header, frames), built in one buffer: the header is written in place
 * and is itself the associated data, and the ciphertext and tag land right after it.
 */
export function sealPacket(header: DataHeader, plaintext: Uint8Array, cipher: CipherState): Uint8Array {
  if (plaintext.length > MAX_PLAINTEXT)
    throw new RangeError(`${plaintext.length} frame bytes exceed a packet`);
  // Every byte is written below (header, ciphertext, tag), so the buffer need not be zeroed first.
  const raw = Buffer.allocUnsafe(DATA_HEADER_BYTES + plaintext.length + TAG_LEN);
  const out = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  writeDataHeader(out, header);
  cipher.encryptWithNonceInto(
    header.pn,
    out.subarray(0, DATA_HEADER_BYTES),
    plaintext,
    out,
    DATA_HEADER_BYTES,
  );
  return out;
}

/** DECRYPT with the header as associated data; throws BAD_SIGNATURE when anything was changed. */
export function openPacket(p: ParsedDataPacket, cipher: CipherState): Uint8Array {
  return cipher.decryptWithNonce(p.header.pn, p.ad, p.sealed);
}

export function encodeHandshakePacket(
  type: HandshakeType,
  dcid: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  if (dcid.length !== CID_BYTES) throw new RangeError('connection id must be 8 bytes');
  const out = new Uint8Array(HANDSHAKE_HEADER_BYTES + message.length);
  out[0] = VERSION_BYTE;
  out[1] = type;
  out.set(dcid, 2);
  out.set(message, HANDSHAKE_HEADER_BYTES);
  if (out.length > MAX_DATAGRAM) throw new RangeError('handshake packet exceeds a datagram');
  return out;
}

export interface ParsedHandshakePacket {
  readonly type: HandshakeType;
  readonly dcid: Uint8Array;
  readonly message: Uint8Array;
}

export function parseHandshakePacket(datagram: Uint8Array): ParsedHandshakePacket {
  if (datagram.length > MAX_DATAGRAM) throw malformed(`handshake packet of ${datagram.length} bytes`);
  if (!isSessionPacket(datagram)) throw malformed('not a session packet');
  const type = datagram[1]!;
  if (type === MsgType.SESSION_DATA) throw malformed('not a handshake packet');
  return {
    type: type as HandshakeType,
    dcid: datagram.subarray(2, HANDSHAKE_HEADER_BYTES),
    message: datagram.subarray(HANDSHAKE_HEADER_BYTES),
  };
}
