import { VirtualClock } from '../../common/clock.js';
import { type KeyPair, keyPairFromPrivate } from '../../common/crypto/x25519.js';
import { Rng } from '../../common/net/sim/random.js';
import { Session, type SessionOptions, type SessionPath } from '../../common/session/session.js';
import type { SessionTuning } from '../../common/session/options.js';

/** A deterministic X25519 key pair from a seed label. */
export function keyFor(label: string, seed = 1): KeyPair {
  return keyPairFromPrivate(new Rng(seed, `key:${label}`).fill(new Uint8Array(32)));
}

/** Two key pairs, the first with the lower public key (so it initiates by the default rule). */
export function orderedKeys(seed = 1): [KeyPair, KeyPair] {
  const x = keyFor('x', seed);
  const y = keyFor('y', seed);
  return Buffer.compare(x.publicKey, y.publicKey) < 0 ? [x, y] : [y, x];
}

export const seededRandom =
  (rng: Rng) =>
  (n: number): Uint8Array =>
    rng.fill(new Uint8Array(n));

export interface WireConditions {
  loss: number;
  duplicate: number;
  reorder: number;
  delayMs: number;
  jitterMs: number;
  reorderDelayMs: number;
  /** Drops everything while true (a link that went down). */
  down: boolean;
}

/** One direction of an in-memory lossy link on a VirtualClock. */
export class Wire {
  c: WireConditions;
  carried = 0;
  readonly datagrams: Uint8Array[] = [];
  record = false;
  /** Return true to drop this datagram (targeted loss in tests). */
  drop: ((d: Uint8Array) => boolean) | undefined;
  constructor(
    private readonly clock: VirtualClock,
    private readonly rng: Rng,
    c: Partial<WireConditions> = {},
  ) {
    this.c = {
      loss: 0,
      duplicate: 0,
      reorder: 0,
      delayMs: 10,
      jitterMs: 0,
      reorderDelayMs: 15,
      down: false,
      ...c,
    };
  }
  carry(d: Uint8Array, deliver: (d: Uint8Array) => void): void {
    this.carried++;
    if (this.record) this.datagrams.push(new Uint8Array(d));
    if (this.drop?.(d)) return;
    if (this.c.down || this.rng.chance(this.c.loss)) return;
    const copies = this.rng.chance(this.c.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.c.delayMs + this.rng.next() * this.c.jitterMs;
      if (this.rng.chance(this.c.reorder)) delay += this.c.reorderDelayMs;
      const copy = new Uint8Array(d);
      this.clock.setTimeout(() => deliver(copy), delay);
    }
  }
}

export interface Pair {
  clock: VirtualClock;
  a: Session;
  b: Session;
  ab: Wire;
  ba: Wire;
  /** A's path to B and B's path to A. */
  toB: SessionPath;
  toA: SessionPath;
  largest: () => number;
}

export interface PairOptions {
  seed?: number;
  wire?: Partial<WireConditions>;
  tuning?: Partial<SessionTuning>;
  a?: Partial<SessionOptions>;
  b?: Partial<SessionOptions>;
  start?: boolean;
  /** Both paths vouch for their sender, as the relay does (SessionPath.vouched). */
  vouched?: boolean;
}

/** Two sessions joined by an in-memory link (A has the lower key: the initiator). */
export function makePair(o: PairOptions = {}): Pair {
  const seed = o.seed ?? 1;
  const clock = new VirtualClock();
  const root = new Rng(seed, 'pair');
  const [ka, kb] = orderedKeys(seed);
  const ab = new Wire(clock, root.fork('ab'), o.wire);
  const ba = new Wire(clock, root.fork('ba'), o.wire);
  const prologue = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const a = new Session(
    { staticKey: ka, expectedRemoteStatic: kb.publicKey, prologue, ...o.tuning, ...o.a },
    { clock, randomBytes: seededRandom(root.fork('ra')) },
  );
  const b = new Session(
    { staticKey: kb, expectedRemoteStatic: ka.publicKey, prologue, ...o.tuning, ...o.b },
    { clock, randomBytes: seededRandom(root.fork('rb')) },
  );
  let largest = 0;
  const track = (d: Uint8Array): void => {
    largest = Math.max(largest, d.length);
  };
  // Direct paths to documentation addresses (RFC 5737): A as B sees it, and B as A sees it.
  const toA: SessionPath = {
    id: { kind: 'direct', remote: { address: '192.0.2.1', port: 1001 } },
    vouched: o.vouched ?? false,
    send: (d) => {
      track(d);
      ba.carry(d, (x) => a.receive(x, toB));
    },
  };
  const toB: SessionPath = {
    id: { kind: 'direct', remote: { address: '192.0.2.2', port: 1002 } },
    vouched: o.vouched ?? false,
    send: (d) => {
      track(d);
      ab.carry(d, (x) => b.receive(x, toA));
    },
  };
  a.setPath(toB);
  b.setPath(toA);
  if (o.start !== false) {
    a.start();
    b.start();
  }
  return { clock, a, b, ab, ba, toA, toB, largest: () => largest };
}

/** Fire timers until `done()` or `maxMs` of virtual time; bounded in steps too. */
export function runUntil(
  clock: VirtualClock,
  done: () => boolean,
  maxMs: number,
  maxSteps = 5_000_000,
): boolean {
  const end = clock.now() + maxMs;
  for (let i = 0; i < maxSteps && !done(); i++) {
    if (!clock.step(end)) break;
  }
  return done();
}

/** Advance virtual time by `ms`, synchronously. */
export function run(clock: VirtualClock, ms: number): void {
  clock.advance(ms);
}

/** Messages as received, in order, as text. */
export function collect(s: Session): { id: number; text: string }[] {
  const got: { id: number; text: string }[] = [];
  s.on('message', (m) => got.push({ id: m.id, text: new TextDecoder().decode(m.data) }));
  return got;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
