/**
 * The RFC 5780 part of the STUN codec and server handler (common/wire/stun.ts): CHANGE-REQUEST,
 * RESPONSE-ORIGIN and OTHER-ADDRESS (decoded for RFC 5780 servers; the rendezvous sends neither),
 * and `answerStunRequest` with and without an alternate port.
 */
import { describe, expect, it } from 'vitest';
import { seeded } from '../support/random.js';
import { isPunchlineError } from '../../common/errors.js';
import { fromHex, toHex } from '../../common/wire/bytes.js';
import {
  BINDING_REQUEST,
  BINDING_SUCCESS,
  StunAttr,
  answerStunRequest,
  decodeStun,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStunMessage,
  handleStunRequest,
  mappedAddressValue,
  verifyFingerprint,
} from '../../common/wire/stun.js';
import type { StunChangeRequest } from '../../common/wire/stun.js';

const hex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''));
const TXID = hex('b7e7a701 bc34d686 fa87dfae');
const FROM = { address: '192.0.2.1', port: 32853 };
const ALT = { alternatePort: true };

describe('CHANGE-REQUEST, RESPONSE-ORIGIN, OTHER-ADDRESS codec', () => {
  it.each<[Partial<StunChangeRequest>, string]>([
    [{}, '00000000'],
    [{ changePort: true }, '00000002'],
    [{ changeIp: true }, '00000004'],
    [{ changeIp: true, changePort: true }, '00000006'],
  ])('CHANGE-REQUEST %j is %s (RFC 5780 §7.2) and decodes back', (flags, value) => {
    const req = encodeBindingRequest(TXID, { changeRequest: flags });
    expect(toHex(req)).toBe(
      `00010008 2112a442 b7e7a701bc34d686fa87dfae 00030004 ${value}`.replace(/\s/g, ''),
    );
    expect(decodeStun(req).changeRequest).toEqual({
      changeIp: flags.changeIp === true,
      changePort: flags.changePort === true,
    });
    expect(decodeStun(req).unknownRequired).toEqual([]);
  });

  it('ignores the undefined CHANGE-REQUEST bits and rejects a wrong length', () => {
    const odd = encodeStunMessage(BINDING_REQUEST, TXID, [{ type: 0x0003, value: hex('ffffff f9') }]);
    expect(decodeStun(odd).changeRequest).toEqual({ changeIp: false, changePort: false });
    const short = encodeStunMessage(BINDING_REQUEST, TXID, [{ type: 0x0003, value: hex('0006') }]);
    let err: unknown;
    try {
      decodeStun(short);
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err, 'MALFORMED')).toBe(true);
    expect(answerStunRequest(short, FROM, ALT)).toBeUndefined();
  });

  it('encodes RESPONSE-ORIGIN and OTHER-ADDRESS in MAPPED-ADDRESS form (not XORed), byte for byte', () => {
    const res = encodeBindingSuccess(TXID, FROM, {
      responseOrigin: { address: '203.0.113.10', port: 7001 },
      otherAddress: { address: '203.0.113.10', port: 7000 },
      software: 'punchline',
      fingerprint: true,
    });
    expect(res).toHaveLength(80);
    expect(toHex(res.subarray(0, 56))).toBe(
      [
        '0101003c 2112a442 b7e7a701 bc34d686 fa87dfae',
        '00200008 0001a147 e112a643', // XOR-MAPPED-ADDRESS 192.0.2.1:32853
        '802b0008 00011b59 cb00710a', // RESPONSE-ORIGIN 203.0.113.10:7001
        '802c0008 00011b58 cb00710a', // OTHER-ADDRESS 203.0.113.10:7000
      ]
        .join('')
        .replace(/\s/g, ''),
    );
    const m = decodeStun(res);
    expect(m.xorMappedAddress).toEqual(FROM);
    expect(m.responseOrigin).toEqual({ address: '203.0.113.10', port: 7001 });
    expect(m.otherAddress).toEqual({ address: '203.0.113.10', port: 7000 });
    expect(verifyFingerprint(res)).toBe(true);
    expect(toHex(mappedAddressValue({ address: '2001:db8::1', port: 1 }))).toBe(
      '00020001' + '20010db8000000000000000000000001',
    );
  });
});

