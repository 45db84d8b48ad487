import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
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
import type { PeerKeys } from '../../peer/chat/trust.js';
import { KnownServers } from '../../peer/known-servers.js';
import { PunchlineError } from '../../common/errors.js';
import { generateIdentity } from '../../common/identity/identity.js';
import type { Identity } from '../../common/identity/identity.js';
import { toHex } from '../../common/wire/bytes.js';

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

  it('an entry whose ts is 1e999 (Infinity) is skipped and counted, never sent with a null ts (found by test/fuzz)', async () => {
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
    await o.close();
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

  it('a record whose ts is 1e999 (Infinity) or 1e308 (no date) is skipped and counted, not shown as NaN:NaN (found by test/fuzz)', async () => {
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
    await h.close();
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

const keysOf = (i: Identity): PeerKeys => ({ signKey: toHex(i.signPublic), dhKey: toHex(i.dhPublic) });
const idOf = (i: Identity): string => toHex(i.id);

describe('TrustStore (trust on first use)', () => {
  const bob = generateIdentity();
  const mallory = generateIdentity();

  it('pins the first key, flags a different one, and /trust replaces the pin', () => {
    const f = path.join(tmp(), 'peers.json');
    const t = new TrustStore(f);
    expect(t.check('bob', idOf(bob))).toBe('new');
    expect(t.check('bob', idOf(bob))).toBe('known');
    expect(t.check('bob', idOf(mallory))).toBe('changed');
    const reloaded = new TrustStore(f);
    expect(reloaded.check('bob', idOf(mallory))).toBe('changed');
    reloaded.trust('bob', idOf(mallory), keysOf(mallory));
    expect(new TrustStore(f).check('bob', idOf(mallory))).toBe('known');
    expect(new TrustStore(f).check('bob', idOf(bob))).toBe('changed');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('version 2 round trip: id, both keys and since; the keys of a later session join a pin without them', () => {
    const d = path.join(tmp(), 'fresh');
    const f = path.join(d, 'peers.json');
    let clock = 1000;
    const t = new TrustStore(f, () => clock);
    expect(t.check('bob', idOf(bob))).toBe('new'); // from the member list: no keys yet
    expect(new TrustStore(f).pinned('bob')).toEqual({ id: idOf(bob), since: 1000 });
    clock = 2000;
    expect(t.check('bob', idOf(bob), keysOf(bob))).toBe('known'); // a session showed them
    expect(t.check('carol', idOf(mallory), keysOf(mallory))).toBe('new');
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({
      version: 2,
      pins: {
        bob: { id: idOf(bob), ...keysOf(bob), since: 1000 },
        carol: { id: idOf(mallory), ...keysOf(mallory), since: 2000 },
      },
    });
    const again = new TrustStore(f);
    expect(again.pinned('bob')).toEqual({ id: idOf(bob), keys: keysOf(bob), since: 1000 });
    expect(again.check('bob', idOf(bob), keysOf(bob))).toBe('known');
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(readdirSync(d)).toEqual(['peers.json']); // no temp file left behind
  });

  it('a version 1 file loads: ids kept, keys filled at the next session with that id, then written as version 2', () => {
    const f = path.join(tmp(), 'peers.json');
    const v1 = JSON.stringify({ version: 1, pins: { bob: { id: idOf(bob), since: 5 } } });
    writeFileSync(f, v1);
    const t = new TrustStore(f);
    expect(t.pinned('bob')).toEqual({ id: idOf(bob), since: 5 });
    expect(t.check('bob', idOf(bob))).toBe('known');
    expect(readFileSync(f, 'utf8')).toBe(v1); // loading writes nothing
    expect(t.check('bob', idOf(mallory), keysOf(mallory))).toBe('changed');
    expect(t.check('bob', idOf(bob), keysOf(bob))).toBe('known');
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({
      version: 2,
      pins: { bob: { id: idOf(bob), ...keysOf(bob), since: 5 } },
    });
  });

  it('keys that do not hash to the id are never pinned', () => {
    const f = path.join(tmp(), 'peers.json');
    const t = new TrustStore(f);
    // bob's id with mallory's keys: what a lying server would introduce.
    expect(t.check('bob', idOf(bob), keysOf(mallory))).toBe('changed');
    expect(t.pinned('bob')).toBeUndefined();
    expect(() => t.trust('bob', idOf(bob), keysOf(mallory))).toThrow(
      expect.objectContaining({ code: 'KEY_MISMATCH' }),
    );
    expect(t.pinned('bob')).toBeUndefined();
    expect(existsSync(f)).toBe(false);
    // A pin without keys does not take keys that do not hash to its id either.
    t.check('bob', idOf(bob));
    expect(t.check('bob', idOf(bob), keysOf(mallory))).toBe('changed');
    expect(t.check('bob', idOf(bob), { signKey: keysOf(bob).signKey, dhKey: keysOf(mallory).dhKey })).toBe(
      'changed',
    );
    expect(new TrustStore(f).pinned('bob')).toEqual({ id: idOf(bob), since: expect.any(Number) });
  });

  it('a damaged file is an error, not a silent reset of every pin', () => {
    const f = path.join(tmp(), 'peers.json');
    writeFileSync(f, '{not json');
    expect(() => new TrustStore(f)).toThrow(/damaged/);
  });

  it('every wrong shape of peers.json is an IO error naming the file, never an empty store', () => {
    const f = path.join(tmp(), 'peers.json');
    const id = idOf(bob);
    const { signKey, dhKey } = keysOf(bob);
    const pin = (p: Record<string, unknown>): string => JSON.stringify({ version: 2, pins: { bob: p } });
    const damaged: [string, RegExp][] = [
      ['{not json', /JSON/],
      ['[]', /not a JSON object/],
      ['null', /not a JSON object/],
      ['5', /not a JSON object/],
      ['{"pins":5}', /unsupported version undefined/],
      ['{"version":7,"pins":{}}', /unsupported version 7/],
      ['{"version":2}', /"pins" is not an object/],
      ['{"version":2,"pins":5}', /"pins" is not an object/],
      ['{"version":2,"pins":[]}', /"pins" is not an object/],
      ['{"version":2,"pins":{"bob":5}}', /"bob" is not an object/],
      [pin({ since: 1 }), /id is not 32 lowercase hex/],
      [pin({ id: 'id1', since: 1 }), /id is not 32 lowercase hex/],
      [pin({ id: id.toUpperCase(), since: 1 }), /id is not 32 lowercase hex/],
      [pin({ id }), /since is not a time/],
      [pin({ id, since: '1' }), /since is not a time/],
      [pin({ id, since: -1 }), /since is not a time/],
      [pin({ id, signKey: 'zz'.repeat(32), dhKey, since: 1 }), /signKey is not 64 lowercase hex/],
      [pin({ id, signKey, dhKey: dhKey.slice(2), since: 1 }), /dhKey is not 64 lowercase hex/],
      [pin({ id, signKey, since: 1 }), /dhKey is not 64/],
      [pin({ id, ...keysOf(mallory), since: 1 }), /keys do not hash to its id/],
      [
        JSON.stringify({ version: 1, pins: { bob: { id, signKey, dhKey, since: 1 } } }),
        /version 1 does not hold/,
      ],
    ];
    for (const [text, why] of damaged) {
      writeFileSync(f, text);
      let err: unknown;
      try {
        new TrustStore(f);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(PunchlineError);
      expect((err as PunchlineError).code, text).toBe('IO');
      expect((err as PunchlineError).message, text).toContain(`${f} is damaged (`);
      expect((err as PunchlineError).message, text).toMatch(why);
      expect((err as PunchlineError).message, text).toMatch(/fix or move it away$/);
    }
  });
});

describe('KnownServers (servers.json)', () => {
  const fp = 'a'.repeat(32);

  it('round trip: pins survive a restart, mode 0600', () => {
    const f = path.join(tmp(), 'servers.json');
    new KnownServers(f, () => 7).pin('rdv:7000', fp);
    expect(new KnownServers(f).get('rdv:7000')).toBe(fp);
    expect(JSON.parse(readFileSync(f, 'utf8'))).toEqual({
      version: 1,
      servers: { 'rdv:7000': { fingerprint: fp, since: 7 } },
    });
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it('every wrong shape of servers.json is an IO error naming the file, never an empty store', () => {
    const f = path.join(tmp(), 'servers.json');
    const one = (p: unknown): string => JSON.stringify({ version: 1, servers: { 'rdv:7000': p } });
    const damaged: [string, RegExp][] = [
      ['{not json', /JSON/],
      ['[]', /not a JSON object/],
      ['null', /not a JSON object/],
      ['{"servers":{}}', /unsupported version undefined/],
      ['{"version":7,"servers":{}}', /unsupported version 7/],
      ['{"version":1,"servers":[]}', /"servers" is not an object/],
      ['{"version":1,"servers":null}', /"servers" is not an object/],
      [one(5), /not an object/],
      [one({ fingerprint: 'xyz', since: 1 }), /bad fingerprint for rdv:7000/],
      [one({ since: 1 }), /bad fingerprint/],
      [one({ fingerprint: fp }), /since is not a time/],
    ];
    for (const [text, why] of damaged) {
      writeFileSync(f, text);
      expect(() => new KnownServers(f), text).toThrow(
        expect.objectContaining({ code: 'IO', message: expect.stringMatching(why) }),
      );
      expect(() => new KnownServers(f), text).toThrow(`${f} is damaged (`);
    }
  });
});
