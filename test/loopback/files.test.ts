import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEvent, fingerprintOf, randomFile, useFilePeers } from '../support/file-peers.js';
import type { Json } from '../support/proc.js';

const { pair } = useFilePeers();
const MiB = 1024 * 1024;
const sha = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/**
 * The interval (ms, on the emitter's own clock) a file_progress covers: `rate` is the bytes since
 * the previous one over that interval (peer/chat/file-progress.ts), so the interval comes back out
 * of the event itself, whatever the pipe's batching did to when the lines arrived here.
 */
const interval = (prev: Json, e: Json): number =>
  (((e.bytes as number) - (prev.bytes as number)) * 1000) / (e.rate as number);

describe('loopback: file transfer between two real chat --json processes', () => {
  it('8 MiB arrive byte-exact: offer with name, size and fingerprint; file_done on both sides with the SHA-256; progress at most every 250 ms', async () => {
    const { a, b, aId, dir } = await pair('files1');
    const src = path.join(dir, 'blob.bin');
    const want = await randomFile(src, 8 * MiB, 1);
    const inbox = path.join(dir, 'inbox');

    const t0 = performance.now();
    a.send({ cmd: 'send_file', peer: 'b', path: src, req: 1 });
    const sending = await a.event((e) => e.event === 'file_sending', 15_000);
    expect(sending).toMatchObject({ peer: 'b', name: 'blob.bin', size: 8 * MiB, sha256: want, req: 1 });
    const id = sending.file as string;
    const offer = await fileEvent(b, 'file_offer', id);
    expect(offer).toMatchObject({ peer: 'a', peer_id: aId, name: 'blob.bin', size: 8 * MiB, sha256: want });
    expect(offer.fingerprint).toBe(fingerprintOf(aId));
    // The same fingerprint B's session proved for A.
    const conn = await b.event((e) => e.event === 'connected' && e.peer === 'a');
    expect(offer.fingerprint).toBe(conn.fingerprint);

    b.send({ cmd: 'accept_file', file: id, dir: inbox });
    expect(await fileEvent(b, 'file_accepted', id)).toBeTruthy();
    const doneB = await fileEvent(b, 'file_done', id, 60_000);
    const doneA = await fileEvent(a, 'file_done', id, 60_000);
    const secs = (performance.now() - t0) / 1000;
    expect(doneB).toMatchObject({ bytes: 8 * MiB, sha256: want, file_path: path.join(inbox, 'blob.bin') });
    expect(doneA).toMatchObject({ bytes: 8 * MiB, sha256: want, file_path: src });
    expect(await sha(doneB.file_path as string)).toBe(want);
    expect(await readdir(inbox)).toEqual(['blob.bin']); // no temporary file left beside it
    console.log(
      `loopback file transfer: 8 MiB in ${secs.toFixed(2)} s from send_file to file_done ` +
        `(${(8 / secs).toFixed(1)} MiB/s; transfer ms: sender ${String(doneA.ms)}, receiver ${String(doneB.ms)}; ` +
        `${((8 * 1000) / (doneB.ms as number)).toFixed(1)} MiB/s from accept), path ${String(doneB.path)}`,
    );

    for (const p of [a, b]) {
      const progress = p.events((e) => e.event === 'file_progress' && e.file === id);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      const last = progress.at(-1)!;
      expect(last).toMatchObject({ bytes: 8 * MiB, size: 8 * MiB });
      for (let k = 1; k < progress.length - 1; k++) {
        expect(progress[k]!.rate as number).toBeGreaterThan(0);
        expect(interval(progress[k - 1]!, progress[k]!)).toBeGreaterThanOrEqual(249.5);
      }
    }
  });
});
