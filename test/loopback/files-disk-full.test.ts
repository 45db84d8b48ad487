import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileEvent, randomFile, useFilePeers } from '../support/file-peers.js';

const { pair } = useFilePeers();
const MiB = 1024 * 1024;
const ROOT = process.getuid?.() === 0;

/** Mount points of this file's tests, unmounted after each test, also one that failed. */
const mounts: string[] = [];
afterEach(async () => {
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', [m]);
    } catch {
      execFileSync('umount', ['-l', m]); // still busy: detach it now, freed once closed
    }
    await rmdir(m).catch(() => {});
  }
});

/** A real 2 MiB tmpfs at `dir` (needs root): a disk that fills up half-way through a 4 MiB file. */
async function smallDisk(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  mounts.push(dir);
}

describe('loopback: a real full disk under the receiving directory', () => {
  if (!ROOT)
    it.skip('needs root to mount a 2 MiB tmpfs (mount -t tmpfs); test/chat/files.test.ts covers it with a faulty fs', () => {});
  else
    it('4 MiB into a 2 MiB tmpfs: both sides hear IO (no space), nothing stays in it, and B keeps chatting', async () => {
      const { a, b, dir } = await pair('full1');
      const src = path.join(dir, 'big.bin');
      await randomFile(src, 4 * MiB, 3);
      const disk = path.join(dir, 'disk');
      await smallDisk(disk);

      a.send({ cmd: 'send_file', peer: 'b', path: src });
      const id = (await a.event((e) => e.event === 'file_sending', 15_000)).file as string;
      await fileEvent(b, 'file_offer', id);
      b.send({ cmd: 'accept_file', file: id, dir: disk });
      const failedB = await fileEvent(b, 'file_failed', id);
      const failedA = await fileEvent(a, 'file_failed', id);
      expect(failedB.code).toBe('IO');
      expect(failedB.message).toMatch(/ENOSPC/);
      expect(failedB.message).toContain(disk);
      expect(failedA.code).toBe('IO');
      expect(failedA.message).toMatch(/^b: .*ENOSPC/);
      expect(
        a.events((e) => e.event === 'file_done' || (e.event === 'file_failed' && e.file !== id)),
      ).toEqual([]);
      // No partial file, no temporary file: the space is free again.
      expect(await readdir(disk)).toEqual([]);

      // B is still running and chats both ways.
      expect(b.exitCode).toBeUndefined();
      b.send({ cmd: 'send', peer: 'a', text: 'still here' });
      expect(await a.event((e) => e.event === 'message')).toMatchObject({ from: 'b', text: 'still here' });
      a.send({ cmd: 'send', peer: 'b', text: 'good' });
      expect(await b.event((e) => e.event === 'message')).toMatchObject({ from: 'a', text: 'good' });
      await b.event((e) => e.event === 'delivered');
    });
});
