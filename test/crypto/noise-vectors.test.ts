import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHandshake, type HandshakeState } from '../../common/crypto/handshake.js';
import { isHashName, type HashName } from '../../common/crypto/hash.js';
import { PATTERNS, isPatternName, type PatternName } from '../../common/crypto/patterns.js';
import { keyPairFromPrivate } from '../../common/crypto/x25519.js';
import { fromHex, toHex } from '../../common/wire/bytes.js';

// The cacophony vectors for the one protocol punchline runs (test/crypto/vectors, kept in the
// repository so a clean clone is self-contained).
const VECTORS_PATH = fileURLToPath(new URL('./vectors/noise-25519-chachapoly.json', import.meta.url));

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral: string;
  resp_remote_static?: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

function loadVectors(): Vector[] {
  let text: string;
  try {
    text = readFileSync(VECTORS_PATH, 'utf8');
  } catch (e) {
    throw new Error(`Noise test vectors missing at ${VECTORS_PATH}: ${String(e)}`);
  }
  const parsed = JSON.parse(text) as { vectors?: Vector[] };
  if (!Array.isArray(parsed.vectors)) throw new Error(`${VECTORS_PATH}: no "vectors" array`);
  return parsed.vectors;
}

const NAME = /^Noise_([A-Z]+)_25519_ChaChaPoly_(\w+)$/;

interface Runnable {
  vector: Vector;
  pattern: PatternName;
  hash: HashName;
}

const all = loadVectors();
const runnable: Runnable[] = [];
for (const vector of all) {
  const m = NAME.exec(vector.protocol_name);
  const [, pattern = '', hash = ''] = m ?? [];
  if (isPatternName(pattern) && isHashName(hash)) runnable.push({ vector, pattern, hash });
  else throw new Error(`unexpected vector ${vector.protocol_name}`);
}

const opt = (hex: string | undefined): Uint8Array | undefined =>
  hex === undefined ? undefined : fromHex(hex);
const key = (hex: string | undefined) => (hex === undefined ? undefined : keyPairFromPrivate(fromHex(hex)));

function run({ vector: v, pattern, hash }: Runnable): void {
  const init = createHandshake({
    pattern,
    initiator: true,
    hash,
    prologue: fromHex(v.init_prologue),
    staticKey: key(v.init_static),
    ephemeralKey: key(v.init_ephemeral),
    remoteStatic: opt(v.init_remote_static),
  });
  const resp = createHandshake({
    pattern,
    initiator: false,
    hash,
    prologue: fromHex(v.resp_prologue),
    staticKey: key(v.resp_static),
    ephemeralKey: key(v.resp_ephemeral),
    remoteStatic: opt(v.resp_remote_static),
  });
  const handshakeLen = PATTERNS[pattern].messages.length;
  expect(v.messages.length).toBeGreaterThan(handshakeLen);

  // Handshake: message i goes initiator -> responder when i is even.
  for (let i = 0; i < handshakeLen; i++) {
    const { payload, ciphertext } = v.messages[i]!;
    const [sender, receiver]: HandshakeState[] = i % 2 === 0 ? [init, resp] : [resp, init];
    expect(sender!.isMyTurn).toBe(true);
    expect(toHex(sender!.writeMessage(fromHex(payload))), `handshake message ${i}`).toBe(ciphertext);
    expect(toHex(receiver!.readMessage(fromHex(ciphertext))), `handshake payload ${i}`).toBe(payload);
  }
  expect(init.complete && resp.complete).toBe(true);
  expect(toHex(init.handshakeHash)).toBe(v.handshake_hash);
  expect(toHex(resp.handshakeHash)).toBe(v.handshake_hash);
  if (v.init_static !== undefined) expect(resp.remoteStaticPublicKey).toEqual(key(v.init_static)!.publicKey);
  if (v.resp_static !== undefined) expect(init.remoteStaticPublicKey).toEqual(key(v.resp_static)!.publicKey);

  // Transport: the alternation continues after the handshake (XX is two-way).
  const ti = init.split();
  const tr = resp.split();
  const ad = new Uint8Array(0);
  for (let i = handshakeLen; i < v.messages.length; i++) {
    const { payload, ciphertext } = v.messages[i]!;
    const [send, receive] = i % 2 === 0 ? [ti.send, tr.receive] : [tr.send, ti.receive];
    expect(toHex(send.encryptWithAd(ad, fromHex(payload))), `transport message ${i}`).toBe(ciphertext);
    expect(toHex(receive.decryptWithAd(ad, fromHex(ciphertext))), `transport payload ${i}`).toBe(payload);
  }
}

describe('cacophony Noise vectors (25519, ChaChaPoly)', () => {
  it('loads the vector of the protocol punchline runs, and nothing it cannot run', () => {
    // A loader bug must not run fewer.
    expect(runnable.map((r) => r.vector.protocol_name)).toEqual(['Noise_XX_25519_ChaChaPoly_SHA256']);
    expect(runnable.length).toBe(all.length);
  });

  it.each(runnable.map((r) => [r.vector.protocol_name, r] as const))('%s', (_name, r) => run(r));
});
