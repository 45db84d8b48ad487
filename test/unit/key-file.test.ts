import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PunchlineError } from '../../common/errors.js';
import { IDENTITY_FILE, IDENTITY_KEY_FILE, loadOrCreateIdentity } from '../../common/identity/identity.js';
import { createKeyFile } from '../../common/identity/key-file.js';
import type { KeyFileSpec } from '../../common/identity/key-file.js';
import { toHex } from '../../common/wire/bytes.js';
import { SERVER_KEY_FILE_SPEC, loadOrCreateServerKey } from '../../rendezvous/server-key.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
const tmp = async (): Promise<string> => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'punchline-keyfile-'));
  dirs.push(d);
  return d;
};

/** The two key files, behind one shape: where the file lives, how to load it, a fingerprint of what was loaded. */
interface Kind {
  name: string;
  spec: KeyFileSpec;
  fileIn: (dir: string) => string;
  load: (dir: string, win32?: boolean) => Promise<{ created: boolean; print: string }>;
}
const KINDS: Kind[] = [
  {
    name: 'peer identity',
    spec: IDENTITY_KEY_FILE,
    fileIn: (dir) => path.join(dir, 'data', IDENTITY_FILE),
    load: async (dir, win32) => {
      const r = await loadOrCreateIdentity(path.join(dir, 'data'), win32 ? { platform: 'win32' } : {});
      return { created: r.created, print: toHex(r.identity.id) + toHex(r.identity.dhPrivate) };
    },
  },
  {
    name: 'server key',
    spec: SERVER_KEY_FILE_SPEC,
    fileIn: (dir) => path.join(dir, 'data', 'rendezvous-key.json'),
    load: async (dir, win32) => {
      const r = await loadOrCreateServerKey(
        path.join(dir, 'data', 'rendezvous-key.json'),
        win32 ? { platform: 'win32' } : {},
      );
      return { created: r.created, print: toHex(r.key.privateKey) + toHex(r.key.publicKey) };
    },
  },
];

async function refusal(p: Promise<unknown>): Promise<PunchlineError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PunchlineError);
  expect((e as PunchlineError).code).toBe('IO');
  return e as PunchlineError;
}

type Json = Record<string, Record<string, string> | number>;

