import { describe, expect, it } from 'vitest';
import { MsgType } from '../../common/wire/constants.js';
import { type SessionPath } from '../../common/session/session.js';
import { Wire, collect, enc, makePair, run, runUntil } from './helpers.js';
import { Rng } from '../../common/net/sim/random.js';

describe('heartbeats and liveness', () => {
  it('an idle session PINGs every 5 s and measures the RTT; the responder only answers', () => {
    const p = makePair();
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    run(p.clock, 1000);
    const [init, resp] = p.a.isInitiator ? [p.a, p.b] : [p.b, p.a];
    const sent0 = [init.stats().packetsSent, resp.stats().packetsSent];
    run(p.clock, 60_000);
    const s = init.stats();
    // The initiator PINGs every 5 s; the responder acknowledges each and sends no PING of its
    // own while they come (common/session/liveness-monitor.ts): one packet each per 5 s.
    for (const n of [s.packetsSent - sent0[0]!, resp.stats().packetsSent - sent0[1]!]) {
      expect(n).toBeGreaterThanOrEqual(11);
      expect(n).toBeLessThanOrEqual(13);
    }
    expect(resp.stats().dead).toBe(false);
    expect(s.minRttMs).toBe(20); // 10 ms each way, PINGs acknowledged at once
    expect(s.rttMs).toBeCloseTo(20, 5);
    expect(s.dead).toBe(false);
    expect(s.loss).toBe(0);
  });

  it('declares the path dead 15 s after the last authenticated packet; messages wait and flow once setPath gives a working path', () => {
    const p = makePair({ start: false });
    const ga = collect(p.a);
    const gb = collect(p.b);
    // When each side last got a datagram (all of them authentic here).
    let lastA = 0;
    let lastB = 0;
    const recvA = p.a.receive.bind(p.a);
    const recvB = p.b.receive.bind(p.b);
    p.a.receive = (d, f) => {
      lastA = p.clock.now();
      recvA(d, f);
    };
    p.b.receive = (d, f) => {
      lastB = p.clock.now();
      recvB(d, f);
    };
    p.a.start();
    p.b.start();
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    p.a.send(enc('before'));
    runUntil(p.clock, () => gb.length === 1, 5000);
    run(p.clock, 100);
    p.ab.c.down = true;
    p.ba.c.down = true;
    const down = p.clock.now();
    const dead: { side: string; at: number; silentMs: number }[] = [];
    p.a.on('dead', (e) => dead.push({ side: 'a', at: p.clock.now(), silentMs: e.silentMs }));
    p.b.on('dead', (e) => dead.push({ side: 'b', at: p.clock.now(), silentMs: e.silentMs }));
    // Messages sent while the path is down (some before, some after 'dead').
    for (let i = 0; i < 5; i++) {
      p.a.send(enc(`a${i}`));
      p.b.send(enc(`b${i}`));
    }
    run(p.clock, 14_000);
    expect(dead).toEqual([]);
    run(p.clock, 2_000);
    expect(dead.map((d) => d.side).sort()).toEqual(['a', 'b']);
    for (const d of dead) {
      expect(d.silentMs).toBe(15_000);
      expect(d.at).toBe((d.side === 'a' ? lastA : lastB) + 15_000);
      expect(d.at - down).toBeLessThanOrEqual(15_000);
    }
    for (let i = 5; i < 10; i++) {
      p.a.send(enc(`a${i}`));
      p.b.send(enc(`b${i}`));
    }
    run(p.clock, 20_000); // still down: probes back off, nothing is lost or delivered
    expect(gb.length).toBe(1);
    expect(ga.length).toBe(0);
    // A new, working path (a relay, say).
    const rng = new Rng(7, 'relay');
    const ab = new Wire(p.clock, rng.fork('ab'), { delayMs: 30 });
    const ba = new Wire(p.clock, rng.fork('ba'), { delayMs: 30 });
    const relayToB: SessionPath = {
      id: { kind: 'relay' },
      send: (d) => ab.carry(d, (x) => p.b.receive(x, relayToA)),
    };
    const relayToA: SessionPath = {
      id: { kind: 'relay' },
      send: (d) => ba.carry(d, (x) => p.a.receive(x, relayToB)),
    };
    const alive: string[] = [];
    p.a.on('alive', () => alive.push('a'));
    p.b.on('alive', () => alive.push('b'));
    const t0 = p.clock.now();
    p.a.setPath(relayToB);
    p.b.setPath(relayToA);
    expect(runUntil(p.clock, () => ga.length === 10 && gb.length === 11, 10_000)).toBe(true);
    // The setPath kick sends at once: one trip plus acknowledgements, not a backed-off probe.
    expect(p.clock.now() - t0).toBeLessThan(500);
    run(p.clock, 5000);
    expect(gb.map((m) => m.text)).toEqual(['before', ...[...Array(10)].map((_, i) => `a${i}`)]);
    expect(ga.map((m) => m.text)).toEqual([...Array(10)].map((_, i) => `b${i}`));
    expect(gb.map((m) => m.id)).toEqual([...Array(11)].map((_, i) => i + 1));
    expect(alive.sort()).toEqual(['a', 'b']);
    expect(p.a.stats().path).toBe('relay');
    expect(p.a.stats().dead).toBe(false);
  });

  it('without a new path, a link that comes back is found again by the probes (within maxPtoMs)', () => {
    const p = makePair();
    const gb = collect(p.b);
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    run(p.clock, 200); // both sides confirmed (an unconfirmed initiator would time out instead)
    p.ab.c.down = true;
    p.ba.c.down = true;
    p.a.send(enc('x'));
    run(p.clock, 30_000);
    expect(p.a.dead).toBe(true);
    p.ab.c.down = false;
    p.ba.c.down = false;
    const t0 = p.clock.now();
    expect(runUntil(p.clock, () => gb.length === 1 && !p.a.dead && !p.b.dead, 10_000)).toBe(true);
    expect(p.clock.now() - t0).toBeLessThanOrEqual(5_000 + 50);
  });

  it('probe timeouts back off exponentially up to the 5 s cap (RFC 9002 §6.2.1)', () => {
    // Heartbeats out of the way, so every packet seen is a probe.
    const p = makePair({ tuning: { pingIntervalMs: 600_000, deadAfterMs: 600_000 } });
    runUntil(p.clock, () => p.a.state === 'open' && p.b.state === 'open', 5000);
    const gb = collect(p.b);
    for (let i = 0; i < 20; i++) p.a.send(enc(`warm${i}`)); // establish an RTT
    runUntil(p.clock, () => gb.length === 20, 5000);
    run(p.clock, 1000);
    const pto = p.a.stats().ptoMs;
    expect(pto).toBeGreaterThan(20);
    expect(pto).toBeLessThan(200);
    const sends: number[] = [];
    const sizes: number[] = [];
    p.ab.c.down = true;
    p.ab.drop = (d) => {
      if (d[1] === MsgType.SESSION_DATA) {
        sends.push(p.clock.now());
        sizes.push(d.length);
      }
      return false;
    };
    const t0 = p.clock.now();
    p.a.send(enc('lost'));
    run(p.clock, 40_000);
    const bursts = [...new Set(sends)].map((t) => t - t0);
    expect(bursts[0]).toBe(0); // the message itself
    const gaps = bursts.slice(1).map((t, i) => t - bursts[i]!);
    const expected = gaps.map((_, i) => Math.min(pto * 2 ** i, 5000));
    expect(gaps.length).toBeGreaterThanOrEqual(9);
    for (let i = 0; i < gaps.length; i++) expect(gaps[i]).toBeCloseTo(expected[i]!, 6);
    // One probe per timeout here: a single frame is outstanding, so there is nothing for the
    // second probe RFC 9002 §6.2.4 allows.
    expect(sends.length).toBe(1 + gaps.length);
    // Each probe carries the lost data again (frames, not a bare 34-byte PING).
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(sizes[0]! - 8);
    expect(p.a.stats().probeTimeouts).toBe(gaps.length);
  });
});
