import { describe, expect, it } from 'vitest';
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import { Rng } from '../../common/net/sim/random.js';
import { endpointKey } from '../../common/net/types.js';
import { describePath } from '../../common/path/path-id.js';
import type { Session } from '../../common/session/session.js';
import { checkMessage, drive, makeMessage, relay, simPair } from './sim-harness.js';

/**
 * Records what a session delivers. Session event handlers must not throw (the session logs and
 * swallows it), so gaps, duplicates and corruption are recorded and checked by `expectAll`.
 */
function receiver(s: Session, stream: string): { seqs: number[]; errors: string[] } {
  const r = { seqs: [] as number[], errors: [] as string[] };
  s.on('message', (m) => {
    try {
      const seq = checkMessage(m.data, stream);
      if (seq !== r.seqs.length) r.errors.push(`${stream}: got ${seq}, expected ${r.seqs.length}`);
      if (m.id !== seq + 1) r.errors.push(`${stream}: id ${m.id} for message ${seq}`);
      r.seqs.push(seq);
    } catch (e) {
      r.errors.push(String(e));
    }
  });
  return r;
}

function expectAll(r: { seqs: number[]; errors: string[] }, n: number): void {
  expect(r.errors).toEqual([]);
  expect(r.seqs).toEqual([...Array(n)].map((_, i) => i));
}

/** Sends `count` messages of sizes from `size`, respecting back-pressure. */
function sender(s: Session, stream: string, count: number, size: (i: number) => number): () => number {
  let next = 0;
  const pump = (): void => {
    while (next < count && s.send(makeMessage(next, size(next), stream)) !== false) next++;
  };
  s.on('writable', pump);
  pump();
  return () => next;
}

