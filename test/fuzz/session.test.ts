import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHandshake } from '../../common/crypto/handshake.js';
import { CipherState } from '../../common/crypto/cipher-state.js';
import { generateKeyPair } from '../../common/crypto/x25519.js';
import { PunchlineError } from '../../common/errors.js';
import { fromWireRanges } from '../../common/session/ack-ranges.js';
import type { Frame } from '../../common/session/frames.js';
import { MAX_STREAM_FRAME_DATA, decodeFrames, encodeFrames } from '../../common/session/frames.js';
import {
  MAX_ACK_DELAY_LIMIT_MS,
  PAYLOAD_BYTES,
  decodePayload,
  encodePayload,
} from '../../common/session/handshake-payload.js';
import {
  MAX_PLAINTEXT,
  encodeHandshakePacket,
  openPacket,
  parseDataPacket,
  parseHandshakePacket,
  sealPacket,
} from '../../common/session/packet.js';
import { readVarint, writeVarint } from '../../common/session/varint.js';
import { Reader, Writer } from '../../common/wire/bytes.js';
import { MsgType, VERSION_BYTE } from '../../common/wire/constants.js';
import { utf8Encode } from '../../common/wire/bytes.js';
import {
  anyBytes,
  bytesAfter,
  bytesOf,
  check,
  decodesOrRefuses,
  mutationOf,
  u32,
  u48,
  withinBound,
} from './support.js';

const FILE = 'test/fuzz/session.test.ts';

const varint = fc.oneof(
  fc.integer({ min: 0, max: 0x3f }),
  fc.integer({ min: 0, max: 0x3fff }),
  u32(),
  fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }).map(Number),
);
const small = fc.integer({ min: 0, max: 1000 });
const ack = fc
  .record({
    largest: varint,
    firstRange: small,
    rest: fc.array(fc.record({ gap: small, length: small }), { maxLength: 31 }),
    delayUs: varint,
  })
  .filter(({ largest, firstRange, rest }) => {
    try {
      fromWireRanges({ largest, firstRange, rest });
      return true;
    } catch {
      return false;
    }
  })
  .map(({ largest, firstRange, rest, delayUs }): Frame => ({
    type: 'ack',
    delayUs,
    ranges: fromWireRanges({ largest, firstRange, rest }),
  }));
const FRAME: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant('padding' as const), length: fc.integer({ min: 1, max: 40 }) }),
  fc.constant({ type: 'ping' as const }),
  ack,
  fc
    .record({ offset: varint, data: fc.uint8Array({ maxLength: MAX_STREAM_FRAME_DATA }) })
    .filter(({ offset, data }) => Number.isSafeInteger(offset + data.length))
    .map(({ offset, data }): Frame => ({ type: 'stream', offset, data })),
  fc.record({ type: fc.constant('receipt' as const), count: varint }),
  fc.record({ type: fc.constantFrom('pathChallenge' as const, 'pathResponse' as const), data: bytesOf(8) }),
  fc.record({ type: fc.constant('close' as const), code: fc.integer({ min: 0, max: 255 }) }),
);

/** Adjacent PADDING frames are one run on the wire. */
function merged(frames: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (f.type === 'padding' && last?.type === 'padding')
      out[out.length - 1] = { type: 'padding', length: last.length + f.length };
    else out.push(f);
  }
  return out;
}
const plain = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (ArrayBuffer.isView(x) ? [...(x as Uint8Array)] : x)));

const FRAME_CORPUS = [
  encodeFrames([{ type: 'ping' }, { type: 'padding', length: 3 }]),
  encodeFrames([
    {
      type: 'ack',
      delayUs: 1000,
      ranges: [
        { smallest: 8, largest: 10 },
        { smallest: 2, largest: 5 },
      ],
    },
  ]),
  encodeFrames([
    { type: 'stream', offset: 70000, data: utf8Encode('hello') },
    { type: 'receipt', count: 3 },
  ]),
  encodeFrames([
    { type: 'pathChallenge', data: new Uint8Array(8).fill(1) },
    { type: 'close', code: 1 },
  ]),
];

