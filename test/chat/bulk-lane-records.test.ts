/**
 * The sender's records (peer/bulk-lane.ts): every record of a transfer is encoded into the one
 * buffer the transfer owns (Session.send copies what it is given), so a transfer allocates no
 * record per send; what the session was handed decodes to the source's bytes, in order.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../common/clock.js';
import type { Session } from '../../common/session/session.js';
import { BulkLane } from '../../peer/bulk-lane.js';
import { BULK_CHUNK_BYTES, decodeBulk } from '../../peer/bulk-record.js';

/** A session that takes every message, copies it as Session.send does, and remembers whose buffer it was. */
function fakeSession(): {
  session: Session;
  copies: Uint8Array[];
  buffers: Set<ArrayBufferLike>;
  deliver(): void;
} {
  const copies: Uint8Array[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const delivered: ((e: { id: number }) => void)[] = [];
  let sid = 0;
  const session = {
    state: 'open',
    send(data: Uint8Array): number {
      copies.push(new Uint8Array(data));
      buffers.add(data.buffer);
      return ++sid;
    },
    on(name: string, f: (e: { id: number }) => void): () => void {
      if (name === 'delivered') delivered.push(f);
      return () => {};
    },
  } as unknown as Session;
  const deliver = (): void => {
    for (let id = 1; id <= sid; id++) for (const f of delivered) f({ id });
  };
  return { session, copies, buffers, deliver };
}

describe('bulk lane records', () => {
  it('encodes every record of a transfer into one buffer, and the session gets the source bytes in order', async () => {
    const fake = fakeSession();
    const lane = new BulkLane(new VirtualClock(), () => fake.session);
    const total = 5 * BULK_CHUNK_BYTES + 1000;
    const src = new Uint8Array(total);
    for (let i = 0; i < total; i++) src[i] = i % 251;
    const sending = lane.send('t1', src);
    // Every record is handed over synchronously here (the fake never refuses); then the receipts
    // and the receiver's `done` complete the transfer.
    await new Promise((r) => setImmediate(r));
    fake.deliver();
    lane.reply({ transfer: 't1', offset: total, last: false, data: new Uint8Array(0), reply: 'done' });
    expect((await sending).bytes).toBe(total);

    expect(fake.copies).toHaveLength(7); // 6 pieces and the empty last record
    expect(fake.buffers.size).toBe(1);
    const got = new Uint8Array(total);
    let at = 0;
    for (const c of fake.copies) {
      const r = decodeBulk(c);
      expect(r.offset).toBe(at);
      got.set(r.data, at);
      at += r.data.length;
      expect(r.last).toBe(at === total && r.data.length === 0);
    }
    expect(at).toBe(total);
    expect(Buffer.compare(got, src)).toBe(0);
  });
});
