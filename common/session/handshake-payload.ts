import { malformed } from '../errors.js';
import { Reader, Writer } from '../wire/bytes.js';
import { CID_BYTES } from './packet.js';

/**
 * The payload each Noise handshake message carries (docs/session.md):
 *
 *   u8 version (1) | sender cid (8) | peer cid (8) | u32 receive window | u16 max_ack_delay ms | zeros
 *
 * Both connection ids travel in the handshake, so both end up authenticated by the handshake
 * hash: message 1 names the initiator's (peer cid all zero: not known yet), message 2 the
 * responder's and echoes the initiator's, message 3 echoes both. The transport parameters tell
 * the peer how far ahead it may send (flow control) and how long this side may hold an ACK
 * (its PTO needs that, RFC 9002 §6.2.1). Trailing bytes must be zero: message 1 is padded so a
 * 1200-byte datagram proves the path carries full-size packets and the answer is never bigger
 * than the question (no amplification, the reason QUIC pads its Initial, RFC 9000 §14.1).
 */
export const PAYLOAD_VERSION = 1;
export const PAYLOAD_BYTES = 1 + CID_BYTES + CID_BYTES + 4 + 2;
/** RFC 9000 §18.2: a max_ack_delay of 2^14 ms or more is invalid. */
export const MAX_ACK_DELAY_LIMIT_MS = 2 ** 14 - 1;
export const ZERO_CID = new Uint8Array(CID_BYTES);

export interface TransportParams {
  /** Bytes of the message stream this side accepts beyond its last delivered message. */
  readonly receiveWindow: number;
  /** The longest this side delays an ACK (ms). */
  readonly maxAckDelayMs: number;
}

export interface HandshakePayload {
  readonly senderCid: Uint8Array;
  readonly peerCid: Uint8Array;
  readonly params: TransportParams;
}

export function encodePayload(p: HandshakePayload, padTo = PAYLOAD_BYTES): Uint8Array {
  const w = new Writer(Math.max(padTo, PAYLOAD_BYTES))
    .u8(PAYLOAD_VERSION)
    .bytes(p.senderCid)
    .bytes(p.peerCid)
    .u32(p.params.receiveWindow)
    .u16(p.params.maxAckDelayMs);
  const out = new Uint8Array(Math.max(padTo, PAYLOAD_BYTES));
  out.set(w.finish());
  return out;
}

/** Throws MALFORMED on a wrong version, short input, bad parameters or non-zero padding. */
export function decodePayload(b: Uint8Array): HandshakePayload {
  const r = new Reader(b, 'handshake payload');
  if (r.u8() !== PAYLOAD_VERSION) throw malformed('handshake payload: unknown version');
  const senderCid = new Uint8Array(r.bytes(CID_BYTES));
  const peerCid = new Uint8Array(r.bytes(CID_BYTES));
  const receiveWindow = r.u32();
  const maxAckDelayMs = r.u16();
  if (receiveWindow === 0) throw malformed('handshake payload: zero receive window');
  if (maxAckDelayMs > MAX_ACK_DELAY_LIMIT_MS) throw malformed('handshake payload: max_ack_delay too large');
  for (const byte of r.rest()) if (byte !== 0) throw malformed('handshake payload: non-zero padding');
  return { senderCid, peerCid, params: { receiveWindow, maxAckDelayMs } };
}
