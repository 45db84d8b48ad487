import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { LivenessMonitor } from '../../common/session/liveness-monitor.js';
import { type CoalescedTimer, TimerCoalescer } from '../../common/session/timer-coalescer.js';

const owner = (lo: number, hi: number, log: string[], name: string): CoalescedTimer => ({
  lo,
  hi,
  run: () => log.push(name),
});

/** A LivenessMonitor on `timers` whose PINGs always go out; pings and deaths are logged. */
function monitor(
  clock: VirtualClock,
  timers: TimerCoalescer,
  o: { defers?: boolean; deadAfterMs?: number; at?: number } = {},
): { m: LivenessMonitor; pings: number[]; deaths: number[] } {
  const pings: number[] = [];
  const deaths: number[] = [];
  const m: LivenessMonitor = new LivenessMonitor(
    clock,
    { pingIntervalMs: 5_000, deadAfterMs: o.deadAfterMs ?? 15_000 },
    {
      dead: () => deaths.push(clock.now()),
      ping: () => {
        pings.push(clock.now());
        m.sent(clock.now());
        return true;
      },
      active: () => true,
      defers: () => o.defers === true,
      timers,
    },
  );
  m.reset(o.at ?? clock.now());
  m.arm();
  return { m, pings, deaths };
}

describe('TimerCoalescer', () => {
  it('one wakeup runs every owner whose window has opened; the others wait for theirs', () => {
    const clock = new VirtualClock();
    const t = new TimerCoalescer(clock);
    const log: string[] = [];
    t.set(owner(500, 1_000, log, 'a'));
    t.set(owner(800, 1_200, log, 'b'));
    t.set(owner(1_100, 1_500, log, 'c'));
    clock.advance(1_000);
    expect(log).toEqual(['a', 'b']);
    expect(t.wakeups).toBe(1);
    clock.advance(1_000);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(t.wakeups).toBe(2);
    expect(clock.timerCount).toBe(0); // nothing left: no timer
  });

  it('when every window moved later since the timer was set, nobody runs early', () => {
    const clock = new VirtualClock();
    const t = new TimerCoalescer(clock);
    const log: string[] = [];
    const a = owner(500, 1_000, log, 'a');
    t.set(a);
    a.lo = 1_500;
    a.hi = 2_000;
    t.set(a); // later: the timer stays at 1000 and is checked then
    clock.advance(1_000);
    expect(log).toEqual([]);
    clock.advance(1_000);
    expect(log).toEqual(['a']);
    expect(t.wakeups).toBe(2);
  });

  it('close() forgets every owner and stops the timer', () => {
    const clock = new VirtualClock();
    const t = new TimerCoalescer(clock);
    const log: string[] = [];
    t.set(owner(0, 100, log, 'a'));
    t.close();
    t.close();
    clock.advance(1_000);
    expect(log).toEqual([]);
    expect(clock.timerCount).toBe(0);
  });

  it('ten sessions opened at different moments fall into one heartbeat wakeup per interval', () => {
    const clock = new VirtualClock();
    const t = new TimerCoalescer(clock);
    const ms = [];
    for (let i = 0; i < 10; i++) {
      clock.advance(437); // opened 437 ms apart, spread over most of an interval
      ms.push(monitor(clock, t));
    }
    clock.advance(30_000);
    const before = t.wakeups;
    clock.advance(60_000);
    expect(t.wakeups - before).toBe(12); // one per 5 s for all ten
    // Every session pinged 12 times in that minute, all at the same moments.
    const lastMinute = ms.map((x) => x.pings.filter((p) => p > clock.now() - 60_000));
    expect(lastMinute[0]).toHaveLength(12);
    for (const p of lastMinute) expect(p).toEqual(lastMinute[0]);
  });
});

describe('LivenessMonitor that defers to the peer (the responder)', () => {
  it('sends no PING while the peer keeps pinging; pings itself before its dead timeout when they stop', () => {
    const clock = new VirtualClock();
    const { m, pings, deaths } = monitor(clock, new TimerCoalescer(clock), {
      defers: true,
      deadAfterMs: 7_000,
    });
    for (let at = 4_000; at <= 40_000; at += 5_000) {
      clock.advance(at - clock.now());
      m.heard(at, true); // the peer's heartbeat
    }
    expect(pings).toEqual([]);
    // Silence from 39 s: this side pings pingIntervalMs + 1 s later (margin: (7 - 5) / 2 s),
    // answered (in real life) before the 7 s dead timeout.
    clock.advance(6_500);
    expect(pings).toEqual([39_000 + 6_000]);
    expect(deaths).toEqual([]);
    clock.advance(10_000);
    expect(deaths).toEqual([39_000 + 7_000]);
  });

  it('an ACK-only answer does not hold back its PINGs (only the peer’s ack-eliciting packets do)', () => {
    const clock = new VirtualClock();
    const { m, pings } = monitor(clock, new TimerCoalescer(clock), { defers: true });
    for (let at = 1_000; at <= 20_000; at += 1_000) {
      clock.advance(at - clock.now());
      m.heard(at, false);
    }
    expect(pings).toEqual([5_000, 10_000, 15_000, 20_000]);
  });
});
