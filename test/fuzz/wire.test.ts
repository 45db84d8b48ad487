import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../common/endpoint.js';
import { Reader, Writer, fromHex } from '../../common/wire/bytes.js';
import { Limits, MsgType, RELAY_POLICY_DEFAULTS, VERSION_BYTE } from '../../common/wire/constants.js';
import {
  readEndpoint,
  readEndpointList,
  writeEndpoint,
  writeEndpointList,
} from '../../common/wire/endpoint-codec.js';
import type { Message } from '../../common/wire/messages.js';
import { MAX_SEQUENTIAL_STEP } from '../../common/nat-behaviour.js';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import { readPortBehaviour, writePortBehaviour } from '../../common/wire/port-behaviour-codec.js';
import { AUTHENTICATED_TYPES, decode, encode, encodeRelayFrame } from '../../common/wire/messages.js';
import {
  AUTH_TRAILER_BYTES,
  AuthChannel,
  deriveServerAuthKeys,
  isUnsealed,
  parseFingerprint,
  trailerSeq,
} from '../../common/wire/server-auth.js';
import { REPO } from '../support/proc.js';
import { SAMPLES } from '../wire/samples.js';
import {
  anyBytes,
  bytesAfter,
  bytesOf,
  check,
  decodesOrRefuses,
  endpoint,
  mutationOf,
  text,
  u16,
  u32,
  u48,
  u8,
  withinBound,
} from './support.js';

const FILE = 'test/fuzz/wire.test.ts';

/** The seed corpus: the byte-exact fixtures of every message type, and each sample encoded (sealed where authenticated). */
const FIXTURES = Object.values(
  JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/messages.json'), 'utf8')) as Record<string, string>,
).map(fromHex);
const auth = (): { server: AuthChannel; peer: AuthChannel } => {
  const shared = new Uint8Array(32).fill(5);
  const [txid, cookie] = [new Uint8Array(8).fill(1), new Uint8Array(20).fill(2)];
  return {
    server: new AuthChannel(deriveServerAuthKeys(shared, 'udp', txid, cookie, 'server')),
    peer: new AuthChannel(deriveServerAuthKeys(shared, 'udp', txid, cookie, 'peer')),
  };
};
const sealer = auth().server;
const CORPUS = [
  ...FIXTURES,
  ...Object.values(SAMPLES).map((m) =>
    AUTHENTICATED_TYPES.has(m.type) ? sealer.seal(encode(m)) : encode(m),
  ),
];
const TYPES = Object.values(MsgType);
const PREFIXES = [...TYPES, 0x00, 0xff].map((t) => Uint8Array.of(VERSION_BYTE, t));

/** decode() of hostile bytes: a Message within the allocation bound, or MALFORMED. */
function decodeHostile(b: Uint8Array): Message | undefined {
  const m = decodesOrRefuses(() => decode(b));
  if (m) expect(withinBound(m, b.length)).toBe(true);
  return m;
}

