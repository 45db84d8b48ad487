import { describe, expect, it } from 'vitest';
import { Rng } from '../../common/net/sim/random.js';
import { checkMessage, drive, makeMessage, simPair } from './sim-harness.js';

describe('migration under loss', () => {
  for (const seed of [201, 203, 212]) {
    it(`seed ${seed}: five NAT rebindings during a two-way conversation at 0-30% loss lose and double nothing`, async () => {
      const r = new Rng(seed, 'cfg');
      const p = await simPair({
        seed,
        nat: { portAllocation: 'random' },
        linkA: {
          delayMs: r.int(1, 40),
          jitterMs: r.int(0, 20),
          loss: r.next() * 0.3,
          duplicate: 0.05,
          reorder: 0.1,
        },
      });
      // (Session handlers must not throw: record, check afterwards.)
      const seqs = { a: [] as number[], b: [] as number[] };
      p.a.on('message', (m) => seqs.a.push(checkMessage(m.data, 'b')));
      p.b.on('message', (m) => seqs.b.push(checkMessage(m.data, 'a')));
      const got = {
        get a() {
          return seqs.a.length;
        },
        get b() {
          return seqs.b.length;
        },
      };
      const N = 300;
      let na = 0;
      let nb = 0;
      const tick = (): void => {
        for (let i = 0; i < 5; i++) {
          if (na < N) p.a.send(makeMessage(na++, r.int(0, 2000), 'a'));
          if (nb < N) p.b.send(makeMessage(nb++, r.int(0, 2000), 'b'));
        }
        // 6 s of conversation: the rebindings (0.5 s, then every 0.7-2.2 s) happen during it.
        if (na < N || nb < N) p.sim.clock.setTimeout(tick, 100);
      };
      tick();
      let flushes = 0;
      const ports = new Set<number>();
      const flusher = (): void => {
        for (const m of p.natA.mappings()) ports.add(m.external.port);
        p.natA.flushMappings();
        if (++flushes < 5) p.sim.clock.setTimeout(flusher, 700 + r.int(0, 1500));
      };
      p.sim.clock.setTimeout(flusher, 500);
      expect(drive(p.sim, () => got.a === N && got.b === N, 600_000)).toBe(true);
      // A rebinding after the last message shows when A next sends: its heartbeat, at most
      // pingIntervalMs (5 s) later.
      drive(p.sim, () => false, 10_000);
      const all = [...Array(N)].map((_, i) => i);
      expect(seqs.a).toEqual(all);
      expect(seqs.b).toEqual(all);
      expect(flushes).toBe(5);
      expect(ports.size).toBeGreaterThanOrEqual(2); // the NAT really moved the port
      const s = p.b.stats();
      expect(s.pathsValidated).toBeGreaterThanOrEqual(2);
      expect(s.path).toBe(`direct 203.0.113.20:${p.natA.mappings()[0]!.external.port}`);
    });
  }
});