function hostileFrames(b: Uint8Array): void {
  const frames = decodesOrRefuses(() => decodeFrames(b));
  if (frames) {
    expect(withinBound(frames, b.length)).toBe(true);
    expect(frames.length).toBeLessThanOrEqual(b.length);
  }
}

describe('fuzz: session frames (common/session/frames.ts)', () => {
  it('arbitrary plaintext decodes to bounded frames or MALFORMED', () => {
    check(
      FILE,
      fc.property(
        fc.oneof(
          anyBytes(MAX_PLAINTEXT),
          bytesAfter(
            [0, 1, 2, 3, 4, 5, 6, 7].map((t) => Uint8Array.of(t)),
            200,
          ),
        ),
        hostileFrames,
      ),
    );
  });

  it('mutations of valid frame sequences behave the same', () => {
    check(FILE, fc.property(mutationOf(FRAME_CORPUS), hostileFrames), 2);
  });

  it('decodeFrames(encodeFrames(f)) == f for arbitrary frames, and the encoding is canonical', () => {
    check(
      FILE,
      fc.property(fc.array(FRAME, { maxLength: 6 }), (frames) => {
        const bytes = encodeFrames(frames);
        const back = decodeFrames(bytes);
        expect(plain(back)).toEqual(plain(merged(frames)));
        expect(encodeFrames(back)).toEqual(bytes);
      }),
    );
  });

  it('varints round-trip and never decode above 2^53 - 1', () => {
    check(
      FILE,
      fc.property(varint, anyBytes(9), (v, junk) => {
        const w = new Writer();
        writeVarint(w, v);
        expect(readVarint(new Reader(w.finish()))).toBe(v);
        const x = decodesOrRefuses(() => readVarint(new Reader(junk)));
        if (x !== undefined) expect(Number.isSafeInteger(x) && x >= 0).toBe(true);
      }),
    );
  });
});

const KEY = new Uint8Array(32).fill(3);
const DCID = new Uint8Array(8).fill(9);
const PACKETS = [0, 5, 2 ** 40].map((pn, i) =>
  sealPacket(
    { dcid: DCID, keyPhase: (i % 2) as 0 | 1, pn },
    encodeFrames([{ type: 'ping' }]),
    new CipherState(KEY),
  ),
);

describe('fuzz: session packets (common/session/packet.ts)', () => {
  it('arbitrary and mutated datagrams: parse and open give the frames back, or MALFORMED / BAD_SIGNATURE', () => {
    const prefixes = [0x30, 0x31, 0x32, 0x33].map((t) => Uint8Array.of(VERSION_BYTE, t));
    check(
      FILE,
      fc.property(fc.oneof(anyBytes(), bytesAfter(prefixes), mutationOf(PACKETS)), (b) => {
        const genuine = PACKETS.some((p) => p.length === b.length && p.every((x, i) => x === b[i]));
        const parsed = decodesOrRefuses(() => parseDataPacket(b));
        const opened =
          parsed &&
          decodesOrRefuses(() => openPacket(parsed, new CipherState(KEY)), ['MALFORMED', 'BAD_SIGNATURE']);
        expect(opened !== undefined).toBe(genuine);
        const hs = decodesOrRefuses(() => parseHandshakePacket(b));
        if (hs) expect(hs.message.length).toBe(b.length - 10);
      }),
      2,
    );
  });

  it('seal then parse and open round-trips any header and plaintext', () => {
    check(
      FILE,
      fc.property(
        bytesOf(8),
        fc.constantFrom(0 as const, 1 as const),
        u48(),
        fc.uint8Array({ maxLength: MAX_PLAINTEXT }),
        (dcid, keyPhase, pn, pt) => {
          const p = parseDataPacket(sealPacket({ dcid, keyPhase, pn }, pt, new CipherState(KEY)));
          expect(plain(p.header)).toEqual(plain({ dcid, keyPhase, pn }));
          expect(openPacket(p, new CipherState(KEY))).toEqual(pt);
          const hs = parseHandshakePacket(encodeHandshakePacket(MsgType.SESSION_INIT, dcid, pt));
          expect([...hs.message]).toEqual([...pt]);
        },
      ),
      0.3,
    );
  });
});