// Arbitrary valid messages of every type (the encoder's domain).
const txid = bytesOf(Limits.TXID_BYTES);
const id = bytesOf(Limits.ID_BYTES);
const key = bytesOf(Limits.KEY_BYTES);
const sig = bytesOf(Limits.SIG_BYTES);
const positiveU32 = u32().filter((v) => v > 0);
const lan = fc.array(endpoint(), { maxLength: Limits.MAX_LAN_ENDPOINTS });
const name = text(Limits.MAX_NAME_BYTES);
/** A known port behaviour (what INTRODUCE carries), and any (what NAT_INFO carries). */
const knownNat: fc.Arbitrary<PortBehaviour> = fc.oneof(
  fc.record({ kind: fc.constant('consistent' as const), preserved: fc.boolean() }),
  fc.record({
    kind: fc.constant('sequential' as const),
    step: fc
      .integer({ min: -MAX_SEQUENTIAL_STEP, max: MAX_SEQUENTIAL_STEP - 1 })
      .map((s) => (s >= 0 ? s + 1 : s)),
    last: fc.integer({ min: 1, max: 0xffff }),
  }),
  fc.constant({ kind: 'random' as const }),
);
const anyNat: fc.Arbitrary<PortBehaviour> = fc.oneof(knownNat, fc.constant({ kind: 'unknown' as const }));
const MESSAGES: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(MsgType.HELLO), txid }),
  fc.record({
    type: fc.constant(MsgType.COOKIE),
    txid,
    cookie: bytesOf(Limits.COOKIE_BYTES),
    serverKey: key,
  }),
  fc.record({
    type: fc.constant(MsgType.REGISTER),
    txid,
    cookie: bytesOf(Limits.COOKIE_BYTES),
    time: u48(),
    room: text(Limits.MAX_ROOM_BYTES),
    name,
    signKey: key,
    dhKey: key,
    lan,
    signature: sig,
  }),
  fc.record({
    type: fc.constant(MsgType.REGISTERED),
    txid,
    id,
    observed: endpoint(),
    keepaliveMs: u32(),
    expiryMs: u32(),
  }),
  fc.record({ type: fc.constant(MsgType.KEEPALIVE), txid, id, presenceVersion: u32() }),
  fc.record({ type: fc.constant(MsgType.KEEPALIVE_ACK), txid, observed: endpoint(), presenceVersion: u32() }),
  fc
    .record({
      version: u32(),
      parts: fc.integer({ min: 1, max: 255 }),
      partSeed: u8(),
      members: fc.array(fc.record({ id, name }), { maxLength: 12 }),
      extra: u16(),
    })
    .map(({ version, parts, partSeed, members, extra }) => ({
      type: MsgType.PRESENCE,
      version,
      part: partSeed % parts,
      parts,
      total: Math.min(0xffff, members.length + extra),
      members,
    })),
  fc.record({ type: fc.constant(MsgType.CONNECT), txid, id, target: id }),
  fc.record({
    type: fc.constant(MsgType.INTRODUCE),
    txid,
    introId: bytesOf(Limits.INTRO_ID_BYTES),
    initiator: fc.boolean(),
    id,
    name,
    signKey: key,
    dhKey: key,
    observed: endpoint(),
    lan,
    nat: fc.option(knownNat, { nil: undefined }),
  }),
  fc.record({ type: fc.constantFrom(MsgType.INTRODUCE_ACK, MsgType.LEAVE), txid, id }),
  fc.record({ type: fc.constant(MsgType.NAT_INFO), txid, id, nat: anyNat }),
  fc.record({
    type: fc.constant(MsgType.ERROR),
    txid,
    code: u16(),
    message: text(Limits.MAX_ERROR_TEXT_BYTES),
  }),
  fc.record({
    type: fc.constant(MsgType.PROBE),
    introId: bytesOf(Limits.INTRO_ID_BYTES),
    from: id,
    to: id,
    seq: u16(),
    timestamp: u48(),
    seen: fc.constant(undefined),
    signature: sig,
  }),
  fc.record({
    type: fc.constant(MsgType.PROBE_ACK),
    introId: bytesOf(Limits.INTRO_ID_BYTES),
    from: id,
    to: id,
    seq: u16(),
    timestamp: u48(),
    seen: endpoint(),
    signature: sig,
  }),
  fc.record({ type: fc.constant(MsgType.GOING_AWAY), withinMs: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant(MsgType.PORT_PROBE), tag: bytesOf(Limits.PORT_PROBE_TAG_BYTES), seq: u16() }),
  fc.record({
    type: fc.constantFrom(MsgType.RELAY, MsgType.RELAYED),
    peer: id,
    payload: fc.uint8Array({ maxLength: 1500 }), // up to MAX_RELAY_PAYLOAD: the relay properties below
  }),
  fc.record({
    type: fc.constant(MsgType.RELAY_POLICY),
    rateBytes: positiveU32,
    burstBytes: positiveU32,
    rateFrames: positiveU32,
    burstFrames: positiveU32,
  }),
) as fc.Arbitrary<Message>;

/** Plain data for toEqual: byte views become arrays. */
const plain = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (ArrayBuffer.isView(x) ? [...(x as Uint8Array)] : x)));

