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
    // Whole milliseconds, as docs/cli.md shows them (the clock underneath has fractions).
    expect(Number.isInteger(doneA.ms) && Number.isInteger(doneB.ms)).toBe(true);
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

  it('reject_file: A hears REJECTED, B stores nothing; send_file errors name the peer', async () => {
    const { a, b, dir } = await pair('files2');
    const src = path.join(dir, 'no.bin');
    await randomFile(src, 64 * 1024, 2);
    a.send({ cmd: 'send_file', peer: 'b', path: src });
    const id = (await a.event((e) => e.event === 'file_sending', 15_000)).file as string;
    await fileEvent(b, 'file_offer', id);
    b.send({ cmd: 'reject_file', file: id });
    expect(await fileEvent(b, 'file_rejected', id)).toBeTruthy();
    expect(await fileEvent(a, 'file_failed', id)).toMatchObject({ code: 'REJECTED' });
    expect(await fileEvent(b, 'file_failed', id)).toMatchObject({ code: 'REJECTED' });
    // Nothing anywhere under B's data directory but its own state: no download, no temporary file.
    const files = await readdir(path.join(dir, 'b'), { recursive: true });
    expect(files.filter((f) => /no\.bin|punchline-part|downloads/.test(f))).toEqual([]);
    expect(a.events((e) => e.event === 'file_done')).toEqual([]);

    // Errors of send_file come after it (the file is hashed first) and still name the peer and the req.
    a.send({ cmd: 'send_file', peer: 'nobody', path: src, req: 'x1' });
    expect(await a.event((e) => e.event === 'error' && e.req === 'x1')).toMatchObject({
      code: 'UNKNOWN_PEER',
      peer: 'nobody',
    });
    a.send({ cmd: 'send_file', peer: 'b', path: path.join(dir, 'missing.bin'), req: 'x2' });
    expect(await a.event((e) => e.event === 'error' && e.req === 'x2')).toMatchObject({
      code: 'BAD_ARGUMENT',
      peer: 'b',
      message: expect.stringContaining('missing.bin') as string,
    });
  });

  it('a hostile name is saved sanitised inside the directory, and a taken name becomes "name (1).ext"', async () => {
    const { a, b, dir } = await pair('files3');
    const out = path.join(dir, 'out');
    const inbox = path.join(out, 'inbox');
    await mkdir(inbox, { recursive: true });
    // A Linux file name may hold backslashes and control characters; to a receiver "\\" is a
    // separator too (a Windows path), so this name climbs two directories and colours the terminal.
    const hostile = path.join(dir, '..\\..\\\x1b[31mev\x07il.txt');
    await writeFile(hostile, 'hostile');
    await writeFile(path.join(inbox, 'report.txt'), 'already here');
    const report = path.join(dir, 'report.txt');
    await writeFile(report, 'the new report');

    const send = async (file: string): Promise<string> => {
      const before = a.events((e) => e.event === 'file_sending').length;
      a.send({ cmd: 'send_file', peer: 'b', path: file });
      await a.waitFor(() => a.events((e) => e.event === 'file_sending')[before], 15_000, 'file_sending');
      const id = a.events((e) => e.event === 'file_sending')[before]!.file as string;
      await fileEvent(b, 'file_offer', id);
      b.send({ cmd: 'accept_file', file: id, dir: inbox });
      const done = await fileEvent(b, 'file_done', id);
      await fileEvent(a, 'file_done', id);
      return done.file_path as string;
    };

    const h = await send(hostile);
    expect(b.events((e) => e.event === 'file_offer')[0]!.name).toBe('[31mevil.txt');
    expect(h).toBe(path.join(inbox, '[31mevil.txt'));
    expect(await readFile(h, 'utf8')).toBe('hostile');
    expect(await send(report)).toBe(path.join(inbox, 'report (1).txt'));
    expect(await readFile(path.join(inbox, 'report (1).txt'), 'utf8')).toBe('the new report');
    expect(await readFile(path.join(inbox, 'report.txt'), 'utf8')).toBe('already here');
    // Nothing outside the directory it was accepted into.
    expect((await readdir(out)).sort()).toEqual(['inbox']);
    expect((await readdir(inbox)).sort()).toEqual(['[31mevil.txt', 'report (1).txt', 'report.txt']);
    expect((await stat(path.join(inbox, 'report (1).txt'))).mode & 0o077).toBe(0);
  });
});
