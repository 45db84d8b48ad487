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
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tool } from '../../common/lab/command.js';
import {
  Lab,
  labUnavailableReason,
  type Host,
  type JsonObject,
  type Router,
} from '../../common/lab/index.js';
import { spread, table } from './transport-report.js';
import { CLI, bulkRun, withRendezvous, type BulkResult } from './transport-runs.js';
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
const BULK_PORT = 9000;

const log = (s: string): void => void process.stderr.write(`  ${s}\n`);

/** A chat process, on loopback or in a lab namespace: JSON lines in, JSON events out. */
interface Chat {
  readonly pid: number;
  sendJson(m: unknown): void;
  nextJson(match: (e: JsonObject) => boolean, timeoutMs: number): Promise<JsonObject>;
}

/**
 * Two chat processes that see each other, for as long as `fn` runs; `across`, in the lab, runs
 * the session bulk transfer between the same two hosts, through the same two NATs.
 */
type Pair = <T>(
  fn: (a: Chat, b: Chat, dataRoot: string, across?: () => Promise<BulkResult>) => Promise<T>,
) => Promise<T>;

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
      pid: w.pid,
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
    const routers: Router[] = [];
    for (const n of ['a', 'b']) {
      routers.push(await lab.addRouter(`nat${n}`, { nat: 'cone' }));
      hosts.push(await lab.addHost(n, { on: routers.at(-1)! }));
    }
    // The session bulk receiver on host b behind a port forward on b's NAT (the chat peers punch
    // instead; the bench's bare sessions have no rendezvous): both NATs are crossed either way.
    const fwd = ['-p', 'udp', '--dport', String(BULK_PORT)];
    await lab.exec(routers[1]!, tool('iptables'), [
      '-t',
      'nat',
      '-I',
      'PREROUTING',
      '-i',
      'wan',
      ...fwd,
      '-j',
      'DNAT',
      '--to-destination',
      `${hosts[1]!.ip}:${BULK_PORT}`,
    ]);
    await lab.exec(routers[1]!, tool('iptables'), [
      '-I',
      'FORWARD',
      '1',
      '-i',
      'wan',
      '-o',
      'lan',
      ...fwd,
      '-j',
      'ACCEPT',
    ]);
    const across = (): Promise<BulkResult> =>
      bulkRun({}, 'punchline', SIZE_MIB * MIB, LIMIT_MS, {
        recvNs: hosts[1]!.ns,
        sendNs: hosts[0]!.ns,
        bind: { host: '0.0.0.0', port: BULK_PORT },
        host: routers[1]!.wanIp,
      });
    const [a, b] = ['alice', 'bob'].map((name, i) => {
      const [cmd, ...args] = [
        process.execPath,
        ...chatArgs(`${RV_IP}:${RV_PORT}`, name, path.join(root, name)),
      ];
      return hosts[i]!.spawn(cmd!, args, { label: name });
    });
    await ready(a!, b!);
    const out = await fn(a!, b!, root, across);
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
  /** CPU of both chat processes from send_file to both file_done, per MiB (hashing included). */
  cpuMsPerMib: number;
  /** Datagrams each side's session sent, and the sender's retransmissions, over the run. */
  packets: { sender: number; receiver: number; retransmits: number };
  path: string;
}

/** One file A -> B; the received copy is removed afterwards (the disk holds one at a time). */
async function fileRun(a: Chat, b: Chat, src: string, sha256: string, dir: string): Promise<FileRun> {
  const t0 = performance.now();
  const [sa0, sb0] = [await stats(a, 'bob'), await stats(b, 'alice')];
  const cpu0 = cpuMs(a.pid) + cpuMs(b.pid);
  a.sendJson({ cmd: 'send_file', peer: 'bob', path: src });
  const offer = await b.nextJson((e) => e.event === 'file_offer' || e.event === 'error', 120_000);
  if (offer.event !== 'file_offer') throw new Error(`no offer: ${JSON.stringify(offer)}`);
  b.sendJson({ cmd: 'accept_file', file: offer.file, dir });
  const about = (e: JsonObject): boolean =>
    (e.event === 'file_done' || e.event === 'file_failed') && e.file === offer.file;
  const got = await b.nextJson(about, LIMIT_MS);
  const wallMs = performance.now() - t0;
  const sent = await a.nextJson(about, 60_000);
  const cpuMsPerMib = (cpuMs(a.pid) + cpuMs(b.pid) - cpu0) / SIZE_MIB;
  const [sa, sb] = [await stats(a, 'bob'), await stats(b, 'alice')];
  const packets = {
    sender: sa.sent - sa0.sent,
    receiver: sb.sent - sb0.sent,
    retransmits: sa.retransmits - sa0.retransmits,
  };
  if (got.event !== 'file_done' || sent.event !== 'file_done' || got.sha256 !== sha256)
    throw new Error(`transfer failed: ${JSON.stringify(got)} / ${JSON.stringify(sent)}`);
  rmSync(String(got.file_path), { force: true });
  const ms = Number(got.ms);
  return { mibPerS: SIZE_MIB / (ms / 1000), ms, wallMs, cpuMsPerMib, packets, path: String(got.path) };
}

