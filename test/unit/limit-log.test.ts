import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { LimitLog } from '../../rendezvous/limit-log.js';

function capture(): { logger: Logger; lines: { msg: string; fields: Record<string, unknown> }[] } {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const add = (msg: string, fields: Record<string, unknown> = {}): void => void lines.push({ msg, fields });
  const logger: Logger = { debug: add, info: add, warn: add, error: add };
  return { logger, lines };
}

describe('LimitLog: limits that bite are logged, but a flood cannot flood the log', () => {
  it('logs the first event at once, then at most one line per reason per 10 s with the count', () => {
    const clock = new VirtualClock();
    const { logger, lines } = capture();
    const log = new LimitLog(clock, logger);
    for (let i = 0; i < 100_000; i++) log.note('ip_limit', `192.0.2.${i % 200}`);
    log.note('upgrade_timeout', '198.51.100.1');
    expect(lines).toEqual([
      { msg: 'limit', fields: { reason: 'ip_limit', count: 1, ip: '192.0.2.0' } },
      { msg: 'limit', fields: { reason: 'upgrade_timeout', count: 1, ip: '198.51.100.1' } },
    ]);
    clock.advance(9_999);
    expect(lines).toHaveLength(2);
    clock.advance(1);
    expect(lines[2]).toEqual({
      msg: 'limit',
      fields: { reason: 'ip_limit', count: 99_999, windowMs: 10_000, lastIp: '192.0.2.199' },
    });
    expect(lines).toHaveLength(3); // upgrade_timeout had nothing more to say
    for (let i = 0; i < 5; i++) log.note('ip_limit', '192.0.2.7');
    clock.advance(10_000);
    expect(lines[3]!.fields).toMatchObject({ reason: 'ip_limit', count: 5 });
    clock.advance(10_000); // a quiet window closes the reason: its next event is logged at once
    expect(clock.timerCount).toBe(0);
    log.note('ip_limit', '192.0.2.8');
    expect(lines[4]!.fields).toEqual({ reason: 'ip_limit', count: 1, ip: '192.0.2.8' });
    log.close();
    log.close(); // idempotent
    log.note('ip_limit', '192.0.2.9');
    expect(clock.timerCount).toBe(0);
    expect(lines).toHaveLength(5);
  });
});
