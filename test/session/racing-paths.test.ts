import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { Rng } from '../../common/net/sim/random.js';
import { ptoFromSample } from '../../common/session/session-handshake.js';
import { Session, type SessionPath } from '../../common/session/session.js';
import { orderedKeys, seededRandom } from './helpers.js';

/** A path that records when something was sent on it (and drops it). */
function recorder(
  clock: VirtualClock,
  id: SessionPath['id'],
  vouched = false,
): SessionPath & { at: number[] } {
  const at: number[] = [];
  return { id, vouched, at, send: () => void at.push(clock.now()) };
}

function initiator(clock: VirtualClock): Session {
  const [x, y] = orderedKeys(3);
  return new Session(
    { staticKey: x, expectedRemoteStatic: y.publicKey, prologue: new Uint8Array([1, 2, 3]) },
    { clock, randomBytes: seededRandom(new Rng(3, 'race')) },
  );
}

describe('racing the handshake on several paths (SessionHandshake.offer, nudge)', () => {
  it('message 1 goes on every offered path at start; the timer resends only where the peer is vouched or proved', () => {
    const clock = new VirtualClock();
    const s = initiator(clock);
    const lan = recorder(clock, { kind: 'direct', remote: { address: '192.168.1.7', port: 5000 } });
    const pub = recorder(clock, { kind: 'direct', remote: { address: '198.51.100.7', port: 4000 } });
    const relay = recorder(clock, { kind: 'relay' }, true);
    for (const p of [lan, pub, relay]) s.offer(p);
    s.start();
    expect([lan.at, pub.at, relay.at]).toEqual([[0], [0], [0]]);
    clock.advance(500);
    s.offer(pub, true); // the peer's PROBE came from there: message 1 at once
    s.offer(pub, true); // once per path
    clock.advance(3_500); // retransmissions at 1 s and 3 s
    expect(lan.at).toEqual([0]); // only claimed: sent once
    expect(pub.at).toEqual([0, 500, 1_000, 3_000]);
    expect(relay.at).toEqual([0, 1_000, 3_000]);
    s.close();
  });

  it('a path set with a measured RTT times the retransmissions from it (PTO = 3 x RTT, at least 50 ms)', () => {
    expect(ptoFromSample(20)).toBe(60);
    expect(ptoFromSample(0.4)).toBe(50);
    const clock = new VirtualClock();
    const s = initiator(clock);
    const pub = recorder(clock, { kind: 'direct', remote: { address: '198.51.100.7', port: 4000 } });
    s.start();
    clock.advance(100);
    s.setPath(pub, 20);
    clock.advance(500);
    // At once, then after 60, 120 and 240 ms (doubling).
    expect(pub.at).toEqual([100, 160, 280, 520]);
    expect(s.stats().handshakeRetransmits).toBe(3);
    s.close();
  });

  it('without a sample the first retransmission waits handshakeRetransmitMs (1 s)', () => {
    const clock = new VirtualClock();
    const s = initiator(clock);
    const pub = recorder(clock, { kind: 'direct', remote: { address: '198.51.100.7', port: 4000 } });
    s.start();
    s.setPath(pub);
    clock.advance(1_500);
    expect(pub.at).toEqual([0, 1_000]);
    s.close();
  });

  it('a round trip estimated for an offered path (the relay: twice the server RTT) times its resends', () => {
    // Message 1 on the relay is lost while the peer's relay stream is not up yet: resent after
    // 3 x 40 ms, not 1 s (peer/peer-link.ts, begin).
    const clock = new VirtualClock();
    const s = initiator(clock);
    const relay = recorder(clock, { kind: 'relay' }, true);
    s.offer(relay, false, 40);
    s.start();
    clock.advance(400);
    expect(relay.at).toEqual([0, 120, 360]);
    s.close();
  });
});
