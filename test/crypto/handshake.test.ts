import { describe, expect, it } from 'vitest';
import {
  createHandshake,
  type HandshakeOptions,
  type HandshakeState,
} from '../../common/crypto/handshake.js';
import { PATTERNS, PATTERN_NAMES, type PatternName } from '../../common/crypto/patterns.js';
import { generateKeyPair, type KeyPair } from '../../common/crypto/x25519.js';
import { utf8Encode } from '../../common/wire/bytes.js';

const code = (c: unknown) => expect.objectContaining({ code: c });
const prologue = utf8Encode('punchline test');
const alice = generateKeyPair();
const bob = generateKeyPair();
const mallory = generateKeyPair();

/** Both sides of a pattern, each with its static key. */
function pair(
  pattern: PatternName,
  over: { init?: Partial<HandshakeOptions>; resp?: Partial<HandshakeOptions> } = {},
) {
  const init = createHandshake({
    pattern,
    initiator: true,
    prologue,
    staticKey: alice,
    ...over.init,
  });
  const resp = createHandshake({
    pattern,
    initiator: false,
    prologue,
    staticKey: bob,
    ...over.resp,
  });
  return { init, resp };
}

/** Runs the handshake to completion, returning each message sent. */
function handshake(init: HandshakeState, resp: HandshakeState): Uint8Array[] {
  const sent: Uint8Array[] = [];
  for (let i = 0; !init.complete; i++) {
    const [from, to] = init.isMyTurn ? [init, resp] : [resp, init];
    const payload = utf8Encode(`payload ${i}`);
    const msg = from.writeMessage(payload);
    expect(to.readMessage(msg)).toEqual(payload);
    sent.push(msg);
  }
  expect(resp.complete).toBe(true);
  return sent;
}

/** Writes the first message of XX and returns it without delivering it. */
const first = (h: HandshakeState) => h.writeMessage(utf8Encode('hi'));

describe('handshake: every pattern in the table', () => {
  it.each(PATTERN_NAMES)('%s completes with agreeing keys, hash and identities', (pattern) => {
    const { init, resp } = pair(pattern);
    const messages = handshake(init, resp);
    expect(messages).toHaveLength(PATTERNS[pattern].messages.length);
    expect(init.handshakeHash).toEqual(resp.handshakeHash);
    expect(init.handshakeHash).toHaveLength(32);
    const i = init.split();
    const r = resp.split();
    const ad = new Uint8Array(0);
    expect(r.receive.decryptWithAd(ad, i.send.encryptWithAd(ad, utf8Encode('to bob')))).toEqual(
      utf8Encode('to bob'),
    );
    expect(i.receive.decryptWithAd(ad, r.send.encryptWithAd(ad, utf8Encode('to alice')))).toEqual(
      utf8Encode('to alice'),
    );
    // In XX both sides send their static key, so each learns the other's.
    expect(resp.remoteStaticPublicKey).toEqual(alice.publicKey);
    expect(init.remoteStaticPublicKey).toEqual(bob.publicKey);
  });

  it('runs Noise_XX_25519_ChaChaPoly_SHA256, the one protocol the sessions use', () => {
    const { init, resp } = pair('XX');
    expect(init.protocolName).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
    expect(resp.protocolName).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
  });

  it('a different prologue on one side fails the first authenticated message', () => {
    const { init, resp } = pair('XX', { resp: { prologue: utf8Encode('other') } });
    resp.readMessage(first(init));
    expect(() => init.readMessage(resp.writeMessage())).toThrow(code('BAD_SIGNATURE'));
  });
});

describe('handshake: hostile input', () => {
  it('every single-byte tamper of XX message 2 is rejected', () => {
    const length = 32 + 48 + 7 + 16; // e, encrypted s, payload + tag
    for (let i = 0; i < length; i++) {
      // A fresh pair per tamper: a failed read kills the handshake.
      const { init, resp } = pair('XX');
      resp.readMessage(first(init));
      const m = resp.writeMessage(utf8Encode('payload'));
      expect(m).toHaveLength(length);
      m[i]! ^= 0x01;
      let err: unknown;
      try {
        init.readMessage(m);
      } catch (e) {
        err = e;
      }
      // Flipping the ephemeral may land on a low-order point (MALFORMED); anything else breaks a tag.
      expect(err, `byte ${i}`).toEqual(
        code(i < 32 ? expect.stringMatching(/^(BAD_SIGNATURE|MALFORMED)$/) : 'BAD_SIGNATURE'),
      );
    }
  });

  it('a tampered cleartext first message is caught by the next authenticated message', () => {
    const { init, resp } = pair('XX');
    const msg1 = first(init);
    msg1[msg1.length - 1]! ^= 0x01; // the payload, not yet encrypted in XX message 1
    resp.readMessage(msg1);
    expect(() => init.readMessage(resp.writeMessage())).toThrow(code('BAD_SIGNATURE'));
  });

  it('truncated messages fail: MALFORMED when fields are cut, BAD_SIGNATURE when only the tag is', () => {
    const make = () => {
      const { init, resp } = pair('XX');
      resp.readMessage(first(init));
      return { init, msg2: resp.writeMessage(utf8Encode('payload')) };
    };
    const a = make();
    expect(() => a.init.readMessage(a.msg2.subarray(0, 31))).toThrow(code('MALFORMED'));
    const b = make();
    expect(() => b.init.readMessage(b.msg2.subarray(0, 32 + 47))).toThrow(code('MALFORMED'));
    const c = make();
    expect(() => c.init.readMessage(c.msg2.subarray(0, c.msg2.length - 1))).toThrow(code('BAD_SIGNATURE'));
    const d = make();
    expect(() => d.init.readMessage(new Uint8Array(0))).toThrow(code('MALFORMED'));
    const e = make();
    expect(() => e.init.readMessage(new Uint8Array(65536))).toThrow(code('MALFORMED'));
  });

  it('a failed read leaves the state as it was and kills the handshake', () => {
    const { init, resp } = pair('XX');
    resp.readMessage(first(init));
    const msg2 = resp.writeMessage();
    const hashBefore = init.handshakeHash;
    const forged = msg2.slice();
    forged[40]! ^= 0xff;
    expect(() => init.readMessage(forged)).toThrow(code('BAD_SIGNATURE'));
    expect(init.handshakeHash).toEqual(hashBefore);
    expect(init.remoteStaticPublicKey).toBeUndefined();
    expect(init.failed).toBe(true);
    expect(init.isMyTurn).toBe(false);
    // Dead: even the genuine message is refused now.
    expect(() => init.readMessage(msg2)).toThrow(code('CLOSED'));
    expect(() => init.writeMessage()).toThrow(code('CLOSED'));
    expect(() => init.split()).toThrow(code('CLOSED'));
  });

  it('remoteStatic as an expectation in XX: a different proven key is KEY_MISMATCH', () => {
    const { init, resp } = pair('XX', { init: { remoteStatic: mallory.publicKey } });
    resp.readMessage(first(init));
    expect(() => init.readMessage(resp.writeMessage())).toThrow(code('KEY_MISMATCH'));
    expect(init.failed).toBe(true);

    const ok = pair('XX', { init: { remoteStatic: bob.publicKey } });
    handshake(ok.init, ok.resp);
  });

  it('rejects a low-order ephemeral with MALFORMED', () => {
    const { init, resp } = pair('XX');
    resp.readMessage(first(init));
    const msg2 = resp.writeMessage();
    msg2.fill(0, 0, 32);
    expect(() => init.readMessage(msg2)).toThrow(code('MALFORMED'));
  });
});

