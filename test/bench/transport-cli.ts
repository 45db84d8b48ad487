/**
 * Chat latency through the real CLI: the real `punchline rendezvous` and two `punchline chat
 * --json` processes on loopback (docs/cli.md). The benchmark process stamps each `send` command as
 * it writes it to alice's stdin and each `message` event as it reads it from bob's stdout, so the
 * figure is what a program driving the CLI sees: both processes, their storage (history and
 * outbox on the disk of the temporary directory) and two pipes. punchline only: the baselines
 * have no CLI; the session-API row of the same run is the figure to hold it against.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseJsonObject } from '../../common/lab/lines.js';
import { CLI, withRendezvous } from './transport-runs.js';
import { WorkerProc } from './worker-proc.js';

export interface CliChatResult {
  readonly p50: number;
  readonly p99: number;
  readonly received: number;
  readonly sent: number;
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** `count` messages at `perSecond` from alice to bob over a direct session; one-way latency. */
export async function cliChatRun(count: number, perSecond: number): Promise<CliChatResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-bench-cli-'));
  const procs: WorkerProc[] = [];
  try {
    return await withRendezvous(async (port) => {
      const chat = (name: string): WorkerProc => {
        const args = [CLI, 'chat', '--server', `127.0.0.1:${port}`, '--bind', '127.0.0.1', '--json'];
        const p = new WorkerProc(name, [...args, '--name', name, '--data-dir', path.join(dir, name)]);
        procs.push(p);
        return p;
      };
      const alice = chat('alice');
      const bob = chat('bob');
      const arrived = new Map<string, number>();
      bob.out.onLine((l) => {
        const e = parseJsonObject(l);
        if (e?.event === 'message' && typeof e.text === 'string') arrived.set(e.text, performance.now());
      });
      await alice.out.nextJson(
        (e) => e.event === 'presence' && JSON.stringify(e.peers).includes('"bob"'),
        20_000,
      );
      alice.write(JSON.stringify({ cmd: 'connect', peer: 'bob' }));
      await alice.out.nextJson(
        (e) => (e.event === 'connected' || e.event === 'path') && e.path === 'direct',
        20_000,
      );
      const sentAt = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        sentAt.set(`m${i}`, performance.now());
        alice.write(JSON.stringify({ cmd: 'send', peer: 'bob', text: `m${i}` }));
        await new Promise((r) => setTimeout(r, 1000 / perSecond));
      }
      await bob.out.nextJson((e) => e.event === 'message' && e.text === `m${count - 1}`, 20_000);
      const lat = [...arrived].map(([t, at]) => at - (sentAt.get(t) ?? at)).sort((a, b) => a - b);
      return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), received: lat.length, sent: count };
    });
  } finally {
    for (const p of procs) await p.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