describe('fuzz: rendezvous and peer messages (common/wire/messages.ts)', () => {
  it('arbitrary bytes decode to a bounded message or MALFORMED', () => {
    check(
      FILE,
      fc.property(fc.oneof(anyBytes(), bytesAfter(PREFIXES)), (b) => void decodeHostile(b)),
    );
  });

  it('mutations of valid encodings of every type decode to a bounded message or MALFORMED', () => {
    check(
      FILE,
      fc.property(mutationOf(CORPUS), (b) => void decodeHostile(b)),
      3,
    );
  });

  it('decode(encode(m)) == m for arbitrary valid messages of every type, and decoding is canonical', () => {
    check(
      FILE,
      fc.property(MESSAGES, (m) => {
        const bytes = encode(m);
        const back = decode(bytes);
        expect(plain(back)).toEqual(plain(m));
        expect(encode(back)).toEqual(bytes); // one message, one encoding
      }),
      2,
    );
  });

  it('numbers out of their field range are refused by encode() (RangeError), never wrapped into another message', () => {
    const wide = fc.oneof(
      fc.integer({ min: -0x1_0000, max: 0x1_0000 }),
      fc.constantFrom(-1, 0.5, 256, 65536, 2 ** 32, 2 ** 48, 2 ** 53, NaN, Infinity, -Infinity),
    );
    const numeric = [
      'time',
      'keepaliveMs',
      'expiryMs',
      'presenceVersion',
      'version',
      'part',
      'parts',
      'total',
      'code',
      'seq',
      'timestamp',
    ];
    check(
      FILE,
      fc.property(MESSAGES, fc.constantFrom(...numeric), wide, (m, field, value) => {
        if (!(field in m)) return;
        const bent = { ...m, [field]: value } as Message;
        let bytes: Uint8Array;
        try {
          bytes = encode(bent);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        const back = decodesOrRefuses(() => decode(bytes));
        if (back) expect(plain(back)).toEqual(plain(bent));
      }),
      2,
    );
  });
});

describe('fuzz: port behaviour (common/wire/port-behaviour-codec.ts)', () => {
  it('arbitrary bytes read as a valid behaviour or MALFORMED', () => {
    check(
      FILE,
      fc.property(anyBytes(8), (b) => {
        const nat = decodesOrRefuses(() => readPortBehaviour(new Reader(b)));
        if (nat?.kind === 'sequential') {
          expect(nat.step).not.toBe(0);
          expect(Math.abs(nat.step)).toBeLessThanOrEqual(MAX_SEQUENTIAL_STEP);
          expect(nat.last).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('a step or port out of range is refused by the writer (RangeError), never wrapped', () => {
    const wide = fc.oneof(fc.integer({ min: -300, max: 70_000 }), fc.constantFrom(0.5, NaN, Infinity));
    check(
      FILE,
      fc.property(wide, wide, (step, last) => {
        const w = new Writer();
        try {
          writePortBehaviour(w, { kind: 'sequential', step, last });
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          return;
        }
        expect(readPortBehaviour(new Reader(w.finish()))).toEqual({ kind: 'sequential', step, last });
      }),
    );
  });
});

describe('fuzz: server authentication trailer (common/wire/server-auth.ts)', () => {
  it('open() of arbitrary and mutated sealed bytes returns false, never throws, and accepts no change', () => {
    const sealedCorpus = Object.values(SAMPLES)
      .filter((m) => AUTHENTICATED_TYPES.has(m.type))
      .map((m) => auth().server.seal(encode(m)));
    check(
      FILE,
      fc.property(fc.oneof(anyBytes(200), mutationOf(sealedCorpus)), (b) => {
        const { peer } = auth();
        const genuine = sealedCorpus.some((s) => s.length === b.length && s.every((x, i) => x === b[i]));
        expect(peer.open(b)).toBe(genuine);
        expect(Number.isInteger(trailerSeq(b))).toBe(true);
        expect(typeof isUnsealed(b)).toBe('boolean');
      }),
    );
  });

  it('seal then open round-trips for arbitrary messages; the other direction and replays are refused', () => {
    check(
      FILE,
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 300 }), (body) => {
        const { server, peer } = auth();
        const bytes = server.seal(new Uint8Array([...body, ...new Uint8Array(AUTH_TRAILER_BYTES)]));
        expect(server.open(bytes)).toBe(false); // its own direction
        expect(peer.open(bytes)).toBe(true);
        expect(peer.open(bytes)).toBe(false); // replay
      }),
    );
  });

  it('parseFingerprint of arbitrary text is undefined or 32 lower-case hex digits', () => {
    check(
      FILE,
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F:]{0,48}$/)), (t) => {
        const fp = parseFingerprint(t);
        if (fp !== undefined) expect(fp).toMatch(/^[0-9a-f]{32}$/);
      }),
    );
  });
});

