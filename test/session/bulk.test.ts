import { describe, expect, it } from 'vitest';
import { Rng } from '../../common/net/sim/random.js';
import { enc, makePair, runUntil } from './helpers.js';

/**
 * Bulk messages (Session.send with `bulk`): they yield to ordinary messages, so a chat line sent
 * while a file's backlog waits goes out behind at most one bulk message, and every message still
 * arrives once, in stream order, with one 'delivered' per id. And when a message leaves: at once
 * with nothing in flight, else at the end of the turn with the others of that turn.
 */

const CHUNK = 32 * 1024;
const chunk = (i: number): Uint8Array => new Rng(i, 'bulk').fill(new Uint8Array(CHUNK));

describe('bulk messages', () => {
  it('a chat line sent behind 2 MiB of bulk backlog overtakes it: it is the next message after those already in the stream', () => {
    const p = makePair({ wire: { delayMs: 10 } });
    const got: { id: number; size: number }[] = [];
    p.b.on('message', (m) => got.push({ id: m.id, size: m.data.length }));
    for (let i = 0; i < 64; i++) expect(p.a.send(chunk(i), { bulk: true })).toBe(i + 1);
    // Let the transfer get going, then send a chat line.
    expect(runUntil(p.clock, () => got.length >= 5, 60_000)).toBe(true);
    const inStream = p.a.stats().messagesSent; // bulk messages that took their place so far
    expect(inStream).toBeLessThan(20);
    const chatId = p.a.send(enc('hello'));
    expect(chatId).toBe(65);
    expect(runUntil(p.clock, () => got.length === 65, 600_000)).toBe(true);
    const at = got.findIndex((m) => m.size === 5);
    expect(at).toBe(inStream); // stream position inStream + 1: only what was already placed went first
    expect(got.filter((m) => m.size === CHUNK)).toHaveLength(64);
  });

  it('a path with a rate limit (SessionPath.wait): stream data keeps within it, the backlog waits in the send buffer, a chat line still overtakes it', () => {
    const p = makePair({ wire: { delayMs: 10 }, start: false });
    // The carrier's bucket: 100 bytes/ms (~98 KiB/s), 4 KiB deep, charged for every datagram.
    const bucket = { tokens: 4096, last: 0, low: 4096 };
    const refill = (): void => {
      const now = p.clock.now();
      bucket.tokens = Math.min(4096, bucket.tokens + (now - bucket.last) * 100);
      bucket.last = now;
    };
    p.a.setPath({
      id: p.toB.id,
      send: (d) => {
        refill();
        bucket.tokens -= d.length;
        bucket.low = Math.min(bucket.low, bucket.tokens);
        p.toB.send(d);
      },
      // A hair short counts as enough (as in peer/relay-pacer.ts): a timer set for the exact
      // shortfall must find the packet allowed.
      wait: (n) => (refill(), n - bucket.tokens <= 1e-6 ? 0 : (n - bucket.tokens) / 100),
    });
    p.a.start();
    p.b.start();
    const got: number[] = [];
    p.b.on('message', (m) => got.push(m.data.length));
    for (let i = 0; i < 32; i++) p.a.send(chunk(i), { bulk: true });
    expect(runUntil(p.clock, () => got.length >= 3, 60_000)).toBe(true);
    const inStream = p.a.stats().messagesSent;
    p.a.send(enc('hello'));
    const t0 = p.clock.now();
    expect(runUntil(p.clock, () => got.length === 33, 600_000)).toBe(true);
    expect(got.indexOf(5)).toBe(inStream); // the line went right after what was already placed
    // 1 MiB at 100 bytes/ms takes ~10 s; data never overdrew the bucket (only the rare unpaced
    // probe or ACK-carrying packet may take it a little below zero).
    expect(p.clock.now() - t0).toBeGreaterThan(((32 - got.indexOf(5)) * CHUNK * 0.9) / 100);
    expect(bucket.low).toBeGreaterThan(-2 * 1200);
  });

  it('at 5% loss with reordering, bulk and chat messages each arrive once and every id is delivered once', () => {
    const p = makePair({ seed: 7, wire: { loss: 0.05, reorder: 0.1, jitterMs: 4 } });
    const sizes: number[] = [];
    const bytes: Uint8Array[] = [];
    p.b.on('message', (m) => {
      sizes.push(m.data.length);
      bytes.push(m.data);
    });
    const delivered: number[] = [];
    p.a.on('delivered', (e) => delivered.push(e.id));
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(p.a.send(chunk(i), { bulk: true }) as number);
      if (i % 8 === 0) ids.push(p.a.send(enc(`chat ${i}`)) as number);
    }
    expect(runUntil(p.clock, () => delivered.length === ids.length, 600_000)).toBe(true);
    expect([...delivered].sort((x, y) => x - y)).toEqual(ids);
    const bulk = bytes.filter((b) => b.length === CHUNK);
    expect(bulk.map((b, i) => Buffer.compare(b, chunk(i)))).toEqual(bulk.map(() => 0)); // in order, intact
    expect(sizes.filter((n) => n !== CHUNK)).toHaveLength(5);
  });

  it('bulk bytes waiting count against the send buffer: send() refuses past it, and "writable" comes back', () => {
    const p = makePair({ tuning: { sendBufferBytes: 1024 * 1024 + 4 } });
    let accepted = 0;
    while (p.a.send(chunk(accepted), { bulk: true }) !== false) accepted++;
    expect(accepted).toBe(31); // 31 x (32 KiB + 4) fit in 1 MiB + 4; the 32nd does not
    let writable = 0;
    p.a.on('writable', () => writable++);
    expect(runUntil(p.clock, () => writable > 0, 60_000)).toBe(true);
    expect(p.a.send(chunk(99), { bulk: true })).toBe(32);
  });
});

describe('when a message leaves', () => {
  it('with nothing in flight it leaves within send() (no clock turn); sent while packets are in flight, messages of one turn share a packet', () => {
    const p = makePair({ wire: { delayMs: 10 } });
    expect(runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 10_000)).toBe(true);
    expect(runUntil(p.clock, () => p.a.stats().bytesInFlight === 0, 10_000)).toBe(true);
    const before = p.ab.carried;
    p.a.send(enc('first'));
    expect(p.ab.carried).toBe(before + 1); // gone before the clock moved
    for (let i = 0; i < 5; i++) p.a.send(enc(`more ${i}`));
    expect(p.ab.carried).toBe(before + 1); // in flight: these wait for the turn's end ...
    p.clock.advance(0);
    expect(p.ab.carried).toBe(before + 2); // ... and leave together in one packet
  });
});
