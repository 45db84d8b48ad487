import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every process a test starts (a `punchline rendezvous` without --key, a client without
 * --data-dir) inherits XDG_DATA_HOME from here: a temporary directory of this run, removed at the
 * end, so no test writes keys into the user's real data directory.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-test-data-'));
  process.env.XDG_DATA_HOME = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
