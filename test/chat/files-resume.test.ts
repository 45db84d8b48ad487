/**
 * Resuming file transfers across restarts (peer/chat/files.ts, files.json in the data
 * directory): a new PeerNode and ChatService on the same data directory and identity carry on
 * where the bytes on disk end, without a new prompt, and the file arrives byte-exact.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILES_FILE } from '../../peer/chat/file-store.js';
import { useChatWorld } from '../support/chat-world.js';
import type { ChatPeer } from '../support/chat-world.js';

const world = useChatWorld();
const MIB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const pattern = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + (i >> 10)) % 251;
  return b;
};
const sees = (p: ChatPeer, n: string) => (): boolean =>
  p.chat.peers().some((x) => x.name === n && x.state !== 'offline');

async function start(
  total: number,
): Promise<{ alice: ChatPeer; bob: ChatPeer; data: Buffer; src: string; dir: string; file: string }> {
  await world.start();
  const alice = await world.peer('alice', 'a');
  const bob = await world.peer('bob', 'b');
  await alice.until(sees(alice, 'bob'));
  await bob.until(sees(bob, 'alice'));
  await alice.chat.connect('bob');
  const data = pattern(total);
  await mkdir(path.join(alice.dataDir, 'out'), { recursive: true });
  const src = path.join(alice.dataDir, 'out', 'movie.bin');
  await writeFile(src, data);
  const { file } = await alice.chat.sendFile('bob', src);
  await bob.until(() => bob.chatEvents.file_offer.length === 1);
  const dir = path.join(bob.dataDir, 'in');
  await bob.chat.acceptFile(file, dir);
  return { alice, bob, data, src, dir, file };
}

/** Wait until the receiver has synced at least `bytes` (files.json holds its offset). */
async function synced(p: ChatPeer, file: string, bytes: number): Promise<void> {
  await p.until(() => p.chat.files().some((f) => f.file === file && f.bytes >= bytes));
}

describe('file transfer resume', () => {
  it("after the receiver's restart: no new prompt, it carries on from the bytes on disk and the file is byte-exact", async () => {
    const { alice, bob, data, dir, file } = await start(40 * MIB);
    await synced(bob, file, 17 * MIB);
    await bob.close();
    const bob2 = await world.peer('bob', 'b');
    await bob2.until(sees(bob2, 'alice'));
    await alice.until(() => alice.chatEvents.file_done.length === 1);
    await bob2.until(() => bob2.chatEvents.file_done.length === 1);
    expect(bob2.chatEvents.file_offer).toEqual([]); // no new prompt
    const done = bob2.chatEvents.file_done[0]!;
    expect(done.sha256).toBe(sha(data));
    expect(sha(await readFile(done.filePath))).toBe(sha(data));
    expect(await readdir(dir)).toEqual(['movie.bin']);
    // It resumed: the receiver's first progress after the restart was past the synced 16 MiB.
    expect(bob2.chatEvents.file_progress[0]!.bytes).toBeGreaterThanOrEqual(16 * MIB);
  }, 120_000);

  it("after the sender's restart: it asks to resume and the receiver answers with its offset", async () => {
    const { alice, bob, data, file } = await start(40 * MIB);
    await synced(bob, file, 17 * MIB);
    await alice.close();
    const alice2 = await world.peer('alice', 'a');
    // No connect() here: a transfer to resume opens the session by itself.
    await bob.until(() => bob.chatEvents.file_done.length === 1);
    await alice2.until(() => alice2.chatEvents.file_done.length === 1);
    expect(bob.chatEvents.file_offer).toHaveLength(1);
    expect(sha(await readFile(bob.chatEvents.file_done[0]!.filePath))).toBe(sha(data));
    expect(alice2.chatEvents.file_progress[0]!.bytes).toBeGreaterThanOrEqual(16 * MIB);
  }, 120_000);

  it('a source changed while the sender was down fails clearly on both sides, and the receiver keeps nothing', async () => {
    const { alice, bob, src, dir, file } = await start(40 * MIB);
    await synced(bob, file, 9 * MIB);
    await alice.close();
    await utimes(src, new Date(), new Date(Date.now() + 5000));
    const alice2 = await world.peer('alice', 'a');
    await alice2.until(sees(alice2, 'bob'));
    await alice2.chat.connect('bob');
    await alice2.until(() => alice2.chatEvents.file_failed.length === 1);
    await bob.until(() => bob.chatEvents.file_failed.length === 1);
    expect(alice2.chatEvents.file_failed[0]).toMatchObject({ file, code: 'SOURCE_CHANGED' });
    expect(bob.chatEvents.file_failed[0]).toMatchObject({ file, code: 'SOURCE_CHANGED' });
    expect(await readdir(dir)).toEqual([]);
  }, 120_000);

  it('a source rewritten while the sender was down, with the same size and time: the kept prefix no longer matches, it starts again from 0 and the new bytes arrive byte-exact', async () => {
    const { alice, bob, src, dir, file } = await start(40 * MIB);
    await synced(bob, file, 9 * MIB);
    await alice.close();
    const changed = pattern(40 * MIB).map((b, i) => (i < MIB ? b ^ 0xff : b)); // its first MiB
    await writeFile(src, changed);
    // The size and the modification time files.json holds still match the file (as when a
    // file is rewritten within the clock's resolution, or its time is set back).
    const book = path.join(alice.dataDir, FILES_FILE);
    const state = JSON.parse(await readFile(book, 'utf8')) as { send: { mtimeMs: number }[] };
    state.send[0]!.mtimeMs = (await stat(src)).mtimeMs;
    await writeFile(book, JSON.stringify(state));
    const alice2 = await world.peer('alice', 'a');
    await bob.until(() => bob.chatEvents.file_done.length + bob.chatEvents.file_failed.length > 0);
    await alice2.until(() => alice2.chatEvents.file_done.length + alice2.chatEvents.file_failed.length > 0);
    expect([alice2.chatEvents.file_failed, bob.chatEvents.file_failed]).toEqual([[], []]);
    const done = bob.chatEvents.file_done[0]!;
    expect(done.sha256).toBe(sha(changed));
    expect(sha(await readFile(done.filePath))).toBe(sha(changed));
    expect(await readdir(dir)).toEqual(['movie.bin']);
    const again = (n: { text: string }): boolean => n.text.includes('again from the start');
    expect(alice2.chatEvents.notice.filter(again)).toHaveLength(1);
    expect(bob.chatEvents.notice.filter(again)).toHaveLength(1);
  }, 120_000);
});
