/**
 * Injectable time (docs/contributing.md §5). Every timer in punchline goes through a Clock so that
 * tests and the simulated network drive time instead of sleeping.
 */
export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds since an arbitrary epoch (monotonic for the real clock). */
  now(): number;
  /** Wall-clock milliseconds since 1970 (for timestamps shown to users and stored). */
  wallNow(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /**
   * Run `fn` once the current task is over, before any timer: work several calls in one turn of
   * the event loop should share (a session's flush after a batch of datagrams or send() calls)
   * without waiting for a timer, which on node fires no sooner than 1 ms.
   */
  defer(fn: () => void): void;
}

let nextId = 1;

/**
 * The real clock: performance.now() and node timers. The timers are not unref'd: like node's own,
 * a pending one keeps the process alive, so whatever owns timers clears them in its close().
 */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextId++;
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        fn();
      },
      Math.max(0, ms),
    );
    this.timers.set(id, t);
    return { id };
  }
  /** setImmediate: after the I/O callbacks of this turn of the event loop (so a batch of datagrams shares one flush). */
  defer(fn: () => void): void {
    setImmediate(fn);
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }
}

interface Pending {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

const before = (a: Pending, b: Pending): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * A virtual clock: time moves only when a test (or the simulator) advances it. Timers fire
 * in (time, insertion) order, so runs are deterministic. A binary heap with lazy deletion
 * keeps scheduling O(log n) when thousands of retransmission timers are pending.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly heap: Pending[] = [];
  private readonly live = new Set<number>();
  private readonly wallOffset: number;

  constructor(start = 0, wallStart = Date.UTC(2026, 0, 1)) {
    this.t = start;
    this.wallOffset = wallStart - start;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.t + this.wallOffset;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextId++;
    this.live.add(id);
    this.push({ id, at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.live.delete(handle.id);
  }
  /**
   * At the same virtual time, after everything already due then: the task that calls it and
   * every timer scheduled for now, in insertion order, so the run stays deterministic.
   */
  defer(fn: () => void): void {
    this.setTimeout(fn, 0);
  }
  /** Number of timers still scheduled. */
  get timerCount(): number {
    return this.live.size;
  }
  /** When the next timer is due, or undefined if none. */
  nextDue(): number | undefined {
    this.dropDead();
    return this.heap[0]?.at;
  }
  /** Fire the earliest timer (advancing time to it). Returns false when none is due by `limit`. */
  step(limit = Infinity): boolean {
    this.dropDead();
    const top = this.heap[0];
    if (!top || top.at > limit) return false;
    this.pop();
    this.live.delete(top.id);
    if (top.at > this.t) this.t = top.at;
    top.fn();
    return true;
  }
  /** Advance by `ms`, firing every timer due on the way (synchronously: no promise work runs between). */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.step(end)) {
      /* fire in order */
    }
    this.t = end;
  }
  /**
   * Advance by `ms`, letting promise continuations and I/O callbacks run after every timer,
   * so async code driven by this clock behaves as it would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    while (this.step(end)) await flush();
    this.t = end;
    await flush();
  }
  /** Fire timers (flushing async work between them) until `done()` holds or `maxMs` of virtual time passes. */
  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    const end = this.t + maxMs;
    await flush();
    while (!done()) {
      if (!this.step(end)) {
        this.t = end;
        await flush();
        return done();
      }
      await flush();
    }
    return true;
  }

  private dropDead(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0]!.id)) this.pop();
  }
  private push(p: Pending): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }
  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Let pending promise continuations and immediate callbacks run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
