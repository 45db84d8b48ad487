/**
 * File transfers beside each other and beside chat, and a source that vanishes, through the
 * ChatService over real loopback UDP (test/support/chat-world.ts): several transfers at once
 * share the session, a chat line never waits behind them, and a source deleted before the
 * transfer starts ends it cleanly on both sides with nothing left at the receiver.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFileControl } from '../../peer/chat/file-control.js';
import { MAX_PENDING_OFFERS } from '../../peer/chat/file-receive.js';
import { useChatWorld } from '../support/chat-world.js';
import { pairIn, pattern, source } from './file-pair.js';

const world = useChatWorld();
const MiB = 1024 * 1024;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('file transfers sharing a session', () => {
  it('two transfers at once both move before either ends (the other past a quarter when the first finishes), a chat line sent meanwhile overtakes them, and both arrive byte-exact', async () => {
    const [alice, bob] = await pairIn(world);
    const one = pattern(12 * MiB, 7);
    const two = pattern(12 * MiB, 11);
    const a = await alice.chat.sendFile('bob', await source(alice, 'one.bin', one));
    const b = await alice.chat.sendFile('bob', await source(alice, 'two.bin', two));
    await bob.until(() => bob.chatEvents.file_offer.length === 2);
    const dir = path.join(bob.dataDir, 'in');
    await bob.chat.acceptFile(a.file, dir);
    await bob.chat.acceptFile(b.file, dir);
    // Both under way: then a chat line.
    const moving = (f: string) => () => bob.chatEvents.file_progress.some((e) => e.file === f && e.bytes > 0);
    await bob.until(() => moving(a.file)() && moving(b.file)());
    alice.chat.send({ kind: 'peer', peerId: bob.chat.self.id }, 'still there?');
    await bob.until(() => bob.chatEvents.message.some((m) => m.text === 'still there?'));
    const doneWhenChatArrived = bob.chatEvents.file_done.length;
    await bob.until(() => bob.chatEvents.file_done.length === 2);
    // The chat line did not wait for the files.
    expect(doneWhenChatArrived).toBeLessThan(2);
    // Shared: when the first finished, the other was well under way, not queued behind it (0
    // bytes then). Progress lines come at most every 250 ms, so the figure read is a little old.
    const first = bob.chatEvents.file_done[0]!;
    const other = first.file === a.file ? b.file : a.file;
    const firstAt = bob.chatEvents.file_progress.findLastIndex((e) => e.file === first.file);
    const otherBytes = bob.chatEvents.file_progress
      .slice(0, firstAt + 1)
      .filter((e) => e.file === other)
      .reduce((m, e) => Math.max(m, e.bytes), 0);
    expect(otherBytes).toBeGreaterThan(0.25 * 12 * MiB);
    const saved = Object.fromEntries(bob.chatEvents.file_done.map((d) => [d.file, d.filePath]));
    expect(sha(await readFile(saved[a.file]!))).toBe(sha(one));
    expect(sha(await readFile(saved[b.file]!))).toBe(sha(two));
  }, 60_000);

  it('a source file deleted before the transfer starts: both sides hear file_failed and the receiver keeps nothing', async () => {
    const [alice, bob] = await pairIn(world);
    const p = await source(alice, 'gone.bin', pattern(2 * MiB, 5));
    const view = await alice.chat.sendFile('bob', p);
    await bob.until(() => bob.chatEvents.file_offer.length === 1);
    await rm(p);
    const dir = path.join(bob.dataDir, 'in');
    await mkdir(dir, { recursive: true });
    await bob.chat.acceptFile(view.file, dir);
    await bob.until(() => bob.chatEvents.file_failed.length === 1);
    await alice.until(() => alice.chatEvents.file_failed.length === 1);
    const [fa, fb] = [alice.chatEvents.file_failed[0]!, bob.chatEvents.file_failed[0]!];
    expect(fa.file).toBe(view.file);
    expect(fb.file).toBe(view.file);
    expect(fa.message).toMatch(/gone\.bin/);
    expect(bob.chatEvents.file_done).toEqual([]);
    expect(await readdir(dir)).toEqual([]); // no partial or temporary file
  }, 60_000);

  it('a peer flooding offers gets MAX_PENDING_OFFERS shown; the rest are refused until the user answers some', async () => {
    const [alice, bob] = await pairIn(world);
    const bobId = bob.chat.self.id;
    const id = (i: number): string => `flood${String(i).padStart(16, '0')}`;
    const offer = (i: number): Uint8Array =>
      encodeFileControl({
        kind: 'offer',
        file: id(i),
        name: `f${i}.bin`,
        size: 1000,
        sha256: 'ab'.repeat(32),
      });
    // A hostile alice, below her chat service: 40 offers, then a cancel of the first. Control
    // records arrive in order, so when bob hears that cancel he has handled all 40 offers.
    for (let i = 0; i < 40; i++) alice.node.sendControl(bobId, offer(i));
    alice.node.sendControl(
      bobId,
      encodeFileControl({ kind: 'cancel', file: id(0), code: 'CANCELLED', text: 'x' }),
    );
    await bob.until(() => bob.chatEvents.file_failed.some((f) => f.file === id(0)));
    expect(bob.chatEvents.file_offer.map((o) => o.file)).toEqual(
      [...Array(MAX_PENDING_OFFERS).keys()].map(id),
    );
    expect(bob.chat.files()).toHaveLength(MAX_PENDING_OFFERS - 1); // the first was cancelled
    // With room again (one cancelled, one declined), new offers are shown.
    bob.chat.rejectFile(id(1));
    for (let i = 40; i < 43; i++) alice.node.sendControl(bobId, offer(i));
    await bob.until(() => bob.chatEvents.file_offer.some((o) => o.file === id(41)));
    await bob.until(() => bob.chat.files().length === MAX_PENDING_OFFERS);
    expect(bob.chatEvents.file_offer.map((o) => o.file).slice(MAX_PENDING_OFFERS)).toEqual([id(40), id(41)]);
  }, 60_000);
});
