/**
 * File transfer against the session's bulk figure (`BENCH_ONLY=files npm run bench`; the lab needs
 * root): in one run, alternating, (a) the session bulk transfer of test/bench/transport-runs.ts
 * (punchline's Session, two processes on loopback: the "bulk" row of the transport table) and
 * (b) a file of the same size sent with `send_file` / `accept_file` between two real
 * `punchline chat --json` processes, each behind its own port-restricted cone NAT in the real-NAT
 * lab (common/lab), the real `punchline rendezvous` on the lab internet, data directories on the
 * host's disk. File MiB/s is the size over the receiver's `file_done` `ms` (from its accept to the
 * file checked and in place); session MiB/s is bytes over first write to last byte. Both are
 * printed as median [min-max] with the ratio of the medians.
 *
 * Knobs: BENCH_FILES_MIB (100), BENCH_FILES_RUNS (5 per side), BENCH_FILES_NET=loopback runs the
 * chat processes on 127.0.0.1 instead (no root needed), BENCH_FILES_CPU_PROF=dir runs both chat
 * processes under `node --cpu-prof` (profiles written there when they exit). Raw runs go to
 * bench-results/files.json (not tracked).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, labUnavailableReason, type Host, type JsonObject } from '../../common/lab/index.js';
import { spread, table } from './transport-report.js';
import { CLI, bulkRun, withRendezvous } from './transport-runs.js';
import { WorkerProc } from './worker-proc.js';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_FILES_MIB ?? 100);
const RUNS = Number(process.env.BENCH_FILES_RUNS ?? 5);
const NET = process.env.BENCH_FILES_NET === 'loopback' ? 'loopback' : 'lab';
const PROF = process.env.BENCH_FILES_CPU_PROF;
const OUT = process.env.BENCH_FILES_OUT ?? path.join('bench-results', 'files.json');
const LIMIT_MS = 300_000;
const RV_IP = '203.0.113.10';
const RV_PORT = 7000;

const log = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** A chat process, on loopback or in a lab namespace: JSON lines in, JSON events out. */
interface Chat {
  sendJson(m: unknown): void;
  nextJson(match: (e: JsonObject) => boolean, timeoutMs: number): Promise<JsonObject>;
}

/** Two chat processes that see each other, for as long as `fn` runs. */
type Pair = <T>(fn: (a: Chat, b: Chat, dataRoot: string) => Promise<T>) => Promise<T>;

const chatArgs = (server: string, name: string, dataDir: string, extra: string[] = []): string[] => [
  ...(PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF] : []),
  CLI,
  'chat',
  '--server',
  server,
  '--name',
  name,
  '--json',
  '--data-dir',
  dataDir,
  ...extra,
];

/** Both registered and in each other's presence. */
async function ready(a: Chat, b: Chat): Promise<void> {
  const sees = (other: string) => (e: JsonObject) =>
    e.event === 'presence' &&
    Array.isArray(e.peers) &&
    (e.peers as JsonObject[]).some((p) => p.name === other);
  await a.nextJson(sees('bob'), 30_000);
  await b.nextJson(sees('alice'), 30_000);
}

const loopbackPair: Pair = (fn) =>
  withRendezvous(async (port) => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'punchline-files-bench-'));
    const start = (name: string): WorkerProc =>
      new WorkerProc(
        name,
        chatArgs(`127.0.0.1:${port}`, name, path.join(root, name), ['--bind', '127.0.0.1']),
      );
    const procs = [start('alice'), start('bob')];
    const chats = procs.map((w): Chat => ({
      sendJson: (m) => w.write(JSON.stringify(m)),
      nextJson: (m, ms) => w.out.nextJson(m, ms),
    }));
    try {
      await ready(chats[0]!, chats[1]!);
      return await fn(chats[0]!, chats[1]!, root);
    } finally {
      await Promise.all(procs.map((p) => p.close(10_000)));
      rmSync(root, { recursive: true, force: true });
    }
  });

const labPair: Pair = async (fn) => {
  const lab = await Lab.create();
  const root = mkdtempSync(path.join(os.tmpdir(), 'punchline-files-bench-'));
  try {
    const server = await lab.addHost('server', { on: lab.internet, ip: RV_IP });
    const rv = server.node(CLI, [
      'rendezvous',
      '--host',
      RV_IP,
      '--port',
      String(RV_PORT),
      '--log-level',
      'warn',
    ]);
    await rv.waitForLine(/listening on tcp/, 10_000);
    const hosts: Host[] = [];
    for (const n of ['a', 'b'])
      hosts.push(await lab.addHost(n, { on: await lab.addRouter(`nat${n}`, { nat: 'cone' }) }));
    const [a, b] = ['alice', 'bob'].map((name, i) => {
      const [cmd, ...args] = [
        process.execPath,
        ...chatArgs(`${RV_IP}:${RV_PORT}`, name, path.join(root, name)),
      ];
      return hosts[i]!.spawn(cmd!, args, { label: name });
    });
    await ready(a!, b!);
    const out = await fn(a!, b!, root);
    // SIGTERM first: a profiled process writes its profile on a clean exit.
    await Promise.all([a!.close(10_000), b!.close(10_000)]);
    return out;
  } finally {
    await lab.close();
    rmSync(root, { recursive: true, force: true });
  }
};

