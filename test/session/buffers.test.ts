import { describe, expect, it } from 'vitest';
import { Rng } from '../../common/net/sim/random.js';
import { Reassembler } from '../../common/session/reassembly.js';
import { SendBuffer } from '../../common/session/send-buffer.js';

const bytes = (n: number, seed: number): Uint8Array => new Rng(seed, 'b').fill(new Uint8Array(n));

/** The stream bytes [u32 len][data] for a list of messages. */
function stream(messages: Uint8Array[]): Uint8Array {
  const sb = new SendBuffer(1 << 24);
  for (const m of messages) sb.write(m);
  sb.flowLimit = Infinity;
  return sb.read(0, sb.writeOffset);
}

describe('SendBuffer', () => {
  it('frames messages, hands out new and lost spans, and releases acknowledged bytes', () => {
    const sb = new SendBuffer(100);
    expect(sb.write(new Uint8Array([1, 2, 3]))).toEqual({ id: 1, end: 7 });
    expect(sb.write(new Uint8Array([4]))).toEqual({ id: 2, end: 12 });
    expect(Array.from(sb.read(0, 12))).toEqual([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 4]);
    expect(sb.takeNew(5)).toBeUndefined(); // flow limit 0: nothing may go yet
    sb.flowLimit = 10;
    expect(sb.takeNew(5)).toEqual({ offset: 0, length: 5 });
    expect(sb.takeNew(50)).toEqual({ offset: 5, length: 5 }); // stops at the flow limit
    sb.flowLimit = 100;
    expect(sb.takeNew(50)).toEqual({ offset: 10, length: 2 });
    expect(sb.hasNew()).toBe(false);
    sb.onAcked(5, 3);
    expect(sb.onLost(0, 10)).toBe(7); // 5..8 is acknowledged: only 0..5 and 8..10 go again
    expect(sb.takeLost(3)).toEqual({ offset: 0, length: 3 });
    expect(sb.takeLost(10)).toEqual({ offset: 3, length: 2 });
    expect(sb.takeLost(10)).toEqual({ offset: 8, length: 2 });
    expect(sb.takeLost(10)).toBeUndefined();
    sb.onAcked(0, 5);
    expect(sb.ackedPrefix).toBe(8);
    sb.onAcked(8, 4);
    expect(sb.allAcked).toBe(true);
    expect(sb.buffered).toBe(0);
  });

  it('refuses writes beyond its bound (back-pressure)', () => {
    const sb = new SendBuffer(20);
    expect(sb.canWrite(16)).toBe(true);
    sb.write(new Uint8Array(10));
    expect(sb.canWrite(3)).toBe(false); // 14 held + 4 + 3 > 20
    expect(sb.canWrite(2)).toBe(true);
  });
});

describe('Reassembler', () => {
  const msgs = [bytes(0, 1), bytes(5, 2), bytes(3000, 3), bytes(1, 4), bytes(70_000, 5)];
  const s = stream(msgs);

  it('delivers messages in order from chunks arriving shuffled, duplicated and overlapping', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = new Rng(seed, 'shuffle');
      const pieces: [number, number][] = [];
      for (let o = 0; o < s.length;) {
        const n = Math.min(s.length - o, 1 + rng.int(0, 1500));
        pieces.push([o, n]);
        // Overlapping re-cuts, as retransmissions of re-packed frames produce.
        if (rng.chance(0.3)) pieces.push([Math.max(0, o - rng.int(0, 50)), Math.min(s.length - o, n + 20)]);
        o += n;
      }
      for (let i = pieces.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
      }
      const r = new Reassembler(1 << 20, 1 << 20, 4096);
      const got: Uint8Array[] = [];
      for (const [o, n] of [...pieces, ...pieces.slice(0, 5)]) {
        const res = r.push(o, s.subarray(o, o + n));
        expect(res.ok).toBe(true);
        if (res.ok) got.push(...res.messages);
      }
      expect(got.map((m) => Buffer.from(m).toString('hex'))).toEqual(
        msgs.map((m) => Buffer.from(m).toString('hex')),
      );
      expect(r.messagesDelivered).toBe(msgs.length);
      expect(r.deliveredOffset).toBe(s.length);
      expect(r.bufferedBytes).toBe(0);
      expect(r.pendingSegments).toBe(0);
    }
  });

  it('refuses data beyond the window, counts nothing held for it', () => {
    const r = new Reassembler(1000, 900, 16);
    expect(r.refusal(990, 10)).toBeUndefined();
    expect(r.refusal(991, 10)).toBe('flowControl');
    expect(r.push(991, new Uint8Array(10))).toEqual({ ok: false, reason: 'flowControl' });
    expect(r.refusal(2 ** 52, 1)).toBe('flowControl');
    expect(r.bufferedBytes).toBe(0);
  });

  it('caps out-of-order pieces', () => {
    const r = new Reassembler(1 << 20, 1 << 20, 4);
    for (let i = 0; i < 4; i++) expect(r.push(10 + 10 * i, new Uint8Array(1)).ok).toBe(true);
    expect(r.refusal(100, 1)).toBe('reassemblyFull');
    expect(r.refusal(0, 1)).toBeUndefined(); // in-order data is always welcome
  });

  it('rejects an absurd message length before allocating it', () => {
    const r = new Reassembler(1 << 20, 1000, 16);
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff]); // claims 4 GiB
    expect(r.push(0, header)).toEqual({ ok: false, reason: 'tooLarge' });
    expect(r.bufferedBytes).toBe(0);
    const ok = new Reassembler(1 << 20, 1000, 16);
    expect(ok.push(0, new Uint8Array([0, 0, 3, 0xe8]))).toEqual({ ok: true, messages: [] }); // exactly 1000
    expect(ok.push(0, new Uint8Array([0, 0, 3, 0xe9]))).toEqual({ ok: true, messages: [] }); // duplicate bytes: ignored
  });
});
