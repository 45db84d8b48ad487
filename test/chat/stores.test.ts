import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { History } from '../../peer/chat/history.js';
import { Journal } from '../../peer/chat/journal.js';
import { MAX_TEXT_BYTES } from '../../peer/app-message.js';
import { faultyFs } from '../support/faulty-fs.js';
import { Outbox } from '../../peer/chat/outbox.js';
import { TrustStore } from '../../peer/chat/trust.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'punchline-chat-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const isNum = (v: unknown): v is { n: number } => typeof (v as { n?: unknown })?.n === 'number';

describe('Journal', () => {
  it('appends durably, reloads in order, file mode 0600', async () => {
    const f = path.join(tmp(), 'sub', 'j.jsonl');
    const j = new Journal(f, isNum);
    await Promise.all([0, 1, 2, 3, 4].map((n) => j.append({ n })));
    await j.close();
    expect(new Journal(f, isNum).load().records.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('group commit: records appended in one tick share one fsync; each resolves only after it', async () => {
    const f = path.join(tmp(), 'j.jsonl');
    const j = new Journal(f, isNum);
    const done: number[] = [];
    const all = Array.from({ length: 100 }, (_, n) => j.append({ n }).then(() => done.push(n)));
    expect(done).toEqual([]); // nothing resolves before the batch's fsync
    await Promise.all(all);
    expect(j.syncs).toBe(1);
    const per = new Journal(path.join(tmp(), 'p.jsonl'), isNum, { perRecordSync: true });
    await Promise.all(Array.from({ length: 10 }, (_, n) => per.append({ n })));
    expect(per.syncs).toBe(10);
    await j.close();
    await per.close();
  });

  it('a torn last line (crash mid-write) is skipped, and the next record still lands whole', async () => {
    const f = path.join(tmp(), 'j.jsonl');
    writeFileSync(f, '{"n":1}\n{"n":2}\n{"n":');
    const j = new Journal(f, isNum);
    expect(j.load()).toMatchObject({ records: [{ n: 1 }, { n: 2 }], skipped: 1 });
    await j.append({ n: 3 });
    await j.close();
    expect(new Journal(f, isNum).load()).toMatchObject({
      records: [{ n: 1 }, { n: 2 }, { n: 3 }],
      skipped: 1,
    });
  });

  it('invalid records are skipped and counted, not trusted', () => {
    const f = path.join(tmp(), 'j.jsonl');
    writeFileSync(f, '{"n":1}\n{"x":2}\n[]\nnull\n{"n":"3"}\n');
    expect(new Journal(f, isNum).load()).toMatchObject({ records: [{ n: 1 }], skipped: 4 });
  });

  it('a record over the limit is refused before anything is written, and skipped at load', async () => {
    const f = path.join(tmp(), 'j.jsonl');
    const j = new Journal(f, isNum, { maxRecordBytes: 100 });
    await expect(j.append({ n: 1, pad: 'x'.repeat(200) } as { n: number })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await j.append({ n: 2 });
    await j.close();
    expect(readFileSync(f, 'utf8')).toBe('{"n":2}\n');
    appendFileSync(f, JSON.stringify({ n: 3, pad: 'y'.repeat(5000) }) + '\n{"n":4}\n');
    expect(new Journal(f, isNum, { maxRecordBytes: 100 }).load()).toMatchObject({
      records: [{ n: 2 }, { n: 4 }],
      skipped: 1,
    });
  });

  it('paged loading: the tail of a 50 MB file is read, not the file', () => {
    const f = path.join(tmp(), 'big.jsonl');
    const line = JSON.stringify({ n: 0, pad: 'z'.repeat(1000) }) + '\n';
    const block = line.repeat(1024); // ~1 MB
    for (let i = 0; i < 50; i++) appendFileSync(f, block);
    appendFileSync(f, '{"n":42}\n');
    expect(statSync(f).size).toBeGreaterThan(50_000_000);
    const r = new Journal(f, isNum).loadTail(256 * 1024);
    expect(r.bytesRead).toBe(256 * 1024);
    expect(r.truncated).toBe(true);
    expect(r.records.at(-1)).toEqual({ n: 42 });
    expect(r.skipped).toBe(0); // the partial first line of the window is dropped, not counted
  });

  it('rotates at the size limit, keeping one older file', async () => {
    const d = tmp();
    const f = path.join(d, 'h.jsonl');
    const j = new Journal(f, isNum, { rotateAtBytes: 40 });
    for (let n = 0; n < 10; n++) await j.append({ n });
    await j.close();
    const cur = new Journal(f, isNum).load().records.map((r) => r.n);
    const old = new Journal(path.join(d, 'h.1.jsonl'), isNum).load().records.map((r) => r.n);
    expect(statSync(f).size).toBeLessThanOrEqual(40);
    const kept = [...old, ...cur];
    expect(old.length).toBeGreaterThan(0);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 10 - kept.length + i));
  });

  it('a full disk (ENOSPC mid-write) rejects the batch as IO and leaves none of it on disk', async () => {
    const f = path.join(tmp(), 'j.jsonl');
    const disk = faultyFs();
    const j = new Journal(f, isNum, { fs: disk.fs });
    await j.append({ n: 1 });
    disk.fail = 'ENOSPC';
    const a = j.append({ n: 2 });
    const b = j.append({ n: 3 });
    await expect(a).rejects.toMatchObject({ code: 'IO', message: expect.stringMatching(/ENOSPC/) });
    await expect(b).rejects.toMatchObject({ code: 'IO' });
    disk.fail = undefined;
    await j.append({ n: 4 });
    await j.close();
    expect(readFileSync(f, 'utf8')).toBe('{"n":1}\n{"n":4}\n');
  });
});

describe('Outbox', () => {
  it('what is not done survives a restart; done entries do not come back', async () => {
    const d = tmp();
    const o = new Outbox(d);
    await o.add({ id: 'm1', to: ['bob'], room: false, text: 'one', ts: 1 });
    await o.add({ id: 'm2', to: ['bob'], room: false, text: 'two', ts: 2 });
    await o.add({ id: 'm3', to: ['carol', 'bob'], room: true, text: 'all', ts: 3 });
    expect(await o.done('m1', 'bob')).toBe(true);
    expect(await o.done('m1', 'bob')).toBe(false);
    await o.close();
    const again = new Outbox(d);
    expect(again.pendingFor('bob').map((e) => e.id)).toEqual(['m2', 'm3']);
    expect(again.pendingFor('carol').map((e) => e.id)).toEqual(['m3']);
    expect(again.size).toBe(3);
  });

  it('one record per message, whatever its recipients; the same message twice is recorded once', async () => {
    const d = tmp();
    const o = new Outbox(d);
    await o.add({ id: 'm1', to: ['bob', 'carol', 'dave'], room: true, text: 'one', ts: 1 });
    await o.add({ id: 'm1', to: ['bob', 'carol', 'dave'], room: true, text: 'one', ts: 1 });
    await o.close();
    expect(readFileSync(path.join(d, 'outbox.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('delivery marks come back exactly after a restart, also for messages delivered to everyone', async () => {
    const d = tmp();
    const o = new Outbox(d);
    await o.add({ id: 'r1', to: ['bob', 'carol'], room: true, text: 'all', ts: 1 });
    await o.add({ id: 'r2', to: ['bob', 'carol'], room: true, text: 'all again', ts: 2 });
    await o.done('r1', 'bob');
    await o.done('r1', 'carol');
    await o.done('r2', 'bob');
    await o.close();
    const again = new Outbox(d);
    expect(again.marks('r1')).toEqual({ to: ['bob', 'carol'], done: ['bob', 'carol'] });
    expect(again.marks('r2')).toEqual({ to: ['bob', 'carol'], done: ['bob'] });
    again.compact();
    expect(again.marks('r1')).toEqual({ to: ['bob', 'carol'], done: ['bob', 'carol'] });
    await again.close();
    // Compacted at start: the delivered message keeps its marks, not its text.
    const text = readFileSync(path.join(d, 'outbox.jsonl'), 'utf8');
    expect(text).not.toContain('"all"');
    expect(new Outbox(d).marks('r1')).toEqual({ to: ['bob', 'carol'], done: ['bob', 'carol'] });
  });

  it('reads the per-recipient records of the earlier format', () => {
    const d = tmp();
    writeFileSync(
      path.join(d, 'outbox.jsonl'),
      [
        { op: 'queue', id: 'm', to: 'bob', room: true, text: 't', ts: 1 },
        { op: 'queue', id: 'm', to: 'carol', room: true, text: 't', ts: 1 },
        { op: 'done', id: 'm', to: 'bob' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const o = new Outbox(d);
    expect(o.marks('m')).toEqual({ to: ['bob', 'carol'], done: ['bob'] });
    expect(o.pendingFor('carol').map((e) => e.text)).toEqual(['t']);
  });

  it('a poisoned outbox from an older version (text over the limit) is skipped at load and dropped', () => {
    const d = tmp();
    writeFileSync(
      path.join(d, 'outbox.jsonl'),
      [
        { op: 'queue', id: 'big', to: 'bob', room: false, text: 'x'.repeat(MAX_TEXT_BYTES + 1), ts: 1 },
        { op: 'queue', id: 'eur', to: 'bob', room: false, text: '€'.repeat(333_334), ts: 2 },
        { op: 'queue', id: 'ok', to: 'bob', room: false, text: 'fine', ts: 3 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const o = new Outbox(d);
    expect(o.skipped).toBe(2);
    expect(o.pendingFor('bob').map((e) => e.id)).toEqual(['ok']);
    o.compact();
    expect(new Outbox(d).skipped).toBe(0); // compacted away
  });

  it('refuses a text over the limit in bytes before writing anything', async () => {
    const d = tmp();
    const o = new Outbox(d);
    await expect(
      o.add({ id: 'e', to: ['bob'], room: false, text: '€'.repeat(333_334), ts: 1 }),
    ).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await o.close();
    expect(existsSync(path.join(d, 'outbox.jsonl'))).toBe(false);
  });
});

describe('History', () => {
  it('reloads conversations and drops duplicates by sender and id, also after a restart', async () => {
    const d = tmp();
    const h = new History(d);
    const rec = {
      id: 'x1',
      conv: 'alice',
      fromId: 'alice',
      fromName: 'alice',
      text: 'hi',
      ts: 5,
      out: false,
    };
    expect(await h.add(rec)).toBe(true);
    expect(await h.add(rec)).toBe(false);
    expect(await h.add({ ...rec, fromId: 'bob', conv: 'bob' })).toBe(true); // another sender may reuse an id
    await h.close();
    const h2 = new History(d);
    expect(h2.has('alice', 'x1')).toBe(true);
    expect(await h2.add(rec)).toBe(false);
    expect(h2.list('alice').map((r) => r.text)).toEqual(['hi']);
    expect(h2.conversations().sort()).toEqual(['alice', 'bob']);
  });

  it('a torn record at the end does not lose earlier history', async () => {
    const d = tmp();
    const h = new History(d);
    await h.add({ id: 'a', conv: 'room', fromId: 'me', fromName: 'me', text: 'ok', ts: 1, out: true });
    await h.close();
    appendFileSync(path.join(d, 'history.jsonl'), '{"id":"b","conv":"ro');
    const h2 = new History(d);
    expect(h2.list('room').map((r) => r.id)).toEqual(['a']);
    expect(h2.skipped).toBe(1);
  });

  it('scrollback in memory is bounded in bytes whatever arrives', async () => {
    const d = tmp();
    const h = new History(d, { durable: false, scrollbackBytes: 3_000_000 });
    const mb = 'm'.repeat(1_000_000);
    for (let i = 0; i < 20; i++)
      await h.add({ id: `b${i}`, conv: 'bob', fromId: 'bob', fromName: 'bob', text: mb, ts: i, out: false });
    expect(h.memoryBytes).toBeLessThanOrEqual(3_000_000);
    expect(h.list('bob').at(-1)!.id).toBe('b19');
    await h.close();
  });
});

describe('TrustStore (trust on first use)', () => {
  it('pins the first key, flags a different one, and /trust replaces the pin', () => {
    const f = path.join(tmp(), 'peers.json');
    const t = new TrustStore(f);
    expect(t.check('bob', 'id1')).toBe('new');
    expect(t.check('bob', 'id1')).toBe('known');
    expect(t.check('bob', 'id2')).toBe('changed');
    const reloaded = new TrustStore(f);
    expect(reloaded.check('bob', 'id2')).toBe('changed');
    reloaded.trust('bob', 'id2');
    expect(new TrustStore(f).check('bob', 'id2')).toBe('known');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('a damaged file is an error, not a silent reset of every pin', () => {
    const f = path.join(tmp(), 'peers.json');
    writeFileSync(f, '{not json');
    expect(() => new TrustStore(f)).toThrow(/damaged/);
  });
});
