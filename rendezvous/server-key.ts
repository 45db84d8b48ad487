import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPair, keyPairFromPrivate } from '../common/crypto/x25519.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import { PunchlineError } from '../common/errors.js';
import { defaultDataDir } from '../common/identity.js';
import { equalBytes, fromHex, toHex } from '../common/wire/bytes.js';

/**
 * The rendezvous server's long-term X25519 key on disk (docs/self-hosting.md "The server key").
 * Peers pin its fingerprint on first use, so it must survive restarts: created once (file 0600 in
 * a 0700 directory), then read on every start. A damaged file or one other users can read is an
 * error, never silently replaced: a new key makes every peer that pinned the old one refuse it.
 */
export const SERVER_KEY_FILE = 'rendezvous-key.json';

export const defaultServerKeyPath = (env: NodeJS.ProcessEnv = process.env): string =>
  path.join(defaultDataDir(env), SERVER_KEY_FILE);

interface StoredServerKey {
  version: 1;
  x25519: { publicKey: string; privateKey: string };
}

export async function loadOrCreateServerKey(file: string): Promise<{ key: KeyPair; created: boolean }> {
  let text: string | undefined;
  try {
    const st = await stat(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
      throw new PunchlineError(
        'IO',
        `server key ${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
      );
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof PunchlineError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new PunchlineError('IO', `cannot read server key ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (text !== undefined) return { key: parseServerKey(text, file), created: false };
  const key = generateKeyPair();
  const stored: StoredServerKey = {
    version: 1,
    x25519: { publicKey: toHex(key.publicKey), privateKey: toHex(key.privateKey) },
  };
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (e) {
    throw new PunchlineError('IO', `cannot write server key ${file}: ${(e as Error).message}`, { cause: e });
  }
  return { key, created: true };
}

function parseServerKey(text: string, file: string): KeyPair {
  try {
    const s = JSON.parse(text) as StoredServerKey;
    if (s.version !== 1) throw new Error(`unsupported version ${String(s.version)}`);
    const priv = fromHex(s.x25519.privateKey);
    if (priv.length !== 32) throw new Error('x25519 private key must be 32 bytes');
    const key = keyPairFromPrivate(priv);
    // The public half is derived again: a file whose halves disagree would make every peer fail.
    if (!equalBytes(key.publicKey, fromHex(s.x25519.publicKey)))
      throw new Error('x25519 public key does not match the private key');
    return key;
  } catch (e) {
    throw new PunchlineError(
      'IO',
      `server key ${file} is damaged (${(e as Error).message}); restore it from a backup, or move it away to ` +
        `create a new key (every peer that pinned the old one will then refuse this server until it forgets it)`,
      { cause: e },
    );
  }
}
