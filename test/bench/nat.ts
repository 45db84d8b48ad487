/**
 * Symmetric NATs in the real-NAT lab (`BENCH_ONLY=nat npm run bench`, root only): time from
 * connect to a direct path, punchline vs hyperdht, across a port-restricted cone (plain
 * MASQUERADE) and a symmetric NAT (MASQUERADE --random-fully), both directions.
 *
 * Every run builds a fresh lab (common/lab): the internet 203.0.113.0/24 with the rendezvous (or
 * the hyperdht testnet) on 203.0.113.10, a 'cone' and a 'symmetric' router, one host behind each;
 * the client (the side that connects) behind one, the server behind the other. Fresh namespaces,
 * fresh conntrack tables and fresh processes per run: runs are independent. The systems take
 * turns run by run. A run without a direct path after BENCH_NAT_LIMIT_MS (20 s) is a failure.
 *
 *  - punchline: PeerNodes (test/bench/nat-worker.ts) on the real `punchline rendezvous` with its
 *    ws relay; both registered on UDP and ws, their NAT port behaviour measured, before the clock
 *    starts at connect(); it stops at the client's first 'path'/'connected' event naming 'direct'
 *    (the session opens on the relay first).
 *  - hyperdht: a server on a fixed key pair announced on a 10-node testnet (BENCH_NAT_TESTNET); the clock starts at the
 *    client's connect(publicKey) and stops at 'open'. hyperdht relays only through a blind relay
 *    given as `relayThrough`, which is never given here; each run also records the UDX stream's
 *    remote address, which must be the server router's WAN address for the run to count.
 *
 * Knobs: BENCH_NAT_RUNS (10 per direction per system), BENCH_NAT_LIMIT_MS (20000),
 * BENCH_NAT_LOGS=dir keeps each punchline run's debug logs there. Results: a table on stdout,
 * JSON in bench-results/nat.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Lab,
  labUnavailableReason,
  type Host,
  type LabProcess,
  type NatKind,
} from '../../common/lab/index.js';
import type { NatWorkerArgs } from './nat-worker.js';
import { spread, table } from './transport-report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(here, 'nat-worker.js');
const CLI = path.resolve(here, '../../peer/bin/punchline.js');
const RV_IP = '203.0.113.10';
const RV_PORT = 7000;
const RUNS = Number(process.env.BENCH_NAT_RUNS ?? 10);
const LIMIT_MS = Number(process.env.BENCH_NAT_LIMIT_MS ?? 20_000);
const OUT = process.env.BENCH_NAT_OUT ?? path.join('bench-results', 'nat.json');
const LOGS = process.env.BENCH_NAT_LOGS;

type System = 'punchline' | 'hyperdht';
const SYSTEMS: readonly System[] = (['punchline', 'hyperdht'] as const).filter((s) =>
  (process.env.BENCH_NAT_SYSTEMS ?? 'punchline,hyperdht').split(',').includes(s),
);
interface Direction {
  label: string;
  client: NatKind;
  server: NatKind;
}
const DIRECTIONS: readonly Direction[] = [
  { label: 'client behind cone -> server behind symmetric', client: 'cone', server: 'symmetric' },
  { label: 'client behind symmetric -> server behind cone', client: 'symmetric', server: 'cone' },
];

/** One run: direct after `ms`, or not (with why), and what shows the path was direct. */
export interface NatRun {
  system: System;
  direction: string;
  run: number;
  ok: boolean;
  ms?: number;
  /** The remote address of the direct path, and the server router's WAN address it must be on. */
  remote?: string;
  serverWan?: string;
  relayMs?: number;
  nat?: { client: unknown; server: unknown };
  error?: string;
  /** hyperdht: every JSON line the two sides printed. */
  detail?: string[];
  /** Punchline: the 'port search' and 'punch step' debug lines of both peers (failed runs only). */
  log?: string[];
}

