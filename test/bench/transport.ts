/**
 * The transport benchmark (`npm run bench`; alone: `BENCH_ONLY=transport npm run bench`):
 * punchline's session against plain TCP and hyperdht, each figure for all three, the systems
 * taking turns run by run (the order rotates, so a slow moment of the shared machine does not
 * land on one system). docs/performance.md, "Transport: punchline vs TCP vs hyperdht", has the
 * method and the figures. Results: a table on stdout and JSON in bench-results/transport.json.
 *
 * Knobs: BENCH_RUNS (5), BENCH_CHAT_S (10), BENCH_BULK_MIB (50), BENCH_LOSS_RUNS (3),
 * BENCH_LOSS_BULK_MIB (10), BENCH_CONNECT_TRIALS (10), BENCH_IDLE_S (30), BENCH_SIM_MIB (10),
 * BENCH_LOSS=0 skips the namespace rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliChatRun, type CliChatResult } from './transport-cli.js';
import { lossUnavailableReason, withLossNamespace } from './transport-loss.js';
import { figureTable, table, type Row, type Series } from './transport-report.js';
import {
  bulkRun,
  chatRun,
  connectRun,
  idleRun,
  withRendezvous,
  withTestnet,
  type BulkResult,
  type ChatResult,
  type Env,
} from './transport-runs.js';
import { simFigures, type SimFigures } from './transport-sim.js';
import { SYSTEMS, type System } from './transport-systems.js';

const num = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);
const CFG = {
  runs: num('BENCH_RUNS', 5),
  chatSeconds: num('BENCH_CHAT_S', 10),
  bulkMib: num('BENCH_BULK_MIB', 50),
  lossRuns: num('BENCH_LOSS_RUNS', 3),
  lossBulkMib: num('BENCH_LOSS_BULK_MIB', 10),
  connectTrials: num('BENCH_CONNECT_TRIALS', 10),
  idleSeconds: num('BENCH_IDLE_S', 30),
  idleConnections: 20,
  simMib: num('BENCH_SIM_MIB', 10),
  /** A bulk transfer still running after this is cut off and counted as incomplete. */
  bulkLimitMs: 120_000,
};
const OUT = process.env.BENCH_OUT ?? path.join('bench-results', 'transport.json');

type Runs<T> = Record<System, (T | { error: string })[]>;
const log = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** `n` rounds; in each every system runs once, the order rotating by one per round. */
async function alternate<T>(what: string, n: number, f: (s: System) => Promise<T>): Promise<Runs<T>> {
  const out: Runs<T> = { punchline: [], tcp: [], hyperdht: [] };
  for (let r = 0; r < n; r++)
    for (let k = 0; k < SYSTEMS.length; k++) {
      const s = SYSTEMS[(r + k) % SYSTEMS.length]!;
      try {
        const v = await f(s);
        out[s].push(v);
        log(`${what} ${s} run ${r + 1}/${n}: ${JSON.stringify(v)}`);
      } catch (e) {
        out[s].push({ error: String((e as Error).message ?? e).slice(0, 2000) });
        log(`${what} ${s} run ${r + 1}/${n} FAILED: ${String((e as Error).message ?? e).slice(0, 600)}`);
      }
    }
  return out;
}

/** One number per run, NaN for a failed run. */
function series<T>(runs: Runs<T>, pick: (v: T) => number): Series {
  const s: Series = {};
  for (const k of SYSTEMS)
    s[k] = runs[k].map((v) => (v && typeof v === 'object' && 'error' in v ? NaN : pick(v as T)));
  return s;
}

const chatRows = (runs: Runs<ChatResult>, tried: number, prefix = ''): Row[] => [
  {
    label: `${prefix}chat one-way latency p50`,
    unit: 'ms',
    series: series(runs, (v) => v.p50),
    digits: 3,
    tried,
  },
  {
    label: `${prefix}chat one-way latency p99`,
    unit: 'ms',
    series: series(runs, (v) => v.p99),
    digits: 3,
    tried,
  },
  {
    label: `${prefix}chat messages arrived`,
    unit: '%',
    series: series(runs, (v) => (100 * v.received) / v.sent),
    digits: 1,
    tried,
  },
];
const bulkRows = (runs: Runs<BulkResult>, tried: number, mib: number, prefix = ''): Row[] => [
  {
    label: `${prefix}bulk ${mib} MiB throughput`,
    unit: 'MiB/s',
    series: series(runs, (v) => (v.complete ? v.mibPerS : NaN)),
    digits: 1,
    tried,
  },
  {
    label: `${prefix}bulk CPU, sender + receiver`,
    unit: 'CPU ms per MiB',
    series: series(runs, (v) => (v.complete ? 1000 * v.cpuSPerMib : NaN)),
    digits: 1,
    tried,
  },
];

