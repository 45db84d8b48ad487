import fc from 'fast-check';
import { PunchlineError } from '../../common/errors.js';
import type { ErrorCode } from '../../common/errors.js';

/**
 * Shared pieces of the property-based fuzzers (docs/security.md "Fuzzing"). Every property runs
 * from one fixed seed, so `npm test` is repeatable; FUZZ_SEED and FUZZ_RUNS override the seed and
 * the budget (`npm run fuzz` runs the same properties with FUZZ_RUNS=20000). A failure prints the
 * seed, fast-check's path and the shrunk counterexample, and the command that replays it.
 */
const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`);
  return n;
};

export const DEFAULT_FUZZ_SEED = 20_251_203;
export const DEFAULT_FUZZ_RUNS = 300;
export const FUZZ_SEED = envInt('FUZZ_SEED', DEFAULT_FUZZ_SEED);
export const FUZZ_RUNS = Math.max(1, envInt('FUZZ_RUNS', DEFAULT_FUZZ_RUNS));

/** The runs for one property: FUZZ_RUNS scaled for properties that are costly per run (files). */
export const runsFor = (scale = 1): number => Math.max(1, Math.round(FUZZ_RUNS * scale));

function report(details: fc.RunDetails<unknown>, file: string): never {
  throw new Error(
    `${fc.defaultReportMessage(details) ?? 'property failed'}\n` +
      `Error: ${String(details.errorInstance)}\n` +
      `Replay: FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${FUZZ_RUNS} npx vitest run ${file}`,
  );
}

/** Run a synchronous property with the fixed seed; throw a replayable report on failure. */
export function check<Ts extends [unknown, ...unknown[]]>(
  file: string,
  property: fc.IProperty<Ts>,
  scale = 1,
): void {
  const details = fc.check(property, { seed: FUZZ_SEED, numRuns: runsFor(scale) });
  if (details.failed) report(details as fc.RunDetails<unknown>, file);
}

/** The same for an asynchronous property. */
export async function checkAsync<Ts extends [unknown, ...unknown[]]>(
  file: string,
  property: fc.IAsyncProperty<Ts>,
  scale = 1,
): Promise<void> {
  const details = await fc.check(property, { seed: FUZZ_SEED, numRuns: runsFor(scale) });
  if (details.failed) report(details as fc.RunDetails<unknown>, file);
}

/**
 * Call a decoder on hostile input: it returns, or throws a PunchlineError with one of `codes`.
 * Anything else thrown (a TypeError, a RangeError) is a bug and fails the property.
 */
export function decodesOrRefuses<T>(
  decode: () => T,
  codes: readonly ErrorCode[] = ['MALFORMED'],
): T | undefined {
  try {
    return decode();
  } catch (e) {
    if (e instanceof PunchlineError && codes.includes(e.code)) return undefined;
    throw new Error(`decoder threw ${String(e)}, not a PunchlineError (${codes.join('|')})`, { cause: e });
  }
}

/** The same for an asynchronous loader. */
export async function loadsOrRefuses<T>(
  load: () => Promise<T> | T,
  codes: readonly ErrorCode[] = ['IO'],
): Promise<T | undefined> {
  try {
    return await load();
  } catch (e) {
    if (e instanceof PunchlineError && codes.includes(e.code)) return undefined;
    throw new Error(`loader threw ${String(e)}, not a PunchlineError (${codes.join('|')})`, { cause: e });
  }
}

/**
 * A rough count of the bytes a decoded value holds (byte arrays, strings, 8 per number, key and
 * element): the allocation bound a decoder must keep is `footprint(out) <= LINEAR * input + SLACK`.
 */
export function footprint(v: unknown, seen = new Set<object>()): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return v.length * 2;
  if (typeof v !== 'object') return 8;
  if (seen.has(v)) return 0;
  seen.add(v);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  let n = 0;
  for (const [, x] of Object.entries(v)) n += 8 + footprint(x, seen);
  return n;
}
export const LINEAR = 64;
export const SLACK = 1024;
export const withinBound = (out: unknown, inputBytes: number): boolean =>
  footprint(out) <= LINEAR * inputBytes + SLACK;

// ---------------------------------------------------------------------------------------------
// Mutations of valid encodings (seed corpus -> nearby invalid and valid inputs)

type Op =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'u16'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number };

/** Field boundary values: zero, one, the signed and unsigned edges of a byte and of 16 bits. */
const BYTE_EDGES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const U16_EDGES = [0x0000, 0x0001, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xfffe, 0xffff];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...BYTE_EDGES), fc.nat(255)),
  }),
  fc.record({ op: fc.constant('u16' as const), at: fc.nat(), value: fc.constantFrom(...U16_EDGES) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
);

export function applyOp(b: Uint8Array, o: Op): Uint8Array {
  const at = b.length === 0 ? 0 : ('at' in o ? o.at : 0) % b.length;
  switch (o.op) {
    case 'flip': {
      if (b.length === 0) return b;
      const c = b.slice();
      c[at] = c[at]! ^ (1 << o.bit);
      return c;
    }
    case 'set': {
      if (b.length === 0) return b;
      const c = b.slice();
      c[at] = o.value;
      return c;
    }
    case 'u16': {
      if (b.length < 2) return b;
      const c = b.slice();
      const i = Math.min(at, b.length - 2);
      c[i] = o.value >>> 8;
      c[i + 1] = o.value & 0xff;
      return c;
    }
    case 'truncate':
      return b.slice(0, at);
    case 'extend':
      return concat(b, o.bytes);
    case 'insert':
      return concat(b.subarray(0, at), o.bytes, b.subarray(at));
    case 'delete':
      return concat(b.subarray(0, at), b.subarray(at + o.length));
    case 'duplicate':
      return concat(b.subarray(0, at + o.length), b.subarray(at));
  }
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** One to four mutations of one of `seeds`. */
export const mutationOf = (seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(fc.constantFrom(...seeds), fc.array(opArb, { minLength: 1, maxLength: 4 }))
    .map(([s, ops]) => ops.reduce(applyOp, s));

/** Arbitrary bytes up to `max` long, biased towards short and towards edge values. */
export const anyBytes = (max = 1500): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ maxLength: max }),
    fc.array(fc.constantFrom(...BYTE_EDGES), { maxLength: max }).map((a) => Uint8Array.from(a)),
  );

/** Arbitrary bytes that start with `prefix` (a version and type byte): reach deeper into a decoder. */
export const bytesAfter = (prefixes: readonly Uint8Array[], max = 1500): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.constantFrom(...prefixes), anyBytes(max)).map(([p, b]) => concat(p, b));

/** A string that is valid text (no lone surrogates), of at most `maxBytes` UTF-8 bytes. */
export const text = (maxBytes: number, minBytes = 0): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme-ascii', minLength: minBytes, maxLength: maxBytes }),
      fc.string({ unit: 'grapheme', maxLength: Math.max(1, Math.floor(maxBytes / 4)) }),
      fc.string({ unit: 'binary', maxLength: Math.max(1, Math.floor(maxBytes / 4)) }),
    )
    .filter((s) => {
      const n = Buffer.byteLength(s, 'utf8');
      return n <= maxBytes && n >= minBytes && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
    });

export const bytesOf = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
export const u48 = (): fc.Arbitrary<number> => fc.bigInt({ min: 0n, max: 2n ** 48n - 1n }).map(Number);
export const u32 = (): fc.Arbitrary<number> => fc.bigInt({ min: 0n, max: 2n ** 32n - 1n }).map(Number);
export const u16 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xffff });
export const u8 = (): fc.Arbitrary<number> => fc.integer({ min: 0, max: 0xff });
export const ipv4 = (): fc.Arbitrary<string> => fc.tuple(u8(), u8(), u8(), u8()).map((a) => a.join('.'));
export const endpoint = (): fc.Arbitrary<{ address: string; port: number }> =>
  fc.record({ address: ipv4(), port: u16() });

// ---------------------------------------------------------------------------------------------
// Text files (JSON, JSON lines): byte mutations, and JSON numbers replaced by boundary values

/** JSON numbers at the edges: 1e999 parses as Infinity, 2^53 + 1 loses its last digit. */
const JSON_NUMBER_EDGES = ['1e999', '-1e999', '1e308', '-0', '0', '-1', '1.5', '9007199254740993', '1e-400'];

export const jsonNumberEdge = (textIn: string, pick: number, edge: number): string => {
  const numbers = [...textIn.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g)];
  if (numbers.length === 0) return textIn;
  const m = numbers[pick % numbers.length]!;
  return (
    textIn.slice(0, m.index) +
    JSON_NUMBER_EDGES[edge % JSON_NUMBER_EDGES.length]! +
    textIn.slice(m.index + m[0].length)
  );
};

/** Mutations of a text file's bytes, or of its JSON numbers. */
export const textMutationOf = (seeds: readonly string[]): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    mutationOf(seeds.map((s) => Buffer.from(s, 'utf8'))),
    fc
      .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat())
      .map(([s, pick, edge]) => new Uint8Array(Buffer.from(jsonNumberEdge(s, pick, edge), 'utf8'))),
  );

/** Arbitrary file contents: bytes, text, any JSON value, JSON lines of arbitrary values. */
export const anyFileContent = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    anyBytes(400),
    fc.string().map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    fc.json().map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    fc
      .array(fc.json(), { maxLength: 5 })
      .map((l) => new Uint8Array(Buffer.from(l.join('\n') + '\n', 'utf8'))),
  );

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const REPLACEMENTS: Json[] = [5, -1, 1e308, [], {}, null, true, '', 'x', [1], { x: 1 }];

/**
 * Structural damage to a JSON file, whatever its layout: one key renamed or removed, or one value
 * replaced by a value of another type. Format-agnostic: it walks whatever tree the store wrote.
 */
export function damageJson(textIn: string, pick: number, how: number): string {
  let root: Json;
  try {
    root = JSON.parse(textIn) as Json;
  } catch {
    return textIn;
  }
  const places: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v))
      v.forEach((x, i) => {
        places.push({ parent: v, key: i });
        walk(x);
      });
    else if (v !== null && typeof v === 'object')
      for (const k of Object.keys(v)) {
        places.push({ parent: v, key: k });
        walk(v[k]!);
      }
  };
  walk(root);
  if (places.length === 0) return JSON.stringify(REPLACEMENTS[how % REPLACEMENTS.length]);
  const { parent, key } = places[pick % places.length]!;
  const action = how % (REPLACEMENTS.length + 2);
  if (!Array.isArray(parent) && typeof key === 'string' && action === REPLACEMENTS.length) {
    parent[`${key}x`] = parent[key]!; // renamed
    delete parent[key];
  } else if (!Array.isArray(parent) && typeof key === 'string' && action === REPLACEMENTS.length + 1) {
    delete parent[key];
  } else (parent as Record<string | number, Json>)[key] = REPLACEMENTS[action % REPLACEMENTS.length]!;
  return JSON.stringify(root, null, 2);
}

/** Structural damage of one of `seeds` (JSON files). */
export const jsonDamageOf = (seeds: readonly string[]): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat())
    .map(([s, pick, how]) => new Uint8Array(Buffer.from(damageJson(s, pick, how), 'utf8')));
