import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, link, lstat, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyPairFromPrivate, generateKeyPair } from '../crypto/x25519.js';
import type { KeyPair } from '../crypto/x25519.js';
import { PunchlineError } from '../errors.js';
import { equalBytes, toHex } from '../wire/bytes.js';

/**
 * A file holding long-term private keys: the peer's identity (common/identity/identity.ts) and the
 * rendezvous server's key (rendezvous/server-key.ts). One place decides when such a file may be
 * used (docs/security.md "Identity files"):
 *
 * - it must not be readable or writable by group or others (mode & 0o077 == 0), as ssh refuses a
 *   private key file; its directory must not be writable by group or others (unless sticky), or
 *   another user could replace the file with a key of their own;
 * - it is JSON `{"version":1, <section>: {"publicKey": hex, "privateKey": hex}, ...}` with every
 *   field of its exact length, and each public half must be the one derived from its private half;
 * - a new file is written 0600 in a 0700 directory, to a temporary file, fsync'd, then linked into
 *   place, which fails rather than replace a file that appeared meanwhile. An existing file that
 *   is damaged is an error telling the user to fix or move it; it is never replaced, since a new
 *   key changes the peer id (or makes every peer that pinned the server refuse it).
 *
 * Every refusal is a PunchlineError('IO') naming the file and the fix.
 */

/** The key kinds a key file can hold, each under its own section name. */
export type KeySection = 'ed25519' | 'x25519';

export interface KeyFileKeys {
  /** Ed25519 private key (stored as PKCS#8 DER hex) and its raw 32-byte public key. */
  ed25519?: { privateKey: KeyObject; publicKey: Uint8Array };
  /** X25519 raw 32-byte private and public keys. */
  x25519?: KeyPair;
}

export interface KeyFileSpec {
  /** What the file is, for messages: "identity file", "server key". */
  readonly what: string;
  readonly sections: readonly KeySection[];
  /** What to do about a damaged file (after "fix it, or ..."). */
  readonly damagedHint: string;
}

export interface KeyFileOptions {
  /** The platform whose permission rules apply (tests); win32 has no POSIX modes to check. */
  readonly platform?: NodeJS.Platform;
}

export const KEY_FILE_VERSION = 1;
/** A key file is a few hundred bytes; anything far larger is not one (and is not read whole). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_PKCS8_BYTES = ED25519_PKCS8_PREFIX.length + 32;
const KEY_BYTES = 32;
const LABEL: Record<KeySection, string> = { ed25519: 'Ed25519', x25519: 'X25519' };

const ioError = (message: string, cause?: unknown): PunchlineError =>
  new PunchlineError('IO', message, cause === undefined ? undefined : { cause });

const octal = (mode: number): string => '0' + (mode & 0o777).toString(8).padStart(3, '0');

/** Refuse a key file others can read or write, and a directory others can write (POSIX only). */
export async function checkKeyFilePermissions(
  file: string,
  spec: Pick<KeyFileSpec, 'what'>,
  opts: KeyFileOptions = {},
): Promise<void> {
  if ((opts.platform ?? process.platform) === 'win32') return;
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0)
    throw ioError(
      `${spec.what} ${file} can be read or changed by other users (mode ${octal(st.mode)}); ` +
        `it holds a private key: run chmod 600 ${file}`,
    );
  await checkDirectory(path.dirname(file), file, spec);
}

async function checkDirectory(dir: string, file: string, spec: Pick<KeyFileSpec, 'what'>): Promise<void> {
  const st = await stat(dir);
  // A sticky directory (/tmp) lets nobody but the owner rename or remove the file.
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
    throw ioError(
      `the directory ${dir} of ${spec.what} ${file} can be written by other users (mode ${octal(st.mode)}), ` +
        `who could replace the key: run chmod go-w ${dir}`,
    );
}

function hexField(section: unknown, sectionName: KeySection, field: string, bytes: number): Uint8Array {
  const v = (section as Record<string, unknown>)[field];
  const name = `${sectionName}.${field}`;
  if (typeof v !== 'string') throw new Error(`${name} is missing or not a string`);
  if (!/^[0-9a-fA-F]*$/.test(v)) throw new Error(`${name} is not hex`);
  if (v.length !== 2 * bytes) throw new Error(`${name} must be ${bytes} bytes (${2 * bytes} hex digits)`);
  return new Uint8Array(Buffer.from(v, 'hex'));
}

function rawEd25519Public(k: KeyObject): Uint8Array {
  const der = createPublicKey(k).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - KEY_BYTES));
}

