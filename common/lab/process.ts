/**
 * A long-running process inside a namespace, driven the way the CLI is: JSON lines (or any lines)
 * written to stdin, stdout and stderr read as lines with bounded waits (see lines.ts: reads take
 * the first unread matching line and leave the others).
 *
 * The process is the leader of its own process group (detached), so stop()/kill() reach anything
 * it started too; the group is tracked for the last-resort cleanup on exit/SIGINT/SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { killGroup, trackGroup, untrackGroup } from './cleanup.js';
import { formatCommand, tool } from './command.js';
import { DEFAULT_WAIT_MS, LineReader, splitLines, type JsonMatcher, type JsonObject } from './lines.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Shown in errors; default: the command's base name. */
  label?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Copy each stdout/stderr line to this process's stderr as it arrives (debugging). */
  echo?: boolean;
}

const TAIL_LINES = 15;

export class LabProcess {
  readonly ns: string;
  readonly label: string;
  /** Pid (and process group id) of the command; -1 if it could not be spawned. */
  readonly pid: number;
  readonly out: LineReader;
  readonly err: LineReader;
  /** Resolves when the process has exited and its output is fully read. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;

  private readonly child: ChildProcessWithoutNullStreams;
  private readonly commandLine: string;

  constructor(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.ns = ns;
    this.label = opts.label ?? cmd.split('/').pop() ?? cmd;
    this.commandLine = formatCommand(cmd, args);
    this.out = new LineReader('stdout', (what) => this.failure(what));
    this.err = new LineReader('stderr', (what) => this.failure(what));
    // `ip netns exec` execs the command after setns, so the child's pid is the command's own.
    this.child = spawn(tool('ip'), ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    this.pid = this.child.pid ?? -1; // undefined: spawn failed, 'error' follows
    if (this.pid > 0) trackGroup(this.pid);
    this.child.stdin.on('error', () => undefined); // EPIPE after exit: the exit itself is reported
    const echo = (stream: string) => (line: string) =>
      process.stderr.write(`[${this.label}@${ns} ${stream}] ${line}\n`);
    splitLines(this.child.stdout, (line) => {
      if (opts.echo) echo('out')(line);
      this.out.push(line);
    });
    splitLines(this.child.stderr, (line) => {
      if (opts.echo) echo('err')(line);
      this.err.push(line);
    });
    this.exited = new Promise((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        if (this.pid > 0) {
          killGroup(this.pid); // whatever it left running in its group
          untrackGroup(this.pid);
        }
        const because = `exited (${info.code ?? info.signal ?? 'spawn error'})`;
        this.out.end(because);
        this.err.end(because);
        resolve(info);
      };
      // 'close' comes after the exit and after stdout/stderr have ended: no line is lost.
      this.child.on('close', (code, signal) => done({ code, signal }));
      this.child.on('error', (e) => {
        this.err.push(`spawn error: ${e.message}`);
        done({ code: null, signal: null });
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Every stdout line so far. */
  get stdout(): readonly string[] {
    return this.out.lines;
  }

  /** Every stderr line so far. */
  get stderr(): readonly string[] {
    return this.err.lines;
  }

  /** Write one line to stdin (a newline is added). */
  write(line: string): void {
    if (!this.running || this.child.stdin.destroyed)
      throw this.failure(`cannot take input, stdin closed: ${line}`);
    this.child.stdin.write(line + '\n');
  }

  /** Write a JSON line to stdin. */
  sendJson(msg: unknown): void {
    this.write(JSON.stringify(msg));
  }

  /** Close stdin (EOF). */
  endInput(): void {
    this.child.stdin.end();
  }

  /** Stdout: take the first unread JSON line accepted by matcher (predicate or pattern object). */
  nextJson<T extends JsonObject = JsonObject>(matcher: JsonMatcher, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return this.out.nextJson<T>(matcher, timeoutMs);
  }

  /** Stdout: take the first unread line matching re. */
  waitForLine(re: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<RegExpMatchArray> {
    return this.out.waitForLine(re, timeoutMs);
  }

  /** Stdout: take the first unread line accepted by test (default: any line). */
  nextLine(test?: (line: string) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.out.nextLine(test, timeoutMs);
  }

  /** Stdout lines that parsed as JSON objects, read or not. */
  allJson(): JsonObject[] {
    return this.out.allJson();
  }

  /** Signal the whole process group. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running && this.pid > 0) killGroup(this.pid, signal);
  }

  /** SIGTERM the group, SIGKILL it after graceMs; resolves once it has exited. Idempotent. */
  async close(graceMs = 1_000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Wait (bounded) for the process to exit by itself; throws if it is still running after timeoutMs. */
  async waitForExit(timeoutMs = DEFAULT_WAIT_MS): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.failure(`still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** An Error that shows who failed, how it was started, and what it last said. */
  failure(what: string): Error {
    const tail = (lines: readonly string[]): string => lines.slice(-TAIL_LINES).join('\n    ') || '(none)';
    return new Error(
      `${this.label} in ${this.ns} ${what}\n  command: ${this.commandLine}\n` +
        `  last stdout:\n    ${tail(this.stdout)}\n  last stderr:\n    ${tail(this.stderr)}`,
    );
  }
}
