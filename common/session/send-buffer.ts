import { RangeSet } from './range-set.js';

/**
 * The sending half of the session's one ordered message stream. Messages are appended as
 * [u32 length][bytes] records, so many small messages share a packet and a 1 MiB message is
 * cut into STREAM frames by offset. Bytes stay here until acknowledged (so a lost frame can be
 * rebuilt from offset and length, RFC 9000 §13.3), and the buffer is bounded: send() is refused
 * while it is full, which is the caller's back-pressure.
 */
export const MESSAGE_HEADER_BYTES = 4;

export interface StreamSpan {
  readonly offset: number;
  readonly length: number;
}

interface Chunk {
  readonly start: number;
  readonly data: Uint8Array;
}

export class SendBuffer {
  /** Stream offset after the last byte written. */
  writeOffset = 0;
  /** The next byte never sent. */
  nextOffset = 0;
  /** All bytes below this are acknowledged (and released). */
  ackedPrefix = 0;
  /** The peer accepts stream bytes below this (its receive window, moved by RECEIPTs). */
  flowLimit = 0;
  messagesWritten = 0;
  private readonly acked = new RangeSet();
  private readonly lost = new RangeSet();
  private chunks: Chunk[] = [];
  private head = 0;
  /** Bulk messages waiting for the stream to drain, already framed (see writeBulk). */
  private bulk: { data: Uint8Array; handle: number }[] = [];
  private bulkHead = 0;
  private bulkBytes = 0;
  /** Told when a bulk message takes its place in the stream: its stream end and its handle. */
  onPlaced: (end: number, handle: number) => void = () => {};

  constructor(readonly maxBytes: number) {}

  /** Bytes held: written and not yet acknowledged, bulk messages still waiting included. */
  get buffered(): number {
    return this.writeOffset - this.ackedPrefix + this.bulkBytes;
  }

  canWrite(messageBytes: number): boolean {
    return this.buffered + MESSAGE_HEADER_BYTES + messageBytes <= this.maxBytes;
  }

  /** Append one message (copied); returns its id (1, 2, ...) and the stream offset after it. */
  write(message: Uint8Array): { id: number; end: number } {
    return this.place(frame(message));
  }

  /**
   * Queue a bulk message (copied). It takes its place in the stream only when everything before
   * it has been sent (takeNew), so a message written later with write() waits behind at most one
   * bulk message already under way, never behind the whole backlog. `handle` comes back through
   * onPlaced with the message's stream end.
   */
  writeBulk(message: Uint8Array, handle: number): void {
    const data = frame(message);
    this.bulk.push({ data, handle });
    this.bulkBytes += data.length;
  }

  private place(data: Uint8Array): { id: number; end: number } {
    this.chunks.push({ start: this.writeOffset, data });
    this.writeOffset += data.length;
    return { id: ++this.messagesWritten, end: this.writeOffset };
  }

  /** The next bulk message into the stream, when the stream has nothing left unsent. */
  private placeBulk(): void {
    if (this.nextOffset < this.writeOffset || this.writeOffset >= this.flowLimit) return;
    const next = this.bulk[this.bulkHead];
    if (!next) return;
    this.bulk[this.bulkHead++] = undefined as never;
    if (this.bulkHead > 256 && this.bulkHead * 2 > this.bulk.length) {
      this.bulk = this.bulk.slice(this.bulkHead);
      this.bulkHead = 0;
    }
    this.bulkBytes -= next.data.length;
    const { end } = this.place(next.data);
    this.onPlaced(end, next.handle);
  }

  hasLost(): boolean {
    return !this.lost.isEmpty;
  }

  /** New bytes ready to go now (written, unsent, inside the peer's window). */
  hasNew(): boolean {
    if (this.nextOffset < Math.min(this.writeOffset, this.flowLimit)) return true;
    return (
      this.bulkHead < this.bulk.length &&
      this.nextOffset === this.writeOffset &&
      this.writeOffset < this.flowLimit
    );
  }

  /** Take up to `max` bytes of the lowest range waiting for retransmission. */
  takeLost(max: number): StreamSpan | undefined {
    const g = this.lost.first();
    if (!g || max <= 0) return undefined;
    const length = Math.min(max, g.end - g.start);
    this.lost.remove(g.start, g.start + length);
    return { offset: g.start, length };
  }

  /** Take up to `max` never-sent bytes. */
  takeNew(max: number): StreamSpan | undefined {
    this.placeBulk();
    const end = Math.min(this.writeOffset, this.flowLimit, this.nextOffset + max);
    if (end <= this.nextOffset) return undefined;
    const span = { offset: this.nextOffset, length: end - this.nextOffset };
    this.nextOffset = end;
    return span;
  }

  /**
   * Stream bytes [offset, offset + length); they must not be released yet. A span inside one
   * chunk is a view of it (chunks are never written after write()), else a copy.
   */
  read(offset: number, length: number): Uint8Array {
    let i = this.chunkAt(offset);
    const first = this.chunks[i];
    if (first && first.start <= offset && offset + length <= first.start + first.data.length)
      return first.data.subarray(offset - first.start, offset - first.start + length);
    const out = new Uint8Array(length);
    let o = offset;
    while (o < offset + length) {
      const c = this.chunks[i++];
      if (!c) throw new RangeError(`stream bytes at ${o} are not buffered`);
      const from = o - c.start;
      const n = Math.min(c.data.length - from, offset + length - o);
      out.set(c.data.subarray(from, from + n), o - offset);
      o += n;
    }
    return out;
  }

  onAcked(offset: number, length: number): void {
    this.acked.add(offset, offset + length);
    this.lost.remove(offset, offset + length);
    const first = this.acked.first();
    if (first && first.start === 0 && first.end > this.ackedPrefix) {
      this.ackedPrefix = first.end;
      this.release();
    }
  }

  /** Queue the unacknowledged part of a span for retransmission; returns how many bytes. */
  onLost(offset: number, length: number): number {
    const end = offset + length;
    let queued = 0;
    let at = offset;
    const queue = (s: number, e: number): void => {
      if (e > s) {
        this.lost.add(s, e);
        queued += e - s;
      }
    };
    this.acked.forEachOverlap(offset, end, (s, e) => {
      queue(at, s);
      at = e;
    });
    queue(at, end);
    return queued;
  }

  /** Whether every byte of the stream written so far has been acknowledged. */
  get allAcked(): boolean {
    return this.ackedPrefix === this.writeOffset;
  }

  private release(): void {
    while (this.head < this.chunks.length) {
      const c = this.chunks[this.head]!;
      if (c.start + c.data.length > this.ackedPrefix) break;
      this.head++;
    }
    if (this.head > 256 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Index of the chunk holding `offset` (binary search over the live chunks). */
  private chunkAt(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** [u32 length][message]: one record of the stream. */
function frame(message: Uint8Array): Uint8Array {
  const data = new Uint8Array(MESSAGE_HEADER_BYTES + message.length);
  new DataView(data.buffer).setUint32(0, message.length);
  data.set(message, MESSAGE_HEADER_BYTES);
  return data;
}
