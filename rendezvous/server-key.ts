import path from 'node:path';
import type { KeyPair } from '../common/crypto/x25519.js';
import { defaultDataDir } from '../common/identity/identity.js';
import { loadOrCreateKeyFile } from '../common/identity/key-file.js';
import type { KeyFileOptions, KeyFileSpec } from '../common/identity/key-file.js';

/**
 * The rendezvous server's long-term X25519 key on disk (docs/self-hosting.md "The server key").
 * Peers pin its fingerprint on first use, so it must survive restarts: created once (file 0600 in
 * a 0700 directory), then read on every start. A damaged file or one other users can read is an
 * error, never silently replaced: a new key makes every peer that pinned the old one refuse it.
 * The file rules are common/identity/key-file.ts's, shared with the peer's identity file.
 */
export const SERVER_KEY_FILE = 'rendezvous-key.json';

export const defaultServerKeyPath = (env: NodeJS.ProcessEnv = process.env): string =>
  path.join(defaultDataDir(env), SERVER_KEY_FILE);

export const SERVER_KEY_FILE_SPEC: KeyFileSpec = {
  what: 'server key',
  sections: ['x25519'],
  damagedHint:
    'restore it from a backup, or move it away to create a new key (every peer that pinned the old ' +
    'one will then refuse this server until it forgets it)',
};

export async function loadOrCreateServerKey(
  file: string,
  opts: KeyFileOptions = {},
): Promise<{ key: KeyPair; created: boolean }> {
  const { keys, created } = await loadOrCreateKeyFile(file, SERVER_KEY_FILE_SPEC, opts);
  return { key: keys.x25519!, created };
}
