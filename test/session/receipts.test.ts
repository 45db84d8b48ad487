import { describe, expect, it } from 'vitest';
import { Receipts } from '../../common/session/receipts.js';
import { SendBuffer } from '../../common/session/send-buffer.js';

const bytes = (n: number): Uint8Array => new Uint8Array(n);

function setup(maxBytes = 1000): { buf: SendBuffer; r: Receipts; release: (n: number) => void } {
  const buf = new SendBuffer(maxBytes);
  let released = 0;
  const r = new Receipts(buf, () => released);
  return { buf, r, release: (n) => void (released = n) };
}

describe('Receipts: our messages and the peer RECEIPTs (flow control)', () => {
  it('a RECEIPT counts messages delivered, in order, and moves the send limit to their end plus the window', () => {
    const { buf, r } = setup();
    const ends: number[] = [];
    for (const n of [10, 20, 30]) {
      expect(r.write(bytes(n))).toBe(ends.length + 1);
      ends.push(buf.writeOffset); // each message's end in the stream (its header included)
    }
    expect(r.onReceipt(2, 100)).toEqual([1, 2]);
    expect(r.delivered).toBe(2);
    expect(buf.flowLimit).toBe(ends[1]! + 100);
    expect(r.onReceipt(2, 100)).toEqual([]); // a repeat counts nothing new
    expect(r.onReceipt(3, 100)).toEqual([3]);
    expect(buf.flowLimit).toBe(ends[2]! + 100);
  });

  it('a RECEIPT for a message never sent is refused (undefined) and changes nothing', () => {
    const { buf, r } = setup();
    r.write(bytes(10));
    buf.flowLimit = 7;
    expect(r.onReceipt(2, 100)).toBeUndefined();
    expect(r.delivered).toBe(0);
    expect(buf.flowLimit).toBe(7);
  });

  it('a full buffer refuses a message; writable() says so once the buffer is half empty', () => {
    const { buf, r } = setup(100);
    expect(r.write(bytes(60))).toBe(1);
    expect(r.writable()).toBe(false); // nobody was refused
    expect(r.write(bytes(60))).toBe(false);
    expect(r.writable()).toBe(false); // still full
    buf.flowLimit = 1000;
    const span = buf.takeNew(1000)!;
    buf.onAcked(span.offset, span.length);
    expect(r.writable()).toBe(true);
    expect(r.writable()).toBe(false); // once
  });
});

describe('Receipts: the peer messages and our RECEIPTs', () => {
  it('a RECEIPT carries the released count, once; nothing is due until more is released', () => {
    const { r, release } = setup();
    expect([r.toSend(), r.allSent]).toEqual([0, true]);
    release(3);
    expect([r.toSend(), r.allSent]).toEqual([3, false]);
    r.onSent(3);
    expect([r.toSend(), r.allSent]).toEqual([0, true]);
    release(4);
    expect(r.toSend()).toBe(4);
  });

  it('a released message makes the RECEIPT urgent until it goes', () => {
    const { r, release } = setup();
    release(1);
    expect(r.urgent).toBe(false); // a fresh RECEIPT may wait for an ACK to ride with
    r.markUrgent();
    expect(r.urgent).toBe(true);
    r.onSent(1);
    expect(r.urgent).toBe(false);
  });

  it('a lost RECEIPT is sent again, urgently, unless a later one went or the peer acknowledged as much', () => {
    const { r, release } = setup();
    release(2);
    r.onSent(2);
    release(5);
    r.onSent(5);
    expect(r.onLost(2)).toBe(false); // RECEIPT 5 is on its way
    expect(r.onLost(5)).toBe(true);
    expect([r.toSend(), r.urgent]).toEqual([5, true]);
    r.onSent(5);
    r.onAcked(5);
    expect(r.onLost(5)).toBe(false); // the peer has it
    expect(r.urgent).toBe(false);
  });

  it('after a loss the count resends from what the peer acknowledged', () => {
    const { r, release } = setup();
    release(2);
    r.onSent(2);
    r.onAcked(2);
    release(4);
    r.onSent(4);
    expect(r.onLost(4)).toBe(true);
    expect(r.allSent).toBe(false);
    expect(r.toSend()).toBe(4);
  });
});
