/** The room's member list from PRESENCE parts and deltas (peer/presence-assembly.ts), on a virtual clock. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { MsgType } from '../../common/wire/constants.js';
import type { DeltaEntry, Member } from '../../common/wire/messages.js';
import { PRESENCE_RESYNC_RETRY_MS, PresenceAssembly } from '../../peer/presence-assembly.js';

const m = (b: number, name: string): Member => ({ id: new Uint8Array(16).fill(b), name });
const names = (ms: Member[]): string[] => ms.map((x) => x.name).sort();

function assembly(mayAsk = true) {
  const clock = new VirtualClock();
  const stats = { presence_gaps: 0, presence_resyncs: 0 };
  const seen: { names: string[]; version: number }[] = [];
  const asks = { n: 0 };
  const p = new PresenceAssembly({
    clock,
    stats,
    changed: (members, version) => seen.push({ names: names(members), version }),
    mayAsk: () => mayAsk,
    askFullList: () => asks.n++,
  });
  const full = (version: number, part: number, parts: number, members: Member[]): void =>
    p.onPresence({ type: MsgType.PRESENCE, version, part, parts, total: 0, members });
  const delta = (from: number, to: number, total: number, entries: DeltaEntry[], part = 0, parts = 1): void =>
    p.onPresenceDelta({ type: MsgType.PRESENCE_DELTA, from, to, part, parts, total, entries });
  return { clock, stats, seen, asks, p, full, delta };
}

describe('presence assembly', () => {
  it('a full list counts once all its parts are here; an older or repeated version changes nothing', () => {
    const { seen, p, full } = assembly();
    full(3, 1, 2, [m(2, 'b')]);
    expect(seen).toEqual([]);
    full(3, 0, 2, [m(1, 'a')]);
    expect(seen).toEqual([{ names: ['a', 'b'], version: 3 }]);
    full(3, 0, 1, [m(1, 'a')]);
    full(2, 0, 1, [m(9, 'old')]);
    expect(seen).toHaveLength(1);
    expect(p.version).toBe(3);
  });

  it('deltas that follow on apply (all parts together); a gap asks for the full list, once per 5 s', () => {
    const { clock, stats, seen, asks, full, delta } = assembly();
    full(1, 0, 1, [m(1, 'a')]);
    delta(1, 2, 2, [{ id: m(2, 'b').id, name: 'b' }], 0, 2);
    expect(seen).toHaveLength(1);
    delta(
      1,
      2,
      2,
      [
        { id: m(1, 'a').id, name: undefined },
        { id: m(3, 'c').id, name: 'c' },
      ],
      1,
      2,
    );
    expect(seen.at(-1)).toEqual({ names: ['b', 'c'], version: 2 });
    delta(1, 2, 2, []); // already there
    expect(seen).toHaveLength(2);
    delta(5, 6, 2, []); // 3..5 were lost
    delta(6, 7, 2, []);
    expect(stats).toEqual({ presence_gaps: 2, presence_resyncs: 1 });
    expect(asks.n).toBe(1);
    clock.advance(PRESENCE_RESYNC_RETRY_MS);
    delta(7, 8, 2, []);
    expect(asks.n).toBe(2);
  });

  it('a delta that leaves another count than the server has starts over; a new epoch takes any version', () => {
    const { stats, asks, p, full, delta } = assembly();
    full(4, 0, 1, [m(1, 'a')]);
    delta(4, 5, 3, [{ id: m(2, 'b').id, name: 'b' }]);
    expect(stats.presence_gaps).toBe(1);
    expect(asks.n).toBe(1);
    expect(p.version).toBe(-1);
    p.newEpoch();
    full(0, 0, 1, [m(7, 'z')]);
    expect(p.version).toBe(0);
    expect(names(p.members)).toEqual(['z']);
  });

  it('not registered: a gap is counted but nothing is asked', () => {
    const { stats, asks, full, delta } = assembly(false);
    full(1, 0, 1, []);
    delta(3, 4, 0, []);
    expect(stats).toEqual({ presence_gaps: 1, presence_resyncs: 0 });
    expect(asks.n).toBe(0);
  });
});