describe('fuzz: Noise handshake payloads and messages (common/session/handshake-payload.ts, common/crypto/handshake.ts)', () => {
  const params = fc.record({
    receiveWindow: u32().filter((n) => n > 0),
    maxAckDelayMs: fc.integer({ min: 0, max: MAX_ACK_DELAY_LIMIT_MS }),
  });
  it('decodePayload(encodePayload(p)) == p, padded or not', () => {
    check(
      FILE,
      fc.property(
        bytesOf(8),
        bytesOf(8),
        params,
        fc.integer({ min: 0, max: 1200 }),
        (senderCid, peerCid, p, padTo) => {
          expect(plain(decodePayload(encodePayload({ senderCid, peerCid, params: p }, padTo)))).toEqual(
            plain({ senderCid, peerCid, params: p }),
          );
        },
      ),
    );
  });

  it('arbitrary and mutated payloads decode within bounds or MALFORMED', () => {
    const seeds = [
      encodePayload({
        senderCid: DCID,
        peerCid: new Uint8Array(8),
        params: { receiveWindow: 1 << 20, maxAckDelayMs: 25 },
      }),
      encodePayload({ senderCid: DCID, peerCid: DCID, params: { receiveWindow: 1, maxAckDelayMs: 0 } }, 1100),
    ];
    check(
      FILE,
      fc.property(fc.oneof(anyBytes(PAYLOAD_BYTES * 2), mutationOf(seeds)), (b) => {
        const p = decodesOrRefuses(() => decodePayload(b));
        if (p) expect(withinBound(p, b.length)).toBe(true);
      }),
    );
  });

  it('Noise XX messages: arbitrary and mutated bytes are refused with MALFORMED or BAD_SIGNATURE, never accepted', () => {
    const alice = generateKeyPair();
    const bob = generateKeyPair();
    const prologue = utf8Encode('fuzz');
    const pair = (): {
      init: ReturnType<typeof createHandshake>;
      resp: ReturnType<typeof createHandshake>;
    } => ({
      init: createHandshake({ pattern: 'XX', initiator: true, prologue, staticKey: alice }),
      resp: createHandshake({ pattern: 'XX', initiator: false, prologue, staticKey: bob }),
    });
    const { init, resp } = pair();
    const m1 = init.writeMessage(new Uint8Array(40));
    resp.readMessage(m1);
    const m2 = resp.writeMessage(new Uint8Array(20));
    check(
      FILE,
      fc.property(
        fc.oneof(anyBytes(200), mutationOf([m2])),
        fc.oneof(anyBytes(200), mutationOf([m1])),
        (b2, b1) => {
          // Message 2 to an initiator that sent message 1: only the genuine bytes are accepted.
          const p = pair();
          p.init.writeMessage(new Uint8Array(40));
          const genuine = b2.length === m2.length && b2.every((x, i) => x === m2[i]);
          let ok = false;
          try {
            p.init.readMessage(b2);
            ok = true;
          } catch (e) {
            expect(e).toBeInstanceOf(PunchlineError);
            expect(['MALFORMED', 'BAD_SIGNATURE']).toContain((e as PunchlineError).code);
          }
          if (!genuine) expect(ok).toBe(false); // another initiator's ephemeral: cannot match
          // Message 1 to a responder: any 32 bytes are an ephemeral key; the rest must be the payload.
          const r = pair().resp;
          decodesOrRefuses(() => r.readMessage(b1), ['MALFORMED', 'BAD_SIGNATURE']);
        },
      ),
      0.3,
    );
  });
});
