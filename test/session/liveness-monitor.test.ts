import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { LivenessMonitor } from '../../common/session/liveness-monitor.js';

function setup(o: { canPing?: boolean } = {}): {
  clock: VirtualClock;
  m: LivenessMonitor;
  pings: number[];
  deaths: { at: number; silentMs: number }[];
  setActive: (a: boolean) => void;
} {
  const clock = new VirtualClock();
  const pings: number[] = [];
  const deaths: { at: number; silentMs: number }[] = [];
  let active = true;
  const m: LivenessMonitor = new LivenessMonitor(
    clock,
    { pingIntervalMs: 5_000, deadAfterMs: 15_000 },
    {
      dead: (silentMs) => deaths.push({ at: clock.now(), silentMs }),
      ping: () => {
        pings.push(clock.now());
        if (o.canPing === false) return false;
        m.sent(clock.now()); // the PING went out: an ack-eliciting packet
        return true;
      },
      active: () => active,
    },
  );
  m.reset(0);
  m.arm();
  return { clock, m, pings, deaths, setActive: (a) => void (active = a) };
}

describe('LivenessMonitor', () => {
  it('PINGs every pingIntervalMs after the last ack-eliciting packet sent', () => {
    const t = setup();
    t.clock.advance(7_000);
    t.m.sent(7_000); // a message went out: the next PING waits
    t.m.arm();
    t.m.heard(7_000);
    t.clock.advance(8_000);
    expect(t.pings).toEqual([5_000, 12_000]);
    expect(t.deaths).toEqual([]);
  });

  it('dead once, exactly deadAfterMs after the last packet heard; heard() again ends it', () => {
    const t = setup();
    t.m.heard(2_000);
    t.clock.advance(40_000);
    expect(t.deaths).toEqual([{ at: 17_000, silentMs: 15_000 }]);
    expect(t.m.dead).toBe(true);
    expect(t.m.deadEvents).toBe(1);
    expect(t.pings).toEqual([5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000]);
    expect(t.m.heard(40_500)).toBe(true); // alive
    t.m.arm();
    expect(t.m.heard(40_600)).toBe(false);
    t.clock.advance(20_000);
    expect(t.deaths.map((d) => d.at)).toEqual([17_000, 55_600]);
  });

  it('a PING that cannot go (no path) counts as done: the timer does not spin', () => {
    const t = setup({ canPing: false });
    t.clock.advance(12_000);
    expect(t.pings).toEqual([5_000, 10_000]);
  });

  it('stops when the session is no longer open, and when closed', () => {
    const t = setup();
    t.clock.advance(5_000);
    t.setActive(false);
    t.clock.advance(30_000);
    expect([t.pings, t.deaths]).toEqual([[5_000], []]);
    t.setActive(true);
    t.m.arm();
    t.m.close();
    t.m.close();
    t.clock.advance(30_000);
    expect(t.pings).toEqual([5_000]);
    expect(t.clock.timerCount).toBe(0);
  });

  it('a dead handler that closes the session: no PING follows in the same beat', () => {
    const clock = new VirtualClock();
    let active = true;
    const pings: number[] = [];
    const m = new LivenessMonitor(
      clock,
      { pingIntervalMs: 15_000, deadAfterMs: 15_000 },
      { dead: () => void (active = false), ping: () => pings.push(clock.now()) > 0, active: () => active },
    );
    m.reset(0);
    m.arm();
    clock.advance(20_000);
    expect([m.deadEvents, pings, clock.timerCount]).toEqual([1, [], 0]);
  });
});
