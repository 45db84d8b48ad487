import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/peer/bin/punchline.js');

export type Json = Record<string, unknown>;

/** Whether `openssl` is installed (tests that make a self-signed certificate skip without it). */
export const HAVE_OPENSSL = ((): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * A child process whose stdout is read as lines (JSON where it parses). Every wait is bounded;
 * kill() ends it (SIGTERM, then SIGKILL) and is safe to call twice.
 */
export class Proc {
  readonly lines: string[] = [];
  readonly json: Json[] = [];
  stderr = '';
  exitCode: number | null | undefined = undefined;
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      this.lines.push(line);
      try {
        const v = JSON.parse(line) as unknown;
        if (v && typeof v === 'object') this.json.push(v as Json);
      } catch {
        /* a plain text line */
      }
      this.wake();
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 1_000_000) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.exitCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `find` returns something, or fail after `timeoutMs` with what was seen. */
  async waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = find();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0 || this.exitCode !== undefined)
        throw new Error(
          `timed out waiting for ${what} (exit ${String(this.exitCode)})\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr.slice(-2000)}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  line(re: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.waitFor(() => this.lines.find((l) => re.test(l)), timeoutMs, `a line matching ${re}`);
  }

  /** The first JSON event (from index `from` on) matching `pred`. */
  event(pred: (e: Json) => boolean, timeoutMs = 10_000, from = 0): Promise<Json> {
    return this.waitFor(
      () => this.json.slice(from).find(pred),
      timeoutMs,
      `an event matching ${pred.toString()}`,
    );
  }

  events(pred: (e: Json) => boolean): Json[] {
    return this.json.filter(pred);
  }

  send(obj: Json): void {
    this.child.stdin?.write(JSON.stringify(obj) + '\n');
  }

  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Run the built CLI (`node dist/peer/bin/punchline.js ...`). */
export function punchline(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  return new Proc(
    spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** A free-ish UDP port number on loopback: bind port 0 and read it back. */
export async function freeUdpPort(): Promise<number> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Real processes and temporary directories for one test file: every process started is killed
 * and every directory removed after each test, also when the test fails. Call once at the top
 * of the file (it registers the afterEach).
 */
export function useProcesses(): {
  start: (args: string[], env?: NodeJS.ProcessEnv) => Proc;
  tmpDir: () => Promise<string>;
  rendezvous: (extra?: string[], env?: NodeJS.ProcessEnv) => Promise<{ port: number; proc: Proc }>;
} {
  const procs: Proc[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const start = (args: string[], env?: NodeJS.ProcessEnv): Proc => {
    const p = punchline(args, env ? { env } : {});
    procs.push(p);
    return p;
  };
  return {
    start,
    async tmpDir() {
      const d = await mkdtemp(path.join(os.tmpdir(), 'punchline-test-'));
      dirs.push(d);
      return d;
    },
    /** A real rendezvous on a free loopback port, ready (its listening line seen). */
    async rendezvous(extra: string[] = [], env?: NodeJS.ProcessEnv) {
      const port = await freeUdpPort();
      const proc = start(['rendezvous', '--host', '127.0.0.1', '--port', String(port), ...extra], env);
      await proc.line(/listening on udp 127\.0\.0\.1:\d+/);
      return { port, proc };
    },
  };
}

/** `punchline chat --json` arguments for a peer on loopback talking to the rendezvous on `port`. */
export function loopbackChat(port: number, name: string, dataDir: string, ...extra: string[]): string[] {
  return [
    'chat',
    '--server',
    `127.0.0.1:${port}`,
    '--bind',
    '127.0.0.1',
    '--json',
    '--name',
    name,
    '--data-dir',
    dataDir,
    ...extra,
  ];
}
