import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { Rng } from '../../common/net/sim/random.js';
import { collect, enc, makePair, run, runUntil } from './helpers.js';

const pattern = (n: number, seed: number): Uint8Array => new Rng(seed, 'msg').fill(new Uint8Array(n));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

describe('messages', () => {
  it('a 1 MiB message arrives intact in datagrams of at most 1200 bytes; the sender hears it was delivered', () => {
    const p = makePair({ wire: { loss: 0.05, reorder: 0.1, jitterMs: 3 } });
    const big = pattern(1024 * 1024, 1);
    let got: Uint8Array | undefined;
    p.b.on('message', (m) => (got = m.data));
    const delivered: number[] = [];
    p.a.on('delivered', (e) => delivered.push(e.id));
    expect(p.a.send(big)).toBe(1);
    expect(runUntil(p.clock, () => delivered.length === 1, 600_000)).toBe(true);
    expect(got && same(got, big)).toBe(true);
    expect(p.largest()).toBeLessThanOrEqual(1200);
    expect(p.largest()).toBe(1200); // full-size packets are used
    expect(p.a.stats().largestDatagram).toBe(1200);
    expect(() => p.a.send(new Uint8Array(1024 * 1024 + 1))).toThrow(/exceeds/);
  });

  it('every message gets exactly one "delivered", in order, and ids match on both sides', () => {
    const p = makePair({ wire: { loss: 0.2, duplicate: 0.1, reorder: 0.2, jitterMs: 5 } });
    const got = collect(p.b);
    const delivered: number[] = [];
    p.a.on('delivered', (e) => delivered.push(e.id));
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) ids.push(p.a.send(enc(`m${i}`)) as number);
    expect(ids).toEqual([...Array(200)].map((_, i) => i + 1));
    expect(runUntil(p.clock, () => delivered.length === 200, 600_000)).toBe(true);
    run(p.clock, 5000);
    expect(delivered).toEqual(ids);
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(got.map((m) => m.text)).toEqual(ids.map((i) => `m${i - 1}`));
    expect(p.a.stats().messagesDelivered).toBe(200);
  });

  it('back-pressure: send() returns false when the buffer is full, "writable" says when to go on', () => {
    const p = makePair({ tuning: { maxMessageBytes: 1000, sendBufferBytes: 8000 }, wire: { loss: 0.1 } });
    const got = collect(p.b);
    const total = 300;
    let next = 0;
    let refusals = 0;
    let maxBuffered = 0;
    const pump = (): void => {
      while (next < total) {
        const r = p.a.send(enc(`${next}`.padEnd(900, '.')));
        if (r === false) {
          refusals++;
          return;
        }
        maxBuffered = Math.max(maxBuffered, p.a.stats().sendBufferBytes);
        next++;
      }
    };
    p.a.on('writable', pump);
    pump();
    expect(runUntil(p.clock, () => got.length === total, 600_000)).toBe(true);
    expect(refusals).toBeGreaterThan(10);
    expect(maxBuffered).toBeLessThanOrEqual(8000);
    expect(maxBuffered).toBeGreaterThan(7000);
    expect(got.map((m) => Number(m.text.replace(/\.+$/, '')))).toEqual([...Array(total)].map((_, i) => i));
  });

  it('flow control: a small receive window is never overrun', () => {
    const p = makePair({
      tuning: { maxMessageBytes: 3000, receiveWindowBytes: 3004 },
      wire: { loss: 0.1, reorder: 0.2, jitterMs: 5 },
    });
    const got = collect(p.b);
    for (let i = 0; i < 100; i++) p.a.send(enc(`${i}`.padEnd(2500, '.')));
    expect(runUntil(p.clock, () => got.length === 100, 600_000)).toBe(true);
    expect(p.b.stats().dropped.flowControl).toBe(0);
  });

  it('close() tells the peer, stops everything, and later use is refused', () => {
    const p = makePair();
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    const closedB: string[] = [];
    p.b.on('closed', (e) => closedB.push(e.reason));
    p.a.close();
    p.a.close(); // idempotent
    run(p.clock, 100);
    expect(closedB).toEqual(['remote']);
    expect(p.clock.timerCount).toBe(0); // no timer left behind by either side
    let err: unknown;
    try {
      p.a.send(enc('late'));
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'CLOSED')).toBe(true);
    const before = p.a.stats().dropped.closed;
    p.a.receive(new Uint8Array(40), p.toB);
    expect(p.a.stats().dropped.closed).toBe(before + 1);
  });
});
