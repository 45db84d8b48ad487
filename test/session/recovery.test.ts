import { describe, expect, it } from 'vitest';
import { INITIAL_WINDOW, MINIMUM_WINDOW, NewReno } from '../../common/session/congestion.js';
import { LOSS_DEFAULTS, LossDetector, type SentPacket } from '../../common/session/loss-detection.js';
import { RttEstimator } from '../../common/session/rtt.js';

describe('RTT estimator (RFC 9002 §5)', () => {
  it('starts from 333 ms and follows the §5.3 arithmetic', () => {
    const r = new RttEstimator();
    expect([r.smoothed, r.rttvar, r.hasSample]).toEqual([333, 166.5, false]);
    expect(r.pto(25)).toBe(333 + 4 * 166.5 + 25); // ≈ 1 s before any sample (§6.2.2)
    r.update(100, 0, 1000); // first sample: smoothed = latest, rttvar = latest / 2
    expect([r.smoothed, r.rttvar, r.min, r.firstSampleAt]).toEqual([100, 50, 100, 1000]);
    r.update(120, 10, 2000); // 120 >= min + delay: adjusted 110
    expect(r.rttvar).toBe(0.75 * 50 + 0.25 * 10);
    expect(r.smoothed).toBe(0.875 * 100 + 0.125 * 110);
    expect(r.pto(25)).toBe(101.25 + 4 * 40 + 25);
    r.update(105, 10, 3000); // 105 < min + delay: the delay is not subtracted
    expect(r.smoothed).toBeCloseTo(0.875 * 101.25 + 0.125 * 105, 10);
    expect(r.rttvar).toBeCloseTo(0.75 * 40 + 0.25 * 3.75, 10);
    r.update(80, 0, 4000);
    expect(r.min).toBe(80);
    r.reset();
    expect([r.smoothed, r.rttvar, r.hasSample, r.min]).toEqual([333, 166.5, false, Infinity]);
  });

  it('never goes below zero for a sample', () => {
    const r = new RttEstimator();
    r.update(-5, 0, 0);
    expect(r.latest).toBe(0);
  });
});

type Sent = Omit<SentPacket, 'seq'>;
const pkt = (pn: number, timeSent: number, size = 1200): Sent => ({
  pn,
  timeSent,
  size,
  frames: [{ kind: 'stream', offset: pn * 1000, length: 1000 }],
  ackLargest: undefined,
  cwndLimited: true,
});
const range = (smallest: number, largest: number): { smallest: number; largest: number } => ({
  smallest,
  largest,
});

