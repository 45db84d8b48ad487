import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryBook } from '../../peer/chat/delivery.js';
import { History } from '../../peer/chat/history.js';
import { IncomingStore } from '../../peer/chat/incoming.js';
import { KeyWatch, fingerprintOfHex } from '../../peer/chat/key-watch.js';
import { StorageErrors } from '../../peer/chat/storage-errors.js';
import { TrustStore } from '../../peer/chat/trust.js';
import type { ChatEvents } from '../../peer/chat/types.js';
import { PunchlineError } from '../../common/errors.js';
import { faultyFs } from '../support/faulty-fs.js';

/** The parts peer/chat/service.ts is made of, each on its own (a settable clock, no network). */

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'punchline-parts-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('DeliveryBook', () => {
  it('tells each change once, never moves a delivered mark back, and tells receipts for untracked messages', () => {
    const told: ChatEvents['delivery'][] = [];
    const book = new DeliveryBook((e) => told.push(e));
    book.start('m1', { p: 'pending', q: 'pending' });
    book.move('p', 'pending', 'sent');
    book.set('m1', 'p', 'sent'); // no change: not told
    book.delivered('m1', 'p');
    book.set('m1', 'p', 'held'); // delivered stays
    book.move('q', 'pending', 'held');
    book.move('q', 'held', 'pending');
    book.delivered('old', 'p'); // sent in an earlier run, not tracked
    expect(told).toEqual([
      { id: 'm1', peerId: 'p', state: 'sent' },
      { id: 'm1', peerId: 'p', state: 'delivered' },
      { id: 'm1', peerId: 'q', state: 'held' },
      { id: 'm1', peerId: 'q', state: 'pending' },
      { id: 'old', peerId: 'p', state: 'delivered' },
    ]);
    expect(book.of('m1')).toEqual({ p: 'delivered', q: 'pending' });
    expect(book.of('old')).toBeUndefined();
  });

  it('restores marks from the outbox: delivered where done, else pending; a dropped message is forgotten', () => {
    const book = new DeliveryBook(() => {});
    book.restore('m', { to: ['a', 'b'], done: ['b'] });
    expect(book.of('m')).toEqual({ a: 'pending', b: 'delivered' });
    book.drop('m');
    expect(book.stateOf('m', 'a')).toBeUndefined();
  });
});

describe('StorageErrors', () => {
  it('reports once per slot and code until the slot is cleared', () => {
    const told: ChatEvents['error'][] = [];
    const errors = new StorageErrors((e) => told.push(e));
    const io = new PunchlineError('IO', 'disk full');
    errors.report('bob', io);
    errors.report('bob', io);
    errors.report(undefined, io);
    errors.report('bob', io, 'peers.json');
    errors.clear('bob');
    errors.report('bob', io);
    expect(told).toEqual([
      { code: 'IO', message: 'disk full', peer: 'bob' },
      { code: 'IO', message: 'disk full' },
      { code: 'IO', message: 'disk full', peer: 'bob' },
      { code: 'IO', message: 'disk full', peer: 'bob' },
    ]);
  });
});

