import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BINDING_REQUEST,
  answerStunRequest,
  decodeStun,
  encodeBindingError,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStunMessage,
  isStunMessage,
  verifyFingerprint,
  verifyMessageIntegrity,
} from '../../common/wire/stun.js';
import {
  RFC_TXID,
  SAMPLE_IPV4_RESPONSE,
  SAMPLE_IPV6_RESPONSE,
  SAMPLE_REQUEST,
} from '../wire/stun-vectors.js';
import {
  anyBytes,
  bytesOf,
  check,
  decodesOrRefuses,
  endpoint,
  mutationOf,
  u16,
  withinBound,
} from './support.js';

const FILE = 'test/fuzz/stun.test.ts';
const FROM = { address: '203.0.113.7', port: 40000 };

/** Seeds: the RFC 5769 vectors and each of our own encoders' outputs. */
const CORPUS = [
  SAMPLE_REQUEST,
  SAMPLE_IPV4_RESPONSE,
  SAMPLE_IPV6_RESPONSE,
  encodeBindingRequest(RFC_TXID, { software: 'x', changeRequest: { changePort: true }, fingerprint: true }),
  encodeBindingSuccess(RFC_TXID, FROM, { software: 'punchline', fingerprint: true, otherAddress: FROM }),
  encodeBindingSuccess(RFC_TXID, { address: '2001:db8::7', port: 1 }, { responseOrigin: FROM }),
  encodeBindingError(RFC_TXID, 420, 'Unknown Attribute', {
    unknownAttributes: [0x0018, 0x0019],
    fingerprint: true,
  }),
];

/** A STUN header (type, right length, cookie, txid) in front of arbitrary attribute bytes: past the demux. */
const framed = fc
  .tuple(fc.constantFrom(0x0001, 0x0101, 0x0111, 0x0011), fc.uint8Array({ maxLength: 600 }))
  .map(([type, body]) => {
    const pad = body.length & 3 ? 4 - (body.length & 3) : 0;
    const out = new Uint8Array(20 + body.length + pad);
    out.set([
      type >> 8,
      type & 0xff,
      (body.length + pad) >> 8,
      (body.length + pad) & 0xff,
      0x21,
      0x12,
      0xa4,
      0x42,
    ]);
    out.set(RFC_TXID, 8);
    out.set(body, 20);
    return out;
  });

/** Every STUN entry point on hostile bytes: decode within bounds or MALFORMED; the others never throw. */
function hostile(b: Uint8Array): void {
  const m = decodesOrRefuses(() => decodeStun(b));
  if (m) {
    expect(withinBound(m, b.length)).toBe(true);
    expect(m.attributes.length).toBeLessThanOrEqual((b.length - 20) / 4);
    expect(new Set(m.unknownRequired).size).toBe(m.unknownRequired.length);
  }
  expect(typeof isStunMessage(b)).toBe('boolean');
  const answer = answerStunRequest(b, FROM, { alternatePort: b.length % 2 === 0 });
  if (answer) expect(answer.bytes.length).toBeLessThanOrEqual(92); // never an amplifier
  if (m) decodesOrRefuses(() => verifyFingerprint(b));
  if (m) decodesOrRefuses(() => verifyMessageIntegrity(b, new Uint8Array(16)));
}

describe('fuzz: STUN (common/wire/stun.ts)', () => {
  it('arbitrary bytes, with or without a valid header, decode within bounds or MALFORMED; answers stay small', () => {
    check(FILE, fc.property(fc.oneof(anyBytes(), framed), hostile));
  });

  it('mutations of the RFC 5769 vectors and of our own messages behave the same', () => {
    check(FILE, fc.property(mutationOf(CORPUS), hostile), 3);
  });

  it('encodeStunMessage then decodeStun gives back every attribute, and FINGERPRINT verifies', () => {
    const attr = fc.record({ type: u16(), value: fc.uint8Array({ maxLength: 40 }) });
    check(
      FILE,
      fc.property(
        fc.integer({ min: 0, max: 0x3fff }),
        bytesOf(12),
        fc.array(attr, { maxLength: 10 }),
        (type, txId, attrs) => {
          // Types the decoder does not interpret (0x4000-0x7fff, 0xc000-0xffff): they round-trip raw.
          const raw = attrs.map((a) => ({
            type: (a.type & 0x3fff) | (a.type & 0x8000 ? 0xc000 : 0x4000),
            value: a.value,
          }));
          const bytes = encodeStunMessage(type, txId, raw, { fingerprint: true });
          const m = decodeStun(bytes);
          expect(m.type).toBe(type);
          expect([...m.txId]).toEqual([...txId]);
          expect(m.attributes.slice(0, -1).map((a) => ({ type: a.type, value: [...a.value] }))).toEqual(
            raw.map((a) => ({ type: a.type, value: [...a.value] })),
          );
          expect(verifyFingerprint(bytes)).toBe(true);
        },
      ),
    );
  });

  it('a Binding success round-trips any IPv4 endpoint', () => {
    check(
      FILE,
      fc.property(bytesOf(12), endpoint(), (txId, ep) => {
        expect(decodeStun(encodeBindingSuccess(txId, ep)).xorMappedAddress).toEqual(ep);
        const req = encodeBindingRequest(txId, { fingerprint: true });
        expect(decodeStun(req).type).toBe(BINDING_REQUEST);
        expect(answerStunRequest(req, ep)?.bytes).toEqual(
          encodeBindingSuccess(txId, ep, { software: 'punchline', fingerprint: true }),
        );
      }),
    );
  });

  it('unknown comprehension-required attributes are listed once each, however often they repeat', () => {
    check(
      FILE,
      fc.property(fc.array(fc.integer({ min: 0x0030, max: 0x7fff }), { maxLength: 300 }), (types) => {
        const attrs = types.map((type) => ({ type, value: new Uint8Array(0) }));
        const m = decodeStun(encodeStunMessage(BINDING_REQUEST, RFC_TXID, attrs));
        expect(m.unknownRequired).toEqual([...new Set(types)]);
      }),
      0.3,
    );
  });
});
