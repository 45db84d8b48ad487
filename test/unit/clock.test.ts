import { describe, expect, it } from 'vitest';
import { SystemClock, VirtualClock } from '../../common/clock.js';

describe('Clock.defer', () => {
  it('virtual: runs at the same time, after what was already due then, in call order', () => {
    const c = new VirtualClock(100);
    const order: string[] = [];
    c.setTimeout(() => {
      order.push('timer');
      c.defer(() => order.push(`deferred by timer at ${c.now()}`));
    }, 0);
    c.defer(() => order.push('first'));
    c.defer(() => order.push('second'));
    c.setTimeout(() => order.push('1 ms later'), 1);
    c.advance(0);
    expect(order).toEqual(['timer', 'first', 'second', 'deferred by timer at 100']);
    c.advance(1);
    expect(order.at(-1)).toBe('1 ms later');
  });

  it('system: runs in this turn of the event loop, with its immediates (no timer, which node fires ≥ 1 ms later)', async () => {
    const c = new SystemClock();
    const order: string[] = [];
    c.defer(() => order.push('deferred'));
    await new Promise((resolve) => setImmediate(resolve));
    order.push('next immediate');
    expect(order).toEqual(['deferred', 'next immediate']);
  });
});
