import path from 'node:path';
import { afterEach } from 'vitest';
import { freeUdpPort, useProcesses } from '../support/proc.js';
import type { Json, Proc } from '../support/proc.js';
import { RedisProcess } from '../support/redis.js';

/** A `punchline rendezvous --redis ... --node-id ID` process on loopback. */
export interface NodeProc {
  id: string;
  port: number;
  proc: Proc;
  /** As a client's --server entry names it. */
  addr: string;
}

/** GET a node's /healthz (its JSON body). */
export async function healthz(node: NodeProc): Promise<Json> {
  return (await (await fetch(`http://127.0.0.1:${node.port}/healthz`)).json()) as Json;
}

/** A node's /metrics, one sample: `name{labels}` as written there, NaN when absent or unreachable. */
export async function metric(node: NodeProc, sample: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
    return line === undefined ? NaN : Number(line.slice(sample.length + 1));
  } catch {
    return NaN;
  }
}

/** Poll `check` every 100 ms until it holds, or fail after `timeoutMs` saying what was awaited. */
export async function poll(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Names in a peer's latest `presence` event (from index `from` on), or undefined before one. */
export function presenceNames(p: Proc, from = 0): string[] | undefined {
  const last = p.json
    .slice(from)
    .filter((e) => e.event === 'presence')
    .at(-1);
  return last && (last.peers as { name: string }[]).map((x) => x.name).sort();
}

/** Wait until `p`'s latest presence lists exactly `names` (sorted). */
export function presenceIs(p: Proc, names: string[], timeoutMs = 20_000): Promise<string[]> {
  const want = [...names].sort().join(',');
  return p.waitFor(
    () => {
      const got = presenceNames(p);
      return got?.join(',') === want ? got : undefined;
    },
    timeoutMs,
    `presence [${want}]`,
  );
}

/** Texts of the `message` events `p` got from `from`, in arrival order. */
export const texts = (p: Proc, from: string): string[] =>
  p.events((e) => e.event === 'message' && e.from === from).map((e) => String(e.text));

/**
 * A cluster of real processes for one test file: a redis-server on a unix socket in a temp dir,
 * `punchline rendezvous` nodes sharing it (and one server key, as the nodes of a cluster do), and
 * `punchline chat --json` peers listing the nodes in the order each is given. Everything is torn
 * down after each test, also when it fails (processes killed, directories removed, Redis closed).
 */
export function useCluster(): {
  redis: () => RedisProcess;
  /** A node; `extra` flags go to its command line (e.g. `--drain-ms`). */
  node: (id: string, ...extra: string[]) => Promise<NodeProc>;
  restartNode: (n: NodeProc) => Promise<NodeProc>;
  chat: (name: string, servers: NodeProc[], ...extra: string[]) => Proc;
  dir: () => string;
} {
  const { start, tmpDir } = useProcesses();
  let redis: RedisProcess | undefined;
  let dir: string | undefined;
  let peers = 0; // each chat its own data directory (its own identity), even under a reused name
  afterEach(() => {
    for (const t of [...talking]) t.stop(); // a failed test's talk: no writes to killed peers
    redis?.close();
    redis = undefined;
    dir = undefined;
  });
  const ensure = async (): Promise<{ r: RedisProcess; d: string }> => {
    if (!redis) {
      redis = new RedisProcess();
      await redis.start();
    }
    dir ??= await tmpDir();
    return { r: redis, d: dir };
  };
  const spawnNode = async (id: string, port: number, extra: string[] = []): Promise<NodeProc> => {
    const { r, d } = await ensure();
    const proc = start([
      'rendezvous',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--key',
      path.join(d, 'server-key.json'),
      '--redis',
      r.url,
      '--node-id',
      id,
      ...extra,
    ]);
    await proc.line(/listening on udp 127\.0\.0\.1:\d+/);
    const n = { id, port, proc, addr: `127.0.0.1:${port}` };
    await poll(async () => (await healthz(n)).status === 'ok', 15_000, `${id} reaching redis`);
    return n;
  };
  return {
    redis: () => {
      if (!redis) throw new Error('no redis yet: start a node first');
      return redis;
    },
    // One at a time: the first creates the shared key file, the others read it.
    node: async (id, ...extra) => spawnNode(id, await freeUdpPort(), extra),
    restartNode: async (n) => spawnNode(n.id, n.port),
    chat: (name, servers, ...extra) =>
      start([
        'chat',
        '--server',
        servers.map((s) => s.addr).join(','),
        '--bind',
        '127.0.0.1',
        '--json',
        '--name',
        name,
        '--data-dir',
        path.join(dir!, `peer-${name}-${++peers}`),
        ...extra,
      ]),
    dir: () => dir!,
  };
}

/** Each node list rotated: peer i lists the nodes starting at node i % n (registers there). */
export const rotated = <T>(nodes: T[], i: number): T[] => nodes.map((_, k) => nodes[(i + k) % nodes.length]!);

/**
 * Two peers writing to each other without pause: each sends `NAME-0`, `NAME-1`, ... every
 * `everyMs` (the pace of the input, not a limit on anything), so that messages are in flight
 * before, during and after whatever the test does to the cluster.
 */
const talking = new Set<Talk>();

export class Talk {
  private readonly sent = new Map<Proc, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly a: { proc: Proc; name: string },
    readonly b: { proc: Proc; name: string },
    readonly everyMs = 100,
  ) {}

  start(): void {
    talking.add(this);
    this.timer = setInterval(() => {
      for (const [from, to] of [
        [this.a, this.b],
        [this.b, this.a],
      ] as const) {
        if (from.proc.exitCode !== undefined) continue;
        const i = this.sent.get(from.proc) ?? 0;
        this.sent.set(from.proc, i + 1);
        from.proc.send({ cmd: 'send', peer: to.name, text: `${from.name}-${i}` });
      }
    }, this.everyMs);
  }

  stop(): void {
    talking.delete(this);
    clearInterval(this.timer);
  }

  /** What `side` sent, in order. */
  sentBy(side: { proc: Proc; name: string }): string[] {
    return Array.from({ length: this.sent.get(side.proc) ?? 0 }, (_, i) => `${side.name}-${i}`);
  }

  /** Wait until each side has `n` more receipts (`delivered`) than at json index `from` of each. */
  async delivered(n: number, from: { a: number; b: number }, timeoutMs: number): Promise<void> {
    for (const [side, at] of [
      [this.a, from.a],
      [this.b, from.b],
    ] as const)
      await side.proc.waitFor(
        () =>
          side.proc.json.slice(at).filter((e) => e.event === 'delivered').length >= n ? true : undefined,
        timeoutMs,
        `${n} receipts at ${side.name}`,
      );
  }

  /** Stop, then wait until every message sent has its receipt on both sides. */
  async finish(timeoutMs: number): Promise<void> {
    this.stop();
    for (const side of [this.a, this.b]) {
      const want = this.sentBy(side).length;
      await side.proc.waitFor(
        () => (side.proc.events((e) => e.event === 'delivered').length >= want ? true : undefined),
        timeoutMs,
        `all ${want} receipts at ${side.name}`,
      );
    }
  }

  /** Where each side's event list ends now. */
  mark(): { a: number; b: number } {
    return { a: this.a.proc.json.length, b: this.b.proc.json.length };
  }
}

/** Median, min and max of some figures, rounded to ms. */
export function summary(xs: number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `median ${Math.round(mid)} ms, min ${Math.round(s[0]!)}, max ${Math.round(s.at(-1)!)} (n=${s.length})`;
}
