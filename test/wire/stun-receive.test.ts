import { seeded } from '../support/random.js';
import { describe, expect, it, vi } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { toHex, utf8Encode } from '../../common/wire/bytes.js';
import { RFC_TXID, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE, SAMPLE_REQUEST, hex } from './stun-vectors.js';
import {
  BINDING_ERROR,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  StunAttr,
  StunClass,
  StunMethod,
  decodeStun,
  encodeBindingError,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStunMessage,
  handleStunRequest,
  isStunMessage,
  stunMessageType,
  verifyFingerprint,
} from '../../common/wire/stun.js';

import { FROM4, FROM6, KEY, expectMalformed, flip } from './stun-helpers.js';

describe('isStunMessage demux', () => {
  it('accepts STUN', () => {
    for (const b of [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE, encodeBindingRequest()])
      expect(isStunMessage(b)).toBe(true);
  });
  it('rejects punchline packets (version byte 0x50..0x5F) and near misses', () => {
    for (let v = 0x50; v <= 0x5f; v++) {
      const b = SAMPLE_REQUEST.slice();
      b[0] = v;
      expect(isStunMessage(b)).toBe(false);
    }
    const wrongCookie = SAMPLE_REQUEST.slice();
    flip(wrongCookie, 7, 1);
    const badLength = SAMPLE_REQUEST.slice();
    badLength[3] = 0x54;
    expect(isStunMessage(wrongCookie)).toBe(false);
    expect(isStunMessage(badLength)).toBe(false);
    expect(isStunMessage(SAMPLE_REQUEST.subarray(0, 19))).toBe(false);
    expect(isStunMessage(SAMPLE_REQUEST.subarray(0, 104))).toBe(false);
    expect(isStunMessage(new Uint8Array([0x50, 1, 2, 3]))).toBe(false);
    // length 2 (not a multiple of 4), consistent with the buffer
    expect(isStunMessage(hex('00010002 2112a442 000000000000000000000000 0000'))).toBe(false);
  });
});

describe('decodeStun rejects malformed input', () => {
  /** A raw message: valid header (length from the body) and the RFC transaction id. */
  const header = (type: number, body: string): Uint8Array => {
    const b = hex(body);
    const t = type.toString(16).padStart(4, '0');
    return new Uint8Array([
      ...hex(`${t}${b.length.toString(16).padStart(4, '0')}2112a442`),
      ...RFC_TXID,
      ...b,
    ]);
  };
  it.each([
    ['short header', hex('00010000 2112a442')],
    ['top bits set', header(0xc001, '')],
    ['truncated attribute value', header(0x0001, '80220008 41414141')],
    ['attribute header cut', header(0x0001, '80220000 0000')],
    ['XOR-MAPPED-ADDRESS bad family', header(0x0101, '00200008 0003a147 e112a643')],
    ['XOR-MAPPED-ADDRESS IPv6 too short', header(0x0101, '00200008 0002a147 e112a643')],
    ['MAPPED-ADDRESS too short', header(0x0101, '00010000')],
    ['MESSAGE-INTEGRITY wrong size', header(0x0001, '00080004 00000000')],
    ['MESSAGE-INTEGRITY-SHA256 too short', header(0x0001, '001c0004 00000000')],
    ['FINGERPRINT wrong size', header(0x0001, '80280008 00000000 00000000')],
    ['attribute after FINGERPRINT', header(0x0001, '80280004 00000000 80220000')],
    ['SOFTWARE not UTF-8', header(0x0001, '80220002 c3280000')],
    ['USERNAME too long', header(0x0001, `00060204 ${'41'.repeat(0x204)}`)],
    ['ERROR-CODE class 7', header(0x0111, '00090004 00000700')],
    ['ERROR-CODE number 100', header(0x0111, '00090004 00000464')],
    ['ERROR-CODE too short', header(0x0111, '00090002 00000000')],
    ['UNKNOWN-ATTRIBUTES odd length', header(0x0111, '000a0003 00030000')],
  ])('%s', (_name, buf) => {
    expectMalformed(() => decodeStun(buf));
  });

  it('rejects a wrong magic cookie and an inconsistent length', () => {
    const c = SAMPLE_REQUEST.slice();
    c[4] = 0;
    expectMalformed(() => decodeStun(c));
    expectMalformed(() => decodeStun(SAMPLE_REQUEST.subarray(0, 104)));
    const extra = new Uint8Array([...SAMPLE_REQUEST, 0, 0, 0, 0]);
    expectMalformed(() => decodeStun(extra));
  });

  it('keeps unknown attributes raw and lists unknown comprehension-required ones', () => {
    const m = decodeStun(header(0x0001, '00270004 00000006 c0010001 07000000 8fff0000'));
    expect(m.attributes.map((a) => [a.type, toHex(a.value)])).toEqual([
      [0x0027, '00000006'], // RFC 5780 RESPONSE-PORT: not understood
      [0xc001, '07'],
      [0x8fff, ''],
    ]);
    expect(m.unknownRequired).toEqual([0x0027]);
  });

  it('ignores attributes after MESSAGE-INTEGRITY (RFC 8489 §14.5)', () => {
    const b = encodeStunMessage(BINDING_REQUEST, RFC_TXID, [], { integrityKey: KEY });
    const withAfter = encodeStunMessage(BINDING_REQUEST, RFC_TXID, [
      { type: StunAttr.MESSAGE_INTEGRITY, value: b.subarray(24) },
      { type: 0x0003, value: new Uint8Array(4) },
      { type: StunAttr.SOFTWARE, value: utf8Encode('late') },
    ]);
    const m = decodeStun(withAfter);
    expect(m.unknownRequired).toEqual([]);
    expect(m.software).toBeUndefined();
    expect(m.attributes).toHaveLength(3);
  });
});

