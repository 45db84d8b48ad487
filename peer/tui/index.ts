/**
 * The terminal client's entry point: `punchline chat` without --json. It draws a ChatService
 * that the caller built and started, and returns when the person quits (Ctrl-C, Ctrl-D on an
 * empty line, /quit, SIGTERM or SIGHUP). It never closes the service: the caller does.
 */
import type { ChatService } from '../chat/types.js';
import { localeIsUtf8 } from './format.js';
import { TuiScreen } from './screen.js';
import { ChatViewModel } from './view-model.js';

export interface TuiOptions {
  /** Default process.stdin (put in raw mode while the client runs). */
  input?: NodeJS.ReadableStream;
  /** Default process.stdout. */
  output?: NodeJS.WritableStream;
  /** Bold and underline instead of colours. Default: on when NO_COLOR is set. */
  monochrome?: boolean;
  /** Unicode marks; default from the locale (LC_ALL, LC_CTYPE, LANG), ASCII when not UTF-8. */
  unicode?: boolean;
  /** terminfo name; default $TERM. */
  terminal?: string;
  /** Wall clock for the client's own system lines (default Date.now). */
  now?: () => number;
  /** How often the peer list asks the service for fresh round trips (default 1000 ms). */
  peerRefreshMs?: number;
}

/** NO_COLOR (https://no-color.org): present and not empty. */
const noColor = (env: NodeJS.ProcessEnv): boolean => env.NO_COLOR !== undefined && env.NO_COLOR !== '';

/**
 * Run the terminal client on `service` until the person quits. The terminal is restored on every
 * way out; an uncaught error while it runs restores it and rejects with that error.
 */
export function runTui(service: ChatService, opts: TuiOptions = {}): Promise<void> {
  const monochrome = opts.monochrome ?? noColor(process.env);
  const unicode = opts.unicode ?? localeIsUtf8(process.env);
  const vm = new ChatViewModel(service, { monochrome, unicode, ...(opts.now ? { now: opts.now } : {}) });
  return new Promise<void>((resolve, reject) => {
    let ui: TuiScreen | undefined;
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearInterval(refresh);
      for (const sig of SIGNALS) process.off(sig, onSignal);
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      vm.close();
      try {
        ui?.close();
      } finally {
        if (err === undefined) resolve();
        else reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const refresh = setInterval(() => vm.refreshPeers(), opts.peerRefreshMs ?? 1000);
    refresh.unref();
    const onSignal = (): void => finish();
    const onCrash = (e: unknown): void => finish(e ?? new Error('uncaught error'));
    for (const sig of SIGNALS) process.on(sig, onSignal);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    vm.on('quit', () => finish());
    try {
      ui = new TuiScreen(vm, {
        input: opts.input ?? process.stdin,
        output: opts.output ?? process.stdout,
        ...(opts.terminal !== undefined ? { terminal: opts.terminal } : {}),
        monochrome,
        unicode,
        onFatal: onCrash,
      });
    } catch (e) {
      onCrash(e);
    }
  });
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
