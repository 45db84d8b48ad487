import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of test/lab/fixtures/<name>: the lab's plain .mjs scripts, run with `node` inside
 * namespaces. tsc does not copy .mjs files, so compiled code (dist/test/lab) uses the sources' copy.
 */
export function fixture(name: string): string {
  const here = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL(`../../../test/lab/fixtures/${name}`, import.meta.url));
}