describe('handleStunRequest', () => {
  it('answers a bare 20-byte Binding request with a small success', () => {
    const req = encodeBindingRequest(RFC_TXID);
    expect(req).toHaveLength(20);
    const res = handleStunRequest(req, FROM4)!;
    expect(res).toBeDefined();
    expect(res.length).toBe(56);
    expect(res.length).toBeLessThan(80);
    const m = decodeStun(res);
    expect(m.type).toBe(BINDING_SUCCESS);
    expect(toHex(m.txId)).toBe(toHex(RFC_TXID));
    expect(m.xorMappedAddress).toEqual(FROM4);
    expect(m.software).toBe('punchline');
    expect(m.attributes.at(-1)!.type).toBe(StunAttr.FINGERPRINT);
    expect(verifyFingerprint(res)).toBe(true);
  });

  it('answers IPv6 and IPv4-mapped sources', () => {
    const res6 = handleStunRequest(encodeBindingRequest(RFC_TXID), FROM6)!;
    expect(res6.length).toBe(68);
    expect(decodeStun(res6).xorMappedAddress).toEqual(FROM6);
    const resMapped = handleStunRequest(encodeBindingRequest(RFC_TXID), {
      address: '::ffff:203.0.113.7',
      port: 40000,
    })!;
    expect(decodeStun(resMapped).xorMappedAddress).toEqual(FROM4);
  });

  it('answers the RFC 5769 sample request (ICE and credential attributes are understood)', () => {
    const m = decodeStun(handleStunRequest(SAMPLE_REQUEST, FROM4)!);
    expect(m.class).toBe('success');
    expect(toHex(m.txId)).toBe(toHex(RFC_TXID));
  });

  it('answers a request carrying an unknown comprehension-optional attribute', () => {
    const req = encodeStunMessage(BINDING_REQUEST, RFC_TXID, [{ type: 0xc0de, value: new Uint8Array(3) }], {
      fingerprint: true,
    });
    expect(decodeStun(handleStunRequest(req, FROM4)!).class).toBe('success');
  });

  it('answers 420 with UNKNOWN-ATTRIBUTES for unknown comprehension-required attributes', () => {
    const req = encodeStunMessage(BINDING_REQUEST, RFC_TXID, [
      { type: 0x0003, value: hex('00000006') }, // RFC 5780 CHANGE-REQUEST: one socket cannot honour it
      { type: 0x7abc, value: new Uint8Array(0) },
      { type: 0x0003, value: hex('00000000') },
    ]);
    const res = handleStunRequest(req, FROM4)!;
    const m = decodeStun(res);
    expect(m.type).toBe(BINDING_ERROR);
    expect(m.errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(m.unknownAttributes).toEqual([0x0003, 0x7abc]);
    expect(m.xorMappedAddress).toBeUndefined();
    expect(verifyFingerprint(res)).toBe(true);
  });

  it('caps the UNKNOWN-ATTRIBUTES list', () => {
    const attrs = Array.from({ length: 100 }, (_, i) => ({ type: 0x4000 + i, value: new Uint8Array(0) }));
    const res = handleStunRequest(encodeStunMessage(BINDING_REQUEST, RFC_TXID, attrs), FROM4)!;
    expect(decodeStun(res).unknownAttributes).toHaveLength(16);
  });

  it.each([
    ['a success response', SAMPLE_IPV4_RESPONSE],
    ['an error response', encodeBindingError(RFC_TXID, 400, 'Bad Request')],
    [
      'an indication',
      encodeStunMessage(stunMessageType(StunMethod.BINDING, StunClass.INDICATION), RFC_TXID, []),
    ],
    ['another method (TURN Allocate)', encodeStunMessage(0x0003, RFC_TXID, [])],
    ['a punchline packet', new Uint8Array([0x50, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42, ...RFC_TXID])],
    ['a truncated request', SAMPLE_REQUEST.subarray(0, 60)],
    [
      'a malformed attribute with a valid header',
      hex('00010008 2112a442 b7e7a701 bc34d686 fa87dfae 00200004 00030000'),
    ],
    ['an empty datagram', new Uint8Array(0)],
  ])('drops %s', (_name, buf) => {
    expect(handleStunRequest(buf, FROM4)).toBeUndefined();
  });

  it('drops a request whose FINGERPRINT is wrong', () => {
    const req = encodeBindingRequest(RFC_TXID, { fingerprint: true });
    expect(handleStunRequest(req, FROM4)).toBeDefined();
    flip(req, req.length - 1, 0xff);
    expect(handleStunRequest(req, FROM4)).toBeUndefined();
  });

  it('drops when the source endpoint is unusable instead of throwing', () => {
    expect(
      handleStunRequest(encodeBindingRequest(RFC_TXID), { address: 'nonsense', port: 1 }),
    ).toBeUndefined();
  });
});

describe('fuzz', () => {
  const seeds = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE];
  const valid = [
    ...seeds,
    encodeBindingRequest(RFC_TXID, { software: 'x', username: 'u:v', integrityKey: KEY, fingerprint: true }),
    encodeBindingSuccess(RFC_TXID, FROM6, { software: 'punchline', fingerprint: true }),
    encodeBindingError(RFC_TXID, 420, 'Unknown Attribute', { unknownAttributes: [3], fingerprint: true }),
  ];

  function check(buf: Uint8Array, stats: { decoded: number; malformed: number; answered: number }): void {
    try {
      decodeStun(buf);
      stats.decoded++;
    } catch (e) {
      if (!isPunchlineError(e, 'MALFORMED'))
        throw new Error(`non-MALFORMED throw for ${toHex(buf)}: ${String(e)}`);
      stats.malformed++;
    }
    const res = handleStunRequest(buf, FROM4); // must not throw
    if (res) {
      stats.answered++;
      expect(isStunMessage(res)).toBe(true);
      expect(res.length).toBeLessThanOrEqual(20 + 28 + 36 + 8);
    }
  }

  it('10k random buffers: only MALFORMED, handler never throws', () => {
    const rand = seeded(0x5eed);
    const stats = { decoded: 0, malformed: 0, answered: 0 };
    for (let i = 0; i < 10_000; i++) {
      const n = Math.floor(rand() * 120);
      const buf = new Uint8Array(n);
      for (let j = 0; j < n; j++) buf[j] = Math.floor(rand() * 256);
      // Half of them get a plausible header so the attribute parser is exercised too.
      if (i % 2 === 0 && n >= 20) {
        const len = (n - 20) & ~3;
        buf[0] = buf[0]! & 0x01;
        buf[2] = len >> 8;
        buf[3] = len & 0xff;
        buf.set([0x21, 0x12, 0xa4, 0x42], 4);
        check(buf.subarray(0, 20 + len), stats);
      } else check(buf, stats);
    }
    expect(stats.decoded + stats.malformed).toBe(10_000);
    expect(stats.decoded).toBeGreaterThan(100); // the header path was really exercised
  });

  it('10k single-byte mutations of valid messages: only MALFORMED, handler never throws', () => {
    const rand = seeded(42);
    const stats = { decoded: 0, malformed: 0, answered: 0 };
    for (let i = 0; i < 10_000; i++) {
      const buf = valid[i % valid.length]!.slice();
      const at = Math.floor(rand() * buf.length);
      buf[at] = Math.floor(rand() * 256);
      check(buf, stats);
    }
    expect(stats.malformed).toBeGreaterThan(0);
    expect(stats.decoded).toBeGreaterThan(1000);
    expect(stats.answered).toBeGreaterThan(0);
  });
});

describe('STUN decoding cost', () => {
  it('16 000 distinct unknown attributes in one datagram are collected without a search per attribute', () => {
    // Before: unknownRequired.includes() per attribute, quadratic: 250 ms of CPU for this 64 KB datagram.
    const types = Array.from({ length: 16_000 }, (_, i) => 0x0030 + i);
    const b = encodeStunMessage(
      BINDING_REQUEST,
      RFC_TXID,
      types.map((type) => ({ type, value: new Uint8Array(0) })),
    );
    const includes = vi.spyOn(Array.prototype, 'includes');
    const indexOf = vi.spyOn(Array.prototype, 'indexOf');
    try {
      const m = decodeStun(b);
      expect(m.unknownRequired).toEqual(types);
      expect(includes.mock.calls.length + indexOf.mock.calls.length).toBeLessThan(100);
    } finally {
      includes.mockRestore();
      indexOf.mockRestore();
    }
    const dup = decodeStun(
      encodeStunMessage(
        BINDING_REQUEST,
        RFC_TXID,
        [0x30, 0x31, 0x30, 0x31].map((type) => ({ type, value: new Uint8Array(0) })),
      ),
    );
    expect(dup.unknownRequired).toEqual([0x30, 0x31]);
  });
});
