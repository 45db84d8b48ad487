/**
 * A network namespace of the benchmark's own with random loss on its loopback: `iptables -A INPUT
 * -m statistic --mode random --probability P -j DROP` inside it, so every packet delivered on
 * that loopback (data and acknowledgements, every transport alike) is dropped with probability P.
 * The host's network is untouched. Built with the lab's helpers (common/lab/netns.ts); the
 * namespace is deleted when the run ends, on failure, and on exit/SIGINT/SIGTERM
 * (common/lab/cleanup.ts).
 */
import { trackPrefix, untrackPrefix } from '../../common/lab/cleanup.js';
import { which } from '../../common/lab/command.js';
import {
  addNamespace,
  deleteNamespaceSync,
  isRoot,
  newRunPrefix,
  nsRun,
  sweepStaleNamespaces,
} from '../../common/lab/netns.js';

/** Why the loss rows cannot run here, or undefined when they can. */
export function lossUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' || !isRoot()) return 'not root: network namespaces need root';
  if (!which('ip')) return 'ip (iproute2) not installed';
  if (!which('iptables')) return 'iptables not installed';
  return undefined;
}

export interface LossNamespace {
  ns: string;
  /** Replace the loss rule: drop this fraction (0 removes it). */
  setLoss(p: number): Promise<void>;
}

export async function withLossNamespace<T>(fn: (n: LossNamespace) => Promise<T>): Promise<T> {
  sweepStaleNamespaces();
  const prefix = newRunPrefix();
  const ns = `${prefix}bench`;
  trackPrefix(prefix);
  const iptables = which('iptables')!;
  try {
    await addNamespace(ns);
    const setLoss = async (p: number): Promise<void> => {
      await nsRun(ns, iptables, ['-F', 'INPUT']);
      if (p > 0)
        await nsRun(ns, iptables, [
          '-A',
          'INPUT',
          '-i',
          'lo',
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          String(p),
          '-j',
          'DROP',
        ]);
    };
    return await fn({ ns, setLoss });
  } finally {
    deleteNamespaceSync(ns);
    untrackPrefix(prefix);
  }
}
