import { describe, expect, it } from 'vitest';
import { backoffDelay, REQUEST_BACKOFF } from '../../common/path/backoff.js';
import { candidatesFor, probeSchedule } from '../../common/path/candidates.js';
import { plainPunchFinds, portSearchFinds, predictDirect } from '../../common/path/predict-direct.js';
import type { NatBehaviour } from '../../common/nat-behaviour.js';

describe('backoff', () => {
  it.each([
    [0, 250],
    [1, 500],
    [2, 1000],
    [5, 8000],
    [9, 8000],
  ])('request retry %i waits %i ms (no jitter draw)', (attempt, ms) => {
    expect(backoffDelay(attempt, REQUEST_BACKOFF, 0.5)).toBe(ms);
  });
  it('jitter spreads within ±10%', () => {
    expect(backoffDelay(2, REQUEST_BACKOFF, 0)).toBe(900);
    expect(backoffDelay(2, REQUEST_BACKOFF, 0.999999)).toBe(1100);
  });
});

describe('candidates', () => {
  const pub = { address: '203.0.113.5', port: 4000 };
  it('orders LAN before public behind the same NAT, and drops duplicates', () => {
    const c = candidatesFor(
      { observed: pub, lan: [{ address: '10.0.0.2', port: 4000 }, pub, { address: '10.0.0.2', port: 4000 }] },
      { address: pub.address, port: 4001 },
    );
    expect(c.map((x) => [x.kind, x.endpoint.address])).toEqual([
      ['lan', '10.0.0.2'],
      ['public', '203.0.113.5'],
    ]);
  });
  it('LAN ranks above public only when both peers share a public address (same NAT)', () => {
    const lan = { address: '10.0.0.2', port: 4000 };
    const same = candidatesFor({ observed: pub, lan: [lan] }, { address: '203.0.113.5', port: 5000 });
    expect(same.map((x) => x.kind)).toEqual(['lan', 'public']);
    const foreign = candidatesFor({ observed: pub, lan: [lan] }, { address: '198.51.100.1', port: 5000 });
    expect(foreign.map((x) => x.kind)).toEqual(['public', 'lan']);
    expect(foreign[1]!.priority).toBeGreaterThan(100); // still above peer-reflexive
  });
  it('a peer with no LAN addresses has just its public candidate', () => {
    expect(candidatesFor({ observed: pub, lan: [] }).map((x) => x.kind)).toEqual(['public']);
  });
  it('probe schedule: 50 ms apart (ICE Ta) at first, then backing off to 500 ms, ending before the deadline', () => {
    const s = probeSchedule(3000);
    expect(s.slice(0, 6)).toEqual([0, 50, 100, 150, 200, 300]);
    expect(s.at(-1)!).toBeLessThan(3000);
    const gaps = s.slice(1).map((t, i) => t - s[i]!);
    expect(Math.max(...gaps)).toBe(500);
    expect(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!)).toBe(true);
  });
});

describe('predictDirect (the outcome table of docs/nat-traversal.md)', () => {
  const EI: NatBehaviour = 'endpoint-independent';
  const AD: NatBehaviour = 'address-dependent';
  const APD: NatBehaviour = 'address-and-port-dependent';
  const n = (mapping: NatBehaviour, filtering: NatBehaviour) => ({ mapping, filtering });
  it.each([
    ['full cone x full cone', n(EI, EI), n(EI, EI), true],
    ['port-restricted x port-restricted', n(EI, APD), n(EI, APD), true],
    ['symmetric x full cone', n(APD, APD), n(EI, EI), true],
    ['symmetric x restricted cone', n(APD, APD), n(EI, AD), true],
    ['symmetric x port-restricted (the port search)', n(APD, APD), n(EI, APD), true],
    [
      'address-dependent mapping x port-restricted (looks consistent: no search)',
      n(AD, APD),
      n(EI, APD),
      false,
    ],
    ['symmetric x symmetric', n(APD, APD), n(APD, APD), false],
    ['hard/EIF x hard/ADF', n(APD, EI), n(AD, AD), true],
    ['hard/EIF x hard/APDF', n(APD, EI), n(AD, APD), false],
  ])('%s -> %s', (_name, a, b, expected) => {
    expect(predictDirect(a, b)).toBe(expected);
    expect(predictDirect(b, a)).toBe(expected); // symmetric in its arguments
  });

  it.each([
    // a, b, plain punching alone, the port search
    ['symmetric x port-restricted: only the search', n(APD, APD), n(EI, APD), false, true],
    ['symmetric x full cone: plain punching, and a search beside it', n(APD, APD), n(EI, EI), true, true],
    ['port-restricted x port-restricted: plain punching only', n(EI, APD), n(EI, APD), true, false],
    ['symmetric x symmetric: neither', n(APD, APD), n(APD, APD), false, false],
  ])('%s (how the path opens, for nat-check and the demo)', (_name, a, b, plain, search) => {
    expect([plainPunchFinds(a, b), portSearchFinds(a, b)]).toEqual([plain, search]);
    expect([plainPunchFinds(b, a), portSearchFinds(b, a)]).toEqual([plain, search]);
  });
});
