/**
 * Helpers for files.test.ts: seeded random source files (written and hashed in 1 MiB pieces, so
 * memory stays bounded), one transfer driven through the JSON-lines commands (send_file, then
 * accept_file on the other side) with every wait bounded, and the one-line reports (`lab files:`).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, mkdirSync, openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Host, JsonObject } from '../../common/lab/index.js';
import type { Peer, Stamped } from './relay-kit.js';

export const MIB = 1024 * 1024;

/** Peer flags; LAB_FILES_DEBUG=1 adds the debug log (stderr, shown on a failure). */
export const FILE_FLAGS = process.env.LAB_FILES_DEBUG === '1' ? ['--log-level', 'debug'] : [];

export interface Source {
  path: string;
  size: number;
  sha256: string;
}

/**
 * `mib` MiB of seeded pseudo-random bytes (AES-128-CTR over zeros, the key from `seed`): the same
 * bytes for the same seed, incompressible, written and hashed a piece at a time.
 */
export function makeFile(dir: string, name: string, mib: number, seed: string): Source {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MIB);
  const h = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      const piece = cipher.update(zeros);
      h.update(piece);
      writeSync(fd, piece);
    }
  } finally {
    closeSync(fd);
  }
  return { path: file, size: mib * MIB, sha256: h.digest('hex') };
}

/** SHA-256 of a file, read as a stream (bounded memory). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MIB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The `offset` the receiver's files.json holds for `file` (what it synced), or undefined. */
export function syncedOffset(dataDir: string, file: string): number | undefined {
  try {
    const v = JSON.parse(readFileSync(path.join(dataDir, 'files.json'), 'utf8')) as {
      receive: { file: string; offset: number }[];
    };
    return v.receive.find((r) => r.file === file)?.offset;
  } catch {
    return undefined;
  }
}

/**
 * The relay's drop counters (`punchline_relay_dropped_total` by reason) from the rendezvous's
 * /metrics, fetched from `host` (a lab host that reaches 203.0.113.10:7000 over TCP).
 */
export async function relayDrops(host: Host): Promise<Record<string, number>> {
  const script =
    "fetch('http://203.0.113.10:7000/metrics').then(r => r.text()).then(t => process.stdout.write(t))";
  const { stdout } = await host.exec(process.execPath, ['-e', script]);
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/^punchline_relay_dropped_total\{reason="(\w+)"\} (\d+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

const about = (file: string) => (e: JsonObject) => e.file === file;

/** A's send_file to B: the transfer id once A announced it (hashing the source comes first). */
export async function offer(a: Peer, b: Peer, src: Source, timeoutMs = 60_000): Promise<string> {
  const fromA = a.events.length;
  const fromB = b.events.length;
  a.proc.sendJson({ cmd: 'send_file', peer: b.name, path: src.path });
  const sending = await a.wait(
    'file_sending',
    (e) => e.event === 'file_sending' || e.event === 'error',
    timeoutMs,
    fromA,
  );
  expect(sending.e).toMatchObject({ event: 'file_sending', size: src.size, sha256: src.sha256 });
  const id = String(sending.e.file);
  const o = await b.wait('file_offer', (e) => e.event === 'file_offer' && about(id)(e), 30_000, fromB);
  expect(o.e).toMatchObject({ size: src.size, sha256: src.sha256, name: path.basename(src.path) });
  return id;
}

/** The file_done (or, failing the test, the file_failed) of transfer `id` on `p`. */
export async function done(p: Peer, id: string, timeoutMs: number, from = 0): Promise<Stamped> {
  const end = await p.wait(
    `file_done for ${id}`,
    (e) => (e.event === 'file_done' || e.event === 'file_failed') && about(id)(e),
    timeoutMs,
    from,
  );
  if (end.e.event === 'file_failed')
    throw p.proc.failure(`file ${id} failed: ${String(end.e.code)} ${String(end.e.message)}`);
  return end;
}

/** The first file_progress of `id` on `p` at or after index `from` with at least `fraction` done. */
export function progress(
  p: Peer,
  id: string,
  fraction: number,
  timeoutMs: number,
  from = 0,
): Promise<Stamped> {
  return p.wait(
    `file_progress of ${id} at ${Math.round(fraction * 100)}%`,
    (e) => e.event === 'file_progress' && about(id)(e) && Number(e.bytes) >= fraction * Number(e.size),
    timeoutMs,
    from,
  );
}

export interface Outcome {
  id: string;
  /** The receiver's file_done: `ms` from the accept, `path`, `file_path`. */
  received: JsonObject;
  sent: JsonObject;
  /** bytes / the receiver's file_done ms, in MiB/s. */
  mibps: number;
}

/** After both sides' file_done: the saved file is byte-exact (its SHA-256, computed here). */
export async function checkDone(src: Source, received: JsonObject, sent: JsonObject): Promise<number> {
  expect(received).toMatchObject({ bytes: src.size, sha256: src.sha256 });
  expect(sent).toMatchObject({ bytes: src.size, sha256: src.sha256, file_path: src.path });
  expect(await sha256File(String(received.file_path))).toBe(src.sha256);
  return src.size / MIB / (Number(received.ms) / 1000);
}

/** One whole transfer A -> B, accepted into `dir`; both sides must finish within `timeoutMs`. */
export async function transfer(
  a: Peer,
  b: Peer,
  src: Source,
  dir: string,
  timeoutMs: number,
): Promise<Outcome> {
  const id = await offer(a, b, src);
  const fromA = a.events.length;
  const fromB = b.events.length;
  b.proc.sendJson({ cmd: 'accept_file', file: id, dir });
  const received = (await done(b, id, timeoutMs, fromB)).e;
  const sent = (await done(a, id, 30_000, fromA)).e;
  const mibps = await checkDone(src, received, sent);
  return { id, received, sent, mibps };
}

/** The file_progress events of `id` on `p` from index `from`. */
export const progressOf = (p: Peer, id: string, from = 0): JsonObject[] =>
  p.all('file_progress', from).filter(about(id));

export const mib = (bytes: number): string => (bytes / MIB).toFixed(1);

const lines: string[] = [];

/** Print one `lab files:` line now and keep it for the summary at the end of the file. */
export function reportFiles(line: string): void {
  lines.push(line);
  console.log(`lab files: ${line}`);
}

export const filesSummary = (): string => lines.map((l) => `lab files: ${l}`).join('\n');