describe.each(KINDS)('key file (common/identity/key-file.ts): $name', (k) => {
  it('is created 0600 in a 0700 directory, then loaded unchanged', async () => {
    const dir = await tmp();
    const first = await k.load(dir);
    expect(first.created).toBe(true);
    expect((await stat(k.fileIn(dir))).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(k.fileIn(dir)))).mode & 0o777).toBe(0o700);
    const again = await k.load(dir);
    expect(again).toEqual({ created: false, print: first.print });
    // No temporary file is left behind.
    expect((await import('node:fs')).readdirSync(path.dirname(k.fileIn(dir)))).toEqual([
      path.basename(k.fileIn(dir)),
    ]);
  });

  it.each([0o644, 0o640, 0o604, 0o620, 0o602, 0o660])(
    'a file other users can read or change (mode %o) is refused with the path, the mode and chmod 600',
    async (mode) => {
      const dir = await tmp();
      await k.load(dir);
      const file = k.fileIn(dir);
      await chmod(file, mode);
      const e = await refusal(k.load(dir));
      expect(e.message).toContain(file);
      expect(e.message).toContain(`mode 0${mode.toString(8)}`);
      expect(e.message).toContain(`chmod 600 ${file}`);
      expect((await stat(file)).mode & 0o777).toBe(mode); // not "fixed" behind the user's back
    },
  );

  it('on win32 (no POSIX modes) the mode is not checked', async () => {
    const dir = await tmp();
    const first = await k.load(dir);
    await chmod(k.fileIn(dir), 0o644);
    expect(await k.load(dir, true)).toEqual({ created: false, print: first.print });
  });

  it.each([0o777, 0o770, 0o722])(
    'a directory other users can write (mode %o) is refused: they could swap the file',
    async (mode) => {
      const dir = await tmp();
      await k.load(dir);
      const data = path.dirname(k.fileIn(dir));
      await chmod(data, mode);
      const e = await refusal(k.load(dir));
      expect(e.message).toContain(data);
      expect(e.message).toContain(`mode 0${mode.toString(8)}`);
      expect(e.message).toContain(`chmod go-w ${data}`);
      // Nor is a new file created in such a directory.
      await rm(k.fileIn(dir));
      await refusal(k.load(dir));
      await chmod(data, 0o700);
    },
  );

  it('a sticky directory (like /tmp) is accepted: only the owner can rename or remove the file', async () => {
    const dir = await tmp();
    await mkdir(path.join(dir, 'data'));
    await chmod(path.join(dir, 'data'), 0o1777);
    const first = await k.load(dir);
    expect(first.created).toBe(true);
    expect((await k.load(dir)).print).toBe(first.print);
  });

  it('a file whose public half is not derived from its private half is refused', async () => {
    for (const section of k.spec.sections) {
      const dir = await tmp();
      await k.load(dir);
      const file = k.fileIn(dir);
      const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, { publicKey: string }>;
      stored[section]!.publicKey = toHex(new Uint8Array(32).fill(7));
      await writeFile(file, JSON.stringify(stored), { mode: 0o600 });
      const label = section === 'ed25519' ? 'Ed25519' : 'X25519';
      const e = await refusal(k.load(dir));
      expect(e.message).toContain(`the ${label} public key in ${file} does not match its private key`);
    }
  });

  const damages: [string, (s: Json) => string, RegExp][] = [
    ['empty', () => '', /not JSON/],
    ['not JSON', () => '{"version": 1,', /not JSON/],
    ['JSON but not an object', () => '[1, 2]', /not a JSON object/],
    ['null', () => 'null', /not a JSON object/],
    ['version 2', (s) => JSON.stringify({ ...s, version: 2 }), /unsupported version 2/],
    ['no version', (s) => JSON.stringify({ ...s, version: undefined }), /unsupported version undefined/],
    ['a missing section', () => JSON.stringify({ version: 1 }), /no "(ed|x)25519" section/],
    [
      'a short public key',
      (s) => JSON.stringify(mapSections(s, (v) => ({ ...v, publicKey: v.publicKey!.slice(2) }))),
      /publicKey must be 32 bytes \(64 hex digits\)/,
    ],
    [
      'a long private key',
      (s) => JSON.stringify(mapSections(s, (v) => ({ ...v, privateKey: v.privateKey + '00' }))),
      /privateKey must be \d+ bytes/,
    ],
    [
      'non-hex',
      (s) => JSON.stringify(mapSections(s, (v) => ({ ...v, privateKey: 'zz' + v.privateKey!.slice(2) }))),
      /privateKey is not hex/,
    ],
    [
      'a number for a key',
      (s) => JSON.stringify(mapSections(s, (v) => ({ ...v, publicKey: 5 as unknown as string }))),
      /publicKey is missing or not a string/,
    ],
  ];
  it.each(damages)(
    'a damaged file (%s) is a clear error, and is left as it was',
    async (_what, damage, why) => {
      const dir = await tmp();
      await k.load(dir);
      const file = k.fileIn(dir);
      const text = damage(JSON.parse(await readFile(file, 'utf8')) as Json);
      await writeFile(file, text, { mode: 0o600 });
      const e = await refusal(k.load(dir));
      expect(e.message).toMatch(why);
      expect(e.message).toContain(`${k.spec.what} ${file} is damaged`);
      expect(e.message).toMatch(/fix it, or .*move it away/);
      expect(await readFile(file, 'utf8')).toBe(text); // never overwritten
    },
  );

  it('creation never replaces a file that appeared meanwhile: that one is loaded (here: refused as damaged)', async () => {
    const dir = await tmp();
    const file = k.fileIn(dir);
    await mkdir(path.dirname(file), { mode: 0o700 });
    await writeFile(file, '{"version": 1}', { mode: 0o600 });
    const e = await refusal(createKeyFile(file, k.spec));
    expect(e.message).toContain(`${k.spec.what} ${file} is damaged`);
    expect(await readFile(file, 'utf8')).toBe('{"version": 1}');
    expect((await import('node:fs')).readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  });

  it('a file too large to be a key file is refused without being read whole', async () => {
    const dir = await tmp();
    await k.load(dir);
    await writeFile(k.fileIn(dir), ' '.repeat(100_000), { mode: 0o600 });
    expect((await refusal(k.load(dir))).message).toMatch(/100000 bytes, too large for a key file/);
  });

  it('a directory or a dangling link where the file should be is refused, not replaced', async () => {
    const dir = await tmp();
    await mkdir(k.fileIn(dir), { recursive: true });
    expect((await refusal(k.load(dir))).message).toMatch(/is not a regular file/);
    await rm(k.fileIn(dir), { recursive: true });
    await symlink(path.join(dir, 'nowhere'), k.fileIn(dir));
    expect((await refusal(k.load(dir))).message).toMatch(/cannot read/);
    await expect(stat(path.join(dir, 'nowhere'))).rejects.toThrow(/ENOENT/);
  });
});

function mapSections(s: Json, f: (v: Record<string, string>) => Record<string, string>): Json {
  const out: Json = { ...s };
  for (const [k, v] of Object.entries(s)) if (typeof v === 'object') out[k] = f(v);
  return out;
}