describe('handshake: API contract', () => {
  it('out-of-turn calls throw INTERNAL without harming the handshake', () => {
    const { init, resp } = pair('XX');
    expect(() => init.readMessage(new Uint8Array(32))).toThrow(code('INTERNAL'));
    expect(() => resp.writeMessage()).toThrow(code('INTERNAL'));
    expect(init.failed || resp.failed).toBe(false);
    handshake(init, resp);
  });

  it('an oversized payload is BAD_ARGUMENT and leaves the handshake usable', () => {
    const { init, resp } = pair('XX');
    expect(() => init.writeMessage(new Uint8Array(65535 - 32))).toThrow(code('BAD_ARGUMENT'));
    expect(init.failed).toBe(false);
    const max = new Uint8Array(65535 - 32 - 16);
    const msg1 = init.writeMessage(max);
    expect(msg1).toHaveLength(65535 - 16);
    expect(resp.readMessage(msg1)).toEqual(max);
  });

  it('split() only once, only when complete; after completion messages are refused', () => {
    const { init, resp } = pair('XX');
    expect(() => init.split()).toThrow(code('INTERNAL'));
    handshake(init, resp);
    expect(() => init.writeMessage()).toThrow(code('CLOSED'));
    const keys = init.split();
    expect(keys.send.nonce).toBe(0);
    expect(() => init.split()).toThrow(code('CLOSED'));
  });

  it('the initiator sends with the first Split() cipher, the responder with the second', () => {
    const { init, resp } = pair('XX');
    handshake(init, resp);
    const i = init.split();
    const r = resp.split();
    const ad = new Uint8Array(0);
    const ct = i.send.encryptWithAd(ad, utf8Encode('x'));
    expect(() => i.receive.clone().decryptWithAd(ad, ct)).toThrow(code('BAD_SIGNATURE'));
    expect(r.receive.decryptWithAd(ad, ct)).toEqual(utf8Encode('x'));
  });

  it('validates options', () => {
    const bad = (o: HandshakeOptions) => () => createHandshake(o);
    expect(bad({ pattern: 'XX', initiator: true })).toThrow(code('BAD_ARGUMENT'));
    expect(bad({ pattern: 'XX', initiator: false })).toThrow(code('BAD_ARGUMENT'));
    expect(
      bad({ pattern: 'XX', initiator: true, staticKey: alice, remoteStatic: new Uint8Array(31) }),
    ).toThrow(code('BAD_ARGUMENT'));
    for (const hash of ['BLAKE2s', 'SHA512', 'BLAKE2b'])
      expect(bad({ pattern: 'XX', initiator: true, staticKey: alice, hash: hash as 'SHA256' })).toThrow(
        code('BAD_ARGUMENT'),
      );
    // Only XX is in the table: other Noise patterns are not run.
    for (const pattern of ['ZZ', 'NN', 'IK', 'KK'])
      expect(bad({ pattern: pattern as 'XX', initiator: true, staticKey: alice })).toThrow(
        code('BAD_ARGUMENT'),
      );
    const mismatched: KeyPair = { privateKey: alice.privateKey, publicKey: bob.publicKey };
    expect(bad({ pattern: 'XX', initiator: true, staticKey: mismatched })).toThrow(code('BAD_ARGUMENT'));
    expect(createHandshake({ pattern: 'XX', initiator: true, staticKey: alice }).isMyTurn).toBe(true);
  });

  it('draws ephemerals from the injected random source', () => {
    let calls = 0;
    const random = (n: number) => {
      calls++;
      return new Uint8Array(n).fill(9);
    };
    const a = createHandshake({ pattern: 'XX', initiator: true, staticKey: alice }, { randomBytes: random });
    const b = createHandshake({ pattern: 'XX', initiator: true, staticKey: alice }, { randomBytes: random });
    expect(a.writeMessage()).toEqual(b.writeMessage());
    expect(calls).toBe(2);
  });
});
