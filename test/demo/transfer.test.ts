/**
 * The demo's --transfer checks (peer/demo/transfer.ts) against a link that misbehaves: bob's
 * receiver must notice a record doubled or lost, not only count bytes. Fake nodes stand in for
 * PeerNode's sendBulk and setBulkReceiver; the real path is in test/demo/demo.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { PeerNode } from '../../peer/peer-node.js';
import type { IncomingBulk } from '../../peer/peer-events.js';
import type { DemoEvent } from '../../peer/demo/events.js';
import { startTransfer } from '../../peer/demo/transfer.js';

type Sink = (r: IncomingBulk) => Promise<void | 'refused'>;

/** A link that hands bob the records with `tamper` applied to their list. */
function run(tamper: (records: IncomingBulk[]) => IncomingBulk[]): Promise<DemoEvent[]> {
  let sink: Sink | undefined;
  const receiver = { setBulkReceiver: (s: Sink) => (sink = s) } as unknown as PeerNode;
  const sender = {
    sendBulk: async (_to: string, source: AsyncIterable<Uint8Array>, id: string) => {
      const records: IncomingBulk[] = [];
      let offset = 0;
      for await (const data of source) {
        records.push({ transfer: id, offset, last: false, data, peer: 'alice', peerId: 'a' });
        offset += data.length;
      }
      const last = { transfer: id, offset, last: true, data: new Uint8Array(0), peer: 'alice', peerId: 'a' };
      for (const r of [...tamper(records), last]) await sink!(r);
      return { bytes: offset, ms: 100 };
    },
  } as unknown as PeerNode;
  const events: DemoEvent[] = [];
  const t = startTransfer({
    seed: 1,
    kib: 128,
    sender: { who: 'alice', node: sender },
    receiver: { who: 'bob', node: receiver },
    senderPath: () => 'direct',
    receiverPath: () => 'direct',
    now: () => 0,
    emit: (e) => events.push(e),
  });
  return (async () => {
    for (let i = 0; i < 1000 && !t.over(); i++) await Promise.resolve();
    return events;
  })();
}

const endOf = (events: DemoEvent[]) => events.find((e) => e.type === 'transfer-end')!;

describe('demo --transfer: bob checks what arrives', () => {
  it('every record once, in order: the hashes match', async () => {
    expect(endOf(await run((r) => r))).toMatchObject({ bytes: 131072, contiguous: true, matches: true });
  });

  it('a record doubled: the offsets give it away and the hashes differ', async () => {
    const end = endOf(await run((r) => [r[0]!, ...r]));
    expect(end).toMatchObject({ contiguous: false, matches: false });
  });

  it('a record lost: not contiguous, not a match', async () => {
    const end = endOf(await run((r) => [r[0]!, ...r.slice(2)]));
    expect(end).toMatchObject({ contiguous: false, matches: false });
  });
});
