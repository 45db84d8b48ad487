import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where CI installs it (apt-get install redis-server, .ci/run). */
export const REDIS_SERVER = '/usr/bin/redis-server';

/** Whether redis-server runs here; cluster tests skip, saying so, without it. */
export const HAVE_REDIS = ((): boolean => {
  try {
    execFileSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const NO_REDIS_REASON = `${REDIS_SERVER} is not installed (apt-get install redis-server): cluster tests skipped`;

/** One PING on the unix socket: true on +PONG. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socket);
    let got = '';
    const done = (ok: boolean): void => {
      c.destroy();
      resolve(ok);
    };
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (d: Buffer) => {
      got += d.toString();
      // With requirepass, an unauthenticated PING is refused (NOAUTH): the server is up all the same.
      if (got.includes('\r\n')) done(got.startsWith('+PONG') || got.startsWith('-NOAUTH'));
    });
    c.on('error', () => done(false));
  });
}

/**
 * A throwaway redis-server on a unix socket in a temp dir: no TCP port, no persistence. start()
 * waits for it by polling PING a bounded number of times; stop() kills it (it can be started
 * again on the same socket: Redis restarting, empty); close() kills it and removes the dir.
 */
export class RedisProcess {
  /** `args`: more redis-server options (TLS, requirepass) for a test of those. */
  constructor(private readonly args: readonly string[] = []) {}
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-redis-'));
  readonly socket = path.join(this.dir, 'redis.sock');
  private child: ChildProcess | undefined;
  private log = '';

  get url(): string {
    return `unix://${this.socket}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      REDIS_SERVER,
      [
        ...[
          '--port',
          '0',
          '--unixsocket',
          this.socket,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          this.dir,
        ],
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => void (this.log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (this.log += d.toString()));
    // 300 tries 20 ms apart: 6 s for a process that is up in a few ms on an idle machine.
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) break;
      if (await ping(this.socket)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stop();
    throw new Error(`redis-server did not answer PING:\n${this.log.slice(-2000)}`);
  }

  /** Kill it (SIGKILL: as a crash, no goodbye to the clients). */
  stop(): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(this.socket, { force: true });
  }

  close(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
