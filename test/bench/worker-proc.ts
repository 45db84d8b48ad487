/**
 * A benchmark worker: `node SCRIPT ARGS...`, on the host or inside a network namespace
 * (`ip netns exec NS node ...`), stdout read as JSON lines with bounded waits (common/lab/lines.ts).
 * The process leads its own process group, recorded for the lab's last-resort cleanup
 * (common/lab/cleanup.ts), so a benchmark that dies or is interrupted leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, trackGroup, untrackGroup } from '../../common/lab/cleanup.js';
import { tool } from '../../common/lab/command.js';
import { LineReader, splitLines, type JsonObject } from '../../common/lab/lines.js';

export class WorkerProc {
  readonly out: LineReader;
  readonly pid: number;
  readonly exited: Promise<void>;
  private running = true;
  private readonly child: ChildProcess;
  private readonly stderr: string[] = [];

  constructor(
    readonly label: string,
    args: readonly string[],
    ns?: string,
  ) {
    const [cmd, argv] = ns
      ? [tool('ip'), ['netns', 'exec', ns, process.execPath, ...args]]
      : [process.execPath, [...args]];
    this.out = new LineReader('stdout', (what) => this.failure(what));
    this.child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.pid = this.child.pid ?? -1;
    if (this.pid > 0) trackGroup(this.pid);
    this.child.stdin!.on('error', () => undefined);
    splitLines(this.child.stdout!, (l) => this.out.push(l));
    splitLines(this.child.stderr!, (l) => {
      if (this.stderr.length < 200) this.stderr.push(l);
    });
    this.exited = new Promise((resolve) => {
      const done = (why: string): void => {
        if (!this.running) return;
        this.running = false;
        if (this.pid > 0) {
          killGroup(this.pid);
          untrackGroup(this.pid);
        }
        this.out.end(why);
        resolve();
      };
      this.child.on('close', (code, signal) => done(`exited (${code ?? signal})`));
      this.child.on('error', (e) => done(`spawn error: ${e.message}`));
    });
  }

  /** The first unread JSON line with this `event` (or an error the worker reported). */
  async event(name: string, timeoutMs: number): Promise<JsonObject> {
    const m = await this.out.nextJson((j) => j.event === name || j.event === 'error', timeoutMs);
    if (m.event === 'error') throw this.failure(`reported: ${String(m.message)}`);
    return m;
  }

  write(line: string): void {
    if (this.running) this.child.stdin!.write(line + '\n');
  }

  /** SIGTERM the group, SIGKILL after graceMs; resolves once it has exited. Idempotent. */
  async close(graceMs = 2_000): Promise<void> {
    if (!this.running) return this.exited;
    killGroup(this.pid, 'SIGTERM');
    const t = setTimeout(() => killGroup(this.pid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }

  private failure(what: string): Error {
    return new Error(
      `${this.label} ${what}\n  stdout: ${this.out.lines.slice(-10).join('\n    ')}\n  stderr: ${this.stderr.slice(-15).join('\n    ')}`,
    );
  }
}
