/**
 * The client-transaction engine (peer/transactions.ts) on virtual time: when each try goes out,
 * when a request gives up and with which error, and that only an answer with the request's own
 * transaction id completes it.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import { Rng } from '../../common/net/sim/random.js';
import { REQUEST_BACKOFF, REQUEST_TRIES } from '../../common/path/backoff.js';
import { Transactions } from '../../peer/transactions.js';
import type { Answered, RetransmitSchedule } from '../../peer/transactions.js';

const NO_JITTER = { initialMs: 250, maxMs: 2_000, factor: 2, jitter: 0 };

function setup(schedule: RetransmitSchedule, seed = 1) {
  const clock = new VirtualClock();
  const rng = new Rng(seed);
  let draws = 0;
  const randomBytes = (n: number): Uint8Array => {
    draws++;
    return rng.fill(new Uint8Array(n));
  };
  const t = new Transactions<string>(
    { clock, randomBytes },
    {
      txidBytes: 8,
      schedule,
      noAnswer: (what, tries) => new PunchlineError('SERVER_UNREACHABLE', `${what}: silence after ${tries}`),
    },
  );
  const sent: number[] = [];
  const start = (txid = t.txid(), signal?: AbortSignal) => {
    const out: { value?: Answered<string>; error?: unknown } = {};
    t.request(txid, () => sent.push(clock.now()), 'hello', signal).then(
      (v) => (out.value = v),
      (e: unknown) => (out.error = e),
    );
    return { txid, out };
  };
  return { clock, t, sent, start, draws: () => draws };
}

/** Let promise continuations run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('client transactions on virtual time', () => {
  it('retransmits on the backoff schedule, then fails with the owner error one delay after the last try', async () => {
    const { clock, t, sent, start } = setup({ backoff: NO_JITTER, tries: 5 });
    const { out } = start();
    expect(sent).toEqual([0]);
    clock.advance(3_749);
    expect(sent).toEqual([0, 250, 750, 1750]);
    clock.advance(1);
    expect(sent).toEqual([0, 250, 750, 1750, 3750]);
    clock.advance(1_999);
    await settle();
    expect(out.error).toBeUndefined();
    expect(t.size).toBe(1);
    clock.advance(1);
    await settle();
    expect(isPunchlineError(out.error, 'SERVER_UNREACHABLE')).toBe(true);
    expect((out.error as Error).message).toBe('hello: silence after 5');
    expect(sent.length).toBe(5);
    expect(t.size).toBe(0);
    clock.advance(60_000);
    expect(sent.length).toBe(5);
  });

  it('with a deadline: no try at or after it, and the failure exactly at it', async () => {
    const { clock, sent, start } = setup({ backoff: NO_JITTER, tries: Infinity, deadlineMs: 3_000 });
    const { out } = start();
    clock.advance(2_999);
    await settle();
    expect(sent).toEqual([0, 250, 750, 1750]);
    expect(out.error).toBeUndefined();
    clock.advance(1);
    await settle();
    expect(isPunchlineError(out.error, 'SERVER_UNREACHABLE')).toBe(true);
    expect((out.error as Error).message).toBe('hello: silence after 4');
  });

  it('the rendezvous schedule with jitter: 5 tries, each delay within ±10 % of nominal, one draw per try', async () => {
    const { clock, sent, start, draws } = setup({ backoff: REQUEST_BACKOFF, tries: REQUEST_TRIES });
    const { out } = start();
    expect(draws()).toBe(2); // the txid, then the first try's delay
    await clock.runUntil(() => out.error !== undefined, 20_000);
    expect(sent.length).toBe(REQUEST_TRIES);
    expect(draws()).toBe(1 + REQUEST_TRIES);
    const nominal = [250, 500, 1000, 2000];
    sent.slice(1).forEach((at, i) => {
      const gap = at - sent[i]!;
      expect(gap).toBeGreaterThanOrEqual(Math.floor(nominal[i]! * 0.9));
      expect(gap).toBeLessThanOrEqual(Math.ceil(nominal[i]! * 1.1));
    });
  });

  it('no jitter, no draw from the random source beyond the txid', () => {
    const { clock, start, draws } = setup({ backoff: NO_JITTER, tries: 5 });
    start();
    clock.advance(10_000);
    expect(draws()).toBe(1);
  });

  it('the answer with its txid completes the request: retransmissions stop, rtt from the last try', async () => {
    const { clock, t, sent, start } = setup({ backoff: NO_JITTER, tries: 5 });
    const { txid, out } = start();
    clock.advance(800);
    expect(sent).toEqual([0, 250, 750]);
    expect(t.answer(txid, 'cookie')).toBe(true);
    await settle();
    expect(out.value).toEqual({ answer: 'cookie', tries: 3, rttMs: 50 });
    clock.advance(60_000);
    expect(sent.length).toBe(3);
    expect(t.answer(txid, 'again')).toBe(false); // late duplicate
  });

  it('a forged answer with another transaction id is refused and changes nothing', async () => {
    const { clock, t, sent, start } = setup({ backoff: NO_JITTER, tries: 5 });
    const { txid, out } = start();
    const forged = Uint8Array.from(txid);
    forged[0] = forged[0]! ^ 1;
    expect(t.answer(forged, 'forged')).toBe(false);
    clock.advance(300);
    await settle();
    expect(out).toEqual({});
    expect(sent).toEqual([0, 250]);
    expect(t.answer(txid, 'real')).toBe(true);
    await settle();
    expect(out.value?.answer).toBe('real');
  });

  it('each txid is matched on its own; cancelAll ends the rest with the reason given', async () => {
    const { t, start } = setup({ backoff: NO_JITTER, tries: 5 });
    const a = start();
    const b = start();
    expect(t.size).toBe(2);
    t.answer(b.txid, 'b');
    t.cancelAll(new PunchlineError('CLOSED', 'client closed'));
    await settle();
    expect(b.out.value?.answer).toBe('b');
    expect(isPunchlineError(a.out.error, 'CLOSED')).toBe(true);
    expect(t.size).toBe(0);
  });

  it('the abort signal ends the request with ABORTED and stops its tries', async () => {
    const { clock, t, sent, start } = setup({ backoff: NO_JITTER, tries: 5 });
    const ac = new AbortController();
    const { out } = start(undefined, ac.signal);
    clock.advance(300);
    ac.abort();
    await settle();
    expect(isPunchlineError(out.error, 'ABORTED')).toBe(true);
    expect((out.error as Error).message).toBe('hello aborted');
    clock.advance(10_000);
    expect(sent).toEqual([0, 250]);
    expect(t.size).toBe(0);
    // Already aborted: nothing is sent at all.
    const late = start(undefined, ac.signal);
    await settle();
    expect(isPunchlineError(late.out.error, 'ABORTED')).toBe(true);
    expect(sent).toEqual([0, 250]);
  });
});