const log = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** The two routers, one host behind each, the internet host; `client`/`server` by direction. */
async function topology(lab: Lab, d: Direction) {
  const inet = await lab.addHost('rv', { on: lab.internet, ip: RV_IP });
  const natC = await lab.addRouter('cone', { nat: 'cone' });
  const natS = await lab.addRouter('sym', { nat: 'symmetric' });
  const routers = { cone: natC, symmetric: natS } as Record<NatKind, typeof natC>;
  const client = await lab.addHost('client', { on: routers[d.client] });
  const server = await lab.addHost('server', { on: routers[d.server] });
  return { inet, client, server, serverWan: routers[d.server].wanIp };
}

const worker = (host: Host, label: string, a: NatWorkerArgs): LabProcess =>
  host.node(WORKER, [JSON.stringify(a)], { label });

/** The debug lines a failed punchline run is explained by. */
const searchLog = (p: LabProcess, who: string): string[] =>
  p.stderr.filter((l) => /port search|punch step|path changed/.test(l)).map((l) => `${who} ${l}`);

async function punchlineRun(lab: Lab, d: Direction, base: NatRun): Promise<NatRun> {
  const { inet, client, server, serverWan } = await topology(lab, d);
  const rv = inet.node(CLI, [
    'rendezvous',
    '--host',
    RV_IP,
    '--port',
    String(RV_PORT),
    '--log-level',
    'warn',
  ]);
  await rv.waitForLine(/listening on udp/, 10_000);
  await rv.waitForLine(/listening on tcp/, 10_000);
  const common = { host: RV_IP, port: RV_PORT, limitMs: LIMIT_MS };
  const srv = worker(server, 'pl-server', { role: 'pl-server', name: 'srv', ...common });
  const cli = worker(client, 'pl-client', { role: 'pl-client', name: 'cli', peer: 'srv', ...common });
  const keep = (r: NatRun): NatRun => {
    const lines = [...searchLog(cli, 'client'), ...searchLog(srv, 'server')];
    if (LOGS) {
      mkdirSync(LOGS, { recursive: true });
      const f = path.join(LOGS, `punchline-${d.client}-${d.server}-${base.run}.log`);
      writeFileSync(
        f,
        [...cli.stderr.map((l) => `client ${l}`), ...srv.stderr.map((l) => `server ${l}`)].join('\n'),
      );
    }
    return r.ok ? r : { ...r, log: lines };
  };
  try {
    const sReady = await srv.nextJson({ event: 'ready' }, 20_000);
    const cReady = await cli.nextJson({ event: 'ready' }, 20_000);
    const end = await cli.nextJson((j) => j.event === 'direct' || j.event === 'timeout', LIMIT_MS + 10_000);
    const nat = { client: cReady.nat, server: sReady.nat };
    const remote = end.event === 'direct' ? String(end.remote) : undefined;
    const onWan = remote?.startsWith(`${serverWan}:`) ?? false;
    return keep({
      ...base,
      ok: end.event === 'direct' && onWan,
      ms: end.event === 'direct' ? Number(end.ms) : undefined,
      remote,
      serverWan,
      relayMs: end.relayMs === undefined ? undefined : Number(end.relayMs),
      nat,
      error:
        end.event === 'direct'
          ? onWan
            ? undefined
            : 'direct, but not to the server router'
          : 'no direct path in time',
    });
  } catch (e) {
    return keep({ ...base, ok: false, error: String((e as Error).message).slice(0, 1500) });
  }
}

