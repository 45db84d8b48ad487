import { describe, expect, it } from 'vitest';
import { candidatesFor, probeSchedule } from '../../common/path/candidates.js';
import {
  PROBE_BUDGET,
  admitAttempt,
  mayProbe,
  probeAllowance,
  triggeredCheck,
} from '../../common/path/probe-budget.js';
import { PUNCH_DEFAULTS } from '../../peer/puncher.js';

describe('probe budget (common/path/probe-budget.ts)', () => {
  it('the public allowance covers every round of the default schedule', () => {
    const rounds = probeSchedule(PUNCH_DEFAULTS.deadlineMs, PUNCH_DEFAULTS.paceMs).length;
    expect(rounds).toBe(26);
    expect(PROBE_BUDGET.publicProbes).toBeGreaterThanOrEqual(rounds);
  });

  it.each([
    ['public', true, 32],
    ['public', false, 32],
    ['lan', true, 3],
    ['lan', false, 0], // another NAT: someone else's private address, or a victim's
    ['peer-reflexive', true, 3],
    ['peer-reflexive', false, 3],
  ] as const)('allowance of a %s candidate (same NAT: %s) is %i probes', (kind, sameNat, n) => {
    expect(probeAllowance(kind, sameNat)).toBe(n);
  });

  it.each([
    // sent, allowance, validated -> scheduled probe?, triggered check on a fresh probe from it?
    [0, 3, false, true, false],
    [2, 3, false, true, false],
    [3, 3, false, false, true],
    [9, 3, false, false, true],
    [0, 0, false, false, true], // a foreign LAN address probes us: one probe back per probe
    [40, 32, true, true, false], // answered: no cap
  ])('sent %i of %i, validated %s: scheduled %s, triggered %s', (sent, allowance, validated, sched, trig) => {
    expect(mayProbe({ sent, allowance, validated })).toBe(sched);
    expect(triggeredCheck({ sent, allowance, validated })).toBe(trig);
  });

  it('candidates carry their allowance: LAN probed behind the same NAT only, at most lanCandidates of them', () => {
    const pub = { address: '203.0.113.5', port: 4000 };
    const lan = Array.from({ length: 8 }, (_, i) => ({ address: `10.0.0.${i + 2}`, port: 4000 }));
    const same = candidatesFor({ observed: pub, lan }, { address: pub.address, port: 5000 });
    expect(same.map((c) => [c.kind, c.allowance])).toEqual([
      ['lan', 3],
      ['lan', 3],
      ['lan', 3],
      ['lan', 3],
      ['lan', 0],
      ['lan', 0],
      ['lan', 0],
      ['lan', 0],
      ['public', 32],
    ]);
    const foreign = candidatesFor({ observed: pub, lan }, { address: '198.51.100.1', port: 5000 });
    expect(foreign.filter((c) => c.allowance > 0).map((c) => c.kind)).toEqual(['public']);
    const unknownSelf = candidatesFor({ observed: pub, lan });
    expect(unknownSelf.filter((c) => c.allowance > 0).map((c) => c.kind)).toEqual(['public']);
    // Worst case per attempt before any answer: 4 x 3 LAN probes behind one NAT, none on another.
    const sum = (cs: typeof same): number => cs.reduce((n, c) => n + (c.kind === 'lan' ? c.allowance : 0), 0);
    expect([sum(same), sum(foreign)]).toEqual([12, 0]);
  });

  it('admitAttempt: attemptsPerWindow a minute per peer, a sliding window', () => {
    let starts: number[] = [];
    const admitted: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const r = admitAttempt(starts, i * 1000);
      starts = r.starts;
      admitted.push(r.admit);
    }
    expect(admitted).toEqual([true, true, true, true, true, true, true, true, false, false]);
    expect(starts.length).toBe(PROBE_BUDGET.attemptsPerWindow);
    expect(admitAttempt(starts, 59_999).admit).toBe(false);
    expect(admitAttempt(starts, 60_000).admit).toBe(true); // the first start left the window
    // Honest reconnects (1, 2, 4, 8, 16, 30 s backoff) stay inside it.
    const reconnects = [0, 1_000, 3_000, 7_000, 15_000, 31_000, 61_000];
    let s: number[] = [];
    const r = reconnects.map((t) => {
      const x = admitAttempt(s, t);
      s = x.starts;
      return x.admit;
    });
    expect(r.every(Boolean)).toBe(true);
  });
});