/** A key file's text to keys; throws PunchlineError('IO') naming what is wrong. */
export function parseKeyFile(text: string, file: string, spec: KeyFileSpec): KeyFileKeys {
  const damaged = (why: string, cause?: unknown): PunchlineError =>
    ioError(`${spec.what} ${file} is damaged (${why}); fix it, or ${spec.damagedHint}`, cause);
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw damaged(`not JSON: ${(e as Error).message}`, e);
  }
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw damaged('not a JSON object');
  const o = s as Record<string, unknown>;
  if (o.version !== KEY_FILE_VERSION)
    throw damaged(`unsupported version ${JSON.stringify(o.version) ?? 'undefined'}`);
  const keys: KeyFileKeys = {};
  for (const name of spec.sections) {
    const section = o[name];
    if (typeof section !== 'object' || section === null) throw damaged(`no "${name}" section`);
    let pub: Uint8Array;
    let derived: Uint8Array;
    try {
      pub = hexField(section, name, 'publicKey', KEY_BYTES);
      if (name === 'ed25519') {
        const der = hexField(section, name, 'privateKey', ED25519_PKCS8_BYTES);
        if (!equalBytes(der.subarray(0, ED25519_PKCS8_PREFIX.length), ED25519_PKCS8_PREFIX))
          throw new Error('ed25519.privateKey is not an Ed25519 PKCS#8 key');
        const privateKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
        derived = rawEd25519Public(privateKey);
        keys.ed25519 = { privateKey, publicKey: derived };
      } else {
        const pair = keyPairFromPrivate(hexField(section, name, 'privateKey', KEY_BYTES));
        derived = pair.publicKey;
        keys.x25519 = pair;
      }
    } catch (e) {
      throw damaged((e as Error).message, e);
    }
    // The public half is derived again: a file whose halves disagree would make every peer fail.
    if (!equalBytes(derived, pub))
      throw ioError(
        `the ${LABEL[name]} public key in ${file} does not match its private key; fix it, or ${spec.damagedHint}`,
      );
  }
  return keys;
}

function serialize(keys: KeyFileKeys, spec: KeyFileSpec): string {
  const out: Record<string, unknown> = { version: KEY_FILE_VERSION };
  for (const name of spec.sections) {
    if (name === 'ed25519') {
      const k = keys.ed25519!;
      out.ed25519 = {
        publicKey: toHex(k.publicKey),
        privateKey: toHex(k.privateKey.export({ format: 'der', type: 'pkcs8' })),
      };
    } else {
      const k = keys.x25519!;
      out.x25519 = { publicKey: toHex(k.publicKey), privateKey: toHex(k.privateKey) };
    }
  }
  return JSON.stringify(out, null, 2) + '\n';
}

/** Fresh keys for every section of `spec`. */
export function generateKeyFileKeys(spec: Pick<KeyFileSpec, 'sections'>): KeyFileKeys {
  const keys: KeyFileKeys = {};
  for (const name of spec.sections) {
    if (name === 'ed25519') {
      const { privateKey } = generateKeyPairSync('ed25519');
      keys.ed25519 = { privateKey, publicKey: rawEd25519Public(privateKey) };
    } else keys.x25519 = generateKeyPair();
  }
  return keys;
}

/** Load the key file, checking its permissions and contents. */
export async function loadKeyFile(
  file: string,
  spec: KeyFileSpec,
  opts: KeyFileOptions = {},
): Promise<KeyFileKeys> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw ioError(`${spec.what} ${file} is not a regular file; move it away`);
    if (st.size > MAX_KEY_FILE_BYTES)
      throw ioError(
        `${spec.what} ${file} is damaged (${st.size} bytes, too large for a key file); fix it, or ${spec.damagedHint}`,
      );
    await checkKeyFilePermissions(file, spec, opts);
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof PunchlineError) throw e;
    throw ioError(`cannot read ${spec.what} ${file}: ${(e as Error).message}`, e);
  }
  return parseKeyFile(text, file, spec);
}

/**
 * Load the key file, or create it with fresh keys when there is nothing at that path at all.
 * `created` says which.
 */
export async function loadOrCreateKeyFile(
  file: string,
  spec: KeyFileSpec,
  opts: KeyFileOptions = {},
): Promise<{ keys: KeyFileKeys; created: boolean }> {
  if (await exists(file, spec)) return { keys: await loadKeyFile(file, spec, opts), created: false };
  return createKeyFile(file, spec, opts);
}

/**
 * Write a key file with fresh keys. If a file is at that path by the time it is linked into
 * place (another process was faster), that one is kept and loaded instead.
 */
export async function createKeyFile(
  file: string,
  spec: KeyFileSpec,
  opts: KeyFileOptions = {},
): Promise<{ keys: KeyFileKeys; created: boolean }> {
  const keys = generateKeyFileKeys(spec);
  const dir = path.dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  let linked: boolean;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if ((opts.platform ?? process.platform) !== 'win32') await checkDirectory(dir, file, spec);
    await rm(tmp, { force: true });
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(serialize(keys, spec));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, 0o600);
    // link(2), unlike rename(2), fails if the name exists: a file that appeared meanwhile is kept.
    linked = await link(tmp, file).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
  } catch (e) {
    if (e instanceof PunchlineError) throw e;
    throw ioError(`cannot write ${spec.what} ${file}: ${(e as Error).message}`, e);
  } finally {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
  if (!linked) return { keys: await loadKeyFile(file, spec, opts), created: false };
  return { keys, created: true };
}

async function exists(file: string, spec: Pick<KeyFileSpec, 'what'>): Promise<boolean> {
  try {
    await lstat(file); // a dangling symbolic link exists too: it is not replaced
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(`cannot read ${spec.what} ${file}: ${(e as Error).message}`, e);
  }
}
