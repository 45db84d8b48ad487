import { describe, expect, it } from 'vitest';
import { BBR_MIN_WINDOW, Bbr, LOSS_BETA, STARTUP_GAIN, queueThresholdMs } from '../../common/session/bbr.js';
import { type CcPacket, INITIAL_WINDOW, MINIMUM_WINDOW } from '../../common/session/congestion.js';
import { PACING_BURST_MS, PACING_BURST_PACKETS, Pacer } from '../../common/session/pacer.js';

const MSS = 1200;
const BASE_RTT = 20;

interface RoundOptions {
  /** The RTT this round's packets see (a queue makes it longer than BASE_RTT). */
  rtt?: number;
  /** How many of the round's packets are lost (the first ones). */
  lose?: number;
  /** The sender ran out of data after sending them. */
  appLimited?: boolean;
}

/**
 * One round trip on a path of BASE_RTT min RTT: `n` packets sent at `now`, the survivors
 * acknowledged two at a time `rtt` ms later, then the lost ones declared lost. Returns the time
 * of the ACKs. A round of n packets measures n × MSS / rtt bytes per ms.
 */
function round(cc: Bbr, now: number, n: number, o: RoundOptions = {}): number {
  const rtt = o.rtt ?? BASE_RTT;
  const view = { hasSample: true, latest: rtt, smoothed: rtt, min: BASE_RTT };
  const sent: CcPacket[] = [];
  for (let i = 0; i < n; i++)
    sent.push({ timeSent: now, size: MSS, cwndLimited: true, rate: cc.onSent(MSS, now) });
  if (o.appLimited) cc.onAppLimited();
  const at = now + rtt;
  const lost = sent.slice(0, o.lose ?? 0);
  const acked = sent.slice(lost.length);
  for (let i = 0; i < acked.length; i += 2) cc.onAcked(acked.slice(i, i + 2), view, at);
  cc.onLost(lost, at, false, view);
  return at;
}

/** Rounds filling the window, on a path that delivers at most `cap` packets per round trip. */
function fill(cc: Bbr, now: number, rounds: number, cap: number, o: RoundOptions = {}): number {
  let t = now;
  for (let i = 0; i < rounds; i++) t = round(cc, t, Math.min(Math.floor(cc.cwnd / MSS), cap), o);
  return t;
}

const view = (latest: number) => ({ hasSample: true, latest, smoothed: latest, min: BASE_RTT });

