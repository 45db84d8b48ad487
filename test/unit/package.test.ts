import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/proc.js';

/**
 * What `npm publish` would ship (package.json "files"): the built CLI and its modules, never the
 * compiled tests, benchmarks or fixtures under dist/test.
 */
describe('the published package', () => {
  it('holds the CLI and no compiled tests', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/peer/bin/punchline.js');
    expect(files).toContain('package.json');
    expect(files.filter((f) => f.startsWith('dist/test/'))).toEqual([]);
  }, 60_000);
});
