/**
 * `npm run bench`: relay capacity on this machine, each figure next to a baseline measured in the
 * same run (a bare `ws` echo server). Figures, not pass/fail (docs/architecture.md, testing tiers).
 *
 *  1. Resident memory per idle connected peer at 10,000 peers (goal < 20 KiB each): the server's
 *     RSS (/proc/PID/status VmRSS) before and after 10,000 clients connect (and, for the relay,
 *     register: HELLO, COOKIE, signed REGISTER), divided by 10,000.
 *  2. Relayed small frames per second between 100 peer pairs (goal >= 100,000/s): every peer keeps
 *     32 frames of 64 bytes in flight to its partner, which answers each with one more.
 *  3. Bad-signature flood: one source (127.0.0.2) sends REGISTERs with a valid cookie and a bad
 *     signature at BENCH_FLOOD_RATE/s while 20 honest peers (127.0.3.1-20) register once a second
 *     each; honest registrations served (REGISTERED within 2 s) and their latency, with the
 *     per-source REGISTER bucket (--register-rate) at its default and lifted, side by side.
 *     BENCH_ONLY=flood runs this one alone.
 *  4. The transport: punchline's session vs TCP vs hyperdht (test/bench/transport.ts);
 *     BENCH_ONLY=transport runs it alone.
 *  5. Symmetric NATs in the real-NAT lab (root only): time to a direct path, punchline vs
 *     hyperdht (test/bench/nat.ts); BENCH_ONLY=nat runs it alone.
 *  6. File transfer through two cone NATs in the lab (root only) against the session's bulk
 *     figure, alternating (test/bench/files.ts); BENCH_ONLY=files runs it alone.
 *  7. Registrations per GiB of one node (test/bench/registrations.ts), only with
 *     BENCH_ONLY=registrations (BENCH_REGISTRATIONS=N members, default 20000).
 *  8. Relay frames per second within one cluster node and across two (test/bench/cluster-relay.ts,
 *     redis-server started by it), only with BENCH_ONLY=cluster.
 *
 * Registration limits: the idle clients register 10 peers per 127/8 source address (clients.ts),
 * well inside --max-ids-per-ip (32) and --register-burst (40), so the relay runs at its defaults.
 * Servers and clients are separate processes (child_process); the relay is the real CLI,
 * `punchline rendezvous`. File descriptors: every process gets `ulimit -n` raised to 65536 when
 * allowed; the limits in force are printed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { filesBench } from './files.js';
import { journalBench } from './journal.js';
import { natBench } from './nat.js';
import { registrationsBench } from './registrations.js';
import { transportBench } from './transport.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../peer/bin/punchline.js');
const PEERS = Number(process.env.BENCH_PEERS ?? 10_000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 100);
const NOFILE = 65_536;

interface Child {
  proc: ChildProcess;
  lines: string[];
  next(pred: (l: string) => boolean, ms: number, what: string): Promise<string>;
  stop(): Promise<void>;
}

/** Spawn `node ARGS` under `ulimit -n NOFILE` (best effort), reading stdout lines. */
function child(args: string[]): Child {
  const proc = spawn(
    'sh',
    ['-c', `ulimit -n ${NOFILE} 2>/dev/null; exec "$@"`, 'sh', process.execPath, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const wake: (() => void)[] = [];
  readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const f of wake.splice(0)) f();
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  let exited = false;
  const done = new Promise<void>((r) =>
    proc.on('exit', () => {
      exited = true;
      for (const f of wake.splice(0)) f();
      r();
    }),
  );
  let seen = 0;
  return {
    proc,
    lines,
    async next(pred, ms, what) {
      const end = Date.now() + ms;
      for (;;) {
        while (seen < lines.length) {
          const l = lines[seen++]!;
          if (pred(l)) return l;
        }
        if (exited || Date.now() > end)
          throw new Error(
            `${what}: ${exited ? 'process exited' : 'timed out'}\n${lines.join('\n')}\n${stderr}`,
          );
        await new Promise<void>((r) => {
          const t = setTimeout(r, 200);
          wake.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
};
const nofileOf = (pid: number): string => {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(
    readFileSync(`/proc/${pid}/limits`, 'utf8'),
  );
  return m ? m[1]! : '?';
};
/** utime + stime of a process, in seconds. */
const cpuOf = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const json = (l: string): Record<string, unknown> => JSON.parse(l) as Record<string, unknown>;
const isEvent = (e: string) => (l: string) => l.startsWith('{') && json(l).event === e;

let nextPort = 20_000 + Math.floor(Math.random() * 20_000);

async function startServer(
  kind: 'relay' | 'echo',
  extra: string[] = [],
): Promise<{ c: Child; url: string; port: number }> {
  const port = nextPort++;
  const c =
    kind === 'echo'
      ? child([path.join(here, 'echo-server.js'), String(port)])
      : child([
          CLI,
          'rendezvous',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--log-level',
          'warn',
          ...extra,
        ]);
  await c.next(
    (l) => (kind === 'echo' ? l.startsWith('listening') : l.includes('listening on tcp')),
    10_000,
    `${kind} server start`,
  );
  return { c, url: `ws://127.0.0.1:${port}/`, port };
}

const clients = (a: Record<string, unknown>): Child =>
  child([path.join(here, 'clients.js'), JSON.stringify(a)]);

interface MemResult {
  peers: number;
  before: number;
  after: number;
  perPeer: number;
  setupMs: number;
  nofile: { server: string; clients: string };
}

async function memory(kind: 'relay' | 'echo'): Promise<MemResult> {
  const { c: srv, url, port } = await startServer(kind);
  await sleep(1000);
  const before = rssOf(srv.proc.pid!);
  const cl = clients({ mode: 'idle', target: kind, url, peers: PEERS });
  const ready = json(await cl.next(isEvent('ready'), 300_000, `${kind}: ${PEERS} idle clients`));
  await sleep(3000); // let the server settle (GC, buffers)
  const after = rssOf(srv.proc.pid!);
  if (kind === 'relay') {
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const peers = /punchline_peers\{transport="ws"\} (\d+)/.exec(m)?.[1];
    if (Number(peers) !== PEERS) throw new Error(`relay reports ${peers} ws peers, expected ${PEERS}`);
  }
  const nofile = { server: nofileOf(srv.proc.pid!), clients: nofileOf(cl.proc.pid!) };
  await cl.stop();
  await srv.stop();
  return {
    peers: PEERS,
    before,
    after,
    perPeer: (after - before) / PEERS,
    setupMs: Number(ready.ms),
    nofile,
  };
}

interface LoadResult {
  perSec: number;
  serverCpu: number;
  clientCpu: number;
  drops: string;
}

async function relayDrops(port: number): Promise<Map<string, number>> {
  const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return new Map(
    [...m.matchAll(/punchline_relay_dropped_total\{reason="(\w+)"\} (\d+)/g)].map((x) => [
      x[1]!,
      Number(x[2]),
    ]),
  );
}

async function throughput(kind: 'relay' | 'echo'): Promise<LoadResult> {
  const { c: srv, url, port } = await startServer(kind);
  const cl = clients({
    mode: 'load',
    target: kind,
    url,
    pairs: PAIRS,
    window: 32,
    payload: 64,
    windowMs: 5000,
  });
  await cl.next(isEvent('ready'), 120_000, `${kind}: load clients ready`);
  await cl.next(isEvent('window-start'), 30_000, `${kind}: window start`);
  const d0 = kind === 'relay' ? await relayDrops(port) : new Map<string, number>();
  const s0 = cpuOf(srv.proc.pid!);
  const c0 = cpuOf(cl.proc.pid!);
  const t0 = performance.now();
  const end = json(await cl.next(isEvent('window-end'), 30_000, `${kind}: window end`));
  const secs = (performance.now() - t0) / 1000;
  const s1 = cpuOf(srv.proc.pid!);
  const c1 = cpuOf(cl.proc.pid!);
  let drops = '-';
  if (kind === 'relay') {
    const d1 = await relayDrops(port);
    const d = [...d1].map(([k, v]) => [k, v - (d0.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    drops = d.length === 0 ? 'none' : d.map(([k, v]) => `${k} ${v}`).join(', ');
  }
  await cl.stop();
  await srv.stop();
  return { perSec: Number(end.perSec), serverCpu: (s1 - s0) / secs, clientCpu: (c1 - c0) / secs, drops };
}

const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 8000);
const FLOOD_MS = Number(process.env.BENCH_FLOOD_MS ?? 15_000);

interface FloodResult {
  attempts: number;
  served: number;
  p50: number;
  p95: number;
  max: number;
  floodSent: number;
  signatureChecks: number;
  rateLimited: number;
  serverCpu: number;
}

const metricValue = (text: string, line: string): number =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(`${line} `))
      ?.split(' ')[1] ?? NaN,
  );

/** The bad-signature flood against a real server, with the per-source bucket on (defaults) or lifted. */
async function badSignatureFlood(bucket: boolean): Promise<FloodResult> {
  const lifted = ['--register-rate', '1000000', '--register-burst', '1000000'];
  const { c: srv, port } = await startServer('relay', bucket ? [] : lifted);
  const flood = child([
    path.join(here, 'flood-clients.js'),
    JSON.stringify({ mode: 'flood', port, source: '127.0.0.2', rate: FLOOD_RATE, durationMs: FLOOD_MS }),
  ]);
  await flood.next(isEvent('ready'), 10_000, 'flooder ready');
  await sleep(1000); // the flood is under way before the first honest registration
  const s0 = cpuOf(srv.proc.pid!);
  const t0 = performance.now();
  const honest = child([
    path.join(here, 'flood-clients.js'),
    JSON.stringify({
      mode: 'honest',
      port,
      clients: 20,
      intervalMs: 1000,
      durationMs: FLOOD_MS - 3000,
      timeoutMs: 2000,
    }),
  ]);
  const h = json(await honest.next(isEvent('done'), FLOOD_MS + 30_000, 'honest clients'));
  const cpu = (cpuOf(srv.proc.pid!) - s0) / ((performance.now() - t0) / 1000);
  const f = json(await flood.next(isEvent('done'), FLOOD_MS + 30_000, 'flooder'));
  const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await honest.stop();
  await flood.stop();
  await srv.stop();
  return {
    attempts: Number(h.attempts),
    served: Number(h.served),
    p50: Number(h.p50),
    p95: Number(h.p95),
    max: Number(h.max),
    floodSent: Number(f.sent),
    signatureChecks: metricValue(m, 'punchline_signature_checks_total'),
    rateLimited: metricValue(m, 'punchline_rate_limited_total{limit="register"}'),
    serverCpu: cpu,
  };
}

function floodTable(on: FloodResult, off: FloodResult): string {
  const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '-');
  const served = (r: FloodResult): string =>
    `${((100 * r.served) / Math.max(1, r.attempts)).toFixed(1)}% (${r.served} of ${r.attempts})`;
  return table([
    ['bad-signature flood', 'bucket on (--register-rate 10, burst 40)', 'bucket lifted (1,000,000/s)'],
    ['flood REGISTERs sent (bad signature)', int(on.floodSent), int(off.floodSent)],
    ['signature checks made (all sources)', int(on.signatureChecks), int(off.signatureChecks)],
    ['REGISTERs refused RATE_LIMITED', int(on.rateLimited), int(off.rateLimited)],
    ['honest registrations served within 2 s', served(on), served(off)],
    ['honest registration latency p50', ms(on.p50), ms(off.p50)],
    ['honest registration latency p95', ms(on.p95), ms(off.p95)],
    ['honest registration latency max', ms(on.max), ms(off.max)],
    ['server CPU during the honest window', pct(on.serverCpu), pct(off.serverCpu)],
  ]);
}

const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number): string => `${Math.round(x * 100)}%`;

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join(
    '\n',
  );
}

/** 3. The chat journal: per-record fsync vs group commit (test/bench/journal.ts). */
async function journal(): Promise<void> {
  const rows = await journalBench(Number(process.env.BENCH_RECORDS ?? 2000));
  process.stdout.write(
    `\nchat journal (peer/chat/journal.ts): 200-byte records, 32 concurrent writers, ${process.env.BENCH_DIR ?? os.tmpdir()}\n` +
      table([
        ['mode', 'records', 'records/s', 'fsyncs'],
        ...rows.map((r) => [r.mode, String(r.records), int(r.perSec), String(r.fsyncs)]),
      ]) +
      '\n',
  );
}

async function floodOnly(): Promise<void> {
  const cpus = os.cpus();
  process.stdout.write(
    `punchline bad-signature flood: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}; ` +
      `${FLOOD_RATE}/s bad REGISTERs from 127.0.0.2 for ${FLOOD_MS / 1000} s, 20 honest peers on 127.0.3.x registering once a second\n\n`,
  );
  const on = await badSignatureFlood(true);
  const off = await badSignatureFlood(false);
  process.stdout.write(floodTable(on, off) + '\n');
}

async function main(): Promise<void> {
  // BENCH_ONLY=journal, =flood, =transport, =nat, =files, =registrations or =cluster runs only that section.
  if (process.env.BENCH_ONLY === 'journal') return journal();
  if (process.env.BENCH_ONLY === 'flood') return floodOnly();
  if (process.env.BENCH_ONLY === 'transport') return transportBench();
  if (process.env.BENCH_ONLY === 'nat') return natBench(); // root only: the real-NAT lab
  if (process.env.BENCH_ONLY === 'files') return filesBench(); // the lab as root; BENCH_FILES_NET=loopback
  if (process.env.BENCH_ONLY === 'registrations') return registrationsBench();
  // Importing it runs it (relay frames/s within one cluster node and across two; needs redis-server).
  if (process.env.BENCH_ONLY === 'cluster') return void (await import('./cluster-relay.js'));
  const cpus = os.cpus();
  process.stdout.write(
    `punchline relay benchmark: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${mib(os.totalmem())} RAM, Node ${process.version}\n` +
      `(servers and clients in separate processes; ${PEERS} idle peers; ${PAIRS} pairs x 32 frames of 64 B in flight)\n\n`,
  );
  const memEcho = await memory('echo');
  process.stdout.write(
    `  memory, ws echo:  ${kib(memEcho.perPeer)}/peer (${mib(memEcho.before)} -> ${mib(memEcho.after)})\n`,
  );
  const memRelay = await memory('relay');
  process.stdout.write(
    `  memory, relay:    ${kib(memRelay.perPeer)}/peer (${mib(memRelay.before)} -> ${mib(memRelay.after)})\n`,
  );
  const loadEcho = await throughput('echo');
  process.stdout.write(
    `  frames/s, echo:   ${int(loadEcho.perSec)} (server CPU ${pct(loadEcho.serverCpu)}, clients ${pct(loadEcho.clientCpu)})\n`,
  );
  const loadRelay = await throughput('relay');
  process.stdout.write(
    `  frames/s, relay:  ${int(loadRelay.perSec)} (server CPU ${pct(loadRelay.serverCpu)}, clients ${pct(loadRelay.clientCpu)})\n\n`,
  );

  process.stdout.write(
    table([
      ['measurement', 'baseline: bare ws echo', 'punchline relay', 'goal'],
      [`RSS per idle peer at ${int(PEERS)} peers`, kib(memEcho.perPeer), kib(memRelay.perPeer), '< 20 KiB'],
      [
        `server RSS, empty -> ${int(PEERS)} peers`,
        `${mib(memEcho.before)} -> ${mib(memEcho.after)}`,
        `${mib(memRelay.before)} -> ${mib(memRelay.after)}`,
        '',
      ],
      [
        `time to connect${' (+register)'} ${int(PEERS)} peers`,
        `${(memEcho.setupMs / 1000).toFixed(1)} s`,
        `${(memRelay.setupMs / 1000).toFixed(1)} s`,
        '',
      ],
      [
        `small frames/s, ${PAIRS} pairs (64 B payload)`,
        int(loadEcho.perSec),
        int(loadRelay.perSec),
        '>= 100,000',
      ],
      ['server CPU during the load window', pct(loadEcho.serverCpu), pct(loadRelay.serverCpu), ''],
      [
        'server CPU per frame',
        `${((1e6 * loadEcho.serverCpu) / loadEcho.perSec).toFixed(1)} µs`,
        `${((1e6 * loadRelay.serverCpu) / loadRelay.perSec).toFixed(1)} µs`,
        '',
      ],
      [
        'frames/s one full core would carry (1 / CPU per frame)',
        int(loadEcho.perSec / loadEcho.serverCpu),
        int(loadRelay.perSec / loadRelay.serverCpu),
        '>= 100,000',
      ],
      ['load-client CPU during the window', pct(loadEcho.clientCpu), pct(loadRelay.clientCpu), ''],
      ['relay drops during the load run', '-', loadRelay.drops, ''],
    ]) + '\n',
  );
  const load = os.loadavg()[0]!;
  process.stdout.write(
    `\nfd limit (ulimit -n): servers ${memRelay.nofile.server}, clients ${memRelay.nofile.clients}. ` +
      `Echo frames are the same size as a RELAY frame (84 bytes); one relayed frame = one frame in + one out at the server, as one echo.\n` +
      `Load generator and server share the ${cpus.length} cores; when the server is below 100% CPU the clients (or other load: ` +
      `1-min load average now ${load.toFixed(1)}) are the limit, and "one full core" is the server's capacity.\n` +
      `The relay coalesces the frames one event-loop tick sends to a socket into one write (WsMessageStream); the bare ws ` +
      `echo baseline writes each frame on its own (one syscall per frame), which is why the relay can beat it. ` +
      `Load clients coalesce their writes the same way in both runs and use an all-zero WebSocket masking key.\n\n`,
  );
  const on = await badSignatureFlood(true);
  const off = await badSignatureFlood(false);
  process.stdout.write(
    `bad-signature flood: ${FLOOD_RATE}/s bad REGISTERs from 127.0.0.2 for ${FLOOD_MS / 1000} s, 20 honest peers on 127.0.3.x registering once a second\n` +
      floodTable(on, off) +
      '\n',
  );
  await journal();
  await transportBench(); // test/bench/transport.ts
  await natBench(); // test/bench/nat.ts; one line saying why when the lab is unavailable
  await filesBench(); // test/bench/files.ts; likewise
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
