import { MESSAGE_HEADER_BYTES } from './send-buffer.js';

/**
 * The receiving half of the message stream: STREAM frames arrive lost, duplicated and out of
 * order; bytes are put back in order and cut into messages at their [u32 length] headers.
 *
 * Memory is bounded against a hostile (authenticated but buggy or malicious) peer:
 * - nothing is accepted beyond `windowBytes` past the end of the last released message (the
 *   sender keeps to the same window, learnt in the handshake and moved by RECEIPTs). A message
 *   is released when it is delivered, or, with `releaseByOwner`, when the owner says it is safe
 *   (stored): messages delivered but not yet released count against the window, so an owner
 *   that holds them holds at most one window;
 * - out-of-order data is kept in at most `maxSegments` pieces, trimmed of what is already held;
 * - a message length above `maxMessageBytes` is a protocol violation, refused before any
 *   allocation.
 */
export type PushResult =
  | { readonly ok: true; readonly messages: Uint8Array[] }
  | { readonly ok: false; readonly reason: 'flowControl' | 'reassemblyFull' | 'tooLarge' };

interface Segment {
  readonly start: number;
  readonly data: Uint8Array;
}

export class Reassembler {
  /** Stream offset just after the last complete message handed out. */
  deliveredOffset = 0;
  messagesDelivered = 0;
  /** Stream offset just after the last released message (the window's base; RECEIPTs count these). */
  releasedOffset = 0;
  messagesReleased = 0;
  /** End offsets of delivered, unreleased messages (releaseByOwner), oldest first. */
  private ends: number[] = [];
  private endsHead = 0;
  /** Ids (1-based) released ahead of an earlier one. */
  private releasedAhead = new Set<number>();
  /** Stream bytes consumed in order (header and body of the message being assembled). */
  private consumed = 0;
  private readonly header = new Uint8Array(MESSAGE_HEADER_BYTES);
  private headerFill = 0;
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  private segments: Segment[] = [];
  private segmentBytes = 0;
  private failed = false;

  constructor(
    readonly windowBytes: number,
    readonly maxMessageBytes: number,
    readonly maxSegments: number,
    readonly releaseByOwner = false,
  ) {}

  /**
   * The owner is done with message `id` (1-based); the released count moves over every
   * contiguous released message. Returns whether it moved. Unknown or repeated ids are ignored.
   */
  release(id: number): boolean {
    if (!this.releaseByOwner || id <= this.messagesReleased || id > this.messagesDelivered) return false;
    this.releasedAhead.add(id);
    let moved = false;
    while (this.releasedAhead.delete(this.messagesReleased + 1)) {
      this.messagesReleased++;
      this.releasedOffset = this.ends[this.endsHead++]!;
      moved = true;
    }
    if (this.endsHead > 1024 && this.endsHead * 2 > this.ends.length) {
      this.ends = this.ends.slice(this.endsHead);
      this.endsHead = 0;
    }
    return moved;
  }

  /** Out-of-order bytes held. */
  get bufferedBytes(): number {
    return this.segmentBytes + this.bodyFill;
  }
  get pendingSegments(): number {
    return this.segments.length;
  }

  /**
   * Why a STREAM frame would be refused, checked before its packet is acknowledged: a refused
   * packet is dropped unacknowledged, so an honest sender sends the bytes again later.
   */
  refusal(offset: number, length: number): 'flowControl' | 'reassemblyFull' | undefined {
    if (offset + length > this.releasedOffset + this.windowBytes) return 'flowControl';
    if (offset > this.consumed && this.segments.length >= this.maxSegments) return 'reassemblyFull';
    return undefined;
  }

