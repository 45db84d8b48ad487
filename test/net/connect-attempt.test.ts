import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { isPunchlineError, PunchlineError } from '../../common/errors.js';
import { connectAttempt } from '../../common/net/connect-attempt.js';

/** How an attempt ended: the value, or the error code, and when on the virtual clock. */
async function outcome<T>(p: Promise<T>): Promise<{ value?: T; code?: string }> {
  try {
    return { value: await p };
  } catch (e) {
    return { code: isPunchlineError(e) ? e.code : String(e) };
  }
}

describe('connectAttempt: one connection attempt ends exactly once', () => {
  it('opens with the first value; a later fail is ignored and runs no fail hook', async () => {
    const clock = new VirtualClock();
    let failed = 0;
    let settled = 0;
    const p = connectAttempt<string>(undefined, (a) => {
      a.onFail(() => failed++);
      a.onSettled(() => settled++);
      clock.setTimeout(() => a.open('up'), 100);
      clock.setTimeout(() => a.fail(new PunchlineError('IO', 'late')), 200);
    });
    clock.advance(300);
    expect(await outcome(p)).toEqual({ value: 'up' });
    expect(failed).toBe(0);
    expect(settled).toBe(1);
  });

  it('fails with the first error, runs each fail hook once with it, and ignores a later open', async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    let settledAt: number | undefined;
    const p = connectAttempt<string>(undefined, (a) => {
      a.onSettled(() => (settledAt = clock.now()));
      a.onFail((e) => seen.push(`first ${e.message}`));
      a.onFail((e) => seen.push(`second ${e.message}`));
      clock.setTimeout(() => a.fail(new PunchlineError('IO', 'refused')), 50);
      clock.setTimeout(() => a.fail(new PunchlineError('TIMEOUT', 'again')), 60);
      clock.setTimeout(() => a.open('too late'), 70);
    });
    clock.advance(100);
    expect(await outcome(p)).toEqual({ code: 'IO' });
    expect(seen).toEqual(['first refused', 'second refused']);
    expect(settledAt).toBe(50);
  });

  it('an abort fails the attempt (ABORTED) and runs its hooks; the abort listener is removed once settled', async () => {
    const clock = new VirtualClock();
    const ctl = new AbortController();
    let torn = 0;
    const p = connectAttempt<string>(ctl.signal, (a) => {
      a.onFail(() => torn++);
      clock.setTimeout(() => a.open('never'), 1000);
    });
    clock.setTimeout(() => ctl.abort(), 10);
    clock.advance(2000);
    expect(await outcome(p)).toEqual({ code: 'ABORTED' });
    expect(torn).toBe(1);
    ctl.abort(); // no second failure
    expect(torn).toBe(1);
  });

  it('a signal aborted before the attempt rejects at once and never starts it', async () => {
    const ctl = new AbortController();
    ctl.abort();
    let started = false;
    const p = connectAttempt<string>(ctl.signal, () => (started = true));
    expect(await outcome(p)).toEqual({ code: 'ABORTED' });
    expect(started).toBe(false);
  });

  it('an exception thrown while starting fails the attempt with it', async () => {
    const p = connectAttempt<string>(undefined, () => {
      throw new PunchlineError('BAD_ARGUMENT', 'bad url');
    });
    expect(await outcome(p)).toEqual({ code: 'BAD_ARGUMENT' });
  });

  it('settled reads true from the moment it opens', async () => {
    let during: boolean | undefined;
    let before: boolean | undefined;
    const p = connectAttempt<number>(undefined, (a) => {
      before = a.settled;
      a.onSettled(() => (during = a.settled));
      a.open(1);
    });
    expect(await outcome(p)).toEqual({ value: 1 });
    expect(before).toBe(false);
    expect(during).toBe(true);
  });
});