/** `mib` MiB of incompressible bytes (AES-128-CTR over zeros), written 1 MiB at a time. */
function makeFile(file: string, mib: number): string {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
  const h = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      const piece = cipher.update(Buffer.alloc(MIB));
      h.update(piece);
      writeSync(fd, piece);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

interface FileRun {
  mibPerS: number;
  /** The receiver's file_done ms, from its accept. */
  ms: number;
  /** From send_file to the receiver's file_done (the sender hashes the source first). */
  wallMs: number;
  path: string;
}

/** One file A -> B; the received copy is removed afterwards (the disk holds one at a time). */
async function fileRun(a: Chat, b: Chat, src: string, sha256: string, dir: string): Promise<FileRun> {
  const t0 = performance.now();
  a.sendJson({ cmd: 'send_file', peer: 'bob', path: src });
  const offer = await b.nextJson((e) => e.event === 'file_offer' || e.event === 'error', 120_000);
  if (offer.event !== 'file_offer') throw new Error(`no offer: ${JSON.stringify(offer)}`);
  b.sendJson({ cmd: 'accept_file', file: offer.file, dir });
  const about = (e: JsonObject): boolean =>
    (e.event === 'file_done' || e.event === 'file_failed') && e.file === offer.file;
  const got = await b.nextJson(about, LIMIT_MS);
  const wallMs = performance.now() - t0;
  const sent = await a.nextJson(about, 60_000);
  if (got.event !== 'file_done' || sent.event !== 'file_done' || got.sha256 !== sha256)
    throw new Error(`transfer failed: ${JSON.stringify(got)} / ${JSON.stringify(sent)}`);
  rmSync(String(got.file_path), { force: true });
  const ms = Number(got.ms);
  return { mibPerS: SIZE_MIB / (ms / 1000), ms, wallMs, path: String(got.path) };
}

const cell = (v: number[]): string => {
  const s = spread(v);
  return `${s.median.toFixed(2)} [${s.min.toFixed(2)}–${s.max.toFixed(2)}] (n=${s.n})`;
};

export async function filesBench(): Promise<void> {
  const why = NET === 'lab' ? labUnavailableReason() : undefined;
  if (why) {
    process.stdout.write(
      `\nfile transfer section skipped: ${why} (BENCH_FILES_NET=loopback runs it on loopback)\n`,
    );
    return;
  }
  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, Node ${process.version}`;
  const where = NET === 'lab' ? 'two cone NATs in the real-NAT lab' : 'loopback';
  process.stdout.write(
    `\nfile transfer vs session bulk, ${SIZE_MIB} MiB, ${RUNS} runs each, alternating; files: ${where}; ${machine}\n`,
  );
  const session: number[] = [];
  const files: FileRun[] = [];
  const pair = NET === 'lab' ? labPair : loopbackPair;
  await pair(async (a, b, root) => {
    const src = path.join(root, 'src.bin');
    const sha256 = makeFile(src, SIZE_MIB);
    for (let r = 0; r < RUNS; r++) {
      // The order alternates run by run, so a busy moment of the shared machine lands on both.
      for (const side of r % 2 ? ['file', 'session'] : ['session', 'file']) {
        if (side === 'session') {
          const s = await bulkRun({}, 'punchline', SIZE_MIB * MIB, LIMIT_MS);
          if (!s.complete) throw new Error('session bulk run did not finish');
          session.push(s.mibPerS);
          log(
            `session bulk run ${r + 1}/${RUNS}: ${s.mibPerS.toFixed(2)} MiB/s, ${(s.cpuSPerMib * 1000).toFixed(1)} CPU ms/MiB`,
          );
        } else {
          const f = await fileRun(a, b, src, sha256, path.join(root, 'in'));
          files.push(f);
          log(
            `file run ${r + 1}/${RUNS}: ${f.mibPerS.toFixed(2)} MiB/s (${f.ms} ms from the accept, path ${f.path})`,
          );
        }
      }
    }
  });
  const ratio = spread(files.map((f) => f.mibPerS)).median / spread(session).median;
  process.stdout.write(
    table([
      ['measurement', 'MiB/s median [min–max]'],
      [`session bulk ${SIZE_MIB} MiB, loopback, two processes`, cell(session)],
      [`file ${SIZE_MIB} MiB, two chat --json, ${where}`, cell(files.map((f) => f.mibPerS))],
      ['file : session (medians)', ratio.toFixed(2)],
    ]) + '\n',
  );
  mkdirSync(path.dirname(OUT), { recursive: true });
  const config = { mib: SIZE_MIB, runs: RUNS, net: NET };
  writeFileSync(
    OUT,
    JSON.stringify(
      { date: new Date().toISOString(), machine, loadavg: os.loadavg(), config, session, files },
      null,
      1,
    ),
  );
  process.stdout.write(`raw runs: ${OUT}\n`);
}
