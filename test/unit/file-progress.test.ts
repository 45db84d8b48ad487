import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import { PROGRESS_EVERY_MS, ProgressMeter } from '../../peer/chat/file-progress.js';
import type { FileContext } from '../../peer/chat/file-progress.js';
import type { FileProgress } from '../../peer/chat/types.js';

/** A meter over a virtual clock, with what it emitted. */
function meter(size: number): { m: ProgressMeter; clock: VirtualClock; seen: FileProgress[] } {
  const clock = new VirtualClock();
  const seen: FileProgress[] = [];
  const c = {
    clock,
    node: { connection: () => undefined },
    emit: (_name: string, e: FileProgress) => seen.push(e),
  } as unknown as FileContext;
  return { m: new ProgressMeter(c, 'f', 'p', size, 0), clock, seen };
}

describe('file_progress (peer/chat/file-progress.ts)', () => {
  it('at most one per interval, the rate over it, and the ETA from that rate', () => {
    const { m, clock, seen } = meter(1000);
    m.update(100);
    expect(seen).toEqual([]);
    clock.advance(PROGRESS_EVERY_MS);
    m.update(250);
    expect(seen).toEqual([{ file: 'f', bytes: 250, size: 1000, rate: 1000, etaMs: 750, path: 'relay' }]);
  });

  it('the final one always has eta_ms 0, also when its interval carried no bytes (rate 0)', () => {
    const { m, clock, seen } = meter(1000);
    clock.advance(PROGRESS_EVERY_MS);
    m.update(1000); // every byte read before the end was confirmed
    clock.advance(10);
    m.update(1000, true);
    expect(seen.at(-1)).toMatchObject({ bytes: 1000, rate: 0, etaMs: 0 });
    // And a transfer so quick that the final one is the only one, at the same instant: still 0.
    const quick = meter(10);
    quick.m.update(10, true);
    expect(quick.seen).toEqual([{ file: 'f', bytes: 10, size: 10, rate: 0, etaMs: 0, path: 'relay' }]);
  });
});
