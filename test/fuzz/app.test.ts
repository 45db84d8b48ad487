import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intFlag, parseFlags } from '../../common/cli/args.js';
import { MAX_SERVERS, parseServer, parseServerList } from '../../peer/cli/server-flag.js';
import { parseCommand } from '../../peer/cli/json-commands.js';
import { parseInput } from '../../peer/tui/commands.js';
import { MAX_APP_ID, MAX_TIMESTAMP_MS, decodeApp, encodeApp, isTimestamp } from '../../peer/app-message.js';
import type { AppMessage } from '../../peer/app-message.js';
import { MAX_TRANSFER_ID, decodeBulk, encodeBulk } from '../../peer/bulk-record.js';
import type { BulkRecord } from '../../peer/bulk-record.js';
import type { ErrorCode } from '../../common/errors.js';
import {
  MAX_FILE_ID,
  MAX_NAME_BYTES,
  decodeFileControl,
  encodeFileControl,
} from '../../peer/chat/file-control.js';
import type { FileControl } from '../../peer/chat/file-control.js';
import {
  anyBytes,
  anyFileContent,
  check,
  decodesOrRefuses,
  text,
  textMutationOf,
  withinBound,
} from './support.js';

const FILE = 'test/fuzz/app.test.ts';

const MESSAGE: fc.Arbitrary<AppMessage> = fc.record({
  id: fc.string({ minLength: 1, maxLength: MAX_APP_ID }),
  ts: fc
    .oneof(
      fc.double({ min: -MAX_TIMESTAMP_MS, max: MAX_TIMESTAMP_MS, noNaN: true }),
      fc.integer(),
      fc.constantFrom(-MAX_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
    )
    .map((n) => (Object.is(n, -0) ? 0 : n)),
  room: fc.boolean(),
  text: text(2000),
});
const SEEDS = [
  new TextDecoder().decode(encodeApp({ id: 'm1', ts: 1_764_700_000_123, room: false, text: 'hello' })),
  new TextDecoder().decode(encodeApp({ id: 'x'.repeat(64), ts: 0, room: true, text: 'ünï\u{1f600}"\\' })),
];

function hostile(b: Uint8Array): void {
  const m = decodesOrRefuses(() => decodeApp(b));
  if (!m) return;
  expect(withinBound(m, b.length)).toBe(true);
  expect(isTimestamp(m.ts)).toBe(true);
  expect(m.id.length >= 1 && m.id.length <= MAX_APP_ID).toBe(true);
}

describe('fuzz: app messages inside the session (peer/app-message.ts)', () => {
  it('arbitrary bytes, text and JSON decode to a valid message or MALFORMED', () => {
    check(FILE, fc.property(fc.oneof(anyBytes(), anyFileContent()), hostile));
  });

  it('mutations of valid messages (bytes, and numbers such as 1e999) behave the same', () => {
    check(FILE, fc.property(textMutationOf(SEEDS), hostile), 2);
  });

  it('decodeApp(encodeApp(m)) == m for arbitrary messages', () => {
    check(
      FILE,
      fc.property(MESSAGE, (m) => {
        expect(decodeApp(encodeApp(m))).toEqual(m);
      }),
    );
  });
});

const TRANSFER = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const OFFSET = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const BULK: fc.Arbitrary<BulkRecord> = fc.oneof(
  fc.record({
    transfer: TRANSFER,
    offset: OFFSET,
    last: fc.boolean(),
    data: fc.uint8Array({ maxLength: 2000 }),
  }),
  fc.record({
    transfer: TRANSFER,
    offset: OFFSET,
    last: fc.constant(false),
    data: fc.constant(new Uint8Array(0)),
    reply: fc.constantFrom('done' as const, 'refused' as const),
  }),
);
const BULK_SEEDS = [
  encodeBulk({
    transfer: 'V1StGXR8_Z5jdHi6B-myT',
    offset: 65_536,
    last: false,
    data: new Uint8Array(40).fill(7),
  }),
  encodeBulk({ transfer: 'x', offset: 0, last: true, data: new Uint8Array(0) }),
  encodeBulk({
    transfer: 'V1StGXR8_Z5jdHi6B-myT',
    offset: 9,
    last: false,
    data: new Uint8Array(0),
    reply: 'done',
  }),
];

function hostileBulk(b: Uint8Array): void {
  const r = decodesOrRefuses(() => decodeBulk(b));
  if (!r) return;
  expect(r.data.length).toBeLessThan(b.length);
  expect(r.transfer.length >= 1 && r.transfer.length <= MAX_TRANSFER_ID).toBe(true);
  expect(Number.isSafeInteger(r.offset) && r.offset >= 0).toBe(true);
  if (r.reply !== undefined) expect([r.data.length, r.last]).toEqual([0, false]);
}

describe('fuzz: bulk records inside the session (peer/bulk-record.ts)', () => {
  it('arbitrary bytes decode to a valid record or MALFORMED', () => {
    check(
      FILE,
      fc.property(
        fc.oneof(
          anyBytes(),
          fc.uint8Array().map((b) => Uint8Array.of(0, ...b)),
        ),
        hostileBulk,
      ),
    );
  });

  it('mutations of valid records behave the same', () => {
    check(
      FILE,
      fc.property(
        fc.tuple(fc.constantFrom(...BULK_SEEDS), fc.nat(), fc.integer({ min: 0, max: 255 })),
        ([seed, at, v]) => {
          const b = new Uint8Array(seed);
          b[at % b.length] = v;
          hostileBulk(b);
          hostileBulk(b.subarray(0, at % (b.length + 1)));
        },
      ),
    );
  });

  it('decodeBulk(encodeBulk(r)) == r for arbitrary records', () => {
    check(
      FILE,
      fc.property(BULK, (r) => {
        const back = decodeBulk(encodeBulk(r));
        expect({ ...back, data: [...back.data] }).toEqual({ ...r, data: [...r.data] });
      }),
    );
  });
});

const FILE_ID = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const SHA = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const SIZE = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const CONTROL: fc.Arbitrary<FileControl> = fc.oneof(
  fc.record({
    kind: fc.constant('offer' as const),
    file: FILE_ID,
    size: SIZE,
    sha256: SHA,
    name: fc.string({ minLength: 1, maxLength: 60 }),
  }),
  fc.record({ kind: fc.constant('accept' as const), file: FILE_ID, offset: SIZE }),
  fc.record({
    kind: fc.constant('cancel' as const),
    file: FILE_ID,
    code: fc.constantFrom(
      'CANCELLED',
      'REJECTED',
      'TOO_LARGE',
      'CHECKSUM',
      'SOURCE_CHANGED',
      'IO',
    ) as fc.Arbitrary<ErrorCode>,
    text: fc.string({ maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('resume' as const), file: FILE_ID, size: SIZE, sha256: SHA }),
  fc.record({ kind: fc.constant('done' as const), file: FILE_ID }),
  fc.record({ kind: fc.constant('prefix' as const), file: FILE_ID, offset: SIZE, sha256: SHA }),
  fc.record({ kind: fc.constant('restart' as const), file: FILE_ID, size: SIZE, sha256: SHA }),
);

function hostileControl(b: Uint8Array): void {
  const m = decodesOrRefuses(() => decodeFileControl(b));
  if (!m) return;
  expect(m.file.length >= 1 && m.file.length <= MAX_FILE_ID).toBe(true);
  if (m.kind === 'offer') expect(Buffer.byteLength(m.name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
}

describe('fuzz: file control records (peer/chat/file-control.ts)', () => {
  it('arbitrary bytes, and mutations of valid records, decode to a valid record or MALFORMED', () => {
    check(
      FILE,
      fc.property(
        fc.oneof(
          anyBytes(),
          fc.uint8Array().map((b) => Uint8Array.of(1, 1, ...b)),
        ),
        hostileControl,
      ),
    );
    check(
      FILE,
      fc.property(fc.tuple(CONTROL, fc.nat(), fc.integer({ min: 0, max: 255 })), ([m, at, v]) => {
        const b = encodeFileControl(m);
        const c = new Uint8Array(b);
        c[at % c.length] = v;
        hostileControl(c);
        hostileControl(b.subarray(0, at % (b.length + 1)));
      }),
    );
  });

  it('PREFIX and RESTART byte by byte (docs/protocol.md)', () => {
    const hex = (m: FileControl): string => Buffer.from(encodeFileControl(m)).toString('hex');
    const sha256 = 'ab'.repeat(32);
    expect(hex({ kind: 'prefix', file: 'f', offset: 1024, sha256 })).toBe(`0101060166000000000400${sha256}`);
    expect(hex({ kind: 'restart', file: 'f', size: 5, sha256 })).toBe(`0101070166000000000005${sha256}`);
  });

  it('decodeFileControl(encodeFileControl(m)) == m', () => {
    check(
      FILE,
      fc.property(CONTROL, (m) => {
        const back = decodeFileControl(encodeFileControl(m));
        if (m.kind === 'cancel' && back.kind === 'cancel') expect(m.text.startsWith(back.text)).toBe(true);
        else expect(back).toEqual(m);
      }),
    );
  });
});

describe('fuzz: local input (peer/cli/json-commands.ts commands on stdin, peer/tui/commands.ts lines typed)', () => {
  const commands = fc.oneof(
    fc.string(),
    fc.json(),
    fc
      .record(
        {
          cmd: fc.oneof(
            fc.constantFrom('connect', 'send', 'peers', 'stats', 'trust', 'quit'),
            fc.jsonValue(),
          ),
          peer: fc.jsonValue(),
          text: fc.jsonValue(),
        },
        { requiredKeys: ['cmd'] },
      )
      .map((o) => JSON.stringify(o)),
  );
  it('a JSON-lines command is a Command or BAD_ARGUMENT', () => {
    check(
      FILE,
      fc.property(commands, (line) => {
        const c = decodesOrRefuses(() => parseCommand(line), ['BAD_ARGUMENT']);
        if (c && 'peer' in c) expect(typeof c.peer === 'string' && c.peer.length > 0).toBe(true);
      }),
    );
  });

  it('any typed line parses to text, a command or a usage message, never an exception', () => {
    check(
      FILE,
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((t) => `/${t}`),
          fc.string({ unit: 'binary' }),
        ),
        (line) => {
          expect(parseInput(line).kind).toMatch(/^\w+$/);
        },
      ),
    );
  });
});

describe('fuzz: command-line values (common/cli/args.ts, --server in peer/cli/server-flag.ts)', () => {
  it('--server text is a host, a port in 1-65535 and a relay URL, or BAD_ARGUMENT', () => {
    const server = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom('', 'ws://', 'wss://', 'http://'),
          fc.oneof(
            fc.domain(),
            fc.ipV4(),
            fc.ipV6().map((a) => `[${a}]`),
            fc.string({ maxLength: 10 }),
          ),
          fc.oneof(
            fc.nat(70000).map(String),
            fc.constantFrom('0', '00', '65535', '65536', '080'),
            fc.string({ maxLength: 6 }),
          ),
          fc.constantFrom('', '/', '/relay'),
          fc.oneof(
            fc.constant(''),
            fc.stringMatching(/^[0-9a-f]{32}$/).map((h) => `#${h}`),
            fc.string().map((t) => `#${t}`),
          ),
        )
        .map(([scheme, host, port, p, fp]) => `${scheme}${host}:${port}${scheme ? p : ''}${fp}`),
    );
    check(
      FILE,
      fc.property(server, (t) => {
        const s = decodesOrRefuses(() => parseServer(t), ['BAD_ARGUMENT']);
        if (!s) return;
        expect(Number.isInteger(s.port) && s.port >= 1 && s.port <= 65535).toBe(true);
        expect(s.relayUrl).toMatch(/^wss?:\/\//);
        if (s.fingerprint !== undefined) expect(s.fingerprint).toMatch(/^[0-9a-f]{32}$/);
      }),
    );
  });

  it('a --server list is 1 to MAX_SERVERS distinct, valid servers, or BAD_ARGUMENT', () => {
    const entry = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.tuple(fc.oneof(fc.ipV4(), fc.domain()), fc.nat(70000)).map(([h, p]) => `${h}:${p}`),
      fc.constantFrom('a:7000', 'A:7000', ' a:7000 ', `b:7000#${'0'.repeat(32)}`, 'c:7000#x', ''),
    );
    const list = fc.array(entry, { minLength: 1, maxLength: MAX_SERVERS + 3 }).map((es) => es.join(','));
    check(
      FILE,
      fc.property(fc.oneof(list, fc.string()), (t) => {
        const out = decodesOrRefuses(() => parseServerList(t), ['BAD_ARGUMENT']);
        if (!out) return;
        expect(out.length).toBeGreaterThanOrEqual(1);
        expect(out.length).toBeLessThanOrEqual(MAX_SERVERS);
        const keys = out.map((s) => `${s.host.toLowerCase()}:${s.port}`);
        expect(new Set(keys).size).toBe(keys.length);
        for (const s of out) expect(Number.isInteger(s.port) && s.port >= 1 && s.port <= 65535).toBe(true);
      }),
    );
  });

  it('flags and whole-number flag values parse or are BAD_ARGUMENT', () => {
    check(
      FILE,
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('--port', '--json', '-p', '--', '--port=')), {
          maxLength: 5,
        }),
        fc.string(),
        (argv, v) => {
          const f = decodesOrRefuses(
            () => parseFlags(argv, { port: { type: 'string' }, json: { type: 'boolean' } }),
            ['BAD_ARGUMENT'],
          );
          if (f) expect(Object.keys(f).every((k) => k === 'port' || k === 'json')).toBe(true);
          const n = decodesOrRefuses(() => intFlag(v, 'port', 1, 65535, 7000), ['BAD_ARGUMENT']);
          if (n !== undefined) expect(Number.isInteger(n) && n >= 1 && n <= 65535).toBe(true);
        },
      ),
    );
  });
});