describe('loss detection (RFC 9002 §6)', () => {
  it('declares a packet lost 3 packets behind an acknowledged one (§6.1.1)', () => {
    const ld = new LossDetector(new RttEstimator());
    for (let pn = 0; pn < 5; pn++) ld.onSent(pkt(pn, pn));
    // ACK 2: 0 is not yet 3 behind; ACK 3: 0 is.
    let out = ld.onAck([range(2, 2)], 0, 25, 100);
    expect(out.lost).toEqual([]);
    expect(out.rttSample).toBe(98);
    out = ld.onAck([range(3, 3)], 0, 25, 101);
    expect(out.lost.map((p) => p.pn)).toEqual([0]);
    // 1 is only 2 behind 3: waits for the time threshold.
    expect(ld.lossTime).toBeDefined();
  });

  it('declares a packet lost 9/8 RTT after it was sent when a later one was acknowledged (§6.1.2)', () => {
    const rtt = new RttEstimator();
    const ld = new LossDetector(rtt);
    ld.onSent(pkt(0, 0));
    ld.onSent(pkt(1, 10));
    const out = ld.onAck([range(1, 1)], 0, 25, 110); // rtt sample 100
    expect(out.lost).toEqual([]);
    expect(rtt.smoothed).toBe(100);
    // loss delay = 9/8 * max(latest 100, smoothed 100) = 112.5 after time_sent 0.
    expect(ld.timer(25)).toEqual({ at: 112.5, kind: 'loss' });
    expect(ld.detectLost(112.4)).toEqual([]);
    expect(ld.detectLost(112.5).map((p) => p.pn)).toEqual([0]);
    expect(ld.timer(25)).toBeUndefined();
  });

  it('arms the probe timeout after the last ack-eliciting packet and doubles it per probe (§6.2.1), capped', () => {
    const rtt = new RttEstimator();
    const ld = new LossDetector(rtt, { ...LOSS_DEFAULTS, maxPtoMs: 5000 });
    expect(ld.timer(25)).toBeUndefined(); // nothing in flight: no timer
    ld.onSent(pkt(0, 0));
    ld.onAck([range(0, 0)], 0, 25, 100); // smoothed 100, rttvar 50
    ld.onSent(pkt(1, 1000));
    const base = 100 + 4 * 50 + 25;
    const schedule: number[] = [];
    for (let i = 0; i < 8; i++) {
      schedule.push(ld.timer(25)!.at - 1000);
      ld.onPtoTimeout();
    }
    expect(schedule).toEqual([base, 2 * base, 4 * base, 8 * base, 5000, 5000, 5000, 5000]);
    // A new acknowledgement resets the backoff (A.7).
    ld.onSent(pkt(2, 2000));
    ld.onAck([range(2, 2)], 0, 25, 2100);
    expect(ld.ptoCount).toBe(0);
  });

  it('ignores acknowledgements of nothing new and limits the peer ack delay to max_ack_delay (§5.3)', () => {
    const rtt = new RttEstimator();
    const ld = new LossDetector(rtt);
    ld.onSent(pkt(0, 0));
    ld.onSent(pkt(1, 0));
    ld.onAck([range(0, 0)], 0, 25, 50);
    ld.onAck([range(1, 1)], 1000, 25, 100); // claims a 1 s delay: only 25 ms count
    expect(rtt.smoothed).toBe(0.875 * 50 + 0.125 * 75);
    const again = ld.onAck([range(0, 1)], 0, 25, 200);
    expect(again.acked).toEqual([]);
  });

  it('establishes persistent congestion over a long run of losses (§7.6.2)', () => {
    const rtt = new RttEstimator();
    const ld = new LossDetector(rtt);
    ld.onSent(pkt(0, 0));
    ld.onAck([range(0, 0)], 0, 25, 100); // sample at t=100: smoothed 100, rttvar 50
    // duration = (100 + 200 + 25) * 3 = 975 ms
    const sent = [pkt(1, 200), pkt(2, 700), pkt(3, 1200), pkt(4, 1300)].map((p) => ld.onSent(p));
    expect(ld.persistentCongestion(sent.slice(0, 3), 25)).toBe(true); // 200..1200 = 1000 ms > 975
    expect(ld.persistentCongestion(sent.slice(0, 2), 25)).toBe(false); // 500 ms
    expect(ld.persistentCongestion([sent[0]!, sent[3]!], 25)).toBe(false); // not contiguous
    expect(ld.persistentCongestion(sent, 25)).toBe(true);
    // A packet sent before the first RTT sample does not count (§7.6.2).
    const early = new LossDetector(new RttEstimator());
    const e = [pkt(0, 0), pkt(1, 5000)].map((x) => early.onSent(x));
    expect(early.persistentCongestion(e, 25)).toBe(false);
  });
});

describe('NewReno (RFC 9002 §7)', () => {
  const p = (timeSent: number, size = 1200, cwndLimited = true) => ({ timeSent, size, cwndLimited });

  it('starts at min(10 * 1200, max(2 * 1200, 14720)) = 12000 and grows by acked bytes in slow start', () => {
    const cc = new NewReno();
    expect(INITIAL_WINDOW).toBe(12_000);
    expect(MINIMUM_WINDOW).toBe(2_400);
    expect(cc.cwnd).toBe(12_000);
    for (let i = 0; i < 10; i++) cc.onSent(1200);
    expect(cc.canSend()).toBe(false);
    cc.onAcked([p(0)]);
    expect(cc.cwnd).toBe(13_200);
    expect(cc.bytesInFlight).toBe(9 * 1200);
    cc.onAcked([p(0, 1200, false)]); // application-limited: no growth (§7.8)
    expect(cc.cwnd).toBe(13_200);
  });

  it('halves once per recovery period, then grows by one datagram per window (congestion avoidance)', () => {
    const cc = new NewReno();
    for (let i = 0; i < 10; i++) cc.onSent(1200);
    cc.onLost([p(5), p(6)], 100, false);
    expect(cc.cwnd).toBe(6_000);
    expect(cc.ssthresh).toBe(6_000);
    expect(cc.congestionEvents).toBe(1);
    cc.onLost([p(50)], 120, false); // sent before recovery began (t=100): same episode
    expect(cc.cwnd).toBe(6_000);
    cc.onAcked([p(90)]); // sent before recovery: no growth
    expect(cc.cwnd).toBe(6_000);
    cc.onAcked([p(150)]); // after: congestion avoidance, += 1200 * 1200 / 6000
    expect(cc.cwnd).toBe(6_240);
    cc.onLost([p(200)], 300, false); // a new episode
    expect(cc.cwnd).toBe(3_120);
    cc.onLost([p(301)], 400, false);
    expect(cc.cwnd).toBe(MINIMUM_WINDOW); // floor: 2 datagrams
    cc.onLost([p(401)], 500, true); // persistent congestion
    expect(cc.cwnd).toBe(MINIMUM_WINDOW);
    expect(cc.persistentCongestionEvents).toBe(1);
    expect(cc.recoveryStart).toBeUndefined();
    cc.reset();
    expect([cc.cwnd, cc.ssthresh, cc.bytesInFlight]).toEqual([12_000, Infinity, 0]);
  });
});
