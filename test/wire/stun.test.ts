import { describe, expect, it } from 'vitest';
import { toHex, utf8Encode } from '../../common/wire/bytes.js';
import { crc32 } from '../../common/wire/crc32.js';
import {
  PASSWORD,
  RFC_TXID,
  SAMPLE_IPV4_RESPONSE,
  SAMPLE_IPV6_RESPONSE,
  SAMPLE_REQUEST,
  hex,
} from './stun-vectors.js';
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
  isStunMessage,
  shortTermKey,
  stunMessageType,
  verifyFingerprint,
  verifyMessageIntegrity,
} from '../../common/wire/stun.js';

import { FROM4, KEY, flip } from './stun-helpers.js';

describe('crc32', () => {
  it('matches the CRC-32/ISO-HDLC check value', () => {
    expect(crc32(utf8Encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('message type', () => {
  it.each([
    [StunMethod.BINDING, StunClass.REQUEST, 0x0001],
    [StunMethod.BINDING, StunClass.INDICATION, 0x0011],
    [StunMethod.BINDING, StunClass.SUCCESS, 0x0101],
    [StunMethod.BINDING, StunClass.ERROR, 0x0111],
    [0x003, StunClass.REQUEST, 0x0003], // TURN Allocate
    [0xfff, StunClass.ERROR, 0x3fff],
  ])('method %i class %i -> %i', (method, cls, type) => {
    expect(stunMessageType(method, cls)).toBe(type);
  });
});

describe('RFC 5769 test vectors', () => {
  it('§2.1 sample request', () => {
    const m = decodeStun(SAMPLE_REQUEST);
    expect(m.type).toBe(BINDING_REQUEST);
    expect(m.class).toBe('request');
    expect(m.method).toBe(StunMethod.BINDING);
    expect(toHex(m.txId)).toBe(toHex(RFC_TXID));
    expect(m.software).toBe('STUN test client');
    expect(m.username).toBe('evtj:h6vY'); // padding was three spaces
    expect(m.attributes.map((a) => a.type)).toEqual([
      StunAttr.SOFTWARE,
      StunAttr.PRIORITY,
      StunAttr.ICE_CONTROLLED,
      StunAttr.USERNAME,
      StunAttr.MESSAGE_INTEGRITY,
      StunAttr.FINGERPRINT,
    ]);
    expect(toHex(m.attributes[1]!.value)).toBe('6e0001ff'); // PRIORITY kept raw
    expect(m.unknownRequired).toEqual([]);
    expect(toHex(m.messageIntegrity!)).toBe('9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2');
    expect(m.fingerprint).toBe(0xe57a3bcf);
    expect(verifyFingerprint(SAMPLE_REQUEST)).toBe(true);
    expect(verifyMessageIntegrity(SAMPLE_REQUEST, KEY)).toBe(true);
    expect(verifyMessageIntegrity(SAMPLE_REQUEST, utf8Encode('wrong password'))).toBe(false);
  });

  it('§2.2 sample IPv4 response', () => {
    const m = decodeStun(SAMPLE_IPV4_RESPONSE);
    expect(m.type).toBe(BINDING_SUCCESS);
    expect(m.class).toBe('success');
    expect(m.software).toBe('test vector');
    expect(m.xorMappedAddress).toEqual({ address: '192.0.2.1', port: 32853 });
    expect(verifyFingerprint(SAMPLE_IPV4_RESPONSE)).toBe(true);
    expect(verifyMessageIntegrity(SAMPLE_IPV4_RESPONSE, KEY)).toBe(true);
  });

  it('§2.3 sample IPv6 response', () => {
    const m = decodeStun(SAMPLE_IPV6_RESPONSE);
    expect(m.class).toBe('success');
    expect(m.xorMappedAddress).toEqual({ address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
    expect(verifyFingerprint(SAMPLE_IPV6_RESPONSE)).toBe(true);
    expect(verifyMessageIntegrity(SAMPLE_IPV6_RESPONSE, KEY)).toBe(true);
  });

  it('detects a changed byte through MESSAGE-INTEGRITY and FINGERPRINT', () => {
    const b = SAMPLE_IPV4_RESPONSE.slice();
    flip(b, 43, 0x01); // low byte of XOR-MAPPED-ADDRESS's X-Port
    expect(verifyFingerprint(b)).toBe(false);
    expect(verifyMessageIntegrity(b, KEY)).toBe(false);
    expect(decodeStun(b).xorMappedAddress).toEqual({ address: '192.0.2.1', port: 32852 });
  });

  it('reports a missing FINGERPRINT or MESSAGE-INTEGRITY as false', () => {
    const plain = encodeBindingRequest(RFC_TXID);
    expect(verifyFingerprint(plain)).toBe(false);
    expect(verifyMessageIntegrity(plain, KEY)).toBe(false);
  });
});

describe('encoders', () => {
  it('encodeBindingSuccess byte-exact fixture', () => {
    const b = encodeBindingSuccess(
      RFC_TXID,
      { address: '192.0.2.1', port: 32853 },
      { software: 'punchline', fingerprint: true },
    );
    expect(toHex(b)).toBe(
      toHex(
        hex(`
          01010024 2112a442 b7e7a701 bc34d686 fa87dfae
          00200008 0001a147 e112a643
          80220009 70756e63 686c696e 65000000
          80280004 7a5fcd80`),
      ),
    ); // XOR-MAPPED-ADDRESS as in RFC 5769 §2.2; SOFTWARE "punchline" zero-padded; FINGERPRINT
  });

  it.each([
    { address: '192.0.2.1', port: 32853 },
    { address: '0.0.0.0', port: 0 },
    { address: '255.255.255.255', port: 65535 },
    { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
    { address: '2001:db8::7', port: 1 },
    { address: '::1', port: 9 },
    { address: '::', port: 9 },
    { address: 'fe80::1:0:0:2', port: 9 },
    { address: '2001:0:0:1::', port: 9 },
  ])('round-trips the success response for %o', (ep) => {
    const txId = RFC_TXID;
    const b = encodeBindingSuccess(txId, ep, { software: 'punchline', fingerprint: true });
    expect(isStunMessage(b)).toBe(true);
    const m = decodeStun(b);
    expect(m.type).toBe(BINDING_SUCCESS);
    expect(toHex(m.txId)).toBe(toHex(txId));
    expect(m.xorMappedAddress).toEqual(ep);
    expect(m.software).toBe('punchline');
    expect(verifyFingerprint(b)).toBe(true);
  });

  it('sends an IPv4-mapped IPv6 endpoint as IPv4 and drops a zone id', () => {
    expect(
      decodeStun(encodeBindingSuccess(RFC_TXID, { address: '::ffff:192.0.2.1', port: 5 })).xorMappedAddress,
    ).toEqual({ address: '192.0.2.1', port: 5 });
    expect(
      decodeStun(encodeBindingSuccess(RFC_TXID, { address: 'fe80::1%eth0', port: 5 })).xorMappedAddress,
    ).toEqual({
      address: 'fe80::1',
      port: 5,
    });
  });

  it('refuses a bad endpoint or transaction id with BAD_ARGUMENT', () => {
    expect(() => encodeBindingSuccess(RFC_TXID, { address: 'example.com', port: 1 })).toThrow(/not an IP/);
    expect(() => encodeBindingSuccess(RFC_TXID, { address: '1.2.3.4', port: 70000 })).toThrow(/port/);
    expect(() => encodeBindingSuccess(new Uint8Array(11), FROM4)).toThrow(/transaction id/);
  });

  it('round-trips a Binding request with USERNAME, MESSAGE-INTEGRITY and FINGERPRINT', () => {
    const b = encodeBindingRequest(RFC_TXID, {
      software: 'nat-check',
      username: 'evtj:h6vY',
      integrityKey: KEY,
      fingerprint: true,
    });
    const m = decodeStun(b);
    expect(m.type).toBe(BINDING_REQUEST);
    expect(m.software).toBe('nat-check');
    expect(m.username).toBe('evtj:h6vY');
    expect(m.attributes.map((a) => a.type).slice(-2)).toEqual([
      StunAttr.MESSAGE_INTEGRITY,
      StunAttr.FINGERPRINT,
    ]);
    expect(verifyMessageIntegrity(b, KEY)).toBe(true);
    expect(verifyMessageIntegrity(b, utf8Encode('other'))).toBe(false);
    expect(verifyFingerprint(b)).toBe(true);
  });

  it.each([
    ['§2.2', SAMPLE_IPV4_RESPONSE, hex('0001a147 e112a643')],
    ['§2.3', SAMPLE_IPV6_RESPONSE, hex('0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9')],
  ])(
    'reproduces the RFC 5769 %s response byte-exact (MESSAGE-INTEGRITY and FINGERPRINT)',
    (_n, sample, xma) => {
      const b = encodeStunMessage(
        BINDING_SUCCESS,
        RFC_TXID,
        [
          { type: StunAttr.SOFTWARE, value: utf8Encode('test vector') },
          { type: StunAttr.XOR_MAPPED_ADDRESS, value: xma },
        ],
        { integrityKey: KEY, fingerprint: true, padding: 0x20 },
      );
      expect(toHex(b)).toBe(toHex(sample));
    },
  );

  it('reproduces the RFC 5769 §2.1 request byte-exact', () => {
    const b = encodeStunMessage(
      BINDING_REQUEST,
      RFC_TXID,
      [
        { type: StunAttr.SOFTWARE, value: utf8Encode('STUN test client') },
        { type: StunAttr.PRIORITY, value: hex('6e0001ff') },
        { type: StunAttr.ICE_CONTROLLED, value: hex('932ff9b1 51263b36') },
        { type: StunAttr.USERNAME, value: utf8Encode('evtj:h6vY') },
      ],
      { integrityKey: KEY, fingerprint: true, padding: 0x20 },
    );
    expect(toHex(b)).toBe(toHex(SAMPLE_REQUEST));
  });

  it('random transaction ids differ', () => {
    expect(toHex(decodeStun(encodeBindingRequest()).txId)).not.toBe(
      toHex(decodeStun(encodeBindingRequest()).txId),
    );
  });

  it('encodes ERROR-CODE and UNKNOWN-ATTRIBUTES', () => {
    const b = encodeBindingError(RFC_TXID, 420, 'Unknown Attribute', {
      unknownAttributes: [0x0003, 0x7fff],
      fingerprint: true,
    });
    const m = decodeStun(b);
    expect(m.type).toBe(BINDING_ERROR);
    expect(m.class).toBe('error');
    expect(m.errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(m.unknownAttributes).toEqual([0x0003, 0x7fff]);
    expect(verifyFingerprint(b)).toBe(true);
    const bad = decodeStun(encodeBindingError(RFC_TXID, 400, 'Bad Request'));
    expect(bad.errorCode).toEqual({ code: 400, reason: 'Bad Request' });
    expect(toHex(bad.attributes[0]!.value)).toBe(toHex(utf8Encode('\0\0\x04\0Bad Request')));
    expect(() => encodeBindingError(RFC_TXID, 200, 'OK')).toThrow(/error code/);
  });
});

describe('shortTermKey (OpaqueString)', () => {
  it('is the identity on ASCII', () => {
    expect(toHex(shortTermKey(PASSWORD))).toBe(toHex(utf8Encode(PASSWORD)));
  });
  it('maps non-ASCII spaces and normalizes to NFC', () => {
    expect(toHex(shortTermKey('a\u00a0b'))).toBe(toHex(utf8Encode('a b')));
    expect(toHex(shortTermKey('e\u0301'))).toBe(toHex(utf8Encode('\u00e9')));
  });
  it('refuses empty and control characters', () => {
    expect(() => shortTermKey('')).toThrow();
    expect(() => shortTermKey('a\tb')).toThrow();
  });
});