/** A session's counters (0 before the first session: the first run then counts from its start). */
async function stats(c: Chat, peer: string): Promise<{ sent: number; retransmits: number }> {
  c.sendJson({ cmd: 'stats', peer });
  const e = await c.nextJson((j) => j.event === 'stats' || j.event === 'error', 10_000);
  return { sent: Number(e.packets_sent ?? 0), retransmits: Number(e.retransmits ?? 0) };
}

/** User + system CPU of a process so far (ms), from /proc (Linux; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return NaN;
  }
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
  const sessionCpu: number[] = [];
  const nat: number[] = [];
  const natCpu: number[] = [];
  const files: FileRun[] = [];
  const pair = NET === 'lab' ? labPair : loopbackPair;
  await pair(async (a, b, root, across) => {
    const src = path.join(root, 'src.bin');
    const sha256 = makeFile(src, SIZE_MIB);
    for (let r = 0; r < RUNS; r++) {
      // The order rotates run by run, so a busy moment of the shared machine lands on each side.
      const sides = across ? ['session', 'nat', 'file'] : ['session', 'file'];
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(r + k) % sides.length];
        if (side === 'nat') {
          const s = await across!();
          if (!s.complete) throw new Error('session bulk run through the NATs did not finish');
          nat.push(s.mibPerS);
          natCpu.push(s.cpuSPerMib * 1000);
          log(
            `session bulk through the NATs run ${r + 1}/${RUNS}: ${s.mibPerS.toFixed(2)} MiB/s, ${(s.cpuSPerMib * 1000).toFixed(1)} CPU ms/MiB`,
          );
          continue;
        }
        if (side === 'session') {
          const s = await bulkRun({}, 'punchline', SIZE_MIB * MIB, LIMIT_MS);
          if (!s.complete) throw new Error('session bulk run did not finish');
          session.push(s.mibPerS);
          sessionCpu.push(s.cpuSPerMib * 1000);
          log(
            `session bulk run ${r + 1}/${RUNS}: ${s.mibPerS.toFixed(2)} MiB/s, ${(s.cpuSPerMib * 1000).toFixed(1)} CPU ms/MiB`,
          );
        } else {
          const f = await fileRun(a, b, src, sha256, path.join(root, 'in'));
          files.push(f);
          log(
            `file run ${r + 1}/${RUNS}: ${f.mibPerS.toFixed(2)} MiB/s (${f.ms} ms from the accept, path ${f.path}), ${f.cpuMsPerMib.toFixed(1)} CPU ms/MiB, ` +
              `packets sent ${f.packets.sender} / received side ${f.packets.receiver}, retransmits ${f.packets.retransmits}`,
          );
        }
      }
    }
  });
  const fileMed = spread(files.map((f) => f.mibPerS)).median;
  const natRows = nat.length
    ? [
        [`session bulk ${SIZE_MIB} MiB, through the same two cone NATs`, cell(nat)],
        ['file : session through the NATs (medians)', (fileMed / spread(nat).median).toFixed(2)],
        ['session bulk through the NATs CPU (CPU ms per MiB)', cell(natCpu)],
      ]
    : [];
  process.stdout.write(
    table([
      ['measurement', 'MiB/s median [min–max]'],
      [`session bulk ${SIZE_MIB} MiB, loopback, two processes`, cell(session)],
      [`file ${SIZE_MIB} MiB, two chat --json, ${where}`, cell(files.map((f) => f.mibPerS))],
      ['file : session on loopback (medians)', (fileMed / spread(session).median).toFixed(2)],
      ...natRows,
      ['session bulk CPU, sender + receiver (CPU ms per MiB)', cell(sessionCpu)],
      [
        'file CPU, both chat processes, send_file to file_done (CPU ms per MiB)',
        cell(files.map((f) => f.cpuMsPerMib)),
      ],
    ]) + '\n',
  );
  mkdirSync(path.dirname(OUT), { recursive: true });
  const config = { mib: SIZE_MIB, runs: RUNS, net: NET };
  writeFileSync(
    OUT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        loadavg: os.loadavg(),
        config,
        session,
        sessionCpu,
        nat,
        natCpu,
        files,
      },
      null,
      1,
    ),
  );
  process.stdout.write(`raw runs: ${OUT}\n`);
}
