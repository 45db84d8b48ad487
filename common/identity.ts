import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PunchlineError } from './errors.js';
import { fromHex, toHex } from './wire/bytes.js';
import { Limits } from './wire/constants.js';

/**
 * A peer's long-term identity: an Ed25519 key that signs registrations and punch probes, and
 * an X25519 key that is its Noise static key. The peer id is derived from both public keys, so
 * an id names exactly one pair and nobody can claim an id without holding both private keys.
 */
export interface Identity {
  readonly id: Uint8Array; // 16 bytes
  readonly signPublic: Uint8Array; // Ed25519, 32 bytes raw
  readonly dhPublic: Uint8Array; // X25519, 32 bytes raw
  readonly dhPrivate: Uint8Array; // X25519, 32 bytes raw (Noise needs it raw)
  sign(data: Uint8Array): Uint8Array;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function peerIdOf(signPublic: Uint8Array, dhPublic: Uint8Array): Uint8Array {
  const h = createHash('sha256').update('punchline/peer-id/v1').update(signPublic).update(dhPublic).digest();
  return new Uint8Array(h.subarray(0, Limits.ID_BYTES));
}

/** Hex text form of a peer id (32 characters). */
export const idText = (id: Uint8Array): string => toHex(id);

/** Short fingerprint shown to people: the first 8 bytes of the id, grouped. */
export function fingerprint(id: Uint8Array): string {
  return (toHex(id.subarray(0, 8)).match(/.{4}/g) ?? []).join(':');
}

export function verifySignature(signPublic: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (signPublic.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, signPublic]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, data, key, signature);
  } catch {
    return false; // not a valid curve point
  }
}

interface StoredIdentity {
  version: 1;
  ed25519: { publicKey: string; privateKey: string }; // raw hex / PKCS#8 DER hex
  x25519: { publicKey: string; privateKey: string }; // raw hex / raw hex
}

function rawPublic(k: KeyObject): Uint8Array {
  const der = k.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** An identity from its private keys (and the X25519 public key): the one place it is put together. */
export function identityFromKeys(
  edPrivate: KeyObject,
  dhPublic: Uint8Array,
  dhPrivate: Uint8Array,
): Identity {
  const signPublic = rawPublic(createPublicKey(edPrivate));
  return {
    id: peerIdOf(signPublic, dhPublic),
    signPublic,
    dhPublic,
    dhPrivate,
    sign: (data) => new Uint8Array(sign(null, data, edPrivate)),
  };
}

/** A fresh in-memory identity (tests, the demo). */
export function generateIdentity(): Identity {
  const ed = generateKeyPairSync('ed25519');
  const x = generateKeyPairSync('x25519');
  const jwk = x.privateKey.export({ format: 'jwk' });
  return identityFromKeys(
    ed.privateKey,
    rawPublic(x.publicKey),
    new Uint8Array(Buffer.from(jwk.d!, 'base64url')),
  );
}

function serialize(edPrivate: KeyObject, idn: Identity): StoredIdentity {
  return {
    version: 1,
    ed25519: {
      publicKey: toHex(idn.signPublic),
      privateKey: toHex(edPrivate.export({ format: 'der', type: 'pkcs8' })),
    },
    x25519: { publicKey: toHex(idn.dhPublic), privateKey: toHex(idn.dhPrivate) },
  };
}

export const IDENTITY_FILE = 'identity.json';

/** Default data directory: $XDG_DATA_HOME/punchline or ~/.local/share/punchline. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0
      ? env.XDG_DATA_HOME
      : path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'punchline');
}

/**
 * Load the identity from `dataDir`, creating it (directory 0700, file 0600) on first run.
 * A damaged file is an error, never silently replaced: replacing it would change the peer id.
 */
export async function loadOrCreateIdentity(
  dataDir: string,
): Promise<{ identity: Identity; created: boolean }> {
  const file = path.join(dataDir, IDENTITY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new PunchlineError('IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (text !== undefined) return { identity: parseIdentity(text, file), created: false };

  const ed = generateKeyPairSync('ed25519');
  const x = generateKeyPairSync('x25519');
  const dhPrivate = new Uint8Array(Buffer.from(x.privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  const identity = identityFromKeys(ed.privateKey, rawPublic(x.publicKey), dhPrivate);
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(serialize(ed.privateKey, identity), null, 2) + '\n', {
      mode: 0o600,
      flag: 'wx',
    });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (e) {
    throw new PunchlineError('IO', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
  return { identity, created: true };
}

function parseIdentity(text: string, file: string): Identity {
  try {
    const s = JSON.parse(text) as StoredIdentity;
    if (s.version !== 1) throw new Error(`unsupported version ${String(s.version)}`);
    const edPrivate = createPrivateKey({
      key: Buffer.from(fromHex(s.ed25519.privateKey)),
      format: 'der',
      type: 'pkcs8',
    });
    const dhPublic = fromHex(s.x25519.publicKey);
    const dhPrivate = fromHex(s.x25519.privateKey);
    if (dhPublic.length !== 32 || dhPrivate.length !== 32) throw new Error('x25519 keys must be 32 bytes');
    const idn = identityFromKeys(edPrivate, dhPublic, dhPrivate);
    if (toHex(idn.signPublic) !== s.ed25519.publicKey)
      throw new Error('ed25519 public key does not match private key');
    return idn;
  } catch (e) {
    throw new PunchlineError(
      'IO',
      `identity file ${file} is damaged (${(e as Error).message}); move it away to create a new identity`,
      {
        cause: e,
      },
    );
  }
}
