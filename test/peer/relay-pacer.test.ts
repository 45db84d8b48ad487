/**
 * The peer's relay pacer (peer/relay-pacer.ts) against the server's own per-peer buckets
 * (rendezvous/token-bucket.ts): a sender that asks wait() before every session packet, and is
 * charged for what it sends unasked (ACKs), is never refused by the server, at the default policy,
 * at an announced one, and when small packets make the frame bucket the one that binds.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { Limits, RELAY_POLICY_DEFAULTS } from '../../common/wire/constants.js';
import type { RelayPolicy } from '../../common/wire/constants.js';
import { RELAY_PACE_SHARE, RelayPacer } from '../../peer/relay-pacer.js';
import { PeerRateLimit } from '../../rendezvous/token-bucket.js';

/**
 * Send `payload`-byte packets for `ms` of virtual time as fast as the pacer allows, with an
 * unasked 60-byte frame after every `ackEvery` (ACKs); what the server's buckets refuse is counted.
 */
function run(policy: RelayPolicy, announce: boolean, payload: number, ms: number, ackEvery = 4) {
  const clock = new VirtualClock(0);
  const pacer = new RelayPacer(clock);
  if (announce) pacer.setPolicy(policy);
  const server = new PeerRateLimit(
    {
      bytesPerSec: policy.rateBytes,
      burstBytes: policy.burstBytes,
      framesPerSec: policy.rateFrames,
      burstFrames: policy.burstFrames,
    },
    0,
  );
  let sent = 0;
  let bytes = 0;
  let refused = 0;
  const put = (size: number): void => {
    pacer.onSent(size);
    if (!server.allow(size, clock.now())) refused++;
  };
  while (clock.now() < ms) {
    const wait = pacer.wait(payload);
    if (wait > 0) {
      clock.advance(wait);
      // A timer set for the exact wait finds the packet allowed (no re-arming at the same instant).
      expect(pacer.wait(payload)).toBe(0);
      continue;
    }
    put(payload + Limits.RELAY_HEADER_BYTES);
    sent++;
    bytes += payload + Limits.RELAY_HEADER_BYTES;
    if (sent % ackEvery === 0) put(60);
  }
  return { refused, sent, bytesPerSec: (bytes * 1000) / ms, framesPerSec: (sent * 1000) / ms };
}

describe('relay pacer', () => {
  it('full packets at the default policy: nothing refused over 60 s, at about 90% of the byte rate', () => {
    const r = run(RELAY_POLICY_DEFAULTS, false, Limits.MAX_DATAGRAM, 60_000);
    expect(r.refused).toBe(0);
    expect(r.bytesPerSec).toBeLessThanOrEqual(RELAY_POLICY_DEFAULTS.rateBytes * RELAY_PACE_SHARE);
    expect(r.bytesPerSec).toBeGreaterThan(RELAY_POLICY_DEFAULTS.rateBytes * 0.8);
  });

  it('an announced policy is followed: 256 KiB/s, and a small burst', () => {
    const p = { rateBytes: 262_144, burstBytes: 4096, rateFrames: 2000, burstFrames: 4000 };
    const r = run(p, true, Limits.MAX_DATAGRAM, 60_000);
    expect(r.refused).toBe(0);
    expect(r.bytesPerSec).toBeGreaterThan(262_144 * 0.8);
    // The same server, not announced: the peer assumes 1 MiB/s and is refused.
    expect(run(p, false, Limits.MAX_DATAGRAM, 60_000).refused).toBeGreaterThan(1000);
  });

  it('small packets: the frame bucket binds, and nothing is refused', () => {
    const p = { ...RELAY_POLICY_DEFAULTS, rateFrames: 100, burstFrames: 200 };
    const r = run(p, true, 100, 60_000);
    expect(r.refused).toBe(0);
    expect(r.framesPerSec).toBeLessThanOrEqual(100 * RELAY_PACE_SHARE);
    expect(r.framesPerSec).toBeGreaterThan(100 * 0.6);
  });

  it('a frame larger than the bucket still gets a finite wait (until the bucket is full)', () => {
    const clock = new VirtualClock(0);
    const pacer = new RelayPacer(clock);
    pacer.setPolicy({ rateBytes: 1024, burstBytes: 1000, rateFrames: 1, burstFrames: 1 });
    pacer.onSent(5000);
    const wait = pacer.wait(Limits.MAX_RELAY_PAYLOAD);
    expect(Number.isFinite(wait) && wait > 0).toBe(true);
    clock.advance(wait);
    expect(pacer.wait(Limits.MAX_RELAY_PAYLOAD)).toBe(0);
  });
});