describe('session over the simulated network', () => {
  const conditions = [0, 0.1, 0.3, 0.5];
  for (const seed of [1, 2, 3]) {
    for (const loss of conditions) {
      it(`seed ${seed}, loss ${loss * 100}% each way + 10% duplication + 10% reordering: exactly once, in order, both ways`, async () => {
        const p = await simPair({
          seed,
          nat: NAT_PRESETS.portRestrictedCone,
          linkA: { delayMs: 15, jitterMs: 10, loss, duplicate: 0.1, reorder: 0.1, reorderDelayMs: 30 },
        });
        const rng = new Rng(seed, 'sizes');
        const sizes = [...Array(120)].map(() =>
          rng.chance(0.05) ? rng.int(10_000, 60_000) : rng.int(0, 3000),
        );
        const ra = receiver(p.a, 'b->a');
        const rb = receiver(p.b, 'a->b');
        sender(p.a, 'a->b', sizes.length, (i) => sizes[i]!);
        sender(p.b, 'b->a', sizes.length, (i) => sizes[(i * 7) % sizes.length]!);
        const ok = drive(
          p.sim,
          () => ra.seqs.length === sizes.length && rb.seqs.length === sizes.length,
          3_600_000,
        );
        expect(ok).toBe(true);
        expect(p.largest()).toBeLessThanOrEqual(1200);
        // Let stragglers (duplicates, late retransmissions) arrive: still nothing more.
        drive(p.sim, () => false, 10_000);
        expectAll(ra, sizes.length);
        expectAll(rb, sizes.length);
        for (const s of [p.a, p.b]) {
          const d = s.stats().dropped;
          expect([d.auth, d.malformed, d.protocol, d.internal, d.unknownCid]).toEqual([0, 0, 0, 0, 0]);
          expect(s.stats().state).toBe('open');
        }
        if (loss > 0) expect(p.a.stats().retransmits).toBeGreaterThan(0);
      });
    }
  }

  it('the issue bar: 20% loss both ways, 1,000 messages each way and a 1 MiB message, exactly once and in order', async () => {
    const wall = performance.now();
    const p = await simPair({
      seed: 20,
      nat: NAT_PRESETS.portRestrictedCone,
      linkA: { delayMs: 10, jitterMs: 5, loss: 0.2 },
    });
    const N = 1000;
    const rng = new Rng(20, 'chat');
    const sizes = [...Array(N)].map(() => rng.int(1, 400));
    const big = makeMessage(0, 1024 * 1024, 'big');
    // A sends 1,000 chat-sized messages then the 1 MiB one (message N + 1); B sends 1,000.
    const ra = receiver(p.a, 'b->a');
    const rb = { seqs: [] as number[], errors: [] as string[], big: undefined as Uint8Array | undefined };
    p.b.on('message', (m) => {
      if (m.id === N + 1) {
        rb.big = m.data;
        return;
      }
      try {
        const seq = checkMessage(m.data, 'a->b');
        if (seq !== rb.seqs.length || m.id !== seq + 1) rb.errors.push(`a->b: got ${seq} as id ${m.id}`);
        rb.seqs.push(seq);
      } catch (e) {
        rb.errors.push(String(e));
      }
    });
    sender(p.b, 'b->a', N, (i) => sizes[i]!);
    let bigId: number | false = false;
    let sentA = 0;
    const pumpA = (): void => {
      while (sentA < N && p.a.send(makeMessage(sentA, sizes[sentA]!, 'a->b')) !== false) sentA++;
      if (sentA === N && bigId === false) bigId = p.a.send(big);
    };
    p.a.on('writable', pumpA);
    pumpA();
    const delivered: number[] = [];
    p.a.on('delivered', (e) => delivered.push(e.id));
    const t0 = p.sim.clock.now();
    const ok = drive(p.sim, () => ra.seqs.length === N && delivered.length === N + 1, 3_600_000);
    const virtualMs = p.sim.clock.now() - t0;
    expect(ok).toBe(true);
    expect(bigId).toBe(N + 1);
    expect(delivered).toEqual([...Array(N + 1)].map((_, i) => i + 1));
    expect(rb.seqs.length).toBe(N);
    expect(rb.big && Buffer.compare(rb.big, big)).toBe(0);
    expect(p.largest()).toBeLessThanOrEqual(1200);
    drive(p.sim, () => false, 10_000);
    expectAll(ra, N);
    expectAll(rb, N);
    const sa = p.a.stats();
    const sb = p.b.stats();
    expect(sa.loss).toBeGreaterThan(0.1);
    expect(sa.retransmits).toBeGreaterThan(100);
    console.info(
      `20% loss bar: ${N} + 1 MiB a->b, ${N} b->a in ${(virtualMs / 1000).toFixed(1)} s virtual, ` +
        `${((performance.now() - wall) / 1000).toFixed(2)} s wall; a: ${sa.packetsSent} packets, ` +
        `${sa.retransmits} retransmits (${sa.retransmittedBytes} B), ${sa.probeTimeouts} PTOs, ` +
        `loss ${sa.loss.toFixed(2)}, srtt ${sa.rttMs.toFixed(1)} ms, cwnd ${Math.round(sa.cwnd)}; ` +
        `b: ${sb.packetsSent} packets, ${sb.retransmits} retransmits`,
    );
  });

  it('NAT rebinding mid-conversation: B validates the new port and follows it; nothing lost or doubled', async () => {
    const p = await simPair({
      seed: 7,
      nat: { ...NAT_PRESETS.portRestrictedCone, portAllocation: 'random' },
      linkA: { delayMs: 10, jitterMs: 3, loss: 0.05 },
    });
    const ra = receiver(p.a, 'b->a');
    const rb = receiver(p.b, 'a->b');
    const N = 400;
    // Messages trickle both ways, 20 per 100 ms, across the rebinding.
    let sentA = 0;
    let sentB = 0;
    const tick = (): void => {
      for (let i = 0; i < 10 && sentA < N; i++) p.a.send(makeMessage(sentA++, 300, 'a->b'));
      for (let i = 0; i < 10 && sentB < N; i++) p.b.send(makeMessage(sentB++, 300, 'b->a'));
      if (sentA < N || sentB < N) p.sim.clock.setTimeout(tick, 100);
    };
    tick();
    const paths: { label: string; via: string }[] = [];
    p.b.on('path', (e) => paths.push({ label: describePath(e.id), via: e.via }));
    drive(p.sim, () => rb.seqs.length > 100, 60_000);
    const before = p.b.stats().path!;
    const mapped = p.natA.mappings()[0]!.external;
    expect(before).toBe(`direct ${endpointKey(mapped)}`);
    expect(p.natA.flushMappings()).toBe(1);
    expect(drive(p.sim, () => ra.seqs.length === N && rb.seqs.length === N, 600_000)).toBe(true);
    const after = p.b.stats().path!;
    expect(after).not.toBe(before);
    expect(after).toBe(`direct ${endpointKey(p.natA.mappings()[0]!.external)}`);
    expect(paths.filter((e) => e.via !== 'adopted')).toEqual([{ label: after, via: 'validated' }]);
    expect(p.b.stats().pathsValidated).toBe(1);
    drive(p.sim, () => false, 5000);
    expectAll(ra, N);
    expectAll(rb, N);
  });

  it('a third host racing, replaying and modifying packets from its own address does not take the session', async () => {
    const p = await simPair({ seed: 9, nat: NAT_PRESETS.fullCone, linkA: { delayMs: 30 } });
    const m = p.sim.addHost('mallory', { internetAddress: '203.0.113.66', link: { delayMs: 1 } });
    const ms = m.network.createUdpSocket();
    await ms.bind(6666);
    const seenByMallory: number[] = [];
    ms.onMessage((d) => seenByMallory.push(d.length)); // challenges sent to her: she cannot answer them
    // Mallory sniffs A's packets on the way (a copy of what A's path sends) and races them to B.
    const captured: Uint8Array[] = [];
    let racing = false;
    const aPath = p.ownerA.pathTo(p.bEndpoint);
    p.a.setPath({
      id: aPath.id,
      send: (d) => {
        aPath.send(d);
        captured.push(new Uint8Array(d));
        if (racing) ms.send(d, p.bEndpoint);
      },
    });
    const rb = receiver(p.b, 'a->b');
    const challenges: string[] = [];
    p.b.on('pathChallenge', (e) => challenges.push(describePath(e.id)));
    const N = 100;
    for (let i = 0; i < 30; i++) p.a.send(makeMessage(i, 200, 'a->b'));
    drive(p.sim, () => rb.seqs.length === 30, 60_000);
    const home = p.b.stats().path;
    racing = true;
    for (let i = 30; i < 60; i++) p.a.send(makeMessage(i, 200, 'a->b'));
    drive(p.sim, () => rb.seqs.length === 60, 60_000);
    racing = false;
    // Replays of everything A sent so far, and modified copies, from Mallory's address.
    const replayed = captured.filter((d) => d[1] === 0x33).length;
    for (const d of captured) {
      ms.send(d, p.bEndpoint);
      const t = new Uint8Array(d);
      if (t[1] === 0x33)
        t[11]! ^= 0x01; // a never-seen packet number: it must fail the AEAD
      else t[t.length - 1]! ^= 0x40;
      ms.send(t, p.bEndpoint);
    }
    for (let i = 60; i < N; i++) p.a.send(makeMessage(i, 200, 'a->b'));
    expect(drive(p.sim, () => rb.seqs.length === N, 60_000)).toBe(true);
    drive(p.sim, () => false, 10_000);
    const s = p.b.stats();
    expect(challenges).toEqual(['direct 203.0.113.66:6666']); // the race made B ask, once
    expect(s.pathChallenges).toBe(3); // three tries, unanswered
    expect(s.pathValidationsFailed).toBe(1);
    expect(s.path).toBe(home); // B still sends to A
    expect(s.dropped.replay).toBeGreaterThanOrEqual(replayed);
    expect(s.dropped.auth).toBe(replayed); // each modified copy
    expect(s.packetsReceived).toBe(captured.filter((d) => d[1] === 0x33).length); // each genuine packet once
    expect(seenByMallory.length).toBe(3);
    expectAll(rb, N);
  });

  it('the direct path dies: both sides declare it dead in 15 s; what was sent meanwhile flows once over the relay set with setPath', async () => {
    const p = await simPair({ seed: 11, nat: NAT_PRESETS.portRestrictedCone, linkA: { delayMs: 10 } });
    const ra = receiver(p.a, 'b->a');
    const rb = receiver(p.b, 'a->b');
    let sa = 0;
    let sb = 0;
    const send = (n: number): void => {
      for (let i = 0; i < n; i++) {
        p.a.send(makeMessage(sa++, 500, 'a->b'));
        p.b.send(makeMessage(sb++, 500, 'b->a'));
      }
    };
    send(20);
    drive(p.sim, () => ra.seqs.length === 20 && rb.seqs.length === 20, 10_000);
    drive(p.sim, () => false, 1000);
    const dead: { side: string; silentMs: number; at: number }[] = [];
    p.a.on('dead', (e) => dead.push({ side: 'a', silentMs: e.silentMs, at: p.sim.clock.now() }));
    p.b.on('dead', (e) => dead.push({ side: 'b', silentMs: e.silentMs, at: p.sim.clock.now() }));
    // B changes network: A's packets go to an address nobody has, A's NAT filters B's new one.
    const t0 = p.sim.clock.now();
    p.sim.moveHost(p.hostB, { internetAddress: '203.0.113.31' });
    send(10);
    drive(p.sim, () => dead.length === 2, 20_000);
    expect(dead.map((d) => d.side).sort()).toEqual(['a', 'b']);
    for (const d of dead) {
      expect(d.silentMs).toBe(15_000);
      expect(d.at - t0).toBeLessThanOrEqual(15_000);
    }
    send(10); // and more after 'dead'
    drive(p.sim, () => false, 5_000);
    expect([ra.seqs.length, rb.seqs.length]).toEqual([20, 20]);
    // The owners fall back to the relay.
    const r = await relay(p.sim, '203.0.113.40');
    const rKey = `${r.endpoint.address}:${r.endpoint.port}`;
    p.ownerA.relays.add(rKey);
    p.ownerB.relays.add(rKey);
    p.ownerA.sock.send(new Uint8Array([0x41]), r.endpoint);
    p.ownerB.sock.send(new Uint8Array([0x42]), r.endpoint);
    drive(p.sim, () => false, 100);
    const alive: string[] = [];
    p.a.on('alive', () => alive.push('a'));
    p.b.on('alive', () => alive.push('b'));
    const t1 = p.sim.clock.now();
    p.a.setPath(p.ownerA.pathTo(r.endpoint));
    p.b.setPath(p.ownerB.pathTo(r.endpoint));
    expect(drive(p.sim, () => ra.seqs.length === 40 && rb.seqs.length === 40, 30_000)).toBe(true);
    expect(p.sim.clock.now() - t1).toBeLessThan(1000); // a kick, not a backed-off probe
    drive(p.sim, () => false, 10_000);
    expectAll(ra, 40);
    expectAll(rb, 40);
    expect(alive.sort()).toEqual(['a', 'b']);
    expect([p.a.stats().path, p.b.stats().path]).toEqual(['relay', 'relay']);
    expect(r.forwarded()).toBeGreaterThan(10);
  });
});
