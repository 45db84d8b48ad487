import { malformed } from '../errors.js';
import { Reader, Writer } from '../wire/bytes.js';
import { type AckRange, MAX_ACK_RANGES, fromWireRanges, toWireRanges } from './ack-ranges.js';
import { readVarint, varintLength, writeVarint } from './varint.js';

/**
 * Frames: the plaintext inside a sealed session packet is a sequence of frames, each a type
 * byte and its fields (the idea and several layouts are QUIC's, RFC 9000 §12.4, §19). One
 * encode/decode pair per frame; docs/session.md gives every layout byte by byte. Decoding is
 * all-or-nothing: a packet with one bad frame is dropped whole.
 */
export const FrameType = {
  /** A run of zero bytes (RFC 9000 §19.1). */
  PADDING: 0x00,
  /** Asks for an ACK; nothing else (heartbeats, probes). */
  PING: 0x01,
  /** varint largest, varint delay (µs), varint range count, varint first range, (gap, length)*. */
  ACK: 0x02,
  /** varint offset, varint length, data: bytes of the one ordered message stream. */
  STREAM: 0x03,
  /** varint count: the receiver's application has been handed messages 1..count. */
  RECEIPT: 0x04,
  /** 8 bytes to be echoed (RFC 9000 §8.2). */
  PATH_CHALLENGE: 0x05,
  PATH_RESPONSE: 0x06,
  /** u8 code: the sender has closed the session. */
  CLOSE: 0x07,
} as const;

export const PATH_DATA_BYTES = 8;

/** CLOSE codes. */
export const CloseCode = { NORMAL: 0, PROTOCOL: 1, INTERNAL: 2 } as const;

/** No STREAM frame carries more than one datagram's worth of bytes. */
export const MAX_STREAM_FRAME_DATA = 1200;

export type Frame =
  | { readonly type: 'padding'; readonly length: number }
  | { readonly type: 'ping' }
  | { readonly type: 'ack'; readonly delayUs: number; readonly ranges: readonly AckRange[] }
  | { readonly type: 'stream'; readonly offset: number; readonly data: Uint8Array }
  | { readonly type: 'receipt'; readonly count: number }
  | { readonly type: 'pathChallenge'; readonly data: Uint8Array }
  | { readonly type: 'pathResponse'; readonly data: Uint8Array }
  | { readonly type: 'close'; readonly code: number };

/** Frames that oblige the receiver to acknowledge the packet (RFC 9002 §2 "ack-eliciting"). */
export const isAckEliciting = (f: Frame): boolean =>
  f.type !== 'ack' && f.type !== 'padding' && f.type !== 'close';

/** Probing frames (RFC 9000 §9.1): a packet of only these does not move the session's path. */
export const isProbing = (f: Frame): boolean =>
  f.type === 'padding' || f.type === 'pathChallenge' || f.type === 'pathResponse';

export function writeFrame(w: Writer, f: Frame): void {
  switch (f.type) {
    case 'padding':
      for (let i = 0; i < f.length; i++) w.u8(FrameType.PADDING);
      return;
    case 'ping':
      w.u8(FrameType.PING);
      return;
    case 'ack': {
      if (f.ranges.length > MAX_ACK_RANGES) throw new RangeError('too many ACK ranges');
      const wire = toWireRanges(f.ranges);
      w.u8(FrameType.ACK);
      writeVarint(w, wire.largest);
      writeVarint(w, f.delayUs);
      writeVarint(w, wire.rest.length);
      writeVarint(w, wire.firstRange);
      for (const { gap, length } of wire.rest) {
        writeVarint(w, gap);
        writeVarint(w, length);
      }
      return;
    }
    case 'stream':
      if (f.data.length > MAX_STREAM_FRAME_DATA) throw new RangeError('STREAM frame too long');
      w.u8(FrameType.STREAM);
      writeVarint(w, f.offset);
      writeVarint(w, f.data.length);
      w.bytes(f.data);
      return;
    case 'receipt':
      w.u8(FrameType.RECEIPT);
      writeVarint(w, f.count);
      return;
    case 'pathChallenge':
    case 'pathResponse':
      if (f.data.length !== PATH_DATA_BYTES) throw new RangeError('path data must be 8 bytes');
      w.u8(f.type === 'pathChallenge' ? FrameType.PATH_CHALLENGE : FrameType.PATH_RESPONSE);
      w.bytes(f.data);
      return;
    case 'close':
      w.u8(FrameType.CLOSE).u8(f.code);
      return;
  }
}

