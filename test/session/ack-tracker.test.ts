import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { AckTracker } from '../../common/session/ack-tracker.js';
import type { Frame } from '../../common/session/frames.js';

const TUNING = { maxAckRanges: 4, maxAckDelayMs: 25, ackElicitingThreshold: 2 };

function tracker(): { clock: VirtualClock; acks: AckTracker; dueCalls: () => number } {
  const clock = new VirtualClock();
  let calls = 0;
  const acks = new AckTracker(clock, TUNING, () => calls++);
  return { clock, acks, dueCalls: () => calls };
}

/** Receive `pn` at the clock's time, ack-eliciting, as the session does. */
function receive(t: ReturnType<typeof tracker>, pn: number, ping = false): boolean {
  const r = t.acks.onReceived(pn, t.clock.now());
  t.acks.onAckEliciting(pn, r.outOfOrder, ping);
  return r.newest;
}

const ranges = (f: Frame | undefined): [number, number][] =>
  f?.type === 'ack' ? f.ranges.map((r) => [r.smallest, r.largest]) : [];

describe('AckTracker', () => {
  it('a lone in-order packet: the ACK is pending at once and due max_ack_delay later', () => {
    const t = tracker();
    receive(t, 0);
    expect([t.acks.pending, t.acks.due]).toEqual([true, false]);
    t.clock.advance(24);
    expect([t.acks.due, t.dueCalls()]).toEqual([false, 0]);
    t.clock.advance(1);
    expect([t.acks.due, t.dueCalls()]).toEqual([true, 1]);
    // The delay field reports how long the largest packet waited.
    const f = t.acks.frame(t.clock.now());
    expect(f).toEqual({ type: 'ack', delayUs: 25_000, ranges: [{ smallest: 0, largest: 0 }] });
  });

  it('every second ack-eliciting packet, a gap, a reordered packet or a PING is due at once', () => {
    const t = tracker();
    receive(t, 0);
    receive(t, 1);
    expect(t.acks.due).toBe(true); // the threshold (2)
    t.acks.onSent();
    expect([t.acks.pending, t.acks.due]).toEqual([false, false]);
    receive(t, 3); // leaves a gap at 2
    expect(t.acks.due).toBe(true);
    t.acks.onSent();
    expect(receive(t, 2)).toBe(false); // older than the largest: out of order
    expect(t.acks.due).toBe(true);
    t.acks.onSent();
    receive(t, 4, true); // a PING
    expect(t.acks.due).toBe(true);
    t.clock.advance(1000);
    expect(t.dueCalls()).toBe(0); // each ACK went before its delay timer fired
  });

  it('an ACK sent cancels the delay timer; the next lone packet starts a new one', () => {
    const t = tracker();
    receive(t, 0);
    t.clock.advance(10);
    t.acks.onSent();
    t.clock.advance(100);
    expect(t.dueCalls()).toBe(0);
    receive(t, 1);
    t.clock.advance(25);
    expect(t.dueCalls()).toBe(1);
  });

  it('reports the newest ranges first, at most maxAckRanges, and stops repeating what the peer has', () => {
    const t = tracker();
    for (const pn of [0, 2, 4, 6, 8, 10]) receive(t, pn);
    expect(ranges(t.acks.frame(t.clock.now()))).toEqual([
      [10, 10],
      [8, 8],
      [6, 6],
      [4, 4],
    ]);
    t.acks.onPeerHas(8);
    expect(ranges(t.acks.frame(t.clock.now()))).toEqual([[10, 10]]);
    t.acks.onPeerHas(10);
    expect(t.acks.frame(t.clock.now())).toBeUndefined();
    expect(t.acks.pending).toBe(false);
  });

  it('the delay is zero when the largest received packet is no longer in the first range', () => {
    const t = tracker();
    receive(t, 5);
    t.clock.advance(7);
    expect(t.acks.frame(t.clock.now())).toMatchObject({ delayUs: 7_000 });
    t.acks.onPeerHas(5);
    receive(t, 3); // reordered, below the largest
    t.clock.advance(3);
    expect(t.acks.frame(t.clock.now())).toEqual({
      type: 'ack',
      delayUs: 0,
      ranges: [{ smallest: 3, largest: 3 }],
    });
  });

  it('close() stops the delay timer', () => {
    const t = tracker();
    receive(t, 0);
    t.acks.close();
    t.clock.advance(100);
    expect(t.dueCalls()).toBe(0);
    expect(t.clock.timerCount).toBe(0);
  });
});
