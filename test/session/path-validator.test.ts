import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { PathValidator } from '../../common/session/path-validator.js';
import type { SessionPath } from '../../common/session/session-path.js';

const path = (port: number): SessionPath => ({
  id: { kind: 'direct', remote: { address: '192.0.2.7', port } },
  send: () => {},
});

function setup(retryMs = 100): {
  clock: VirtualClock;
  v: PathValidator;
  sent: { port: number; data: number[]; at: number }[];
  challenged: number[];
} {
  const clock = new VirtualClock();
  let seed = 0;
  const random = (n: number): Uint8Array => new Uint8Array(n).fill(++seed);
  const sent: { port: number; data: number[]; at: number }[] = [];
  const challenged: number[] = [];
  const port = (p: SessionPath): number => (p.id.kind === 'direct' ? p.id.remote.port : 0);
  const v = new PathValidator(clock, random, 3, {
    challenged: (p) => challenged.push(port(p)),
    sendChallenge: (p, data) => sent.push({ port: port(p), data: [...data], at: clock.now() }),
    retryDelayMs: () => retryMs,
  });
  return { clock, v, sent, challenged };
}

describe('PathValidator', () => {
  it('challenges a new path at once, then every retry delay, three times, then gives up', () => {
    const t = setup();
    t.v.start(path(1));
    expect(t.challenged).toEqual([1]);
    t.clock.advance(1000);
    expect(t.sent.map((s) => s.at)).toEqual([0, 100, 200]);
    expect(new Set(t.sent.map((s) => s.data.join())).size).toBe(1); // the same data each try
    expect([t.v.challenges, t.v.failed, t.v.validated]).toEqual([3, 1, 0]);
    expect(t.v.isValidating(path(1))).toBe(false);
    expect(t.clock.timerCount).toBe(0);
  });

  it('the matching PATH_RESPONSE from the challenged path completes it; the retries stop', () => {
    const t = setup();
    t.v.start(path(1));
    const data = new Uint8Array(t.sent[0]!.data);
    t.clock.advance(50);
    expect(t.v.onResponse(data, path(1))).toBe(true); // another object, the same path
    expect([t.v.validated, t.v.isValidating(path(1))]).toEqual([1, false]);
    t.clock.advance(1000);
    expect(t.sent.length).toBe(1);
  });

  it('a response with other data, or from another path, completes nothing', () => {
    const t = setup();
    t.v.start(path(1));
    const data = new Uint8Array(t.sent[0]!.data);
    expect(t.v.onResponse(new Uint8Array(data.length), path(1))).toBe(false);
    expect(t.v.onResponse(data, path(2))).toBe(false);
    expect(t.v.onResponse(data, { id: { kind: 'relay' }, send: () => {} })).toBe(false);
    expect(t.v.isValidating(path(1))).toBe(true);
    expect(t.v.validated).toBe(0);
  });

  it('one validation at a time: the same path again changes nothing, a new one replaces it', () => {
    const t = setup();
    t.v.start(path(1));
    t.clock.advance(50);
    t.v.start(path(1));
    expect(t.challenged).toEqual([1]);
    t.v.start(path(2));
    expect(t.challenged).toEqual([1, 2]);
    const old = new Uint8Array(t.sent[0]!.data);
    expect(t.v.onResponse(old, path(1))).toBe(false); // the replaced challenge is void
    t.clock.advance(1000);
    expect(t.sent.map((s) => [s.port, s.at])).toEqual([
      [1, 0],
      [2, 50],
      [2, 150],
      [2, 250],
    ]);
  });

  it('cancel() stops the retries; it is idempotent', () => {
    const t = setup();
    t.v.start(path(1));
    t.v.cancel();
    t.v.cancel();
    t.clock.advance(1000);
    expect([t.sent.length, t.v.failed, t.clock.timerCount]).toEqual([1, 0, 0]);
  });

  it('a handler that cancels while being told of the challenge stops it before it is sent', () => {
    const clock = new VirtualClock();
    const sent: Uint8Array[] = [];
    const v: PathValidator = new PathValidator(clock, (n) => new Uint8Array(n), 3, {
      challenged: () => v.cancel(),
      sendChallenge: (_p, d) => sent.push(d),
      retryDelayMs: () => 100,
    });
    v.start(path(1));
    expect([sent.length, v.challenges, clock.timerCount]).toEqual([0, 0, 0]);
  });
});
