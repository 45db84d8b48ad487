/** Paths of the lab's fixture scripts (plain .mjs, run with `node` inside namespaces). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of test/lab/fixtures/<name>. tsc does not copy .mjs files, so when this module
 * runs compiled from dist/test/lab/, the sources' copy is used.
 */
export function fixture(name: string): string {
  const here = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL(`../../../test/lab/fixtures/${name}`, import.meta.url));
}

export interface Endpoint {
  ip: string;
  port: number;
}

/** 'ip:port' */
export function endpoint(e: Endpoint): string {
  return `${e.ip}:${e.port}`;
}
