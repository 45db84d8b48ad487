import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateKeyFile } from './key-file.js';
import type { KeyFileKeys, KeyFileOptions, KeyFileSpec } from './key-file.js';
import { toHex } from '../wire/bytes.js';
import { Limits } from '../wire/constants.js';
import { PunchlineError } from '../errors.js';

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

/** PKCS #8 (RFC 8410) DER prefixes of a raw 32-byte Ed25519 / X25519 private key. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * An identity made from 64 bytes (the Ed25519 seed, then the X25519 private key): the same bytes
 * give the same identity, so a simulated run seeded once gives the same peer ids, the same roles
 * and the same trace every time. For tests and the demo; real identities come from
 * generateIdentity().
 */
export function identityFromSeed(seed: Uint8Array): Identity {
  if (seed.length !== 64) throw new PunchlineError('BAD_ARGUMENT', 'identityFromSeed needs 64 bytes');
  const ed = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  const x = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, seed.subarray(32, 64)]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = x.export({ format: 'jwk' });
  return identityFromKeys(
    ed,
    rawPublic(createPublicKey(x)),
    new Uint8Array(Buffer.from(jwk.d!, 'base64url')),
  );
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

/** The identity file's sections and what to do when it is damaged (common/identity/key-file.ts). */
export const IDENTITY_KEY_FILE: KeyFileSpec = {
  what: 'identity file',
  sections: ['ed25519', 'x25519'],
  damagedHint:
    'move it away to create a new identity (a new peer id: peers that pinned the old one will see KEY_CHANGED)',
};

/** The identity a loaded or created identity file holds. */
export function identityFromKeyFile(keys: KeyFileKeys): Identity {
  return identityFromKeys(keys.ed25519!.privateKey, keys.x25519!.publicKey, keys.x25519!.privateKey);
}

/**
 * Load the identity from `dataDir`, creating it (directory 0700, file 0600) on first run. A file
 * other users can read or change, or a damaged one, is an error, never silently replaced:
 * replacing it would change the peer id (common/identity/key-file.ts).
 */
export async function loadOrCreateIdentity(
  dataDir: string,
  opts: KeyFileOptions = {},
): Promise<{ identity: Identity; created: boolean }> {
  const { keys, created } = await loadOrCreateKeyFile(
    path.join(dataDir, IDENTITY_FILE),
    IDENTITY_KEY_FILE,
    opts,
  );
  return { identity: identityFromKeyFile(keys), created };
}
