import { aborted } from '../errors.js';

/**
 * One attempt to open a connection, which ends exactly once: it opens (the promise resolves) or it
 * fails (the promise rejects), whichever comes first; an abort of the caller's signal is a failure
 * like any other. Both stream transports open their connections through this (ws-node.ts and
 * sim/stream-connect.ts), so "already settled", "stop listening for the abort" and "undo what the
 * attempt set up" are written once.
 */
export interface ConnectAttempt<T> {
  /** True once the attempt has opened or failed; later open() and fail() calls do nothing. */
  readonly settled: boolean;
  /** The connection is open: resolve with it. */
  open(value: T): void;
  /** The attempt failed: run the onFail hooks (newest last) with the error, then reject with it. */
  fail(error: Error): void;
  /** Run `hook` once the attempt settles, either way (clear its timers). */
  onSettled(hook: () => void): void;
  /** Run `hook` if the attempt fails (tear down what it set up). */
  onFail(hook: (error: Error) => void): void;
}

/**
 * Run `start` as one connection attempt: a signal already aborted rejects at once, before `start`
 * runs; an abort later fails the attempt; an exception thrown by `start` fails it too.
 */
export function connectAttempt<T>(
  signal: AbortSignal | undefined,
  start: (attempt: ConnectAttempt<T>) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(aborted('connect aborted'));
    let settled = false;
    const settledHooks: (() => void)[] = [];
    const failHooks: ((error: Error) => void)[] = [];
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const h of settledHooks) h();
      return true;
    };
    const attempt: ConnectAttempt<T> = {
      get settled() {
        return settled;
      },
      open: (value) => {
        if (settle()) resolve(value);
      },
      fail: (error) => {
        if (!settle()) return;
        for (const h of failHooks) h(error);
        reject(error);
      },
      onSettled: (hook) => void settledHooks.push(hook),
      onFail: (hook) => void failHooks.push(hook),
    };
    const onAbort = (): void => attempt.fail(aborted('connect aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      start(attempt);
    } catch (e) {
      attempt.fail(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
