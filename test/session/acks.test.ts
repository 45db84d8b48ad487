import { describe, expect, it } from 'vitest';
import { SESSION_DEFAULTS } from '../../common/session/options.js';
import { MsgType } from '../../common/wire/constants.js';
import { collect, enc, makePair, run, runUntil } from './helpers.js';

/** Times (relative to t0) at which B sent data packets (ACKs, receipts) back to A. */
function watchB(p: ReturnType<typeof makePair>): { times: number[]; t0: number; reset(): void } {
  const w = {
    times: [] as number[],
    t0: 0,
    reset() {
      w.times = [];
      w.t0 = p.clock.now();
    },
  };
  p.ba.drop = (d) => {
    if (d[1] === MsgType.SESSION_DATA) w.times.push(p.clock.now() - w.t0);
    return false;
  };
  return w;
}

describe('acknowledgements (RFC 9000 §13.2)', () => {
  it('delays a lone ACK by max_ack_delay, acknowledges every second packet and any gap at once', () => {
    const p = makePair({ tuning: { pingIntervalMs: 600_000, deadAfterMs: 600_000 } });
    const got = collect(p.b);
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    run(p.clock, 1000);
    const w = watchB(p);

    // One packet: B's ACK (with the RECEIPT riding on it) leaves max_ack_delay after it arrives (10 ms link).
    w.reset();
    p.a.send(enc('one'));
    run(p.clock, 500);
    expect(w.times).toEqual([10 + SESSION_DEFAULTS.maxAckDelayMs]);

    // Two packets 1 ms apart: the second is acknowledged as it arrives.
    w.reset();
    p.a.send(enc('two'));
    run(p.clock, 1);
    p.a.send(enc('three'));
    run(p.clock, 500);
    expect(w.times).toEqual([11]);

    // A gap (a lost packet): the packet after it is acknowledged at once.
    w.reset();
    let dropNext = true;
    p.ab.drop = (d) => {
      if (dropNext && d[1] === MsgType.SESSION_DATA) {
        dropNext = false;
        return true;
      }
      return false;
    };
    p.a.send(enc('four')); // lost
    run(p.clock, 5);
    p.a.send(enc('five'));
    run(p.clock, 2000);
    expect(w.times[0]).toBe(15);
    expect(got.map((m) => m.text)).toEqual(['one', 'two', 'three', 'four', 'five']);
  });
});