describe('Bbr', () => {
  it('Startup doubles the window each round, then, after three rounds without 25% more bandwidth, drains and paces at the bottleneck rate', () => {
    const cc = new Bbr();
    expect([cc.cwnd, cc.state, cc.pacingRate({ ...view(0), hasSample: false })]).toEqual([
      INITIAL_WINDOW,
      'startup',
      Infinity,
    ]);
    let t = round(cc, 0, 10);
    expect(cc.cwnd).toBe(2 * INITIAL_WINDOW);
    expect(cc.maxBw).toBe((10 * MSS) / BASE_RTT);
    expect(cc.pacingRate(view(BASE_RTT))).toBeCloseTo(STARTUP_GAIN * cc.maxBw);
    // The path carries 50 packets per round trip: 3000 bytes per ms.
    t = fill(cc, t, 2, 50);
    expect(cc.state).toBe('startup');
    // The check runs as each round starts, on the rounds before it: 50 packets from round 4, no
    // 25% more in rounds 5-7, the pipe is full as round 8 starts, and Drain ends at once.
    t = fill(cc, t, 4, 50);
    expect(cc.state).toBe('startup');
    t = fill(cc, t, 1, 50);
    expect(cc.state).toBe('probeBw');
    expect(cc.maxBw).toBe(3000);
    t = fill(cc, t, 8, 50);
    // Gain 1.25, 0.75 or 1 × the bandwidth; the window 2 × BDP plus three packets.
    expect([3750, 2250, 3000]).toContain(Math.round(cc.pacingRate(view(BASE_RTT))));
    expect(cc.cwnd).toBeLessThanOrEqual(2 * 3000 * BASE_RTT + 3 * MSS);
    expect(cc.congestionEvents).toBe(0);
    expect(t).toBeGreaterThan(0);
  });

  it('random loss (the RTT at its minimum) moves nothing: the window, the rate and the state stay', () => {
    const cc = new Bbr();
    let t = fill(cc, 0, 12, 50);
    const before = { cwnd: cc.cwnd, bw: cc.bw, state: cc.state };
    // 5 of every 50 packets lost, round after round (10% random loss).
    t = fill(cc, t, 16, 50, { lose: 5 });
    expect(cc.congestionEvents).toBe(0);
    expect(cc.bw).toBeGreaterThanOrEqual(0.85 * before.bw);
    expect(cc.cwnd).toBeGreaterThanOrEqual(0.85 * before.cwnd);
    expect(cc.state).toBe('probeBw');
    expect(t).toBeGreaterThan(0);
  });

  it('a loss with a queue (RTT over 4 ms, min RTT / 8 clamped to 4-16 ms, above the minimum) is congestion, once per round: it ends Startup and lowers the rate used', () => {
    const cc = new Bbr();
    let t = fill(cc, 0, 3, 1000);
    expect(cc.state).toBe('startup');
    const bw = cc.maxBw;
    t = round(cc, t, 20, { rtt: 25 }); // 25 ms = min RTT + 5 ms: a queue, no loss yet (delivering less)
    expect(cc.congestionEvents).toBe(0);
    t = round(cc, t, 20, { rtt: 25, lose: 2 }); // the queue overflowed
    expect(cc.congestionEvents).toBe(1);
    expect(cc.state).not.toBe('startup');
    cc.onLost([{ timeSent: t, size: MSS, cwndLimited: true }], t, false, view(25)); // same round: no second event
    expect(cc.congestionEvents).toBe(1);
    // The estimate is capped at max(last round's delivery rate, 0.7 × the estimate).
    expect(cc.maxBw).toBe(LOSS_BETA * bw);
    expect(cc.pacingRate(view(BASE_RTT))).toBeLessThan(bw);
    // A loss at 24 ms (4 ms over the minimum, timer jitter on a short path) is random.
    const events = cc.congestionEvents;
    t = round(cc, t, 10, { rtt: 24, lose: 1 });
    expect(cc.congestionEvents).toBe(events);
  });

  it("the queue threshold is HyStart++'s: min RTT / 8 within 4-16 ms (RFC 9406 §4.2)", () => {
    expect([1, 20, 32, 80, 128, 400].map(queueThresholdMs)).toEqual([4, 4, 4, 10, 16, 16]);
  });

  it('persistent congestion (RFC 9002 §7.6) collapses the window to the minimum and starts over', () => {
    const cc = new Bbr();
    const t = fill(cc, 0, 12, 50);
    cc.onSent(MSS, t);
    cc.onLost([{ timeSent: t, size: MSS, cwndLimited: true }], t + 1000, true, view(BASE_RTT));
    expect([cc.cwnd, cc.state, cc.maxBw, cc.persistentCongestionEvents]).toEqual([
      MINIMUM_WINDOW,
      'startup',
      0,
      1,
    ]);
    // It regrows from there like Startup, by what is acknowledged.
    round(cc, t + 1000, 2);
    expect(cc.cwnd).toBe(MINIMUM_WINDOW + 2 * MSS);
    expect(BBR_MIN_WINDOW).toBe(4 * MSS); // its floor from then on
  });

  it('application-limited rounds (a chat) neither end Startup nor grow the window past what they use (RFC 9002 §7.8)', () => {
    const cc = new Bbr();
    let t = 0;
    for (let i = 0; i < 200; i++) {
      t = round(cc, t, 2, { appLimited: true });
      t += 1000; // a message a second
    }
    expect(cc.state).toBe('startup');
    // It grows while the first initial window is delivered (as BBR does), then not at all.
    expect(cc.cwnd).toBeLessThanOrEqual(2 * INITIAL_WINDOW);
    // The first bulk round after the chat is not held back by the chat's low rate samples.
    expect(cc.pacingRate(view(BASE_RTT))).toBeGreaterThanOrEqual((STARTUP_GAIN * INITIAL_WINDOW) / BASE_RTT);
  });

  it('a new path starts from the initial window with no model', () => {
    const cc = new Bbr();
    fill(cc, 0, 12, 50);
    cc.reset();
    expect([cc.cwnd, cc.bytesInFlight, cc.state, cc.maxBw]).toEqual([INITIAL_WINDOW, 0, 'startup', 0]);
  });
});

describe('Pacer', () => {
  it('lets a burst of 10 packets go, then one every size / rate', () => {
    const p = new Pacer();
    const rate = 12; // bytes per ms: one 1200-byte packet per 100 ms
    for (let i = 0; i < PACING_BURST_PACKETS; i++) {
      expect(p.wait(0, rate)).toBe(0);
      p.onSent(0, rate, MSS);
    }
    expect(p.wait(0, rate)).toBe(100);
    expect(p.wait(60, rate)).toBe(40);
    expect(p.wait(100, rate)).toBe(0);
    p.onSent(100, rate, MSS);
    expect(p.wait(100, rate)).toBe(100);
    // Idle time earns at most the burst back.
    expect(p.wait(1_000_000, rate)).toBe(0);
    for (let i = 0; i < PACING_BURST_PACKETS; i++) p.onSent(1_000_000, rate, MSS);
    expect(p.wait(1_000_000, rate)).toBeGreaterThan(0);
  });

  it('at high rates the burst is 2 ms of the rate; Infinity is not paced', () => {
    const p = new Pacer();
    const rate = 60_000; // 50 packets per ms
    let n = 0;
    while (p.wait(0, rate) === 0) {
      p.onSent(0, rate, MSS);
      n++;
    }
    expect(n).toBe((rate * PACING_BURST_MS) / MSS);
    const free = new Pacer();
    for (let i = 0; i < 1000; i++) free.onSent(0, Infinity, MSS);
    expect(free.wait(0, Infinity)).toBe(0);
  });
});