/**
 * The frames as one plaintext. Given `scratch`, they are written into it and the result is a view
 * of it (no allocation per packet; valid until the next call with the same scratch).
 */
export function encodeFrames(frames: readonly Frame[], scratch?: Uint8Array): Uint8Array {
  const w = new Writer(scratch ?? 256);
  for (const f of frames) writeFrame(w, f);
  return scratch ? w.view() : w.finish();
}

/** The encoded size of one frame. */
export function frameSize(f: Frame): number {
  switch (f.type) {
    case 'padding':
      return f.length;
    case 'ping':
      return 1;
    case 'stream':
      return streamFrameOverhead(f.offset, f.data.length) + f.data.length;
    case 'receipt':
      return 1 + varintLength(f.count);
    case 'pathChallenge':
    case 'pathResponse':
      return 1 + PATH_DATA_BYTES;
    case 'close':
      return 2;
    case 'ack': {
      const w = new Writer(64);
      writeFrame(w, f);
      return w.length;
    }
  }
}

/** Type byte plus the offset and length fields of a STREAM frame. */
export const streamFrameOverhead = (offset: number, length: number): number =>
  1 + varintLength(offset) + varintLength(length);

/**
 * Decode every frame of a packet's plaintext. Throws MALFORMED on an unknown type, a truncated
 * field, an ACK with too many ranges or below packet 0, or a STREAM frame longer than a datagram;
 * nothing is allocated from a length field before it is bounded.
 */
export function decodeFrames(plaintext: Uint8Array): Frame[] {
  const r = new Reader(plaintext, 'session frame');
  const out: Frame[] = [];
  while (r.remaining > 0) {
    const type = r.u8();
    switch (type) {
      case FrameType.PADDING: {
        let length = 1;
        while (r.remaining > 0 && plaintext[r.offset] === FrameType.PADDING) {
          r.u8();
          length++;
        }
        out.push({ type: 'padding', length });
        break;
      }
      case FrameType.PING:
        out.push({ type: 'ping' });
        break;
      case FrameType.ACK: {
        const largest = readVarint(r);
        const delayUs = readVarint(r);
        const count = readVarint(r);
        if (count >= MAX_ACK_RANGES) throw malformed(`ACK with ${count + 1} ranges`);
        const firstRange = readVarint(r);
        const rest: { gap: number; length: number }[] = [];
        for (let i = 0; i < count; i++) rest.push({ gap: readVarint(r), length: readVarint(r) });
        out.push({ type: 'ack', delayUs, ranges: fromWireRanges({ largest, firstRange, rest }) });
        break;
      }
      case FrameType.STREAM: {
        const offset = readVarint(r);
        const length = readVarint(r);
        if (length > MAX_STREAM_FRAME_DATA) throw malformed(`STREAM frame of ${length} bytes`);
        if (!Number.isSafeInteger(offset + length)) throw malformed('STREAM frame beyond 2^53');
        out.push({ type: 'stream', offset, data: r.bytes(length) });
        break;
      }
      case FrameType.RECEIPT:
        out.push({ type: 'receipt', count: readVarint(r) });
        break;
      case FrameType.PATH_CHALLENGE:
        out.push({ type: 'pathChallenge', data: r.bytes(PATH_DATA_BYTES) });
        break;
      case FrameType.PATH_RESPONSE:
        out.push({ type: 'pathResponse', data: r.bytes(PATH_DATA_BYTES) });
        break;
      case FrameType.CLOSE:
        out.push({ type: 'close', code: r.u8() });
        break;
      default:
        throw malformed(`unknown frame type 0x${type.toString(16)}`);
    }
  }
  return out;
}
