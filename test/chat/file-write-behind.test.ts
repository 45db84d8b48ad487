/**
 * The receiver's write-behind (peer/chat/file-write-behind.ts) against a model disk whose writes
 * and fsyncs finish when the test says, in a seeded random order: a crash at any moment keeps only
 * what an fsync covered (data whose write completed before the fsync was called), and the offset
 * reported synced (what files.json resumes from) must always be within that; records are gathered
 * into writes of the flush size; memory never holds more than two flush buffers.
 */
import { describe, expect, it } from 'vitest';
import type { FileHandle } from '../../peer/chat/file-store.js';
import { WriteBehind } from '../../peer/chat/file-write-behind.js';
import { seeded, seededRandom } from '../support/random.js';

/** A file whose operations wait in `pending` until the test finishes them. */
class ModelDisk implements FileHandle {
  /** Bytes written (page cache): lost in a crash unless synced. */
  readonly cache: Uint8Array;
  /** What survives a crash. */
  durable = new Uint8Array(0);
  /** Bytes whose write completed (writes are sequential here: one at a time). */
  completed = 0;
  readonly writes: number[] = [];
  readonly pending: (() => void)[] = [];
  syncs = 0;

  constructor(size: number) {
    this.cache = new Uint8Array(size);
  }

  write(
    buf: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesWritten: number }> {
    this.writes.push(length);
    const copy = buf.slice(offset, offset + length); // the caller may not touch it before we finish, but check
    return new Promise((resolve) =>
      this.pending.push(() => {
        if (!Buffer.from(buf.subarray(offset, offset + length)).equals(copy))
          throw new Error('buffer reused mid-write');
        this.cache.set(copy, position);
        this.completed = Math.max(this.completed, position + length);
        resolve({ bytesWritten: length });
      }),
    );
  }

  sync(): Promise<void> {
    this.syncs++;
    // fsync(2) covers the writes completed when it is called; later ones may or may not be on
    // disk when it returns: the model keeps the worst case (not).
    const covered = this.cache.slice(0, this.completed);
    return new Promise((resolve) =>
      this.pending.push(() => {
        if (covered.length > this.durable.length) this.durable = covered;
        resolve();
      }),
    );
  }

  read(): Promise<{ bytesRead: number }> {
    throw new Error('not used');
  }
  truncate(): Promise<void> {
    throw new Error('not used');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WriteBehind', () => {
  for (const seed of [1, 2, 3, 4, 5])
    it(`seed ${seed}: a crash at any moment keeps every byte the synced offset claims; writes are gathered; at most two buffers`, async () => {
      const FLUSH = 4096;
      const SYNC = 3 * FLUSH;
      const total = 40 * FLUSH + 1234;
      const data = seededRandom(seed)(total);
      const rnd = seeded(seed);
      const disk = new ModelDisk(total);
      const claimed: number[] = [];
      const overclaims: string[] = [];
      const w = new WriteBehind(disk, 0, {
        flushBytes: FLUSH,
        syncEveryBytes: SYNC,
        onSynced: (offset) => {
          // The moment files.json may say `offset`: a crash now must still have those bytes.
          if (disk.durable.length < offset)
            overclaims.push(`${offset} claimed, ${disk.durable.length} durable`);
          claimed.push(offset);
        },
      });
      let finished = false;
      const run = (async () => {
        for (let at = 0; at < total;) {
          const n = Math.min(total - at, 1 + Math.floor(rnd() * 1500)); // records of 1-1500 bytes
          await w.put(data.subarray(at, at + n));
          at += n;
        }
        const end = await w.sync();
        finished = true;
        return end;
      })();
      run.catch(() => (finished = true)); // a failure ends the loop; `await run` below reports it
      let turns = 0;
      while (!finished) {
        if (++turns > 20000)
          throw new Error(
            `stuck: taken ${w.taken}, completed ${disk.completed}, pending ${disk.pending.length}`,
          );
        await turn();
        // Finish one pending operation, or none this turn (so writes pile up behind a slow sync).
        if (disk.pending.length > 0 && rnd() < 0.7)
          disk.pending.splice(Math.floor(rnd() * disk.pending.length), 1)[0]!();
        // Bounded memory: taken but not yet written is at most two buffers.
        expect(w.taken - disk.completed).toBeLessThanOrEqual(2 * FLUSH);
        // A crash now: whatever was claimed synced is on disk, byte for byte.
        const last = claimed.at(-1) ?? 0;
        expect(Buffer.from(disk.durable.subarray(0, last)).equals(data.subarray(0, last))).toBe(true);
      }
      expect(overclaims).toEqual([]);
      expect(await run).toBe(total);
      expect(Buffer.from(disk.durable).equals(data)).toBe(true);
      // Records of up to 1500 bytes went to disk in writes of FLUSH bytes (the last one shorter).
      expect(disk.writes.slice(0, -1).every((n) => n === FLUSH)).toBe(true);
      expect(disk.writes).toHaveLength(Math.ceil(total / FLUSH));
      // Synced in the background along the way, not only at the end.
      expect(claimed.length).toBeGreaterThan(1);
      expect(claimed).toEqual([...claimed].sort((a, b) => a - b));
    });

  it('a failed write is thrown by the next put and by sync; the synced offset never passes it', async () => {
    const disk = new ModelDisk(10 * 4096);
    let n = 0;
    const failing: FileHandle = {
      read: () => disk.read(),
      truncate: () => disk.truncate(),
      close: () => disk.close(),
      write: (buf, offset, length, position) => {
        if (++n === 3) return Promise.reject(Object.assign(new Error('ENOSPC: full'), { code: 'ENOSPC' }));
        const p = disk.write(buf, offset, length, position);
        disk.pending.shift()!();
        return p;
      },
      sync: () => {
        const p = disk.sync();
        disk.pending.shift()!();
        return p;
      },
    };
    const claimed: number[] = [];
    const w = new WriteBehind(failing, 0, {
      flushBytes: 4096,
      syncEveryBytes: 4096,
      onSynced: (o) => claimed.push(o),
    });
    const rec = new Uint8Array(1024).fill(1);
    let err: unknown;
    try {
      for (let i = 0; i < 40; i++) await w.put(rec);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ENOSPC' });
    await expect(w.sync()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(Math.max(0, ...claimed)).toBeLessThanOrEqual(2 * 4096);
    await w.settle();
  });
});