describe('IncomingStore', () => {
  const DAY = 86_400_000;
  const msg = (id: string, text: string): Parameters<IncomingStore['store']>[0] => ({
    fromName: 'bob',
    fromId: 'b'.repeat(32),
    id,
    text,
    ts: 1,
    room: false,
  });

  it('stores each message once, refuses past the daily quota (QUOTA, counted), and takes it when the day turns', async () => {
    let now = 10 * DAY;
    const told: ChatEvents['error'][] = [];
    const stored: string[] = [];
    const history = new History(tmp(), { durable: false });
    const store = new IncomingStore({
      history,
      errors: new StorageErrors((e) => told.push(e)),
      peerBytesPerDay: 10,
      now: () => now,
      tell: (e) => told.push(e),
      arrived: (r) => stored.push(r.id),
    });
    await store.store(msg('a', '123456'));
    await store.store(msg('a', '123456')); // a resend: stored before
    await expect(store.store(msg('b', '123456'))).rejects.toMatchObject({ code: 'QUOTA' });
    await expect(store.store(msg('b', '123456'))).rejects.toMatchObject({ code: 'QUOTA' });
    expect(store.failures).toBe(2);
    expect(told.map((e) => e.code)).toEqual(['QUOTA']); // said once
    now += DAY;
    await store.store(msg('b', '123456'));
    expect(stored).toEqual(['a', 'b']);
    await history.close();
  });

  it('shows a message before its fsync resolves, and a resend after a failed store is not shown again', async () => {
    const shown: string[] = [];
    const faults = faultyFs(/history/);
    const history = new History(tmp(), { durable: false, fs: faults.fs });
    const store = new IncomingStore({
      history,
      errors: new StorageErrors(() => {}),
      peerBytesPerDay: 10 ** 9,
      now: () => 0,
      tell: () => {},
      arrived: (r) => shown.push(r.id),
    });
    faults.fail = 'ENOSPC';
    const first = store.store(msg('m', 'hi'));
    expect(shown).toEqual(['m']); // before the write settled
    await expect(first).rejects.toMatchObject({ code: 'IO' });
    faults.fail = undefined;
    await store.store(msg('m', 'hi')); // the sender's resend, stored now
    await store.store(msg('m', 'hi')); // and once more: stored before
    expect(shown).toEqual(['m']);
    expect(history.has('b'.repeat(32), 'm')).toBe(true);
    await history.close();
  });

  it('what it remembers as shown but unstored is bounded: past 10,000 failing messages the oldest may be shown again', async () => {
    const shown: string[] = [];
    const failing = { has: () => false, add: () => Promise.reject(new Error('EIO: disk gone')) };
    const store = new IncomingStore({
      history: failing as unknown as History,
      errors: new StorageErrors(() => {}),
      peerBytesPerDay: 10 ** 9,
      now: () => 0,
      tell: () => {},
      arrived: (r) => shown.push(r.id),
    });
    const offer = (id: string): Promise<void> => store.store(msg(id, 'x')).catch(() => undefined);
    await offer('first');
    await offer('first');
    expect(shown).toEqual(['first']); // remembered: not shown twice
    for (let i = 0; i < 10_000; i++) await offer(`m${i}`);
    await offer('first');
    expect(shown.filter((id) => id === 'first')).toHaveLength(2); // forgotten past the bound
  });

  it('acknowledges and drops a text over the limit with one MALFORMED', async () => {
    const told: ChatEvents['error'][] = [];
    const history = new History(tmp(), { durable: false });
    const store = new IncomingStore({
      history,
      errors: new StorageErrors((e) => told.push(e)),
      peerBytesPerDay: 10 ** 9,
      now: () => 0,
      tell: (e) => told.push(e),
      arrived: () => {},
    });
    await store.store(msg('x', 'a'.repeat(1_000_001)));
    expect(told).toEqual([expect.objectContaining({ code: 'MALFORMED', peer: 'bob' })]);
    expect(history.has('b'.repeat(32), 'x')).toBe(false);
    await history.close();
  });
});

describe('KeyWatch', () => {
  const idA = 'a'.repeat(32);
  const idB = 'b'.repeat(32);

  it('pins the first id behind a name, flags another one once, and trust() lifts the flag', () => {
    const flagged: string[] = [];
    const names = new Map([
      [idA, 'bob'],
      [idB, 'bob'],
    ]);
    const watch = new KeyWatch(new TrustStore(path.join(tmp(), 'peers.json'), () => 5), {
      peerName: (id) => names.get(id),
      flagged: (id, name, message) => flagged.push(`${id.slice(0, 1)} ${name} ${message}`),
      storageError: () => {},
    });
    expect(watch.check('bob', idA)).toBe(true);
    expect(watch.mayDeliver(idA)).toBe(true);
    expect(watch.heldNow(idB)).toBe(true);
    expect(watch.check('bob', idB)).toBe(false); // flagged already: not again
    expect(watch.isFlagged(idB)).toBe(true);
    expect(flagged).toEqual([
      `b bob the key behind "bob" changed (pinned ${fingerprintOfHex(idA)}, now ${fingerprintOfHex(idB)}): messages to bob are held until /trust bob`,
    ]);
    watch.trust('bob', idB);
    expect(watch.isFlagged(idB)).toBe(false);
    expect(watch.mayDeliver(idB)).toBe(true);
    expect(watch.mayDeliver('c'.repeat(32))).toBe(false); // a peer the node does not know
  });
});
