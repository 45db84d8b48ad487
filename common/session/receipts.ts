import type { SendBuffer } from './send-buffer.js';

/**
 * RECEIPTs both ways, and the flow control they drive (docs/session.md).
 *
 * Outgoing messages: each one's end offset is kept until the peer's RECEIPT counts it; then
 * 'delivered' fires for it and the send limit moves to that end plus the peer's receive window,
 * so the peer frees its window as its application takes messages. A full send buffer refuses
 * a message and remembers that the writer waits for room. A message's id is given when it is
 * written; a bulk message enters the stream later (send-buffer.ts writeBulk), so ids map to
 * stream positions through `handles`.
 *
 * Incoming messages: the RECEIPT this side owes carries the count its owner released. A fresh
 * one may wait for the ACK it rides with; one that was lost (or released by the owner, who is
 * waiting for it) is urgent and goes at once.
 */
export class Receipts {
  /** End offsets of messages written, not yet counted by a RECEIPT (from `head`). */
  private ends: number[] = [];
  /** The id send() gave each message, in stream order alongside `ends`. */
  private handles: number[] = [];
  private head = 0;
  /** Ids are given in the order send() is called; bulk messages may enter the stream later. */
  private nextHandle = 0;
  private peerCount = 0;
  private wantWritable = false;
  private sentCount = 0;
  private ackedCount = 0;
  private urgentReceipt = false;

  /** `released()` counts the peer's messages this side may call delivered. */
  constructor(
    private readonly sendBuf: SendBuffer,
    private readonly released: () => number,
  ) {
    sendBuf.onPlaced = (end, handle) => {
      this.ends.push(end);
      this.handles.push(handle);
    };
  }

  // ---- our messages, the peer's RECEIPTs ----

  /** Queue a message in the send buffer: its id, or false when there is no room (see writable). */
  write(data: Uint8Array, bulk = false): number | false {
    if (!this.sendBuf.canWrite(data.length)) {
      this.wantWritable = true;
      return false;
    }
    const handle = ++this.nextHandle;
    if (bulk) {
      this.sendBuf.writeBulk(data, handle);
      return handle;
    }
    const { end } = this.sendBuf.write(data);
    this.ends.push(end);
    this.handles.push(handle);
    return handle;
  }

  /** Messages the peer's application has (the highest RECEIPT). */
  get delivered(): number {
    return this.peerCount;
  }

  /**
   * The peer's RECEIPT: the ids it newly counts (in order), or undefined when it counts a
   * message never sent (a protocol violation). The send limit moves to the last counted
   * message's end plus `receiveWindow`.
   */
  onReceipt(count: number, receiveWindow: number): number[] | undefined {
    if (count > this.sendBuf.messagesWritten) return undefined;
    const ids: number[] = [];
    let end: number | undefined;
    while (this.peerCount < count) {
      end = this.ends[this.head];
      ids.push(this.handles[this.head++]!);
      this.peerCount++;
    }
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.ends = this.ends.slice(this.head);
      this.handles = this.handles.slice(this.head);
      this.head = 0;
    }
    if (end !== undefined) this.sendBuf.flowLimit = end + receiveWindow;
    return ids;
  }

  /** After an ACK: true once when a refused writer may write again (the buffer is half empty). */
  writable(): boolean {
    if (!this.wantWritable || this.sendBuf.buffered * 2 > this.sendBuf.maxBytes) return false;
    this.wantWritable = false;
    return true;
  }

  // ---- the peer's messages, our RECEIPTs ----

  /** The count a RECEIPT should carry now, or 0 when the last one sent already says it. */
  toSend(): number {
    const n = this.released();
    return n > this.sentCount ? n : 0;
  }

  /** Everything released has gone out in a RECEIPT (lost or not). */
  get allSent(): boolean {
    return this.released() <= this.sentCount;
  }

  /** The RECEIPT must go without waiting for an ACK to ride with. */
  get urgent(): boolean {
    return this.urgentReceipt;
  }

  /** The owner released a message and waits on its RECEIPT. */
  markUrgent(): void {
    this.urgentReceipt = true;
  }

  onSent(count: number): void {
    this.sentCount = count;
    this.urgentReceipt = false;
  }

  onAcked(count: number): void {
    this.ackedCount = Math.max(this.ackedCount, count);
  }

  /**
   * A packet carrying RECEIPT `count` was lost: send the count again (urgently) unless a later
   * RECEIPT already went or the peer acknowledged one as high. Returns whether it will be resent.
   */
  onLost(count: number): boolean {
    if (count < this.sentCount || count <= this.ackedCount) return false;
    this.sentCount = this.ackedCount;
    this.urgentReceipt = true;
    return true;
  }
}
