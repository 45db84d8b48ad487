/**
 * The bulk path users reach (ChatService.sendBulk / onBulk, peer/bulk-lane.ts and
 * peer/bulk-intake.ts): chat services in this process over real loopback UDP and a real
 * rendezvous. Bytes arrive intact and in order; the source is read only as fast as the session
 * takes it and the receiver holds at most its receive window unconsumed (memory bounded on both
 * sides); a chat line overtakes the backlog; a sink that fails gets the record again; the sender
 * hears "done" only once the receiver took every byte.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SESSION_DEFAULTS } from '../../common/session/options.js';
import { BULK_CHUNK_BYTES } from '../../peer/bulk-record.js';
import type { BulkChunk } from '../../peer/chat/types.js';
import { useChatWorld } from '../support/chat-world.js';
import type { ChatPeer } from '../support/chat-world.js';

const world = useChatWorld();
const MIB = 1024 * 1024;

const sees = (a: ChatPeer, name: string) => (): boolean =>
  a.chat.peers().some((p) => p.name === name && p.state !== 'offline');

async function pair(): Promise<[ChatPeer, ChatPeer]> {
  await world.start();
  const alice = await world.peer('alice', 'a');
  const bob = await world.peer('bob', 'b', { storeRetryMs: 10 });
  await alice.until(sees(alice, 'bob'));
  await bob.until(sees(bob, 'alice'));
  await alice.chat.connect('bob');
  return [alice, bob];
}

/** 64 KiB pieces of a deterministic pattern, counting how far the sender has read. */
function source(total: number, read: { bytes: number }): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let o = 0; o < total; o += 64 * 1024) {
      const piece = new Uint8Array(Math.min(64 * 1024, total - o));
      for (let i = 0; i < piece.length; i++) piece[i] = (o + i) % 251;
      read.bytes += piece.length;
      yield piece;
    }
  })();
}

const patternHash = (total: number): string => {
  const h = createHash('sha256');
  const b = new Uint8Array(total);
  for (let i = 0; i < total; i++) b[i] = i % 251;
  return h.update(b).digest('hex');
};

describe('bulk path', () => {
  it('16 MiB arrive intact and in order; the sender reads ahead and the receiver holds unconsumed only within bounds; a chat line overtakes the backlog', async () => {
    const [alice, bob] = await pair();
    const total = 16 * MIB;
    const read = { bytes: 0 };
    const hash = createHash('sha256');
    let next = 0;
    let consumed = 0;
    let unconsumed = 0;
    let maxUnconsumed = 0;
    let maxReadAhead = 0;
    let chatAtBytes = -1;
    let last = 0;
    bob.chat.onBulk(async (r: BulkChunk) => {
      expect(r.offset).toBe(next);
      next += r.data.length;
      unconsumed += r.data.length;
      maxUnconsumed = Math.max(maxUnconsumed, unconsumed);
      maxReadAhead = Math.max(maxReadAhead, read.bytes - consumed);
      await new Promise((res) => setImmediate(res)); // a consumer that takes a turn per record
      hash.update(r.data);
      unconsumed -= r.data.length;
      consumed += r.data.length;
      if (r.last) last++;
    });
    bob.chat.on('message', () => (chatAtBytes = consumed));
    const done = alice.chat.sendBulk('bob', source(total, read));
    await bob.until(() => consumed >= 2 * MIB);
    const consumedAtSend = consumed;
    alice.chat.send({ kind: 'peer', peerId: alice.chat.resolvePeer('bob').id }, 'hello');
    const result = await done;
    expect(result.bytes).toBe(total);
    expect(consumed).toBe(total);
    expect(last).toBe(1);
    expect(hash.digest('hex')).toBe(patternHash(total));
    // The chat line overtook the backlog: only what was already in the stream went first, which
    // the peer's receive window bounds (plus the record under way), not the 4 MiB send buffer.
    expect(chatAtBytes - consumedAtSend).toBeLessThanOrEqual(
      SESSION_DEFAULTS.receiveWindowBytes + 2 * BULK_CHUNK_BYTES,
    );
    // Memory: the receiver held at most its receive window unconsumed; the sender read at most
    // its send buffer plus that window ahead of what the receiver consumed (plus a piece).
    expect(maxUnconsumed).toBeLessThanOrEqual(SESSION_DEFAULTS.receiveWindowBytes);
    expect(maxReadAhead).toBeLessThanOrEqual(
      SESSION_DEFAULTS.sendBufferBytes + SESSION_DEFAULTS.receiveWindowBytes + 64 * 1024 + BULK_CHUNK_BYTES,
    );
  }, 120_000);

  it('a sink that fails gets the record again, nothing lost or doubled; "done" waits for the last record taken', async () => {
    const [alice, bob] = await pair();
    const total = 1 * MIB;
    const hash = createHash('sha256');
    let failures = 0;
    let taken = 0;
    bob.chat.onBulk(async (r) => {
      if (r.offset === 256 * 1024 && failures < 3) {
        failures++;
        throw new Error('disk busy');
      }
      hash.update(r.data);
      taken += r.data.length;
    });
    const result = await alice.chat.sendBulk('bob', source(total, { bytes: 0 }));
    expect(failures).toBe(3);
    expect(result.bytes).toBe(total);
    expect(taken).toBe(total);
    expect(hash.digest('hex')).toBe(patternHash(total));
  });

  it('a peer that takes no bulk data answers "refused": the transfer fails instead of reporting bytes nobody kept', async () => {
    const [alice, bob] = await pair();
    void bob; // no onBulk: records are acknowledged and dropped
    await expect(alice.chat.sendBulk('bob', source(256 * 1024, { bytes: 0 }))).rejects.toMatchObject({
      code: 'CLOSED',
      message: expect.stringMatching(/takes no bulk data/),
    });
    // A transfer small enough that every record's receipt may come before the reply: "done"
    // waits for the reply, so it still fails.
    await expect(alice.chat.sendBulk('bob', new Uint8Array(10))).rejects.toMatchObject({ code: 'CLOSED' });
    // The session goes on: chat still flows.
    alice.chat.send({ kind: 'peer', peerId: alice.chat.resolvePeer('bob').id }, 'still here');
    await bob.until(() => bob.chatEvents.message.some((m) => m.text === 'still here'));
  });

  it('without an open session sendBulk rejects with CLOSED at once', async () => {
    await world.start();
    const alice = await world.peer('alice', 'a');
    const bob = await world.peer('bob', 'b');
    await alice.until(sees(alice, 'bob'));
    void bob;
    await expect(alice.chat.sendBulk('bob', new Uint8Array(10))).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