describe('answerStunRequest with an alternate port (RFC 5780 §6, one server address)', () => {
  const req = (change?: Partial<StunChangeRequest>): Uint8Array =>
    encodeBindingRequest(TXID, { fingerprint: true, ...(change ? { changeRequest: change } : {}) });

  it.each([
    ['a plain request', undefined, 'this'],
    ['CHANGE-REQUEST with no flag', {}, 'this'],
    ['"change port"', { changePort: true }, 'other'],
  ] as const)('%s: answered from %s socket, the same 56 bytes', (_n, change, via) => {
    const a = answerStunRequest(req(change), FROM, ALT)!;
    expect(a.via).toBe(via);
    expect(a.bytes).toEqual(handleStunRequest(encodeBindingRequest(TXID), FROM));
    const m = decodeStun(a.bytes);
    expect(m.type).toBe(BINDING_SUCCESS);
    expect(m.xorMappedAddress).toEqual(FROM);
    expect(a.bytes.length).toBe(56);
  });

  it('never sends OTHER-ADDRESS (one IP address, RFC 5780 §6: standard clients would misread it) nor RESPONSE-ORIGIN', () => {
    for (const change of [undefined, {}, { changePort: true }]) {
      const m = decodeStun(answerStunRequest(req(change), FROM, ALT)!.bytes);
      expect(m.otherAddress).toBeUndefined();
      expect(m.responseOrigin).toBeUndefined();
    }
  });

  it.each<[Partial<StunChangeRequest>]>([[{ changeIp: true }], [{ changeIp: true, changePort: true }]])(
    '"change IP" %j cannot be honoured with one address: dropped, not answered',
    (change) => {
      expect(answerStunRequest(req(change), FROM, ALT)).toBeUndefined();
    },
  );

  it('other unknown comprehension-required attributes still get 420 (RESPONSE-PORT is not supported)', () => {
    const r = encodeStunMessage(BINDING_REQUEST, TXID, [
      { type: StunAttr.CHANGE_REQUEST, value: hex('00000002') },
      { type: 0x0027, value: hex('1f400000') },
    ]);
    const a = answerStunRequest(r, FROM, ALT)!;
    expect(a.via).toBe('this');
    expect(decodeStun(a.bytes).errorCode?.code).toBe(420);
    expect(decodeStun(a.bytes).unknownAttributes).toEqual([0x0027]);
  });
});

describe('answerStunRequest without an alternate port (one socket)', () => {
  it.each([[{}], [{ changePort: true }], [{ changeIp: true }]])(
    'any CHANGE-REQUEST (%j) gets 420 listing it, as RFC 5780 §6 asks of a server with no alternate',
    (change) => {
      const r = encodeBindingRequest(TXID, { changeRequest: change, fingerprint: true });
      const a = answerStunRequest(r, FROM)!;
      expect(a.via).toBe('this');
      const m = decodeStun(a.bytes);
      expect(m.errorCode).toEqual({ code: 420, reason: 'Unknown Attribute' });
      expect(m.unknownAttributes).toEqual([0x0003]);
      expect(handleStunRequest(r, FROM)).toEqual(a.bytes);
    },
  );

  it('a plain request is answered as before: 56 bytes, no RFC 5780 attributes', () => {
    const a = answerStunRequest(encodeBindingRequest(TXID), FROM)!;
    expect(a.bytes.length).toBe(56);
    expect(decodeStun(a.bytes).otherAddress).toBeUndefined();
  });
});

describe('fuzz: RFC 5780 requests and their mutations', () => {
  it('10k single-byte mutations: only MALFORMED from the decoder, the handler never throws, answers stay small', () => {
    const rand = seeded(5780);
    const seeds = [
      encodeBindingRequest(TXID, { changeRequest: {}, fingerprint: true }),
      encodeBindingRequest(TXID, { changeRequest: { changePort: true } }),
      encodeBindingRequest(TXID, { changeRequest: { changeIp: true, changePort: true }, software: 'x' }),
      encodeBindingSuccess(TXID, FROM, {
        responseOrigin: FROM,
        otherAddress: { address: '2001:db8::1', port: 7001 },
        fingerprint: true,
      }),
    ];
    let answered = 0;
    for (let i = 0; i < 10_000; i++) {
      const buf = seeds[i % seeds.length]!.slice();
      buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      try {
        decodeStun(buf);
      } catch (e) {
        if (!isPunchlineError(e, 'MALFORMED')) throw e;
      }
      for (const alternatePort of [true, false]) {
        const a = answerStunRequest(buf, FROM, { alternatePort });
        if (!a) continue;
        answered++;
        expect(a.bytes.length).toBeLessThanOrEqual(92);
      }
    }
    expect(answered).toBeGreaterThan(1000);
  });
});
