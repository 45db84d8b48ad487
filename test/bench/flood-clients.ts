/**
 * The "bad-signature flood" benchmark's clients, in their own processes (run.ts spawns one of
 * each). argv[2] is a JSON object:
 *   {"mode":"flood","port":P,"source":"127.0.0.2","rate":N,"durationMs":T}: one UDP socket that
 *     gets a cookie and then sends N REGISTERs a second carrying it and a bad signature.
 *   {"mode":"honest","port":P,"clients":K,"intervalMs":I,"durationMs":T,"timeoutMs":W}: K peers,
 *     each on its own address 127.0.3.(k+1), registering (HELLO, COOKIE, signed REGISTER) every I ms;
 *     a registration not answered REGISTERED within W ms is not served.
 * Reports one JSON line on stdout: {"event":"done",...}.
 */
import dgram from 'node:dgram';
import { generateIdentity } from '../../common/identity/identity.js';
import { MsgType } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Cookie } from '../../common/wire/messages.js';
import { rawRegister } from '../support/raw-register.js';

interface Args {
  mode: 'flood' | 'honest';
  port: number;
  source?: string;
  rate?: number;
  durationMs: number;
  clients?: number;
  intervalMs?: number;
  timeoutMs?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let txn = 0;
const txid = (): Uint8Array => {
  const t = new Uint8Array(8);
  new DataView(t.buffer).setUint32(0, process.pid);
  new DataView(t.buffer).setUint32(4, ++txn);
  return t;
};

/** One UDP socket on `source` that answers requests by txid. */
async function speaker(source: string): Promise<{
  sock: dgram.Socket;
  ask: (bytes: Uint8Array, t: Uint8Array, ms: number) => Promise<ReturnType<typeof decode> | undefined>;
}> {
  const sock = dgram.createSocket('udp4');
  const waiting = new Map<string, (m: ReturnType<typeof decode>) => void>();
  sock.on('message', (d) => {
    try {
      const m = decode(new Uint8Array(d));
      if ('txid' in m) waiting.get(Buffer.from(m.txid).toString('hex'))?.(m);
    } catch {
      /* not for us */
    }
  });
  await new Promise<void>((r) => sock.bind(0, source, r));
  const ask = (
    bytes: Uint8Array,
    t: Uint8Array,
    ms: number,
  ): Promise<ReturnType<typeof decode> | undefined> =>
    new Promise((resolve) => {
      const key = Buffer.from(t).toString('hex');
      const timer = setTimeout(() => {
        waiting.delete(key);
        resolve(undefined);
      }, ms);
      waiting.set(key, (m) => {
        clearTimeout(timer);
        waiting.delete(key);
        resolve(m);
      });
      sock.send(bytes, args.port, '127.0.0.1');
    });
  return { sock, ask };
}

async function cookieFor(s: Awaited<ReturnType<typeof speaker>>, ms: number): Promise<Cookie | undefined> {
  const t = txid();
  const m = await s.ask(encode({ type: MsgType.HELLO, txid: t }), t, ms);
  return m?.type === MsgType.COOKIE ? m : undefined;
}

async function flood(): Promise<void> {
  const s = await speaker(args.source ?? '127.0.0.2');
  s.sock.on('message', () => {}); // answers (RATE_LIMITED, BAD_SIGNATURE) are read and dropped
  const cookie = await cookieFor(s, 5000);
  if (!cookie) throw new Error('flooder: no cookie');
  const bad = rawRegister(generateIdentity(), cookie, txid(), { room: 'bench', name: 'flood' }).bytes;
  bad[bad.length - 1]! ^= 0xff;
  out({ event: 'ready' });
  const rate = args.rate ?? 8000;
  const end = Date.now() + args.durationMs;
  const start = Date.now();
  let sent = 0;
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - start) * rate) / 1000);
    while (sent < due) {
      s.sock.send(bad, args.port, '127.0.0.1');
      sent++;
    }
    await sleep(5);
  }
  out({ event: 'done', sent, seconds: (Date.now() - start) / 1000 });
  s.sock.close();
}

async function honest(): Promise<void> {
  const k = args.clients ?? 20;
  const interval = args.intervalMs ?? 1000;
  const timeout = args.timeoutMs ?? 2000;
  const latencies: number[] = [];
  let attempts = 0;
  const end = Date.now() + args.durationMs;
  const one = async (i: number): Promise<void> => {
    const s = await speaker(`127.0.3.${i + 1}`);
    const identity = generateIdentity();
    let time = 1;
    await sleep((interval * i) / k); // spread the clients over the interval
    while (Date.now() < end) {
      const next = Date.now() + interval;
      attempts++;
      const t0 = performance.now();
      const cookie = await cookieFor(s, timeout);
      const left = timeout - (performance.now() - t0);
      if (cookie && left > 0) {
        const t = txid();
        const reg = rawRegister(identity, cookie, t, { room: 'bench', name: `honest${i}`, time: time++ });
        const m = await s.ask(reg.bytes, t, left);
        if (m?.type === MsgType.REGISTERED) latencies.push(performance.now() - t0);
      }
      await sleep(Math.max(0, next - Date.now()));
    }
    s.sock.close();
  };
  await Promise.all(Array.from({ length: k }, (_, i) => one(i)));
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  out({ event: 'done', attempts, served: latencies.length, p50: q(0.5), p95: q(0.95), max: q(1) });
}

(args.mode === 'flood' ? flood() : honest()).catch((e: unknown) => {
  out({ event: 'error', error: String(e) });
  process.exit(1);
});
