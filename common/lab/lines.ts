/**
 * LineReader: the lines of one output stream, read with bounded waits.
 *
 * Reading consumes: nextLine/waitForLine/nextJson take the first *unread* line that matches and
 * leave the lines that did not match for later reads, so a test can wait for events in any order
 * without losing one. Every line also stays in `lines` for failure messages.
 */

export type JsonObject = Record<string, unknown>;
/** A predicate, or a pattern object whose every key must equal (===) the message's. */
export type JsonMatcher = ((msg: JsonObject) => boolean) | JsonObject;

/** Default bound for a single wait. */
export const DEFAULT_WAIT_MS = 5_000;

interface Waiter {
  test(line: string): unknown;
  resolve(value: unknown): void;
  reject(err: Error): void;
  describe: string;
  timer: NodeJS.Timeout;
}

export class LineReader {
  /** Every line so far, read or not. */
  readonly lines: string[] = [];
  private readonly unread: string[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly listeners: ((line: string) => void)[] = [];
  private endedBecause: string | undefined;

  /**
   * @param name e.g. 'stdout', used in messages
   * @param failure builds the Error for a failed wait (adds who failed and what they said)
   */
  constructor(
    readonly name: string,
    private readonly failure: (what: string) => Error,
  ) {}

  /** Take the first unread line for which test returns true. */
  nextLine(test: (line: string) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.wait((l) => (test(l) ? l : undefined), `matching ${test.toString()}`, timeoutMs);
  }

  /** Take the first unread line matching re; resolves with the match. */
  waitForLine(re: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<RegExpMatchArray> {
    return this.wait((l) => l.match(re) ?? undefined, `matching ${re}`, timeoutMs);
  }

  /**
   * Take the first unread line that is a JSON object accepted by matcher: a predicate, or a
   * pattern object whose keys must all be equal, e.g. nextJson({ event: 'ready' }).
   */
  nextJson<T extends JsonObject = JsonObject>(matcher: JsonMatcher, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const accept =
      typeof matcher === 'function'
        ? matcher
        : (m: JsonObject): boolean => Object.entries(matcher).every(([k, v]) => m[k] === v);
    const describe =
      typeof matcher === 'function' ? `accepted by ${matcher.toString()}` : `like ${JSON.stringify(matcher)}`;
    return this.wait(
      (line) => {
        const msg = parseJsonObject(line);
        return msg !== undefined && accept(msg) ? msg : undefined;
      },
      `(JSON) ${describe}`,
      timeoutMs,
    ) as Promise<T>;
  }

  /** Lines that parsed as JSON objects, read or not. */
  allJson(): JsonObject[] {
    return this.lines.map(parseJsonObject).filter((m): m is JsonObject => m !== undefined);
  }

  /** Also hand every line to fn as it arrives (from now on); reads are not affected. */
  onLine(fn: (line: string) => void): void {
    this.listeners.push(fn);
  }

  /** Feed one line (from the stream). It goes to the oldest waiter that wants it, else stays unread. */
  push(line: string): void {
    this.lines.push(line);
    for (const fn of this.listeners) fn(line);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      const value = w.test(line);
      if (value !== undefined) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(value);
        return;
      }
    }
    this.unread.push(line);
  }

  /** No more lines will come: pending and future waits without a match fail at once. */
  end(because: string): void {
    this.endedBecause = because;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure(`${because} before a ${this.name} line ${w.describe}`));
    }
  }

  private wait<R>(test: (line: string) => R | undefined, describe: string, timeoutMs: number): Promise<R> {
    const i = this.unread.findIndex((l) => test(l) !== undefined);
    if (i >= 0) {
      const [line] = this.unread.splice(i, 1);
      return Promise.resolve(test(line!) as R);
    }
    if (this.endedBecause !== undefined)
      return Promise.reject(this.failure(`${this.endedBecause} without a ${this.name} line ${describe}`));
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter = {
        test,
        resolve: resolve as (v: unknown) => void,
        reject,
        describe,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(this.failure(`printed no ${this.name} line ${describe} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }
}

export function parseJsonObject(line: string): JsonObject | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

/** Call onLine for each line of a text stream (the last one even without a final newline). */
export function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (buf.length > 0) onLine(buf);
    buf = '';
  });
}