describe('fuzz: endpoints (common/wire/endpoint-codec.ts, common/endpoint.ts)', () => {
  it('readEndpoint / readEndpointList of arbitrary bytes: endpoints with a port in 0-65535, or MALFORMED', () => {
    check(
      FILE,
      fc.property(anyBytes(100), (b) => {
        const one = decodesOrRefuses(() => readEndpoint(new Reader(b)));
        if (one) expect(one.port).toBeGreaterThanOrEqual(0);
        if (one) expect(one.port).toBeLessThanOrEqual(0xffff);
        const list = decodesOrRefuses(() => readEndpointList(new Reader(b), Limits.MAX_LAN_ENDPOINTS));
        if (list) expect(list.length).toBeLessThanOrEqual(Limits.MAX_LAN_ENDPOINTS);
      }),
    );
  });

  it('writeEndpoint refuses ports and addresses it cannot carry (RangeError or MALFORMED), never wraps them', () => {
    const port = fc.oneof(
      u16(),
      fc.integer({ min: -0x20000, max: 0x20000 }),
      fc.constantFrom(65536, 70000, -1, 1.5, NaN, Infinity, 2 ** 32 + 80),
    );
    const address = fc.oneof(
      endpoint().map((e) => e.address),
      fc.string({ maxLength: 20 }),
    );
    check(
      FILE,
      fc.property(address, port, (a, p) => {
        const w = new Writer();
        try {
          writeEndpoint(w, { address: a, port: p });
        } catch (e) {
          expect(e instanceof RangeError || (e as { code?: string }).code === 'MALFORMED').toBe(true);
          return;
        }
        const back = readEndpoint(new Reader(w.finish()));
        expect(back.port).toBe(p);
        expect(back.address.split('.').map(Number)).toEqual(a.split('.').map(Number));
      }),
    );
  });

  it('endpoint lists round-trip', () => {
    check(
      FILE,
      fc.property(fc.array(endpoint(), { maxLength: Limits.MAX_LAN_ENDPOINTS }), (list) => {
        const w = new Writer();
        writeEndpointList(w, list, Limits.MAX_LAN_ENDPOINTS);
        const r = new Reader(w.finish());
        expect(readEndpointList(r, Limits.MAX_LAN_ENDPOINTS)).toEqual(list);
        r.end();
      }),
    );
  });

  it('parseEndpoint of arbitrary text: a port in 1-65535, or BAD_ARGUMENT', () => {
    const hostPort = fc
      .tuple(fc.string({ maxLength: 20 }), fc.oneof(fc.nat().map(String), fc.string({ maxLength: 8 })))
      .map(([h, p]) => `${h}:${p}`);
    check(
      FILE,
      fc.property(fc.oneof(fc.string(), hostPort), (t) => {
        const e = decodesOrRefuses(() => parseEndpoint(t), ['BAD_ARGUMENT']);
        if (e) expect(Number.isInteger(e.port) && e.port >= 1 && e.port <= 65535).toBe(true);
      }),
    );
  });
});

describe('fuzz: relay frames (RELAY / RELAYED over the WebSocket)', () => {
  it('the relay frame encoder and decoder agree for arbitrary peers and payloads up to the limit', () => {
    check(
      FILE,
      fc.property(
        fc.constantFrom(MsgType.RELAY, MsgType.RELAYED),
        id,
        fc.uint8Array({ maxLength: Limits.MAX_RELAY_PAYLOAD }),
        (type, peer, payload) => {
          const frame = encodeRelayFrame(type, peer, payload);
          expect(frame.length).toBe(Limits.RELAY_HEADER_BYTES + payload.length);
          expect(plain(decode(frame))).toEqual(plain({ type, peer, payload }));
        },
      ),
      0.3,
    );
  });

  it('mutated relay frames decode to a frame whose payload is exactly what its length says, or MALFORMED', () => {
    const frames = [
      encodeRelayFrame(MsgType.RELAY, new Uint8Array(16).fill(1), new Uint8Array(100).fill(9)),
      encodeRelayFrame(MsgType.RELAYED, new Uint8Array(16).fill(2), new Uint8Array(0)),
    ];
    check(
      FILE,
      fc.property(mutationOf(frames), (b) => {
        const m = decodeHostile(b);
        if (m && (m.type === MsgType.RELAY || m.type === MsgType.RELAYED)) {
          expect(m.payload.length).toBe(b.length - Limits.RELAY_HEADER_BYTES);
          expect(m.payload.length).toBeLessThanOrEqual(Limits.MAX_RELAY_PAYLOAD);
        }
      }),
    );
  });

  it('a mutated RELAY_POLICY decodes to limits that are all at least 1, or MALFORMED', () => {
    const policies = [
      encode({
        type: MsgType.RELAY_POLICY,
        rateBytes: 1,
        burstBytes: 2,
        rateFrames: 3,
        burstFrames: 0xffffffff,
      }),
      encode({ type: MsgType.RELAY_POLICY, ...RELAY_POLICY_DEFAULTS }),
    ];
    check(
      FILE,
      fc.property(mutationOf(policies), (b) => {
        const m = decodeHostile(b);
        if (m?.type !== MsgType.RELAY_POLICY) return;
        expect(b.length).toBe(18);
        for (const v of [m.rateBytes, m.burstBytes, m.rateFrames, m.burstFrames])
          expect(v >= 1 && v <= 0xffffffff).toBe(true);
      }),
    );
  });
});
