import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { type CongestionController, INITIAL_WINDOW, NewReno } from '../../common/session/congestion.js';
import { LossRecovery, PROBES_PER_PTO } from '../../common/session/loss-recovery.js';
import { SESSION_DEFAULTS } from '../../common/session/options.js';
import { Receipts } from '../../common/session/receipts.js';
import { SendBuffer } from '../../common/session/send-buffer.js';

function setup(cc?: CongestionController): {
  clock: VirtualClock;
  r: LossRecovery;
  buf: SendBuffer;
  flushes: number[];
  pings: number[];
  send: (pn: number, offset: number, length: number) => void;
} {
  const clock = new VirtualClock();
  const buf = new SendBuffer(100_000);
  buf.flowLimit = 100_000;
  const receipts = new Receipts(buf, () => 0);
  const flushes: number[] = [];
  const pings: number[] = [];
  const r = new LossRecovery(
    clock,
    SESSION_DEFAULTS,
    buf,
    receipts,
    {
      active: () => true,
      peerMaxAckDelay: () => 25,
      ping: () => pings.push(clock.now()),
      flush: () => flushes.push(clock.now()),
    },
    cc,
  );
  const send = (pn: number, offset: number, length: number): void =>
    r.onSent({
      pn,
      timeSent: clock.now(),
      size: 1200,
      frames: [{ kind: 'stream', offset, length }],
      ackLargest: undefined,
    });
  return { clock, r, buf, flushes, pings, send };
}

describe('LossRecovery', () => {
  it('an unanswered packet: the probe timeout fires, allows two probes past the window, puts its data back', () => {
    const t = setup();
    t.buf.write(new Uint8Array(500));
    const span = t.buf.takeNew(1000)!;
    t.send(0, span.offset, span.length);
    t.r.arm();
    expect(t.r.probing).toBe(false);
    // Before any RTT sample the PTO is 333 + 4 * 166.5 + 25 ms (RFC 9002 §6.2.2).
    t.clock.advance(1023);
    expect(t.flushes).toEqual([]);
    t.clock.advance(1);
    expect(t.flushes).toEqual([1024]);
    expect(t.r.probing).toBe(true);
    expect(t.r.stats().probeTimeouts).toBe(1);
    expect(t.buf.hasLost()).toBe(true); // the oldest packet's data goes again as the probe
    expect(t.pings).toEqual([]); // it has data to carry: no PING needed
    for (let i = 0; i < PROBES_PER_PTO; i++) t.send(1 + i, 0, 0);
    expect(t.r.probing).toBe(false);
  });

  it('with nothing to resend, the probe is a PING', () => {
    const t = setup();
    t.r.onSent({ pn: 0, timeSent: 0, size: 50, frames: [{ kind: 'ping' }], ackLargest: undefined });
    t.r.arm();
    t.clock.advance(1024);
    expect(t.pings).toEqual([1024]);
  });

  it('an ACK gives the RTT sample; packets three behind the largest acknowledged are lost, requeued, and tell the controller (NewReno: a smaller window)', () => {
    const t = setup(new NewReno());
    t.buf.write(new Uint8Array(5000));
    for (let pn = 0; pn < 5; pn++) {
      const s = t.buf.takeNew(1000)!;
      t.send(pn, s.offset, s.length);
    }
    t.clock.advance(40);
    const out = t.r.onAck([{ smallest: 3, largest: 4 }], 0);
    expect(out.acked.map((p) => p.pn)).toEqual([3, 4]);
    expect(out.lost.map((p) => p.pn)).toEqual([0, 1]);
    expect(t.r.stats().rttMs).toBe(40);
    t.r.onLost(out.lost);
    const s = t.r.stats();
    expect([s.packetsLost, s.retransmits, s.congestionEvents]).toEqual([2, 2, 1]);
    expect(s.cwnd).toBeLessThan(INITIAL_WINDOW);
    expect(t.buf.hasLost()).toBe(true);
  });

  it('a path change puts everything in flight back without a congestion signal; a new route resets the estimates', () => {
    const t = setup();
    t.buf.write(new Uint8Array(2000));
    const s = t.buf.takeNew(1000)!;
    t.send(0, s.offset, s.length);
    t.clock.advance(30);
    t.r.onAck([{ smallest: 0, largest: 0 }], 0);
    const s2 = t.buf.takeNew(1000)!;
    t.send(1, s2.offset, s2.length);
    t.r.onPathChanged(false);
    expect([t.r.stats().bytesInFlight, t.r.stats().congestionEvents, t.r.stats().rttMs]).toEqual([0, 0, 30]);
    expect(t.buf.hasLost()).toBe(true);
    t.r.onPathChanged(true);
    expect([t.r.stats().rttMs, t.r.stats().cwnd]).toEqual([333, INITIAL_WINDOW]);
  });

  it('stream data is paced after a burst of 10 packets; probes are not (like they are not held to the window)', () => {
    const cc = Object.assign(new NewReno(), { cwnd: 1e9, pacingRate: () => 0.012 }); // a packet per 100 s
    const t = setup(cc);
    t.buf.write(new Uint8Array(50_000));
    for (let pn = 0; pn < 10; pn++) {
      expect(t.r.canSend()).toBe(true);
      const s = t.buf.takeNew(1000)!;
      t.send(pn, s.offset, s.length);
    }
    expect(t.r.canSend()).toBe(false);
    expect(t.r.pacingWait()).toBe(100_000);
    t.r.arm();
    t.clock.advance(1024); // the probe timeout
    expect([t.r.probing, t.r.pacingWait(), t.r.canSend()]).toEqual([true, 0, true]);
  });

  it('close() stops the loss timer', () => {
    const t = setup();
    t.send(0, 0, 0);
    t.r.arm();
    t.r.close();
    t.clock.advance(60_000);
    expect([t.flushes, t.clock.timerCount]).toEqual([[], 0]);
  });
});
