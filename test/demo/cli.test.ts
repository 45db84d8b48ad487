/** The real CLI: `punchline demo` as a child process (needs the build in dist/). */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/proc.js';

const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('punchline demo (CLI)', () => {
  it('runs on its own, exits 0 and ends with the summary', () => {
    const r = run('demo');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Summary (simulated time)');
    expect(r.stdout).toMatch(/^ {2}path +direct, peer to peer/m);
  });

  it('bad flags exit 2 with a message; demo is listed in the top-level help', () => {
    const r = run('demo', '--nat', 'cone,moon');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/punchline demo: --nat: unknown NAT kind "moon"/);
    expect(r.stderr).toMatch(/Run "punchline demo --help" for usage/);
    const h = run('--help');
    expect(h.stdout).toMatch(/^ {2}demo +watch two peers/m);
    expect(run('help', 'demo').stdout).toMatch(/^Usage: punchline demo/);
  });
});
