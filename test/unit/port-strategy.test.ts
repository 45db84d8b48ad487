import { describe, expect, it } from 'vitest';
import type { PortBehaviour } from '../../common/nat-behaviour.js';
import { PORT_SEARCH, admitSearch, portStrategy, searchPorts } from '../../common/path/port-strategy.js';
import { seededRandom } from '../support/random.js';

const unknown: PortBehaviour = { kind: 'unknown' };
const consistent: PortBehaviour = { kind: 'consistent', preserved: true };
const sequential: PortBehaviour = { kind: 'sequential', step: 2, last: 40_000 };
const random: PortBehaviour = { kind: 'random' };

describe('portStrategy: what each side does, from both port behaviours', () => {
  // Rows: our behaviour; columns: the peer's (unknown, consistent, sequential, random).
  const table: [PortBehaviour, string[]][] = [
    [unknown, ['plain', 'plain', 'plain', 'plain']],
    [consistent, ['plain', 'plain', 'probe-ports', 'probe-ports']],
    [sequential, ['plain', 'open-sockets', 'plain', 'plain']],
    [random, ['plain', 'open-sockets', 'plain', 'plain']],
  ];
  const peers = [unknown, consistent, sequential, random];
  for (const [self, row] of table)
    it(`${self.kind} against each`, () => {
      expect(peers.map((p) => portStrategy(self, p))).toEqual(row);
    });

  it('is complementary: whenever one side opens sockets, the other probes ports', () => {
    for (const a of peers)
      for (const b of peers) {
        const x = portStrategy(a, b);
        const y = portStrategy(b, a);
        if (x === 'open-sockets') expect(y).toBe('probe-ports');
        if (x === 'probe-ports') expect(y).toBe('open-sockets');
        if (x === 'plain') expect(y).toBe('plain');
      }
  });
});

describe('admitSearch: a failed search backs off, doubling', () => {
  it('admits the first search and one after a success at once', () => {
    expect(admitSearch(undefined, 0)).toBe(true);
    expect(admitSearch({ failures: 0, lastEndedAt: 1000 }, 1000)).toBe(true);
  });
  it('waits 30 s after one failure, 60 s after two, and at most 10 min', () => {
    expect(admitSearch({ failures: 1, lastEndedAt: 0 }, 29_999)).toBe(false);
    expect(admitSearch({ failures: 1, lastEndedAt: 0 }, 30_000)).toBe(true);
    expect(admitSearch({ failures: 2, lastEndedAt: 0 }, 59_999)).toBe(false);
    expect(admitSearch({ failures: 2, lastEndedAt: 0 }, 60_000)).toBe(true);
    expect(admitSearch({ failures: 20, lastEndedAt: 0 }, 599_999)).toBe(false);
    expect(admitSearch({ failures: 20, lastEndedAt: 0 }, 600_000)).toBe(true);
  });
});

describe('searchPorts: the ports a probe-ports search tries', () => {
  const take = (g: Generator<number>, n: number): number[] => {
    const out: number[] = [];
    for (const p of g) {
      out.push(p);
      if (out.length === n) break;
    }
    return out;
  };

  it('towards a sequential NAT: the next 256 predicted ports first, then random ones, never twice', () => {
    const ports = take(searchPorts(sequential, seededRandom(1)), PORT_SEARCH.probes);
    expect(ports.slice(0, 3)).toEqual([40_002, 40_004, 40_006]);
    expect(ports[PORT_SEARCH.predicted - 1]).toBe(40_000 + 2 * PORT_SEARCH.predicted);
    expect(new Set(ports).size).toBe(ports.length);
    const [lo, hi] = PORT_SEARCH.portRange;
    for (const p of ports) expect(p >= lo && p <= hi).toBe(true);
  });

  it('stops predicting at the end of the port range', () => {
    const ports = take(searchPorts({ kind: 'sequential', step: 1, last: 65_534 }, seededRandom(1)), 3);
    expect(ports[0]).toBe(65_535);
    expect(ports[1]).not.toBe(65_536);
  });

  it('towards a random NAT: random ports from the injected source (one seed, one trace)', () => {
    const a = take(searchPorts(random, seededRandom(7)), 50);
    expect(take(searchPorts(random, seededRandom(7)), 50)).toEqual(a);
    expect(take(searchPorts(random, seededRandom(8)), 50)).not.toEqual(a);
    expect(new Set(a).size).toBe(50);
  });

  it('the budget gives the odds docs/nat-traversal.md states', () => {
    const range = PORT_SEARCH.portRange[1] - PORT_SEARCH.portRange[0] + 1;
    const p = (n: number): number => 1 - (1 - PORT_SEARCH.sockets / range) ** n;
    expect(p(174)).toBeCloseTo(0.5, 2);
    expect(p(580)).toBeCloseTo(0.9, 2);
    expect(p(984)).toBeCloseTo(0.98, 2);
    expect(p(PORT_SEARCH.probes)).toBeGreaterThan(0.997);
  });
});
