import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HAVE_TMUX = spawnSync('tmux', ['-V']).status === 0;

let serial = 0;

/**
 * A private tmux server (-L, no user config) for terminal tests: panes named by target, keys in
 * with send-keys, screens out with capture-pane. Every wait is bounded; kill() ends the server
 * and everything running in it.
 */
export class TmuxServer {
  readonly socket = `punchline-tui-${process.pid}-${++serial}`;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tui-'));

  run(...args: string[]): string {
    return execFileSync('tmux', ['-u', '-L', this.socket, '-f', '/dev/null', ...args], {
      encoding: 'utf8',
      timeout: 5000,
      env: { ...process.env, LANG: 'C.UTF-8' },
    });
  }

  /**
   * Run `cmd` (a shell command line) in a new session `target`. The shell reports the exit
   * status on the normal screen afterwards, then waits, so the pane can still be inspected.
   */
  start(target: string, cmd: string, cols = 80, rows = 24): void {
    const wrapped = `${cmd}; echo "[exit $?]"; exec sleep 600`;
    this.run('new-session', '-d', '-s', target, '-x', String(cols), '-y', String(rows), wrapped);
  }

  screen(target: string): string {
    return this.run('capture-pane', '-p', '-t', target);
  }

  lines(target: string): string[] {
    return this.screen(target).replace(/\n$/, '').split('\n');
  }

  /** Everything the pane ever showed on its normal screen, scrollback included. */
  history(target: string): string {
    return this.run('capture-pane', '-p', '-S', '-', '-t', target);
  }

  format(target: string, f: string): string {
    return this.run('display-message', '-p', '-t', target, f).trim();
  }

  keys(target: string, ...keys: string[]): void {
    this.run('send-keys', '-t', target, ...keys);
  }

  /** Literal text (no key-name lookup). */
  type(target: string, text: string): void {
    this.run('send-keys', '-t', target, '-l', text);
  }

  /** Poll until `pred` holds for the screen; fail with the last screen after `ms`. */
  async until(target: string, pred: (screen: string) => boolean, what: string, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    let last = '';
    for (;;) {
      last = this.screen(target);
      if (pred(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen was:\n${last}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Wait for the program to exit; its exit status as the shell saw it. */
  async exited(target: string, ms = 5000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /\[exit (\d+)\]/.exec(this.history(target));
      if (m) return Number(m[1]);
      if (Date.now() > deadline)
        throw new Error(`the program did not exit; the screen was:\n${this.screen(target)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    try {
      this.run('kill-server');
    } catch {
      /* already gone */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
