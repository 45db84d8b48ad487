import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loopbackChat, useProcesses } from './proc.js';
import type { Json, Proc } from './proc.js';
import { seededRandom } from './random.js';

/** Two real `punchline chat --json` processes on loopback, each with its own data directory, in one room. */
export interface FilePeers {
  a: Proc;
  b: Proc;
  /** A's peer id (from its `registered`). */
  aId: string;
  /** A temporary directory of this test (removed after it). */
  dir: string;
  /** Start `a` or `b` again (after it was killed), on the same data directory. */
  restart: (name: 'a' | 'b') => Proc;
}

/** `bytes` seeded random bytes written to `file`; returns their SHA-256 (hex). */
export async function randomFile(file: string, bytes: number, seed: number): Promise<string> {
  const data = seededRandom(seed)(bytes);
  await writeFile(file, data);
  return createHash('sha256').update(data).digest('hex');
}

/** The fingerprint `connected` shows for a peer id: its first 8 bytes, in groups of 4 hex digits. */
export const fingerprintOf = (peerId: string): string => peerId.slice(0, 16).match(/.{4}/g)!.join(':');

/**
 * A real rendezvous and two chat processes (`a`, `b`) for each test (useProcesses kills them and
 * removes the directories after it, also when it fails): `pair()` returns once A sees B in the room.
 */
export function useFilePeers(): { pair: (room: string, ...extra: string[]) => Promise<FilePeers> } {
  const { start, tmpDir, rendezvous } = useProcesses();
  return {
    async pair(room, ...extra) {
      const { port } = await rendezvous();
      const dir = await tmpDir();
      const run = (name: 'a' | 'b'): Proc =>
        start(loopbackChat(port, name, path.join(dir, name), '--room', room, ...extra));
      const a = run('a');
      const b = run('b');
      const reg = await a.event((e) => e.event === 'registered', 15_000);
      await b.event((e) => e.event === 'registered', 15_000);
      await a.event((e) => e.event === 'presence' && (e.peers as Json[]).some((p) => p.name === 'b'), 15_000);
      await b.event((e) => e.event === 'presence' && (e.peers as Json[]).some((p) => p.name === 'a'), 15_000);
      return { a, b, aId: reg.peer_id as string, dir, restart: run };
    },
  };
}

/** The first `event` about transfer `file`. */
export const fileEvent = (p: Proc, event: string, file: string, timeoutMs = 30_000): Promise<Json> =>
  p.event((e) => e.event === event && e.file === file, timeoutMs);
