import { describe, expect, it } from 'vitest';
import { CipherState } from '../../common/crypto/cipher-state.js';
import { isPunchlineError } from '../../common/errors.js';
import { fromHex, toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import { decodePayload, encodePayload } from '../../common/session/handshake-payload.js';
import {
  DATA_HEADER_BYTES,
  MAX_PLAINTEXT,
  connectionIdOf,
  encodeDataHeader,
  encodeHandshakePacket,
  isSessionPacket,
  openPacket,
  parseDataPacket,
  parseHandshakePacket,
  sealPacket,
} from '../../common/session/packet.js';
import { initialConnectionId } from '../../common/session/session-handshake.js';

const dcid = fromHex('1122334455667788');
const key = (): CipherState => new CipherState(new Uint8Array(32).fill(7));

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isPunchlineError(e) ? e.code : 'OTHER';
  }
  return undefined;
};

describe('session packets', () => {
  it('data header: byte-exact fixture (version, type, dcid, flags, 48-bit packet number)', () => {
    const h = encodeDataHeader({ dcid, keyPhase: 1, pn: 0x0102_0304_0506 });
    expect(toHex(h)).toBe('5133' + '1122334455667788' + '01' + '010203040506');
    expect(h.length).toBe(DATA_HEADER_BYTES);
  });

  it('seals frames under the header as associated data, and opens them', () => {
    const plain = new Uint8Array([1, 2, 3]);
    const d = sealPacket({ dcid, keyPhase: 0, pn: 42 }, plain, key());
    expect(d.length).toBe(17 + 3 + 16);
    expect(connectionIdOf(d)).toBe('1122334455667788');
    const p = parseDataPacket(d);
    expect(p.header).toEqual({ dcid, keyPhase: 0, pn: 42 });
    expect(Array.from(openPacket(p, key()))).toEqual([1, 2, 3]);
  });

  it('a change to any byte is refused: header bytes by the AEAD (they are its associated data)', () => {
    const d = sealPacket({ dcid, keyPhase: 0, pn: 42 }, new Uint8Array(40), key());
    for (let i = 0; i < d.length; i++) {
      const t = new Uint8Array(d);
      t[i]! ^= 0x01;
      const result = code(() => openPacket(parseDataPacket(t), key()));
      // Bytes 0-1 stop being a data packet; bit 1 of the flags byte is reserved; the rest fail the tag.
      expect(result, `byte ${i}`).toBe(i < 2 ? 'MALFORMED' : 'BAD_SIGNATURE');
    }
    const flags = new Uint8Array(d);
    flags[10] = 0x02;
    expect(code(() => parseDataPacket(flags))).toBe('MALFORMED');
  });

  it('rejects truncated and oversized packets', () => {
    const d = sealPacket({ dcid, keyPhase: 0, pn: 1 }, new Uint8Array(0), key());
    for (let n = 0; n < d.length; n++)
      expect(code(() => parseDataPacket(d.subarray(0, n)))).toBe('MALFORMED');
    expect(code(() => parseDataPacket(new Uint8Array(1201).fill(0x51)))).toBe('MALFORMED');
    expect(() => sealPacket({ dcid, keyPhase: 0, pn: 1 }, new Uint8Array(MAX_PLAINTEXT + 1), key())).toThrow(
      RangeError,
    );
    expect(sealPacket({ dcid, keyPhase: 0, pn: 1 }, new Uint8Array(MAX_PLAINTEXT), key()).length).toBe(1200);
  });

  it('handshake packets carry the dcid at the same place; connectionIdOf routes every session type', () => {
    for (const type of [MsgType.SESSION_INIT, MsgType.SESSION_RESPONSE, MsgType.SESSION_FINISH] as const) {
      const d = encodeHandshakePacket(type, dcid, new Uint8Array([9, 9]));
      expect(toHex(d)).toBe(`51${type.toString(16)}1122334455667788` + '0909');
      expect(connectionIdOf(d)).toBe('1122334455667788');
      expect(parseHandshakePacket(d).type).toBe(type);
    }
    expect(connectionIdOf(fromHex('5101' + '00'.repeat(20)))).toBeUndefined(); // a rendezvous HELLO
    expect(connectionIdOf(fromHex('5130'))).toBeUndefined(); // too short for a cid
    expect(isSessionPacket(fromHex('0001' + '00'.repeat(18)))).toBe(false); // STUN
  });

  it('derives the initial connection id from the prologue', () => {
    const a = initialConnectionId(fromHex('0102030405060708'));
    expect(a).toEqual(initialConnectionId(fromHex('0102030405060708')));
    expect(a).not.toEqual(initialConnectionId(fromHex('0102030405060709')));
    expect(a.length).toBe(8);
  });
});

describe('handshake payload', () => {
  const sample = {
    senderCid: fromHex('aaaaaaaaaaaaaaaa'),
    peerCid: fromHex('bbbbbbbbbbbbbbbb'),
    params: { receiveWindow: 0x20_0000, maxAckDelayMs: 25 },
  };
  it('byte-exact fixture and round trip, with zero padding', () => {
    const b = encodePayload(sample);
    expect(toHex(b)).toBe('01' + 'aa'.repeat(8) + 'bb'.repeat(8) + '00200000' + '0019');
    expect(decodePayload(b)).toEqual(sample);
    const padded = encodePayload(sample, 100);
    expect(padded.length).toBe(100);
    expect(decodePayload(padded)).toEqual(sample);
  });
  it('rejects a wrong version, truncation, bad parameters and non-zero padding', () => {
    const b = encodePayload(sample, 30);
    for (let n = 0; n < 23; n++) expect(code(() => decodePayload(b.subarray(0, n)))).toBe('MALFORMED');
    const v = new Uint8Array(b);
    v[0] = 2;
    expect(code(() => decodePayload(v))).toBe('MALFORMED');
    const pad = new Uint8Array(b);
    pad[29] = 1;
    expect(code(() => decodePayload(pad))).toBe('MALFORMED');
    expect(
      code(() =>
        decodePayload(encodePayload({ ...sample, params: { receiveWindow: 0, maxAckDelayMs: 25 } })),
      ),
    ).toBe('MALFORMED');
    expect(
      code(() =>
        decodePayload(encodePayload({ ...sample, params: { receiveWindow: 1, maxAckDelayMs: 20_000 } })),
      ),
    ).toBe('MALFORMED');
  });
});
