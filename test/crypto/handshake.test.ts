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

/** Both sides of a pattern, giving each the keys its pre-messages need. */
function pair(
  pattern: PatternName,
  over: { init?: Partial<HandshakeOptions>; resp?: Partial<HandshakeOptions> } = {},
) {
  const init = createHandshake({
    pattern,
    initiator: true,
    prologue,
    staticKey: alice,
    remoteStatic: PATTERNS[pattern].responderPreMessage.length > 0 ? bob.publicKey : undefined,
    ...over.init,
  });
  const resp = createHandshake({
    pattern,
    initiator: false,
    prologue,
    staticKey: bob,
    remoteStatic: PATTERNS[pattern].initiatorPreMessage.length > 0 ? alice.publicKey : undefined,
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

/** Writes the first message of XX, IK etc. and returns it without delivering it. */
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
    // Who learns whose static key depends on the pattern's first letter (initiator's) and second.
    const initSends = !pattern.startsWith('N');
    const respSends = !pattern.endsWith('N');
    expect(resp.remoteStaticPublicKey).toEqual(initSends ? alice.publicKey : undefined);
    expect(init.remoteStaticPublicKey).toEqual(respSends ? bob.publicKey : undefined);
  });

  it('uses 64-byte hashes and 32-byte transport keys with SHA512 and BLAKE2b', () => {
    for (const hash of ['SHA512', 'BLAKE2b'] as const) {
      const { init, resp } = pair('XX', { init: { hash }, resp: { hash } });
      handshake(init, resp);
      expect(init.protocolName).toBe(`Noise_XX_25519_ChaChaPoly_${hash}`);
      expect(init.handshakeHash).toHaveLength(64);
      const c = init.split().send.encryptWithAd(new Uint8Array(0), new Uint8Array(0));
      expect(resp.split().receive.decryptWithAd(new Uint8Array(0), c)).toHaveLength(0);
    }
  });

  it('a different prologue on one side fails the first authenticated message', () => {
    const { init, resp } = pair('XX', { resp: { prologue: utf8Encode('other') } });
    resp.readMessage(first(init));
    expect(() => init.readMessage(resp.writeMessage())).toThrow(code('BAD_SIGNATURE'));
  });
});

describe('handshake: hostile input', () => {
  it('IK: an initiator holding the wrong responder key fails at the responder', () => {
    const { init, resp } = pair('IK', { init: { remoteStatic: mallory.publicKey } });
    expect(() => resp.readMessage(first(init))).toThrow(code('BAD_SIGNATURE'));
    expect(resp.failed).toBe(true);
    expect(resp.remoteStaticPublicKey).toBeUndefined();
  });

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
    const { init, resp } = pair('NN');
    expect(() => init.split()).toThrow(code('INTERNAL'));
    handshake(init, resp);
    expect(() => init.writeMessage()).toThrow(code('CLOSED'));
    const keys = init.split();
    expect(keys.send.nonce).toBe(0);
    expect(() => init.split()).toThrow(code('CLOSED'));
  });

  it('the initiator sends with the first Split() cipher, the responder with the second', () => {
    const { init, resp } = pair('NN');
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
    expect(bad({ pattern: 'IK', initiator: true, staticKey: alice })).toThrow(code('BAD_ARGUMENT'));
    expect(bad({ pattern: 'KK', initiator: false, staticKey: bob })).toThrow(code('BAD_ARGUMENT'));
    expect(bad({ pattern: 'NN', initiator: true, remoteStatic: new Uint8Array(31) })).toThrow(
      code('BAD_ARGUMENT'),
    );
    expect(bad({ pattern: 'NN', initiator: true, hash: 'BLAKE2s' as 'SHA256' })).toThrow(
      code('BAD_ARGUMENT'),
    );
    expect(bad({ pattern: 'ZZ' as 'NN', initiator: true })).toThrow(code('BAD_ARGUMENT'));
    const mismatched: KeyPair = { privateKey: alice.privateKey, publicKey: bob.publicKey };
    expect(bad({ pattern: 'XX', initiator: true, staticKey: mismatched })).toThrow(code('BAD_ARGUMENT'));
    // NN needs no keys at all.
    expect(createHandshake({ pattern: 'NN', initiator: true }).isMyTurn).toBe(true);
  });

  it('draws ephemerals from the injected random source', () => {
    let calls = 0;
    const random = (n: number) => {
      calls++;
      return new Uint8Array(n).fill(9);
    };
    const a = createHandshake({ pattern: 'NN', initiator: true }, { randomBytes: random });
    const b = createHandshake({ pattern: 'NN', initiator: true }, { randomBytes: random });
    expect(a.writeMessage()).toEqual(b.writeMessage());
    expect(calls).toBe(2);
  });
});
