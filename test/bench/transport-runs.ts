/**
 * One run of one transport figure for one system, each side a worker process
 * (test/bench/transport-worker.ts) on the host or inside the loss namespace. Every wait is
 * bounded; every worker is closed when the run ends, also when it fails.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { System, WorkerArgs } from './transport-systems.js';
import { WorkerProc } from './worker-proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER = path.join(here, 'transport-worker.js');
export const CLI = path.resolve(here, '../../peer/bin/punchline.js');

/** Where runs happen: the host, or a namespace; with the hyperdht testnet living there. */
export interface Env {
  ns?: string;
  bootstrap?: { host: string; port: number }[];
}

export const worker = (env: Env, label: string, a: WorkerArgs): WorkerProc =>
  new WorkerProc(label, [WORKER, JSON.stringify({ bootstrap: env.bootstrap, ...a })], env.ns);

export interface ChatResult {
  p50: number;
  p99: number;
  max: number;
  received: number;
  sent: number;
}

export async function chatRun(env: Env, system: System, seconds: number): Promise<ChatResult> {
  const w = worker(env, `chat ${system}`, { role: 'chat', system, seconds, rate: 20, size: 100 });
  try {
    const d = await w.event('done', (seconds + 90) * 1000);
    return {
      p50: Number(d.p50),
      p99: Number(d.p99),
      max: Number(d.max),
      received: Number(d.received),
      sent: Number(d.sent),
    };
  } finally {
    await w.close();
  }
}

export interface BulkResult {
  mibPerS: number;
  cpuSPerMib: number;
  complete: boolean;
  mib: number;
}

/**
 * Sender and receiver in `env`, on loopback; or, with `across` (the file bench in the lab), each
 * in its own namespace, the receiver bound where the sender reaches it (`host`: a NAT's port).
 */
export async function bulkRun(
  env: Env,
  system: System,
  bytes: number,
  limitMs: number,
  across?: { recvNs: string; sendNs: string; bind: WorkerArgs['bind']; host: string },
): Promise<BulkResult> {
  const recvEnv = across ? { ...env, ns: across.recvNs } : env;
  const sendEnv = across ? { ...env, ns: across.sendNs } : env;
  const recv = worker(recvEnv, `bulk-recv ${system}`, {
    role: 'bulk-recv',
    system,
    bytes,
    limitMs,
    ...(across ? { bind: across.bind } : {}),
  });
  try {
    const ready = await recv.event('ready', 30_000);
    const reach = { ...(ready.reach as WorkerArgs['reach']), ...(across ? { host: across.host } : {}) };
    const send = worker(sendEnv, `bulk-send ${system}`, { role: 'bulk-send', system, bytes, limitMs, reach });
    try {
      const start = await send.event('start', 30_000);
      const got = await recv.event('done', limitMs + 30_000);
      const sent = await send.event('done', 30_000);
      const mib = Number(got.bytes) / 1048576;
      const secs = (Number(got.lastAt) - Number(start.at)) / 1000;
      return {
        mibPerS: mib / secs,
        cpuSPerMib: (Number(got.cpuS) + Number(sent.cpuS)) / mib,
        complete: got.complete === true,
        mib,
      };
    } finally {
      await send.close();
    }
  } finally {
    await recv.close();
  }
}

export interface IdleResult {
  cpuPct: number;
  rssMib: number;
}

export async function idleRun(env: Env, system: System, count: number, seconds: number): Promise<IdleResult> {
  const server = worker(env, `idle-server ${system}`, {
    role: 'idle-server',
    system,
    count,
    limitMs: 60_000,
  });
  try {
    const ready = await server.event('ready', 30_000);
    const client = worker(env, `idle-client ${system}`, {
      role: 'idle-client',
      system,
      count,
      seconds,
      limitMs: 60_000,
      reach: ready.reach as WorkerArgs['reach'],
    });
    try {
      const d = await client.event('done', (seconds + 90) * 1000);
      return { cpuPct: Number(d.cpuPct), rssMib: Number(d.rssBytes) / 1048576 };
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
}

export interface ConnectResult {
  ms: number[];
  paths: string[];
}

export async function connectRun(
  env: Env,
  system: System,
  trials: number,
  rendezvousPort?: number,
): Promise<ConnectResult> {
  const w = worker(env, `connect ${system}`, { role: 'connect', system, trials, rendezvousPort });
  const ms: number[] = [];
  const paths: string[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const t = await w.event('trial', 60_000);
      ms.push(Number(t.ms));
      paths.push(String(t.path));
    }
    return { ms, paths };
  } finally {
    await w.close();
  }
}

/** A hyperdht testnet in `env` (its own process), for as long as `fn` runs. */
export async function withTestnet<T>(env: Env, fn: (env: Env) => Promise<T>): Promise<T> {
  const tn = worker(env, 'testnet', { role: 'testnet', system: 'hyperdht' });
  try {
    const ready = await tn.event('ready', 60_000);
    return await fn({ ...env, bootstrap: ready.bootstrap as Env['bootstrap'] });
  } finally {
    await tn.close();
  }
}

/** The real `punchline rendezvous` on a free loopback port, for as long as `fn` runs. */
export async function withRendezvous<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  const args = [CLI, 'rendezvous', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  // Every trial registers two fresh ids from 127.0.0.1: lift the per-source limits.
  args.push('--max-ids-per-ip', '100000', '--register-rate', '1000000', '--register-burst', '1000000');
  const rv = new WorkerProc('rendezvous', args);
  try {
    await rv.out.waitForLine(/listening on tcp/, 15_000);
    return await fn(port);
  } finally {
    await rv.close();
  }
}
