/**
 * Network namespace primitives: names, create/delete, run a command inside one, sysctls, and the
 * sweep that removes namespaces left behind by crashed runs.
 *
 * Every lab namespace is named `pl-<pid>-<rand>-<node>`: the pid of the process that built it
 * tells the sweep whether its owner is still alive (two test workers may run labs at once), the
 * random part keeps several labs of one process apart.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run, runSync, tool, which, type RunOptions, type RunResult } from './command.js';

/** Every lab namespace starts with this. */
export const LAB_NS_PREFIX = 'pl-';
const OWNED = /^pl-(\d+)-[0-9a-f]+-/;

/** A fresh prefix for one lab: `pl-<pid>-<6 hex>-`. */
export function newRunPrefix(): string {
  return `${LAB_NS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-`;
}

/** Names of all network namespaces on the machine (`ip netns list`). */
export function listNamespaces(): string[] {
  const ip = which('ip');
  if (!ip) return [];
  return parseNetnsList(runSync(ip, ['netns', 'list']));
}

export function parseNetnsList(out: string): string[] {
  // Lines look like "name (id: 3)" or just "name".
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Pids of the processes inside a namespace (`ip netns pids`). */
export function namespacePids(ns: string): number[] {
  const ip = which('ip');
  if (!ip) return [];
  return runSync(ip, ['netns', 'pids', ns])
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

export async function addNamespace(ns: string): Promise<void> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ns)) throw new Error(`lab: bad namespace name ${JSON.stringify(ns)}`);
  await run(tool('ip'), ['netns', 'add', ns]);
  await run(tool('ip'), ['-n', ns, 'link', 'set', 'lo', 'up']);
}

/**
 * SIGKILL whatever still runs inside, then delete. Synchronous so that it works from 'exit' and
 * signal handlers; never throws. Its veth ends vanish with it, which removes their peers too.
 */
export function deleteNamespaceSync(ns: string): void {
  for (const pid of namespacePids(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const ip = which('ip');
  if (ip) runSync(ip, ['netns', 'del', ns]);
}

/** Delete every namespace whose name starts with prefix. Returns the names it removed. */
export function deleteNamespacesWithPrefix(prefix: string): string[] {
  const doomed = listNamespaces().filter((n) => n.startsWith(prefix));
  for (const ns of doomed) deleteNamespaceSync(ns);
  return doomed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove namespaces of earlier lab runs whose owning process is gone (crash, SIGKILL). Labs of
 * live processes (another test worker, another engineer's run) are left alone.
 */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((n) => {
    const m = OWNED.exec(n);
    return m !== null && !pidAlive(Number(m[1]));
  });
  for (const ns of stale) deleteNamespaceSync(ns);
  return stale;
}

/** Run a command inside a namespace to completion (`ip netns exec`), bounded by opts.timeoutMs. */
export function nsRun(
  ns: string,
  cmd: string,
  args: readonly string[] = [],
  opts: RunOptions = {},
): Promise<RunResult> {
  return run(tool('ip'), ['netns', 'exec', ns, cmd, ...args], opts);
}

/** Set sysctls inside a namespace (net.* keys are per namespace: the host's are untouched). */
export async function nsSysctl(
  ns: string,
  settings: Record<string, string | number>,
  opts: { ignoreMissing?: boolean } = {},
): Promise<void> {
  const kv = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  if (kv.length === 0) return;
  // -e: ignore unknown keys (net.bridge.* exists only with br_netfilter).
  await nsRun(ns, tool('sysctl'), ['-q', ...(opts.ignoreMissing ? ['-e'] : []), '-w', ...kv]);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

let availability: string | null | undefined;

/**
 * Why the real-NAT lab cannot run here, or undefined when it can. Probes by creating and deleting
 * a namespace (root inside an unprivileged container cannot). Cached; synchronous because
 * describeLab decides at collection time.
 */
export function labUnavailableReason(): string | undefined {
  if (availability !== undefined) return availability ?? undefined;
  availability = probe();
  return availability ?? undefined;
}

function probe(): string | null {
  if (process.env.PUNCHLINE_SKIP_LAB === '1') return 'PUNCHLINE_SKIP_LAB=1';
  if (process.platform !== 'linux' || !isRoot()) return 'needs root (network namespaces)';
  const ip = which('ip');
  if (!ip) return 'needs root (network namespaces): ip (iproute2) not found';
  const missing = ['iptables-restore', 'conntrack', 'sysctl'].filter((t) => !which(t));
  if (missing.length > 0)
    return `needs ${missing.join(', ')} (apt-get install iptables conntrack iproute2 procps)`;
  const probeNs = `${newRunPrefix()}probe`;
  try {
    execFileSync(ip, ['netns', 'add', probeNs], { stdio: 'pipe', timeout: 5_000 });
  } catch (err) {
    return `needs root (network namespaces): ip netns add failed: ${String((err as Error).message).trim()}`;
  } finally {
    runSync(ip, ['netns', 'del', probeNs]);
  }
  return null;
}
