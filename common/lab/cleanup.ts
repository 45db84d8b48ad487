/**
 * Last-resort cleanup: what a lab started (process groups, namespaces by prefix) is recorded here,
 * and removed synchronously on process 'exit', SIGINT, SIGTERM and SIGHUP, in case a test never
 * reaches its own teardown. SIGKILL cannot be caught: the next run's sweep
 * (sweepStaleNamespaces) removes what such a run left.
 */
import { deleteNamespacesWithPrefix } from './netns.js';

const groups = new Set<number>();
const prefixes = new Set<string>();
let installed = false;

/** Record a spawned process group (its leader's pid) for the last-resort cleanup. */
export function trackGroup(pid: number): void {
  install();
  groups.add(pid);
}

export function untrackGroup(pid: number): void {
  groups.delete(pid);
}

/** Record a namespace prefix: every namespace starting with it is deleted on exit. */
export function trackPrefix(prefix: string): void {
  install();
  prefixes.add(prefix);
}

export function untrackPrefix(prefix: string): void {
  prefixes.delete(prefix);
}

/** SIGKILL a whole process group; ignores groups that are gone. */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Kill every tracked group and delete every tracked namespace now. Synchronous, never throws. */
export function cleanupAllSync(): void {
  for (const pid of groups) killGroup(pid);
  groups.clear();
  for (const prefix of prefixes) deleteNamespacesWithPrefix(prefix);
  prefixes.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupAllSync();
      // Keep the signal's usual effect: if nobody else handles it, die of it.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}
