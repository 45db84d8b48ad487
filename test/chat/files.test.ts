/**
 * File transfers through the ChatService (peer/chat/files.ts) between services in this process,
 * over real loopback UDP: the receiver's safety rules (docs/security.md, file transfers) - names
 * from the peer sanitised, nothing overwritten, nothing written before accept or above the size
 * limit, no partial file left by a full disk, a cancel or a bad checksum - and the restarts.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileOffer } from '../../peer/chat/types.js';
import { useChatWorld } from '../support/chat-world.js';
import { pairIn, pattern, source } from './file-pair.js';
import type { ChatPeer } from '../support/chat-world.js';
import { faultyFileFs, withWrites } from '../support/faulty-fs.js';
import { nodeFileFs } from '../../peer/chat/file-store.js';
import type { FileFs } from '../../peer/chat/file-store.js';

const world = useChatWorld();
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function offered(bob: ChatPeer, n = 1): Promise<FileOffer> {
  await bob.until(() => bob.chatEvents.file_offer.length >= n);
  return bob.chatEvents.file_offer[n - 1]!;
}

describe('file transfers', () => {
  it('a file arrives byte-exact under its name; both sides hear file_done with the SHA-256; nothing before accept', async () => {
    const [alice, bob] = await pairIn(world);
    const data = pattern(3 * 1024 * 1024 + 17);
    const p = await source(alice, 'photo.jpg', data);
    const view = await alice.chat.sendFile('bob', p);
    expect(view).toMatchObject({ direction: 'send', state: 'offered', size: data.length, sha256: sha(data) });
    const offer = await offered(bob);
    expect(offer).toMatchObject({ file: view.file, peer: 'alice', name: 'photo.jpg', size: data.length });
    const dir = path.join(bob.dataDir, 'in');
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing written before accept
    expect(bob.chat.files()).toMatchObject([{ file: view.file, direction: 'receive', state: 'offered' }]);
    await bob.chat.acceptFile(offer.file, dir);
    await bob.until(() => bob.chatEvents.file_done.length === 1);
    await alice.until(() => alice.chatEvents.file_done.length === 1);
    const done = bob.chatEvents.file_done[0]!;
    expect(done).toMatchObject({
      file: view.file,
      filePath: path.join(dir, 'photo.jpg'),
      bytes: data.length,
    });
    expect(done.sha256).toBe(sha(data));
    expect(sha(await readFile(done.filePath))).toBe(sha(data));
    expect(alice.chatEvents.file_done[0]).toMatchObject({ file: view.file, filePath: p, sha256: sha(data) });
    expect(await readdir(dir)).toEqual(['photo.jpg']); // the temporary file is gone
    expect(bob.chatEvents.file_progress.at(-1)).toMatchObject({ bytes: data.length, size: data.length });
    expect(alice.chat.files()).toEqual([]);
    expect(bob.chat.files()).toEqual([]);
  });

  it('names from the peer are sanitised (no path, no .., no control characters, no hidden file) and an existing file is never overwritten', async () => {
    const [alice, bob] = await pairIn(world);
    const dir = path.join(bob.dataDir, 'in');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'report.txt'), 'mine');
    const data = pattern(1000);
    // The sender's name goes as given: a hostile peer picks any; here the source file's own name.
    const names = ['report.txt', '..', '.bashrc', 'a\u0007b\u001b[2Jc.txt'];
    const expected = ['report (1).txt', 'file', 'bashrc', 'ab[2Jc.txt'];
    for (const [k, n] of names.entries()) {
      const sub = path.join(alice.dataDir, `src${k}`);
      await mkdir(sub, { recursive: true });
      const p = n === '..' ? sub + '/..' : path.join(sub, n);
      if (n !== '..') await writeFile(p, data);
      if (n === '..') continue; // a directory: refused at the source (below)
      await alice.chat.sendFile('bob', p);
    }
    await expect(alice.chat.sendFile('bob', path.join(alice.dataDir, 'src1', '..'))).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await expect(alice.chat.sendFile('bob', path.join(alice.dataDir, 'nope'))).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await bob.until(() => bob.chatEvents.file_offer.length === 3);
    for (const o of bob.chatEvents.file_offer) await bob.chat.acceptFile(o.file, dir);
    await bob.until(() => bob.chatEvents.file_done.length === 3);
    expect(await readFile(path.join(dir, 'report.txt'), 'utf8')).toBe('mine');
    const saved = bob.chatEvents.file_done.map((d) => path.basename(d.filePath)).sort();
    expect(saved).toEqual([expected[0], expected[2], expected[3]].sort());
    expect((await readdir(dir)).sort()).toEqual(['report.txt', ...saved].sort());
  });

  it('an offer above --max-file-mb is refused before any byte is stored: both sides hear TOO_LARGE', async () => {
    const [alice, bob] = await pairIn(world, { maxFileBytes: 1000, downloadDir: undefined });
    const p = await source(alice, 'big.bin', pattern(1001));
    const v = await alice.chat.sendFile('bob', p);
    await alice.until(() => alice.chatEvents.file_failed.length === 1);
    await bob.until(() => bob.chatEvents.file_failed.length === 1);
    expect(alice.chatEvents.file_failed[0]).toMatchObject({ file: v.file, code: 'TOO_LARGE' });
    expect(bob.chatEvents.file_failed[0]).toMatchObject({ file: v.file, code: 'TOO_LARGE' });
    expect(bob.chatEvents.file_offer).toEqual([]);
    await expect(readdir(path.join(bob.dataDir, 'downloads'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a full disk mid-file: both sides hear IO, and no partial file stays', async () => {
    const faulty = faultyFileFs();
    const [alice, bob] = await pairIn(world, { fileFs: faulty.fs });
    const data = pattern(4 * 1024 * 1024);
    const v = await alice.chat.sendFile('bob', await source(alice, 'x.bin', data));
    const offer = await offered(bob);
    const dir = path.join(bob.dataDir, 'in');
    // The disk fills up at the third write, mid-file (a 4 MiB file takes four writes of FLUSH_BYTES).
    faulty.failFromWrite = 3;
    await bob.chat.acceptFile(offer.file, dir);
    await bob.until(() => bob.chatEvents.file_failed.length === 1);
    await alice.until(() => alice.chatEvents.file_failed.length === 1);
    expect(faulty.failures).toBeGreaterThan(0);
    expect(bob.chatEvents.file_failed[0]).toMatchObject({
      file: v.file,
      code: 'IO',
      message: expect.stringMatching(/ENOSPC/),
    });
    expect(alice.chatEvents.file_failed[0]).toMatchObject({
      file: v.file,
      code: 'IO',
      message: expect.stringMatching(/ENOSPC/),
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('reject and cancel: the other side hears REJECTED / CANCELLED and the receiver keeps nothing', async () => {
    const faulty = faultyFileFs();
    const [alice, bob] = await pairIn(world, { fileFs: faulty.fs });
    const data = pattern(4 * 1024 * 1024);
    const a = await alice.chat.sendFile('bob', await source(alice, 'a.bin', data));
    const b = await alice.chat.sendFile('bob', await source(alice, 'b.bin', data));
    await offered(bob, 2);
    bob.chat.rejectFile(a.file);
    await alice.until(() => alice.chatEvents.file_failed.some((f) => f.file === a.file));
    expect(alice.chatEvents.file_failed[0]).toMatchObject({ code: 'REJECTED' });
    const dir = path.join(bob.dataDir, 'in');
    // Cancelled mid-file: the third write waits until the cancel has been made.
    faulty.holdFromWrite = 3;
    await bob.chat.acceptFile(b.file, dir);
    await bob.until(() => faulty.held > 0);
    bob.chat.cancelFile(b.file);
    faulty.release();
    await alice.until(() => alice.chatEvents.file_failed.some((f) => f.file === b.file));
    await bob.until(() => bob.chatEvents.file_failed.some((f) => f.file === b.file));
    expect(alice.chatEvents.file_failed.find((f) => f.file === b.file)).toMatchObject({ code: 'CANCELLED' });
    expect(await readdir(dir)).toEqual([]);
    await expect(bob.chat.acceptFile('nosuch')).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('short writes (a write taking fewer bytes than asked, no error) are written again: the file is byte-exact', async () => {
    let short = 0;
    // At most half of what is asked, as write(2) may when a disk fills up.
    const fs = withWrites((h, buf, offset, length, position) => {
      if (length > 1) short++;
      return h.write(buf, offset, Math.max(1, Math.floor(length / 2)), position);
    });
    const [alice, bob] = await pairIn(world, { fileFs: fs });
    const data = pattern(300 * 1024, 11);
    await alice.chat.sendFile('bob', await source(alice, 'short.bin', data));
    const dir = path.join(bob.dataDir, 'in');
    await bob.chat.acceptFile((await offered(bob)).file, dir);
    await bob.until(() => bob.chatEvents.file_done.length === 1 || bob.chatEvents.file_failed.length > 0);
    expect(bob.chatEvents.file_failed).toEqual([]);
    expect(short).toBeGreaterThan(0);
    expect(sha(await readFile(path.join(dir, 'short.bin')))).toBe(sha(data));
  });

  it('a directory without hard links (FAT, exFAT): the file is put in place by name, still never over an existing one', async () => {
    let refused = 0;
    const fs: FileFs = {
      ...nodeFileFs,
      link: () => {
        refused++;
        return Promise.reject(
          Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }),
        );
      },
    };
    const [alice, bob] = await pairIn(world, { fileFs: fs });
    const dir = path.join(bob.dataDir, 'in');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'report.txt'), 'mine');
    const data = pattern(5000);
    await alice.chat.sendFile('bob', await source(alice, 'report.txt', data));
    await bob.chat.acceptFile((await offered(bob)).file, dir);
    await bob.until(() => bob.chatEvents.file_done.length === 1 || bob.chatEvents.file_failed.length > 0);
    expect(bob.chatEvents.file_failed).toEqual([]);
    expect(refused).toBeGreaterThan(0);
    expect(bob.chatEvents.file_done[0]!.filePath).toBe(path.join(dir, 'report (1).txt'));
    expect(await readFile(path.join(dir, 'report.txt'), 'utf8')).toBe('mine');
    expect(sha(await readFile(path.join(dir, 'report (1).txt')))).toBe(sha(data));
    expect((await readdir(dir)).sort()).toEqual(['report (1).txt', 'report.txt']); // no temporary file
  });
});
