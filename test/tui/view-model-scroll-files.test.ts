/**
 * A scrolled-up conversation stays put while a transfer's live line below it changes in place
 * (peer/tui/view-state.ts keepView): its progress taking a second row, then the done lines, or a
 * long failure, must not move the rows the person is reading. Against the fake service.
 */
import { describe, expect, it } from 'vitest';
import { fakeId } from './fake-service.js';
import { log, setup, status, type } from './helpers.js';

const MiB = 1024 * 1024;

/** 40 lines from bob, then an accepted offer from him: its live line is the conversation's last. */
async function scrolledUp(rows: number): Promise<ReturnType<typeof setup> & { id: string }> {
  const s = setup();
  s.vm.open({ kind: 'peer', peerId: fakeId('bob') });
  for (let i = 1; i <= 40; i++) s.fake.receive('bob', `line ${i}`, { direct: true });
  const id = s.fake.offerFile('bob', 'photo.jpg', 4 * MiB);
  await type(s.vm, '/accept');
  s.vm.scrollRows(rows);
  return { ...s, id };
}

describe('a scrolled-up view while a transfer’s line changes in place', () => {
  it('keeps the same rows as the line below grows to two rows, moves on, and ends', async () => {
    const { fake, vm, id } = await scrolledUp(10);
    const before = log(vm);
    expect(before.at(-1)).toMatch(/^09:05 <bob> line \d+$/);
    fake.fileProgress(id, 1 * MiB, 512 * 1024); // "accepted, waiting" (1 row) -> bar (2 rows)
    expect(log(vm)).toEqual(before);
    fake.fileProgress(id, 3 * MiB, 512 * 1024);
    expect(log(vm)).toEqual(before);
    fake.fileFailed(id, 'IO', `ENOSPC: no space left on device, write ${'/very/long/path/'.repeat(12)}`);
    expect(log(vm)).toEqual(before);
    expect(status(vm)).toContain('-- more below');
    vm.scrollRows(-1000); // back at the bottom: the line as it ends
    expect(log(vm).at(-1)).toMatch(/path\/$/);
  });

  it('keeps the top row when the changing line is itself at the bottom edge of the window', async () => {
    const { fake, vm, id } = await scrolledUp(0);
    fake.fileProgress(id, 1 * MiB, 512 * 1024);
    vm.scrollRows(1); // the line's first row at the bottom edge, its bar just below
    const before = log(vm);
    expect(before.at(-1)).toBe('09:05 -!- photo.jpg from bob');
    fake.fileFailed(id, 'IO', `ENOSPC: no space left on device, write ${'/very/long/path/'.repeat(12)}`);
    const after = log(vm);
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(after.at(-1)).toMatch(/^09:05 -!- ✗ photo.jpg from bob failed: IO ENOSPC/);
  });

  it('following the conversation (not scrolled), the grown line shows at the bottom', async () => {
    const { fake, vm, id } = await scrolledUp(0);
    fake.fileProgress(id, 1 * MiB, 512 * 1024);
    expect(log(vm).at(-1)).toContain('25%');
    expect(vm.scrollOffset).toBe(0);
  });
});
