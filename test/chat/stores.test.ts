import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { History } from '../../peer/chat/history.js';
import { Journal } from '../../peer/chat/journal.js';
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
  it('appends durably, reloads in order, file mode 0600', () => {
    const f = path.join(tmp(), 'sub', 'j.jsonl');
    const j = new Journal(f, isNum);
    for (let n = 0; n < 5; n++) j.append({ n });
    j.close();
    expect(new Journal(f, isNum).load().records.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('a torn last line (crash mid-write) is skipped, and the next record still lands whole', () => {
    const f = path.join(tmp(), 'j.jsonl');
    writeFileSync(f, '{"n":1}\n{"n":2}\n{"n":');
    const j = new Journal(f, isNum);
    expect(j.load()).toEqual({ records: [{ n: 1 }, { n: 2 }], skipped: 1 });
    j.append({ n: 3 });
    j.close();
    expect(new Journal(f, isNum).load()).toEqual({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], skipped: 1 });
  });

  it('invalid records are skipped and counted, not trusted', () => {
    const f = path.join(tmp(), 'j.jsonl');
    writeFileSync(f, '{"n":1}\n{"x":2}\n[]\nnull\n{"n":"3"}\n');
    expect(new Journal(f, isNum).load()).toEqual({ records: [{ n: 1 }], skipped: 4 });
  });
});

describe('Outbox', () => {
  it('what is not done survives a restart; done entries do not come back', () => {
    const d = tmp();
    const o = new Outbox(d);
    o.add({ id: 'm1', to: 'bob', room: false, text: 'one', ts: 1 });
    o.add({ id: 'm2', to: 'bob', room: false, text: 'two', ts: 2 });
    o.add({ id: 'm3', to: 'carol', room: true, text: 'all', ts: 3 });
    o.add({ id: 'm3', to: 'bob', room: true, text: 'all', ts: 3 });
    expect(o.done('m1', 'bob')).toBe(true);
    expect(o.done('m1', 'bob')).toBe(false);
    o.close();
    const again = new Outbox(d);
    expect(again.pendingFor('bob').map((e) => e.id)).toEqual(['m2', 'm3']);
    expect(again.pendingFor('carol').map((e) => e.id)).toEqual(['m3']);
    expect(again.size).toBe(3);
  });

  it('adding the same message to the same recipient twice records it once', () => {
    const d = tmp();
    const o = new Outbox(d);
    o.add({ id: 'm1', to: 'bob', room: false, text: 'one', ts: 1 });
    o.add({ id: 'm1', to: 'bob', room: false, text: 'one', ts: 1 });
    o.close();
    expect(readFileSync(path.join(d, 'outbox.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('an entry whose ts is 1e999 (Infinity) is skipped and counted, never sent with a null ts (found by test/fuzz)', () => {
    const d = tmp();
    writeFileSync(
      path.join(d, 'outbox.jsonl'),
      '{"op":"queue","id":"m1","to":"bob","room":false,"text":"one","ts":1e999}\n' +
        '{"op":"queue","id":"m2","to":"bob","room":false,"text":"two","ts":-1e999}\n' +
        '{"op":"queue","id":"m3","to":"bob","room":false,"text":"three","ts":3}\n',
    );
    const o = new Outbox(d);
    expect(o.pendingFor('bob').map((e) => e.id)).toEqual(['m3']);
    expect(o.skipped).toBe(2);
    o.close();
  });
});

describe('History', () => {
  it('reloads conversations and drops duplicates by sender and id, also after a restart', () => {
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
    expect(h.add(rec)).toBe(true);
    expect(h.add(rec)).toBe(false);
    expect(h.add({ ...rec, fromId: 'bob', conv: 'bob' })).toBe(true); // another sender may reuse an id
    h.close();
    const h2 = new History(d);
    expect(h2.has('alice', 'x1')).toBe(true);
    expect(h2.add(rec)).toBe(false);
    expect(h2.list('alice').map((r) => r.text)).toEqual(['hi']);
    expect(h2.conversations().sort()).toEqual(['alice', 'bob']);
  });

  it('a torn record at the end does not lose earlier history', () => {
    const d = tmp();
    const h = new History(d);
    h.add({ id: 'a', conv: 'room', fromId: 'me', fromName: 'me', text: 'ok', ts: 1, out: true });
    h.close();
    appendFileSync(path.join(d, 'history.jsonl'), '{"id":"b","conv":"ro');
    const h2 = new History(d);
    expect(h2.list('room').map((r) => r.id)).toEqual(['a']);
    expect(h2.skipped).toBe(1);
  });

  it('a record whose ts is 1e999 (Infinity) or 1e308 (no date) is skipped and counted, not shown as NaN:NaN (found by test/fuzz)', () => {
    const d = tmp();
    writeFileSync(
      path.join(d, 'history.jsonl'),
      '{"id":"a","conv":"room","fromId":"x","fromName":"x","text":"inf","ts":1e999,"out":false}\n' +
        '{"id":"c","conv":"room","fromId":"x","fromName":"x","text":"no date","ts":1e308,"out":false}\n' +
        '{"id":"b","conv":"room","fromId":"x","fromName":"x","text":"ok","ts":2,"out":false}\n',
    );
    const h = new History(d);
    expect(h.list('room').map((r) => r.id)).toEqual(['b']);
    expect(h.skipped).toBe(2);
    h.close();
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

  it.each([
    '{"pins": 5}',
    '[]',
    'null',
    '{"version": 1, "pins": null}',
    '{"version": 1}',
    '{"pins": {"bob": 5}}',
    '{"pins": {"bob": {"ie": "id1"}}}',
  ])('a file of the wrong shape (%s) is an error, not an empty store (found by test/fuzz)', (text) => {
    const f = path.join(tmp(), 'peers.json');
    writeFileSync(f, text);
    expect(() => new TrustStore(f)).toThrow(
      expect.objectContaining({ code: 'IO', message: expect.stringMatching(/damaged/) }),
    );
  });
});
