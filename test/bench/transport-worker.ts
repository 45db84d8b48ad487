/**
 * One side (or both) of a transport-benchmark run, in its own process so its CPU is its own.
 * argv[2] is a JSON object {role, system, ...}; the worker prints JSON lines on stdout:
 *   testnet:     a 3-node hyperdht testnet on 127.0.0.1; {"event":"ready","bootstrap":[...]}.
 *   chat:        listener and dialler in this process; `rate` messages/s of `size` bytes for
 *                `seconds`, each carrying its send time; {"event":"done",p50,p99,...} (ms, one way).
 *   bulk-recv:   listens; {"event":"ready",reach}; counts `bytes`; {"event":"done",bytes,lastAt,cpuS}.
 *   bulk-send:   dials, {"event":"start",at}, writes `bytes`; when the receiver's one-byte answer
 *                comes back {"event":"done",cpuS}.
 *   idle-server: listens for `count` connections and holds them.
 *   idle-client: opens `count` connections, then {"event":"done",cpuPct,rssBytes} after `seconds`.
 *   connect:     see transport-connect.ts.
 * Times that cross processes (`at`, `lastAt`) are performance.timeOrigin + performance.now(), one
 * clock for every process on the machine. Every wait is bounded by `limitMs`.
 */
import { absNow, connectTrials, out } from './transport-connect.js';
import { createTestnet, dial, listen, type Conn, type WorkerArgs } from './transport-systems.js';

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
const limitMs = args.limitMs ?? 120_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Resolves with `p`, or rejects after ms. */
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: no answer within ${ms} ms`)))]);
const hold = (): Promise<void> => new Promise(() => {});

/** Cut a byte stream into records of `size` bytes (a session delivers whole ones already). */
function records(conn: Conn, size: number, f: (r: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  conn.onData((b) => {
    pending = pending.length === 0 ? Buffer.from(b) : Buffer.concat([pending, b]);
    let at = 0;
    for (; pending.length - at >= size; at += size) f(pending.subarray(at, at + size));
    pending = pending.subarray(at);
  });
}

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

async function chat(): Promise<void> {
  const rate = args.rate ?? 20;
  const size = args.size ?? 100;
  const total = Math.round(rate * (args.seconds ?? 10));
  const server = await listen(args.system, 1, args.bootstrap);
  const client = await dial(args.system, 1, server.reach);
  try {
    const [[tx], [rx]] = await within(Promise.all([client.conns, server.side.conns]), 30_000, 'connect');
    const latencies: number[] = [];
    let done: () => void = () => {};
    const all = new Promise<void>((r) => (done = r));
    records(rx!, size, (r) => {
      latencies.push(performance.now() - r.readDoubleLE(0));
      if (latencies.length === total) done();
    });
    let refused = 0;
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      await sleep(t0 + (i * 1000) / rate - performance.now());
      const r = Buffer.alloc(size);
      r.writeUInt32LE(i, 8);
      r.writeDoubleLE(performance.now(), 0);
      if (tx!.write(r) === 'refused') refused++;
    }
    // What has not arrived 30 s after the last send is counted as missing.
    await Promise.race([all, sleep(30_000)]);
    const s = [...latencies].sort((a, b) => a - b);
    const [p50, p99, max] = [quantile(s, 0.5), quantile(s, 0.99), s[s.length - 1] ?? NaN];
    out({ event: 'done', sent: total, received: s.length, refused, p50, p99, max });
  } finally {
    await client.close();
    await server.side.close();
  }
}

async function bulkRecv(): Promise<void> {
  const bytes = args.bytes!;
  const { side, reach } = await listen(args.system, 1, args.bootstrap, args.bind);
  out({ event: 'ready', reach });
  const [conn] = await within(side.conns, limitMs, 'bulk: connection');
  const cpu0 = cpuSeconds();
  let got = 0;
  let lastAt = 0;
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, limitMs);
    conn!.onData((b) => {
      got += b.length;
      lastAt = absNow();
      if (got >= bytes) {
        clearTimeout(t);
        conn!.write(Buffer.from([1])); // the sender's cue that everything arrived
        resolve();
      }
    });
  });
  out({ event: 'done', bytes: got, complete: got >= bytes, lastAt, cpuS: cpuSeconds() - cpu0 });
  await hold();
}

async function bulkSend(): Promise<void> {
  const bytes = args.bytes!;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const side = await dial(args.system, 1, args.reach!);
  const [conn] = await within(side.conns, 30_000, 'bulk: connect');
  // The receiver answers one byte once it has everything: until then this side keeps serving
  // retransmissions and acknowledgements, and its CPU counts.
  const acked = new Promise<void>((r) => conn!.onData(() => r()));
  const cpu0 = cpuSeconds();
  out({ event: 'start', at: absNow() });
  let drained: () => void = () => {};
  conn!.onDrain(() => drained());
  const end = Date.now() + limitMs;
  for (let sent = 0; sent < bytes && Date.now() < end;) {
    const b = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
    const w = conn!.write(b);
    if (w !== 'refused') sent += b.length;
    if (w !== 'sent') await Promise.race([new Promise<void>((r) => (drained = r)), sleep(1000)]);
  }
  const complete = await Promise.race([acked.then(() => true), sleep(end - Date.now()).then(() => false)]);
  out({ event: 'done', complete, cpuS: cpuSeconds() - cpu0 });
  await side.close();
}

async function idle(): Promise<void> {
  const n = args.count ?? 20;
  if (args.role === 'idle-server') {
    const { side, reach } = await listen(args.system, n, args.bootstrap);
    out({ event: 'ready', reach });
    await within(side.conns, limitMs, 'idle: connections');
    out({ event: 'connected' });
    return hold();
  }
  const side = await dial(args.system, n, args.reach!);
  await within(side.conns, limitMs, 'idle: connect');
  await sleep(1000); // settle after the handshakes
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await sleep((args.seconds ?? 30) * 1000);
  const cpuPct = (100 * (cpuSeconds() - cpu0)) / ((performance.now() - t0) / 1000);
  out({ event: 'done', cpuPct, rssBytes: process.memoryUsage.rss() });
  await hold();
}

async function testnet(): Promise<void> {
  const tn = await createTestnet(3, { host: '127.0.0.1' });
  out({ event: 'ready', bootstrap: tn.bootstrap });
  await hold(); // until SIGTERM; the parent ends the whole process group
}

const roles: Record<WorkerArgs['role'], () => Promise<void>> = {
  testnet,
  chat,
  'bulk-recv': bulkRecv,
  'bulk-send': bulkSend,
  'idle-server': idle,
  'idle-client': idle,
  connect: () => connectTrials(args),
};

process.once('SIGTERM', () => process.exit(0));
roles[args.role]().then(
  () => process.exit(0),
  (e: unknown) => {
    out({ event: 'error', message: String((e as Error).stack ?? e) });
    process.exit(1);
  },
);