async function hyperdhtRun(lab: Lab, d: Direction, base: NatRun): Promise<NatRun> {
  const { inet, client, server, serverWan } = await topology(lab, d);
  const tn = worker(inet, 'testnet', { role: 'testnet', host: RV_IP });
  const procs: LabProcess[] = [];
  // Every JSON line of both sides: what each node learnt of its NAT, its punch counters.
  const withDetail = (r: NatRun): NatRun => ({
    ...r,
    serverWan,
    detail: procs.flatMap((p) => p.stdout.map((l) => `${p.label} ${l}`)),
  });
  try {
    const { bootstrap } = (await tn.nextJson({ event: 'ready' }, 30_000)) as unknown as Pick<
      NatWorkerArgs,
      'bootstrap'
    >;
    const common = { host: RV_IP, bootstrap, limitMs: LIMIT_MS };
    const srv = worker(server, 'dht-server', { role: 'dht-server', ...common });
    procs.push(srv);
    await srv.nextJson({ event: 'ready' }, 30_000);
    const cli = worker(client, 'dht-client', { role: 'dht-client', ...common });
    procs.push(cli);
    await cli.nextJson({ event: 'ready' }, 30_000);
    const end = await cli.nextJson((j) => j.event !== 'ready', LIMIT_MS + 10_000);
    if (end.event !== 'direct')
      return withDetail({ ...base, ok: false, error: `${String(end.event)} ${String(end.message ?? '')}` });
    const remote = String(end.remote);
    const onWan = remote.startsWith(`${serverWan}:`);
    const error = onWan ? undefined : 'open, but not to the server router';
    return withDetail({ ...base, ok: onWan, ms: Number(end.ms), remote, error });
  } catch (e) {
    return withDetail({ ...base, ok: false, error: String((e as Error).message).slice(0, 1500) });
  }
}

/** One run in a lab of its own, torn down whatever happens. */
async function oneRun(system: System, d: Direction, run: number): Promise<NatRun> {
  const base: NatRun = { system, direction: d.label, run, ok: false };
  const lab = await Lab.create();
  try {
    return await (system === 'punchline' ? punchlineRun : hyperdhtRun)(lab, d, base);
  } catch (e) {
    return { ...base, error: String((e as Error).message).slice(0, 1500) };
  } finally {
    await lab.close();
  }
}

const secs = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');

export function natTable(runs: readonly NatRun[]): string {
  const rows: string[][] = [
    ['direction', 'system', 'direct', 'median (s)', 'min–max (s)', 'punchline/hyperdht (medians)'],
  ];
  for (const d of DIRECTIONS) {
    const med: Partial<Record<System, number>> = {};
    for (const s of SYSTEMS) med[s] = spread(pick(runs, s, d)).median;
    for (const s of SYSTEMS) {
      const mine = runs.filter((r) => r.system === s && r.direction === d.label);
      const x = spread(pick(runs, s, d));
      const ratio = (med.punchline ?? NaN) / (med.hyperdht ?? NaN);
      rows.push([
        d.label,
        s,
        `${x.n}/${mine.length}`,
        secs(x.median),
        `${secs(x.min)}–${secs(x.max)}`,
        s === 'punchline' ? (Number.isFinite(ratio) ? ratio.toFixed(2) : '-') : '',
      ]);
    }
  }
  return table(rows);
}

const pick = (runs: readonly NatRun[], s: System, d: Direction): number[] =>
  runs.filter((r) => r.system === s && r.direction === d.label && r.ok).map((r) => r.ms!);

export async function natBench(): Promise<void> {
  const why = labUnavailableReason();
  if (why) {
    process.stdout.write(`\nsymmetric-NAT lab section skipped: ${why}\n`);
    return;
  }
  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`;
  process.stdout.write(
    `\nsymmetric NATs in the lab: time from connect to a direct path, ${machine}; ${RUNS} runs per direction per system, ${LIMIT_MS / 1000} s limit\n`,
  );
  const runs: NatRun[] = [];
  for (let i = 0; i < RUNS; i++)
    for (const [k, d] of DIRECTIONS.entries())
      for (let j = 0; j < SYSTEMS.length; j++) {
        const s = SYSTEMS[(i + k + j) % SYSTEMS.length]!;
        const r = await oneRun(s, d, i + 1);
        runs.push(r);
        const what = r.ok ? `direct in ${secs(r.ms!)} s via ${r.remote}` : `FAILED: ${r.error}`;
        log(`${s} ${d.client} -> ${d.server} run ${i + 1}/${RUNS}: ${what}`);
      }
  process.stdout.write(`${natTable(runs)}\n`);
  mkdirSync(path.dirname(OUT), { recursive: true });
  const config = { runs: RUNS, limitMs: LIMIT_MS };
  writeFileSync(
    OUT,
    JSON.stringify({ date: new Date().toISOString(), machine, loadavg: os.loadavg(), config, runs }, null, 1),
  );
  process.stdout.write(`raw runs: ${OUT}\n`);
}
