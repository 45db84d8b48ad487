import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PENDING_BYTES, logFile } from '../../common/log-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'punchline-logfile-'));
  dirs.push(d);
  return d;
};

describe('the terminal client log file (common/log-file.ts)', () => {
  it('lines logged in one turn of the event loop go out in one append, in order', async () => {
    const file = path.join(tmp(), 'sub', 'punchline.log');
    const log = logFile(file);
    for (let i = 0; i < 1000; i++) log.write(`line ${i}\n`);
    await log.flush();
    expect(log.stats.appends).toBe(1);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
  });

  it('one append in flight at a time: what is logged meanwhile waits and follows in order', async () => {
    const calls: string[] = [];
    let release: (() => void) | undefined;
    const log = logFile('unused', (_f, d) => {
      calls.push(d);
      return new Promise<void>((r) => (release = r));
    });
    log.write('a\n');
    await new Promise((r) => setImmediate(r));
    log.write('b\n');
    log.write('c\n');
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['a\n']); // b and c wait for a
    release!();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['a\n', 'b\nc\n']);
    release!();
    await log.flush();
  });

  it('pending text is bounded: a flood is dropped, counted, and the count is logged', async () => {
    const written: string[] = [];
    const log = logFile('unused', (_f, d) => {
      written.push(d);
      return Promise.resolve();
    });
    const line = 'x'.repeat(1023) + '\n';
    const n = (2 * MAX_PENDING_BYTES) / line.length;
    for (let i = 0; i < n; i++) log.write(line);
    expect(log.stats.dropped).toBe(n / 2);
    await log.flush();
    const all = written.join('');
    expect(all.length).toBeLessThanOrEqual(MAX_PENDING_BYTES + 200);
    expect(all).toContain(`"dropped":${n / 2}`);
  });

  it('a failing write is dropped, never thrown', async () => {
    const log = logFile('unused', () => Promise.reject(new Error('ENOSPC')));
    log.write('lost\n');
    await expect(log.flush()).resolves.toBeUndefined();
    expect(log.stats.appends).toBe(1);
  });
});
