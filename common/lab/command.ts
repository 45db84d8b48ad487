/**
 * Running the system tools the lab needs (ip, iptables-restore, conntrack, sysctl): one-shot,
 * always with a time limit, with the tool's stderr in the error when it fails.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where the admin tools live when PATH (e.g. of a non-login shell) lacks the sbin directories. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

const resolved = new Map<string, string | undefined>();

/** Absolute path of an executable found on PATH or in the sbin directories, or undefined. */
export function which(tool: string): string | undefined {
  if (resolved.has(tool)) return resolved.get(tool);
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  let found: string | undefined;
  for (const dir of dirs) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      found = join(dir, tool);
      break;
    } catch {
      // not here
    }
  }
  resolved.set(tool, found);
  return found;
}

/** Like which(), but throws a message naming the Debian package to install. */
export function tool(name: string): string {
  const path = which(name);
  if (!path) {
    const pkg: Record<string, string> = {
      ip: 'iproute2',
      ss: 'iproute2',
      iptables: 'iptables',
      'iptables-restore': 'iptables',
      conntrack: 'conntrack',
      sysctl: 'procps',
    };
    throw new Error(`lab: '${name}' not found; apt-get install ${pkg[name] ?? name}`);
  }
  return path;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunOptions {
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Killed (SIGKILL) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFail?: boolean;
}

/** Run a command to completion (bounded by timeoutMs); throws with its stderr on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // EPIPE when the command does not read stdin
    child.stdin.end(opts.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`lab: cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = { stdout, stderr, code, signal };
      if (timedOut) reject(new Error(`lab: ${formatCommand(cmd, args)} timed out after ${timeoutMs} ms`));
      else if (code !== 0 && !opts.allowFail)
        reject(new Error(`lab: ${formatCommand(cmd, args)} failed (${code ?? signal}): ${stderr.trim()}`));
      else resolve(result);
    });
  });
}

/** Synchronous, never throws: for teardown in 'exit' and signal handlers. Returns stdout or ''. */
export function runSync(cmd: string, args: readonly string[], timeoutMs = 5_000): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return '';
  }
}

export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