  push(offset: number, data: Uint8Array): PushResult {
    if (this.failed) return { ok: false, reason: 'tooLarge' };
    const end = offset + data.length;
    if (end > this.releasedOffset + this.windowBytes) return { ok: false, reason: 'flowControl' };
    const messages: Uint8Array[] = [];
    if (end <= this.consumed || data.length === 0) return { ok: true, messages };
    if (offset <= this.consumed) {
      if (!this.consume(data.subarray(this.consumed - offset), messages)) return this.fail();
      if (!this.drain(messages)) return this.fail();
      return { ok: true, messages };
    }
    if (!this.insert(offset, data)) return { ok: false, reason: 'reassemblyFull' };
    return { ok: true, messages };
  }

  private fail(): PushResult {
    this.failed = true;
    this.segments = [];
    this.segmentBytes = 0;
    this.body = undefined;
    return { ok: false, reason: 'tooLarge' };
  }

  /** Keep the parts of [offset, end) not already held, in order. */
  private insert(offset: number, data: Uint8Array): boolean {
    const end = offset + data.length;
    const pieces: Segment[] = [];
    let at = offset;
    // First segment that ends after `offset`.
    let lo = 0;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segments[mid]!;
      if (s.start + s.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    for (; i < this.segments.length && at < end; i++) {
      const s = this.segments[i]!;
      if (s.start >= end) break;
      if (s.start > at) pieces.push({ start: at, data: data.slice(at - offset, s.start - offset) });
      at = Math.max(at, s.start + s.data.length);
    }
    if (at < end) pieces.push({ start: at, data: data.slice(at - offset) });
    if (pieces.length === 0) return true;
    // A frame spanning several holes may add several pieces; twice the cap is the hard limit.
    if (this.segments.length + pieces.length > 2 * this.maxSegments) return false;
    // The pieces fall between existing segments from index `lo` on; merge them in order.
    const merged: Segment[] = [];
    let p = 0;
    for (let j = lo; j < i || p < pieces.length;) {
      const s = j < i ? this.segments[j] : undefined;
      const q = pieces[p];
      if (q && (!s || q.start < s.start)) {
        merged.push(q);
        p++;
      } else if (s) {
        merged.push(s);
        j++;
      }
    }
    this.segments.splice(lo, i - lo, ...merged);
    for (const q of pieces) this.segmentBytes += q.data.length;
    return true;
  }

  /** Feed held segments that have become contiguous. */
  private drain(messages: Uint8Array[]): boolean {
    let n = 0;
    while (n < this.segments.length) {
      const s = this.segments[n]!;
      if (s.start > this.consumed) break;
      n++;
      this.segmentBytes -= s.data.length;
      const end = s.start + s.data.length;
      if (end > this.consumed && !this.consume(s.data.subarray(this.consumed - s.start), messages))
        return false;
    }
    if (n > 0) this.segments.splice(0, n);
    return true;
  }

  /** Consume in-order bytes into headers and bodies; false on an oversized message. */
  private consume(bytes: Uint8Array, messages: Uint8Array[]): boolean {
    let i = 0;
    while (i < bytes.length) {
      if (this.body === undefined) {
        const n = Math.min(MESSAGE_HEADER_BYTES - this.headerFill, bytes.length - i);
        this.header.set(bytes.subarray(i, i + n), this.headerFill);
        this.headerFill += n;
        i += n;
        if (this.headerFill < MESSAGE_HEADER_BYTES) break;
        const length = new DataView(this.header.buffer).getUint32(0);
        if (length > this.maxMessageBytes) return false;
        this.body = new Uint8Array(length);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, bytes.length - i);
      this.body.set(bytes.subarray(i, i + n), this.bodyFill);
      this.bodyFill += n;
      i += n;
      if (this.bodyFill === this.body.length) {
        messages.push(this.body);
        this.messagesDelivered++;
        this.body = undefined;
        this.bodyFill = 0;
        this.headerFill = 0;
        this.deliveredOffset = this.consumed + i;
        if (this.releaseByOwner) this.ends.push(this.deliveredOffset);
        else {
          this.messagesReleased = this.messagesDelivered;
          this.releasedOffset = this.deliveredOffset;
        }
      }
    }
    this.consumed += bytes.length;
    return true;
  }
}