async function hostFigures(): Promise<{ rows: Row[]; raw: Record<string, unknown>; paths: string }> {
  return withTestnet({}, async (env: Env) => {
    const chat = await alternate('chat', CFG.runs, (s) => chatRun(env, s, CFG.chatSeconds));
    const bulk = await alternate('bulk', CFG.runs, (s) =>
      bulkRun(env, s, CFG.bulkMib * 1048576, CFG.bulkLimitMs),
    );
    // Connect: two rounds of half the trials each, the systems taking turns.
    const half = Math.ceil(CFG.connectTrials / 2);
    const connect = await withRendezvous((port) =>
      alternate('connect', 2, (s) => connectRun(env, s, half, s === 'punchline' ? port : undefined)),
    );
    const idle = await alternate('idle', 1, (s) => idleRun(env, s, CFG.idleConnections, CFG.idleSeconds));
    const trials: Series = {};
    for (const s of SYSTEMS) trials[s] = connect[s].flatMap((r) => ('error' in r ? [NaN] : r.ms));
    const rows: Row[] = [
      ...chatRows(chat, CFG.runs),
      ...bulkRows(bulk, CFG.runs, CFG.bulkMib),
      { label: `connect to first message, ${2 * half} trials`, unit: 'ms', series: trials, digits: 1 },
      {
        label: `idle, ${CFG.idleConnections} connections for ${CFG.idleSeconds} s: client CPU`,
        unit: '% of a core',
        series: series(idle, (v) => v.cpuPct),
        digits: 2,
      },
      { label: 'idle: client RSS', unit: 'MiB', series: series(idle, (v) => v.rssMib), digits: 1 },
    ];
    const opened = connect.punchline.flatMap((r) => ('error' in r ? [] : r.paths));
    const paths = `punchline connect: the 'connected' event named direct ${opened.filter((p) => p === 'direct').length}, relay ${opened.filter((p) => p === 'relay').length} times`;
    return { rows, raw: { chat, bulk, connect, idle }, paths };
  });
}

async function lossFigures(): Promise<{ rows: Row[]; raw: Record<string, unknown> } | { skipped: string }> {
  const why = process.env.BENCH_LOSS === '0' ? 'BENCH_LOSS=0' : lossUnavailableReason();
  if (why) return { skipped: why };
  return withLossNamespace(async (ln) =>
    withTestnet({ ns: ln.ns }, async (env) => {
      const rows: Row[] = [];
      const raw: Record<string, unknown> = { namespace: ln.ns };
      for (const p of [0.05, 0.1, 0.2]) {
        await ln.setLoss(p);
        const tag = `${Math.round(p * 100)}% loss: `;
        const chat = await alternate(`${tag}chat`, CFG.lossRuns, (s) => chatRun(env, s, CFG.chatSeconds));
        rows.push(...chatRows(chat, CFG.lossRuns, tag));
        raw[`chat${p}`] = chat;
        if (p !== 0.05) continue;
        const bulk = await alternate(`${tag}bulk`, CFG.lossRuns, (s) =>
          bulkRun(env, s, CFG.lossBulkMib * 1048576, CFG.bulkLimitMs),
        );
        rows.push(...bulkRows(bulk, CFG.lossRuns, CFG.lossBulkMib, tag));
        raw[`bulk${p}`] = bulk;
      }
      return { rows, raw };
    }),
  );
}

function simTable(sims: SimFigures[]): string {
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'did not finish');
  return table([
    ['simulated network (punchline only, seed 1)', ...sims.map((s) => `${Math.round(s.loss * 100)}% loss`)],
    [`bulk ${sims[0]!.bulkMib} MiB goodput (MiB per virtual s)`, ...sims.map((s) => f(s.goodputMibPerS))],
    ['chat one-way latency p50 (virtual ms)', ...sims.map((s) => f(s.chatP50Ms))],
    ['chat one-way latency p99 (virtual ms)', ...sims.map((s) => f(s.chatP99Ms))],
    ['chat messages arrived (of 200)', ...sims.map((s) => String(s.chatReceived))],
  ]);
}

/** The CLI's chat latency per run (punchline only; beside the session-API row above). */
function cliTable(runs: CliChatResult[]): string {
  const cell = (f: (r: CliChatResult) => number): string => {
    const v = runs.map(f).sort((a, b) => a - b);
    return `${v[Math.floor(v.length / 2)]!.toFixed(3)} [${v[0]!.toFixed(3)}–${v.at(-1)!.toFixed(3)}]`;
  };
  return table([
    ['punchline chat --json, 20 msg/s, loopback (ms)', 'median [min–max] over runs'],
    ['chat one-way latency p50', cell((r) => r.p50)],
    ['chat one-way latency p99', cell((r) => r.p99)],
    ['messages arrived (%)', cell((r) => (100 * r.received) / r.sent)],
  ]);
}

export async function transportBench(): Promise<void> {
  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`;
  process.stdout.write(
    `\ntransport: punchline session vs TCP vs hyperdht, ${machine}; each cell median [min–max] over runs\n`,
  );
  const host = await hostFigures();
  process.stdout.write(`\nloopback (127.0.0.1), no loss:\n${figureTable(host.rows)}\n${host.paths}\n`);
  const loss = await lossFigures();
  if ('skipped' in loss) process.stdout.write(`\nloss rows skipped: ${loss.skipped}\n`);
  else
    process.stdout.write(
      `\nloopback of a network namespace with random loss (iptables statistic):\n${figureTable(loss.rows)}\n`,
    );
  const cli: CliChatResult[] = [];
  for (let i = 0; i < CFG.runs; i++) cli.push(await cliChatRun(20 * CFG.chatSeconds, 20));
  process.stdout.write(`\n${cliTable(cli)}\n`);
  const sims: SimFigures[] = [];
  for (const l of [0, 0.05]) sims.push(await simFigures(1, l, CFG.simMib));
  process.stdout.write(`\n${simTable(sims)}\n`);
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(
    OUT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        loadavg: os.loadavg(),
        config: CFG,
        host: host.raw,
        hostSummary: host.rows,
        loss: 'skipped' in loss ? loss : { rows: loss.rows, raw: loss.raw },
        sim: sims,
        cli,
      },
      null,
      1,
    ),
  );
  process.stdout.write(`\nraw runs: ${OUT}\n`);
}
