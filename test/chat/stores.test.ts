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
import { Outbox } from '../../peer/chat/outbox.js';
import { TrustStore } from '../../peer/chat/trust.js';
import type { PeerKeys } from '../../peer/chat/trust.js';
import { KnownServers } from '../../peer/known-servers.js';
import { PunchlineError } from '../../common/errors.js';
import { generateIdentity } from '../../common/identity.js';
import type { Identity } from '../../common/identity.js';
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
