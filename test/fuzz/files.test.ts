import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../common/identity/identity.js';
import { toHex } from '../../common/wire/bytes.js';
import { History } from '../../peer/chat/history.js';
import { Outbox } from '../../peer/chat/outbox.js';
import { TrustStore } from '../../peer/chat/trust.js';
import { KnownServers } from '../../peer/known-servers.js';
import { loadOrCreateServerKey } from '../../rendezvous/server-key.js';
import {
  anyFileContent,
  check,
  checkAsync,
  jsonDamageOf,
  loadsOrRefuses,
  textMutationOf,
} from './support.js';

/**
 * Every persisted file format, fuzzed without assuming its layout: the seeds are files the store
 * itself wrote; the properties only say that a damaged file loads as what it still says, or is a
 * PunchlineError('IO'), never anything else, and never silently comes back empty.
 */
const FILE = 'test/fuzz/files.test.ts';
const ROOT = mkdtempSync(path.join(os.tmpdir(), 'punchline-fuzz-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => {
  const d = path.join(ROOT, String(dirs++));
  return d;
};
const write = (file: string, bytes: Uint8Array): void => writeFileSync(file, bytes, { mode: 0o600 });

/**
 * An X25519 private key as the curve uses it (RFC 7748 §5, decodeScalar25519): the low 3 bits
 * of the first byte and the top bit of the last are ignored and bit 254 is set, so two files
 * that differ only there hold the very same key (same public key, same shared secrets).
 */
function scalarOf(privateKey: Uint8Array): string {
  const k = Uint8Array.from(privateKey);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return toHex(k);
}

/**
 * A key file after damage: it loads as the very same keys (`fingerprint` of what loaded equals the
 * original's), or is refused (IO); and it is never rewritten.
 */
async function keyFileProperty<K>(
  file: string,
  load: () => Promise<{ created: boolean; keys: K }>,
  fingerprintOf: (k: K) => string,
): Promise<void> {
  const original = fingerprintOf((await load()).keys);
  const seed = readFileSync(file, 'utf8');
  await checkAsync(
    FILE,
    fc.asyncProperty(
      fc.oneof(textMutationOf([seed]), jsonDamageOf([seed]), anyFileContent()),
      async (bytes) => {
        write(file, bytes);
        const r = await loadsOrRefuses(load);
        if (r) {
          expect(r.created).toBe(false);
          expect(fingerprintOf(r.keys)).toBe(original);
        }
        expect(Buffer.compare(readFileSync(file), bytes)).toBe(0);
      },
    ),
    0.5,
  );
}

describe('fuzz: key files (common/identity/key-file.ts)', () => {
  it('a damaged identity file loads as the same identity or is refused (IO); it is never replaced', async () => {
    const dir = freshDir();
    await keyFileProperty(
      path.join(dir, IDENTITY_FILE),
      async () => {
        const r = await loadOrCreateIdentity(dir);
        return { created: r.created, keys: r.identity };
      },
      (i) => `${toHex(i.id)}/${scalarOf(i.dhPrivate)}`,
    );
  });

  it('a damaged server key file loads as the same key or is refused (IO); it is never replaced', async () => {
    const file = path.join(freshDir(), 'rendezvous-key.json');
    await keyFileProperty(
      file,
      async () => {
        const r = await loadOrCreateServerKey(file);
        return { created: r.created, keys: r.key };
      },
      (k) => `${scalarOf(k.privateKey)}/${toHex(k.publicKey)}`,
    );
  });
});

/**
 * A pin store (peers.json, servers.json) after damage: refused with IO, or loaded; and when the
 * text still holds a pin's name and value intact, that pin is still there. A store that loads a
 * file whose pins are all still readable as empty would re-pin whatever key comes next.
 */
function pinStoreProperty<S>(
  seeds: string[],
  open: (file: string) => S,
  pins: [string, string][],
  lookup: (s: S, name: string) => string | undefined,
  file: string,
): void {
  check(
    FILE,
    fc.property(fc.oneof(textMutationOf(seeds), jsonDamageOf(seeds), anyFileContent()), (bytes) => {
      write(file, bytes);
      let store: S;
      try {
        store = open(file);
      } catch (e) {
        expect((e as { name?: string; code?: string }).name).toBe('PunchlineError');
        expect((e as { code?: string }).code).toBe('IO');
        return;
      }
      const t = Buffer.from(bytes).toString('utf8');
      for (const [name, value] of pins) {
        if (!t.includes(JSON.stringify(name))) continue; // the damage took the name itself
        expect(lookup(store, name), `${name} is still in the file`).toBeDefined();
        if (t.includes(JSON.stringify(value))) expect(lookup(store, name)).toBe(value);
      }
    }),
    0.5,
  );
}

describe('fuzz: pin stores', () => {
  it('peers.json (TrustStore): damage is refused (IO) or the pins still readable are kept', () => {
    const file = path.join(freshDir(), 'peers.json');
    const pins: [string, string][] = [
      ['alice', 'a1'.repeat(16)],
      ['bob', 'b2'.repeat(16)],
    ];
    const one = new TrustStore(file, () => 1_764_700_000_000);
    one.check(pins[0]![0], pins[0]![1]);
    const seed1 = readFileSync(file, 'utf8');
    one.check(pins[1]![0], pins[1]![1]);
    const seed2 = readFileSync(file, 'utf8');
    pinStoreProperty(
      [seed1, seed2],
      (f) => new TrustStore(f),
      pins,
      (s, n) => s.pinned(n)?.id,
      file,
    );
  });

  it('servers.json (KnownServers): damage is refused (IO) or the pins still readable are kept', () => {
    const file = path.join(freshDir(), 'servers.json');
    const pins: [string, string][] = [
      ['127.0.0.1:7777', 'c3'.repeat(16)],
      ['example.org:443', 'd4'.repeat(16)],
    ];
    const one = new KnownServers(file, () => 1_764_700_000_000);
    one.pin(pins[0]![0], pins[0]![1]);
    const seed1 = readFileSync(file, 'utf8');
    one.pin(pins[1]![0], pins[1]![1]);
    const seed2 = readFileSync(file, 'utf8');
    pinStoreProperty(
      [seed1, seed2],
      (f) => new KnownServers(f),
      pins,
      (s, n) => s.get(n),
      file,
    );
  });
});

/**
 * Journals (outbox.jsonl, history.jsonl, peer/chat/journal.ts) skip what they cannot use, by
 * design, but count it: every non-empty line is loaded or counted as skipped, and what is
 * loaded is usable (finite timestamps, strings where strings belong).
 */
describe('fuzz: journals', () => {
  const lines = (bytes: Uint8Array): number =>
    Buffer.from(bytes)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '').length;

  it('outbox.jsonl: every line is loaded or counted as skipped; what loads is usable', async () => {
    const dir = freshDir();
    const o = new Outbox(dir, { durable: false });
    await o.add({ id: 'm1', to: ['bob'], room: false, text: 'one', ts: 1_764_700_000_001 });
    await o.add({ id: 'm2', to: ['bob', 'carol'], room: true, text: 'twö', ts: 1_764_700_000_002 });
    await o.done('m1', 'bob');
    await o.close();
    const file = path.join(dir, 'outbox.jsonl');
    const seed = readFileSync(file, 'utf8');
    await checkAsync(
      FILE,
      fc.asyncProperty(fc.oneof(textMutationOf([seed]), anyFileContent()), async (bytes) => {
        write(file, bytes);
        const box = new Outbox(dir, { durable: false });
        try {
          expect(box.skipped).toBeLessThanOrEqual(lines(bytes));
          expect(box.loaded().length + box.skipped).toBeLessThanOrEqual(lines(bytes));
          for (const to of ['bob', 'carol'])
            for (const e of box.pendingFor(to)) {
              expect(Number.isFinite(e.ts)).toBe(true);
              expect(typeof e.text).toBe('string');
            }
        } finally {
          await box.close();
        }
      }),
      0.5,
    );
  });

  it('history.jsonl: every line is loaded or counted as skipped; what loads is usable', async () => {
    const dir = freshDir();
    const h = new History(dir, { durable: false });
    await h.add({
      id: 'm1',
      conv: 'room',
      fromId: 'aa',
      fromName: 'alice',
      text: 'hi',
      ts: 1_764_700_000_001,
      out: false,
    });
    await h.add({
      id: 'm2',
      conv: 'bb',
      fromId: 'me',
      fromName: 'me',
      text: 'yo',
      ts: 1_764_700_000_002,
      out: true,
    });
    await h.close();
    const file = path.join(dir, 'history.jsonl');
    const seed = readFileSync(file, 'utf8');
    await checkAsync(
      FILE,
      fc.asyncProperty(fc.oneof(textMutationOf([seed]), anyFileContent()), async (bytes) => {
        write(file, bytes);
        const hist = new History(dir, { durable: false });
        try {
          let loaded = 0;
          for (const conv of hist.conversations())
            for (const r of hist.list(conv)) {
              loaded++;
              expect(Number.isFinite(r.ts)).toBe(true);
              const m = History.toMessage(r);
              expect(new Date(m.ts).toISOString()).toMatch(/Z$/); // shown with its time
            }
          expect(loaded + hist.skipped).toBe(lines(bytes));
        } finally {
          await hist.close();
        }
      }),
      0.5,
    );
  });
});
