/**
 * Direct paths through a symmetric NAT (Linux `MASQUERADE --random-fully`) against a
 * port-restricted cone (plain MASQUERADE), with the real `punchline rendezvous` and real
 * `punchline chat --json` peers (relay-kit.ts, symmetric-kit.ts). Each peer measures its NAT's
 * port behaviour at registration; the introduction carries it, and the pair runs a port search
 * (peer/port-search.ts): the symmetric side opens 256 sockets towards the cone's endpoint, the
 * cone side sprays PORT_PROBEs at ports of the symmetric side's address. The session starts on
 * the relay and moves to the path found, nothing lost or doubled.
 *
 * - cone/symmetric and symmetric/cone (which side connects): RUNS fresh worlds each; direct in
 *   at least 9 of 10, median time to direct <= 2 s, every message exactly once in every run;
 * - symmetric/symmetric: no search (two random sides cannot guess each other's ports): the
 *   session stays on the relay and the routers hold a handful of UDP mappings, not hundreds.
 *
 * One `lab symmetric:` line per direction; a markdown table of every run at the end.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import type { NatKind } from '../../common/lab/index.js';
import { describeLab } from './describe-lab.js';
import {
  World,
  exchange,
  expectExactlyOnce,
  firstMessage,
  isError,
  relaySummary,
  report,
  pathOf,
} from './relay-kit.js';
import {
  PEER_FLAGS,
  RUNS,
  isDirect,
  median,
  runToDirect,
  summaryLine,
  udpEntries,
  type DirectRun,
} from './symmetric-kit.js';

/** Direct runs asked of each direction: 9 of 10, scaled when LAB_SYMMETRIC_RUNS lowers the count. */
const MIN_DIRECT = Math.ceil((RUNS * 9) / 10);
const MEDIAN_LIMIT_MS = 2_000;
/** UDP mappings a router may hold after a both-random connect: a port search leaves hundreds. */
const MAX_ENTRIES = 40;

describeLab('real-NAT lab: symmetric NATs', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  afterAll(() => {
    const table = relaySummary();
    if (table) console.log(table);
  });

  const directions: [string, NatKind, NatKind][] = [
    ['cone/symmetric', 'cone', 'symmetric'],
    ['symmetric/cone', 'symmetric', 'cone'],
  ];
  for (const [direction, kindA, kindB] of directions) {
    const runs: DirectRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      it(`${direction} run ${i + 1}/${RUNS}: relay first, then direct; every message exactly once`, async () => {
        world = await World.create();
        runs.push(await runToDirect(world, kindA, kindB, `${direction} ${i + 1}`));
      }, 60_000);
    }
    it(`${direction}: direct in at least ${MIN_DIRECT} of ${RUNS} runs, median time to direct <= 2 s`, () => {
      console.log(summaryLine(direction, runs));
      expect(runs).toHaveLength(RUNS); // a run that failed (lost, doubled, a peer died) fails here too
      const times = runs.flatMap((r) => (r.directMs === undefined ? [] : [r.directMs]));
      expect(times.length).toBeGreaterThanOrEqual(MIN_DIRECT);
      expect(median(times)).toBeLessThanOrEqual(MEDIAN_LIMIT_MS);
    });
  }

  it('symmetric/symmetric: stays on the relay, no port search (a handful of UDP mappings per router)', async () => {
    world = await World.create();
    const { a, b, natA, natB } = await world.pair({ nat: 'symmetric' }, { nat: 'symmetric' }, PEER_FLAGS);
    await a.ready('bob', ['udp', 'ws']);
    await b.ready('alice', ['udp', 'ws']);
    // A's first message opens the session (on the relay) before B sends: no crossing introduction.
    const first = await firstMessage(a, b, 'both-random first');
    await b.wait('connected', (e) => e.event === 'connected', 5_000);
    const [ab, ba] = await exchange(a, b, 'both-random', 10, 100);
    // Once both punch attempts have given up (the default 10 s deadline), every mapping either
    // side made for this peer exists: a search would have opened its 256 sockets or sent its
    // 1,500 PORT_PROBEs (3 s) by then, each a conntrack entry that lives 30 s unanswered.
    for (const p of [a, b]) await p.proc.err.waitForLine(/no direct path yet; staying on the relay/, 15_000);
    const entries = [await udpEntries(natA), await udpEntries(natB)];
    console.log(
      `lab symmetric: symmetric/symmetric relay, UDP conntrack entries natA ${entries[0]} natB ${entries[1]}`,
    );
    expect(entries[0]).toBeLessThan(MAX_ENTRIES);
    expect(entries[1]).toBeLessThan(MAX_ENTRIES);
    expect([...a.proc.stderr, ...b.proc.stderr].filter((l) => /port search/.test(l))).toEqual([]);
    await expectExactlyOnce(a, b, ['both-random first', ...ab], ba);
    expect(a.all('connected')[0]).toMatchObject({ path: 'relay' });
    expect(b.all('connected')[0]).toMatchObject({ path: 'relay' });
    expect([...a.all(), ...b.all()].filter(isDirect)).toEqual([]);
    expect([...a.all(), ...b.all()].filter(isError)).toEqual([]);
    const sa = await a.stats('bob');
    expect(sa).toMatchObject({ path: 'relay' });
    report(a, b, {
      scenario: 'symmetric/symmetric',
      topology: 'A and B each behind `--random-fully` MASQUERADE',
      firstMessageMs: first,
      connect: `${pathOf(a.all('connected')[0])} / ${pathOf(b.all('connected')[0])}`,
      final: pathOf(sa),
      note: `UDP conntrack entries natA ${entries[0]} natB ${entries[1]} after both punches gave up`,
    });
  }, 60_000);
});
