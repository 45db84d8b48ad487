/**
 * "Delivered means stored" (docs/architecture.md, Storage): chat services in this process over
 * real loopback UDP and a real rendezvous, with faults put under a peer's files through the
 * journal's file seam (test/support/faulty-fs.ts), so these run without root. The real-disk
 * variants (a full tmpfs, a read-only remount) are in test/loopback/durable-cli.test.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useChatWorld } from '../support/chat-world.js';
import type { ChatPeer } from '../support/chat-world.js';
import { faultyFs } from '../support/faulty-fs.js';

const world = useChatWorld();

const lines = (p: ChatPeer): { id: string; out: boolean }[] => {
  try {
    return readFileSync(path.join(p.dataDir, 'history.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { id: string; out: boolean });
  } catch {
    return [];
  }
};
const stored = (p: ChatPeer): number => lines(p).filter((r) => !r.out).length;
const sees =
  (a: ChatPeer, ...names: string[]) =>
  (): boolean =>
    names.every((n) => a.chat.peers().some((p) => p.name === n && p.state !== 'offline'));
const gone = (a: ChatPeer, name: string) => (): boolean =>
  !a.chat.peers().some((p) => p.name === name && p.state !== 'offline');
const bobId = (a: ChatPeer, name: string): string => a.chat.resolvePeer(name).id;

describe('delivered means stored', () => {
  it.each(['ENOSPC', 'EROFS', 'EACCES'])(
    'the receiver cannot write (%s): no receipt, an IO error, and every message arrives once it can again',
    async (errno) => {
      await world.start();
      const disk = faultyFs(/history\.jsonl$/);
      const alice = await world.peer('alice', 'a');
      const bob = await world.peer('bob', 'b', { fs: disk.fs, storeRetryMs: 20 });
      await alice.until(sees(alice, 'bob'));
      disk.fail = errno;
      const to = { kind: 'peer' as const, peerId: bobId(alice, 'bob') };
      for (let i = 0; i < 5; i++) alice.chat.send(to, `m${i}`);
      // Every message reached bob and failed to store, more than once (the retry timer).
      await bob.until(() => bob.chat.storeFailures >= 15);
      const err = bob.chatEvents.error.find((e) => e.code === 'IO');
      expect(err).toMatchObject({ code: 'IO', peer: 'alice', message: expect.stringContaining(errno) });
      expect(bob.chatEvents.error.filter((e) => e.code === 'IO')).toHaveLength(1); // once, not per retry
      expect(alice.nodeEvents.delivered).toHaveLength(stored(bob));
      expect(stored(bob)).toBe(0);

      disk.fail = undefined; // space is back
      await alice.until(() => alice.nodeEvents.delivered.length === 5);
      await bob.until(() => bob.chatEvents.message.length === 5);
      expect(stored(bob)).toBe(5);
      expect(bob.chatEvents.message.map((m) => m.text).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      expect(new Set(lines(bob).map((r) => r.id)).size).toBe(5); // each once
    },
  );

  it('the sender cannot write its outbox: the message leaves anyway, is delivered and stored by the peer, and the sender is told it is not kept for a restart', async () => {
    await world.start();
    const disk = faultyFs(/outbox\.jsonl$/);
    const alice = await world.peer('alice', 'a', { fs: disk.fs });
    const bob = await world.peer('bob', 'b');
    await alice.until(sees(alice, 'bob'));
    disk.fail = 'ENOSPC';
    const sent = alice.chat.sendStored({ kind: 'peer', peerId: bobId(alice, 'bob') }, 'hello');
    await expect(sent.stored).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringMatching(/not in the outbox .*ENOSPC.*not after a restart/),
    });
    await alice.until(() => alice.nodeEvents.delivered.length === 1);
    expect(bob.chatEvents.message.map((m) => m.text)).toEqual(['hello']);
    expect(stored(bob)).toBe(1);
  });

  it('a crash between the outbox write and the history write is repaired at the next start', async () => {
    await world.start();
    const crash = faultyFs(/history\.jsonl$/);
    let alice = await world.peer('alice', 'a', { fs: crash.fs });
    const bob = await world.peer('bob', 'b');
    await alice.until(sees(alice, 'bob'));
    crash.fail = 'EIO'; // the history write throws after the outbox record is on disk
    const to = { kind: 'peer' as const, peerId: bobId(alice, 'bob') };
    const m = alice.chat.send(to, 'torn pair');
    await alice.until(() => alice.chatEvents.error.some((e) => e.code === 'IO'));
    await alice.until(() => alice.nodeEvents.delivered.some((d) => d.messageId === m.id));
    expect(lines(alice).some((r) => r.id === m.id)).toBe(false);
    await alice.close();

    alice = await world.peer('alice', 'a');
    expect(alice.chat.recovered.map((r) => r.id)).toEqual([m.id]);
    await alice.chat.close(); // flushes the repaired record
    expect(lines(alice).filter((r) => r.id === m.id)).toHaveLength(1);
    alice = await world.peer('alice', 'a');
    expect(alice.chat.recovered).toEqual([]); // consistent: nothing to repair twice
    const h = alice.chat.history(to);
    expect(h.map((x) => x.text)).toEqual(['torn pair']);
    expect(h[0]!.delivery).toEqual({ [to.peerId]: 'delivered' });
    expect(bob.chatEvents.message.map((x) => x.text)).toEqual(['torn pair']);
  });

  it('a peer flooding 1 MB messages cannot store more than its daily quota; delivered == stored', async () => {
    await world.start();
    const alice = await world.peer('alice', 'a');
    const bob = await world.peer('bob', 'b', { quota: { peerBytesPerDay: 3_000_000 }, storeRetryMs: 20 });
    await alice.until(sees(alice, 'bob'));
    const to = { kind: 'peer' as const, peerId: bobId(alice, 'bob') };
    const mb = 'x'.repeat(1_000_000);
    for (let i = 0; i < 8; i++) alice.chat.send(to, mb);
    await bob.until(() => bob.chatEvents.error.some((e) => e.code === 'QUOTA'));
    await bob.until(() => bob.chat.storeFailures >= 10 && bob.chatEvents.message.length === 3);
    await alice.until(() => alice.nodeEvents.delivered.length === 3);
    expect(bob.chatEvents.error.find((e) => e.code === 'QUOTA')).toMatchObject({ peer: 'alice' });
    expect(stored(bob)).toBe(3);
    expect(alice.nodeEvents.delivered).toHaveLength(stored(bob));
    expect(statSync(path.join(bob.dataDir, 'history.jsonl')).size).toBeLessThan(3_000_000 + 4096);
    // The rest waits unacknowledged in alice's outbox ("sent", never "delivered").
    expect(alice.chatEvents.delivery.filter((e) => e.state === 'delivered')).toHaveLength(3);
    const newest = alice.chat.history(to).at(-1)!;
    expect(newest.delivery![to.peerId]).toBe('sent');
  });

  it('a room message waits for a member who left, is delivered on rejoin, and its marks survive restarts', async () => {
    await world.start();
    let alice = await world.peer('alice', 'a');
    const bob = await world.peer('bob', 'b');
    let carol = await world.peer('carol', 'c');
    await alice.until(sees(alice, 'bob', 'carol'));
    await carol.until(sees(carol, 'alice'));
    const carolId = bobId(alice, 'carol');
    const bobHex = bobId(alice, 'bob');
    await carol.close();
    await alice.until(gone(alice, 'carol'));

    const m = alice.chat.send({ kind: 'room' }, 'for everyone, carol too');
    await alice.until(() => alice.nodeEvents.delivered.some((d) => d.messageId === m.id));
    await bob.until(() => bob.chatEvents.message.some((x) => x.id === m.id));
    const marks = (): Record<string, string> | undefined =>
      alice.chat.history({ kind: 'room' }).find((x) => x.id === m.id)?.delivery;
    // history() lists stored messages: the message left before its records were written (no
    // fsync on a chat line's way), so its receipt may come first.
    await alice.until(() => marks() !== undefined);
    expect(marks()).toEqual({ [bobHex]: 'delivered', [carolId]: 'pending' }); // ✓ 1/2

    // The sender restarts while carol is away: the marks come back exactly from the outbox.
    await alice.close();
    alice = await world.peer('alice', 'a');
    expect(marks()).toEqual({ [bobHex]: 'delivered', [carolId]: 'pending' });

    carol = await world.peer('carol', 'c');
    await carol.until(() => carol.chatEvents.message.some((x) => x.id === m.id));
    await alice.until(() => alice.nodeEvents.delivered.some((d) => d.messageId === m.id));
    expect(marks()).toEqual({ [bobHex]: 'delivered', [carolId]: 'delivered' });

    await alice.close();
    alice = await world.peer('alice', 'a');
    expect(marks()).toEqual({ [bobHex]: 'delivered', [carolId]: 'delivered' }); // ✓✓ 2/2 after a restart
  });
});
