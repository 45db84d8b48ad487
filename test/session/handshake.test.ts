import { describe, expect, it } from 'vitest';
import { PunchlineError } from '../../common/errors.js';
import { MsgType } from '../../common/wire/constants.js';
import { Rng } from '../../common/net/sim/random.js';
import { encodeHandshakePacket } from '../../common/session/packet.js';
import { MESSAGE1_BYTES, MESSAGE2_BYTES, MESSAGE3_BYTES } from '../../common/session/handshake-driver.js';
import type { Session } from '../../common/session/session.js';
import { collect, enc, keyFor, makePair, runUntil } from './helpers.js';

const typeOf = (d: Uint8Array): number => d[1]!;
const bothOpen = (a: Session, b: Session) => (): boolean => a.state === 'open' && b.state === 'open';
function closedWith(s: Session): { reason?: string; error?: PunchlineError } {
  const out: { reason?: string; error?: PunchlineError } = {};
  s.on('closed', (e) => Object.assign(out, e));
  return out;
}

describe('session handshake (Noise XX)', () => {
  it('opens both sides, proves both keys, binds the same handshake hash; message 1 fills 1200 bytes', () => {
    const p = makePair({ start: false });
    p.ab.record = true;
    p.ba.record = true;
    p.a.start();
    p.b.start();
    expect(runUntil(p.clock, bothOpen(p.a, p.b), 1000)).toBe(true);
    expect(p.a.isInitiator).toBe(true);
    expect(p.b.isInitiator).toBe(false);
    const [x, y] = [keyFor('x').publicKey, keyFor('y').publicKey];
    expect([p.a.remoteStatic!, p.b.remoteStatic!].sort(Buffer.compare)).toEqual([x, y].sort(Buffer.compare));
    expect(p.a.remoteStatic).not.toEqual(p.b.remoteStatic);
    expect(p.a.handshakeHash).toEqual(p.b.handshakeHash);
    const sizes = [...p.ab.datagrams, ...p.ba.datagrams].filter((d) => typeOf(d) !== MsgType.SESSION_DATA);
    expect(sizes.map((d) => [typeOf(d), d.length])).toEqual([
      [MsgType.SESSION_INIT, 1200],
      [MsgType.SESSION_FINISH, 10 + MESSAGE3_BYTES],
      [MsgType.SESSION_RESPONSE, 10 + MESSAGE2_BYTES],
    ]);
    expect(MESSAGE1_BYTES + 10).toBe(1200);
    expect(10 + MESSAGE2_BYTES).toBeLessThan(1200); // the answer is smaller than the question
  });

  it('the initiator proving another key than introduced, on a vouched path (relay): the responder fails with KEY_MISMATCH at once', () => {
    const wrong = keyFor('mallory');
    const p = makePair({ vouched: true, b: { expectedRemoteStatic: wrong.publicKey, initiator: false } });
    const closedB = closedWith(p.b);
    const closedA = closedWith(p.a);
    runUntil(p.clock, () => p.b.state === 'closed', 5000);
    expect(closedB.error?.code).toBe('KEY_MISMATCH');
    // A never gets confirmation: it gives up at the handshake deadline.
    runUntil(p.clock, () => p.a.state === 'closed', 60_000);
    expect(closedA.error?.code).toBe('TIMEOUT');
  });

  it('the responder proving another key, on a vouched path: the initiator fails with KEY_MISMATCH at once', () => {
    const wrong = keyFor('mallory');
    // (The default role rule compares against the expected key: force A to initiate.)
    const p = makePair({ vouched: true, a: { expectedRemoteStatic: wrong.publicKey, initiator: true } });
    const closedA = closedWith(p.a);
    runUntil(p.clock, () => p.a.state === 'closed', 5000);
    expect(closedA.error?.code).toBe('KEY_MISMATCH');
    expect(closedA.error?.message).toMatch(/different static key/);
  });

  it('another key on an unvouched path is counted and dropped; with nothing better by the deadline, KEY_MISMATCH', () => {
    const wrong = keyFor('mallory');
    for (const side of ['a', 'b'] as const) {
      // side 'b': B (responder) expects another key than A proves in message 3;
      // side 'a': A (initiator) expects another key than B proves in message 2.
      const p = makePair(
        side === 'b'
          ? { b: { expectedRemoteStatic: wrong.publicKey, initiator: false } }
          : { a: { expectedRemoteStatic: wrong.publicKey, initiator: true } },
      );
      const victim = side === 'b' ? p.b : p.a;
      const closed = closedWith(victim);
      runUntil(p.clock, () => false, 5000);
      expect(victim.state, side).not.toBe('closed'); // still waiting for the introduced key
      expect(victim.stats().dropped.keyMismatch, side).toBeGreaterThan(0);
      runUntil(p.clock, () => victim.state === 'closed', 60_000);
      expect(closed.error?.code, side).toBe('KEY_MISMATCH');
      expect(closed.error?.message, side).toMatch(
        /proved another key, none finished with the introduced one/,
      );
    }
  });

  it('simultaneous open: both initiate, the lower static key stays initiator', () => {
    for (const seed of [1, 2, 3]) {
      const p = makePair({ seed, a: { initiator: true }, b: { initiator: true } });
      expect(runUntil(p.clock, bothOpen(p.a, p.b), 5000)).toBe(true);
      expect(p.a.isInitiator).toBe(true); // A holds the lower key (helpers.orderedKeys)
      expect(p.b.isInitiator).toBe(false);
      expect(p.a.stats().dropped.stray).toBeGreaterThanOrEqual(1); // B's message 1, ignored
      const got = collect(p.b);
      p.a.send(enc('hi'));
      runUntil(p.clock, () => got.length === 1, 5000);
      expect(got[0]!.text).toBe('hi');
    }
  });

  it('roles forced the other way round work too', () => {
    const p = makePair({ a: { initiator: false }, b: { initiator: true } });
    expect(runUntil(p.clock, bothOpen(p.a, p.b), 5000)).toBe(true);
    expect(p.b.isInitiator).toBe(true);
  });

  it('retransmits message 1 with backoff (1, 2, 4, 8, 8 s) and times out at 30 s', () => {
    const p = makePair({ start: false });
    p.ab.c.down = true;
    const times: number[] = [];
    p.ab.drop = () => {
      times.push(p.clock.now());
      return false;
    };
    const closedA = closedWith(p.a);
    p.a.start();
    p.b.start();
    runUntil(p.clock, () => p.a.state === 'closed', 60_000);
    expect(times).toEqual([0, 1000, 3000, 7000, 15_000, 23_000]);
    expect(closedA.error?.code).toBe('TIMEOUT');
    expect(p.clock.now()).toBe(30_000);
    expect(p.a.stats().handshakeRetransmits).toBe(5);
  });

  it('recovers from each handshake message being lost once', () => {
    for (const lose of [MsgType.SESSION_INIT, MsgType.SESSION_RESPONSE, MsgType.SESSION_FINISH]) {
      const p = makePair({ start: false });
      let dropped = false;
      const once = (d: Uint8Array): boolean => {
        if (!dropped && typeOf(d) === lose) return (dropped = true);
        return false;
      };
      p.ab.drop = once;
      p.ba.drop = once;
      const got = collect(p.b);
      p.a.start();
      p.b.start();
      p.a.send(enc('early')); // queued before open; must arrive once
      expect(runUntil(p.clock, () => got.length === 1, 10_000)).toBe(true);
      expect(dropped).toBe(true);
      runUntil(p.clock, () => false, 3000);
      expect(got.map((m) => m.text)).toEqual(['early']);
      if (lose === MsgType.SESSION_FINISH) expect(p.b.stats().dropped.early).toBeGreaterThan(0);
    }
  });

  it('stray, duplicate and forged handshake packets are dropped without killing the handshake', () => {
    const p = makePair({ start: false });
    const rng = new Rng(9, 'forge');
    const random = (n: number): Uint8Array => rng.fill(new Uint8Array(n));
    // Duplicate every handshake packet, and forge a message 2 and 3 for every real one.
    const forgeFor = (d: Uint8Array, to: Session, from: typeof p.toA): void => {
      const t = typeOf(d);
      if (t === MsgType.SESSION_DATA) return;
      const len =
        t === MsgType.SESSION_INIT
          ? MESSAGE1_BYTES
          : t === MsgType.SESSION_RESPONSE
            ? MESSAGE2_BYTES
            : MESSAGE3_BYTES;
      // Forgeries of the right and a wrong size arrive first, then an early duplicate of the real one.
      to.receive(encodeHandshakePacket(t as 0x31, d.subarray(2, 10), random(len)), from);
      to.receive(encodeHandshakePacket(t as 0x31, d.subarray(2, 10), random(len - 1)), from);
      to.receive(d, from);
    };
    p.ab.drop = (d) => {
      forgeFor(d, p.b, p.toA);
      return false;
    };
    p.ba.drop = (d) => {
      forgeFor(d, p.a, p.toB);
      return false;
    };
    p.a.start();
    p.b.start();
    expect(runUntil(p.clock, bothOpen(p.a, p.b), 5000)).toBe(true);
    runUntil(p.clock, () => false, 100); // the real copies arrive after the injected ones
    const da = p.a.stats().dropped;
    const db = p.b.stats().dropped;
    expect(da.auth).toBeGreaterThanOrEqual(1); // a forged message 2 failed to authenticate
    expect(da.malformed).toBeGreaterThanOrEqual(1); // one of the wrong size never reached Noise
    expect(db.auth).toBeGreaterThanOrEqual(1); // a forged message 3
    expect(db.malformed).toBeGreaterThanOrEqual(2); // forged message 1s (bad payload, bad size)
    expect(da.stray + db.stray).toBeGreaterThanOrEqual(1); // the duplicates that came after
    // After open, replays of every handshake message are strays.
    p.ab.drop = undefined;
    p.ba.drop = undefined;
    const got = collect(p.b);
    p.a.send(enc('ok'));
    expect(runUntil(p.clock, () => got.length === 1, 5000)).toBe(true);
  });

  it('late replays of handshake messages after open are counted as strays', () => {
    const p = makePair();
    p.ab.record = true;
    p.ba.record = true;
    runUntil(p.clock, bothOpen(p.a, p.b), 5000);
    const hsToB = p.ab.datagrams.filter((d) => typeOf(d) !== MsgType.SESSION_DATA);
    const hsToA = p.ba.datagrams.filter((d) => typeOf(d) !== MsgType.SESSION_DATA);
    const before = [p.a.stats().dropped.stray, p.b.stats().dropped.stray];
    for (const d of hsToB) p.b.receive(d, p.toA);
    for (const d of hsToA) p.a.receive(d, p.toB);
    expect(p.b.stats().dropped.stray - before[1]!).toBe(hsToB.length);
    expect(p.a.stats().dropped.stray - before[0]!).toBe(hsToA.length);
    expect([p.a.state, p.b.state]).toEqual(['open', 'open']);
  });
});
