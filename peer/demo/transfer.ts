/**
 * `punchline demo --transfer`: alice sends bob seeded bytes over the bulk path file transfers
 * ride (PeerNode.sendBulk and setBulkReceiver; peer/chat/files.ts uses the same two), while the
 * story goes on. bob hashes what arrives in order and checks each record starts where the last
 * one ended, and counts the bytes by the path his session is on as each record arrives.
 */
import { createHash } from 'node:crypto';
import { BULK_CHUNK_BYTES } from '../bulk-record.js';
import type { PeerNode } from '../peer-node.js';
import type { DemoEvent, TransferFigures, Who } from './events.js';
import { seededBytes } from './seeded.js';

/** The transfer's id on the wire (peer/bulk-record.ts: [A-Za-z0-9_-]). */
const TRANSFER_ID = 'demo-transfer';
/** Progress is told as bob passes each of these shares. */
const MARKS = [25, 50, 75] as const;

export interface TransferWorld {
  seed: number;
  kib: number;
  sender: { who: Who; node: PeerNode };
  receiver: { who: Who; node: PeerNode };
  /** The path each side's session is on now ('relay' or 'direct'). */
  senderPath: () => string;
  receiverPath: () => string;
  now: () => number;
  emit: (e: DemoEvent) => void;
}

export interface TransferRun {
  /** Bytes bob has taken so far. */
  readonly received: () => number;
  /** The transfer finished or failed (its transfer-end event is out). */
  readonly over: () => boolean;
  /** Its figures now: call after `over`, or to report one the demo's time cut short. */
  readonly end: (failed?: string) => TransferFigures;
}

/**
 * The payload, a chunk at a time, from a stream of its own seeded by `--seed` (seeded.ts): one
 * seed, one payload, no disk, and the draws the rest of the story makes stay as without --transfer.
 */
async function* payload(
  seed: number,
  total: number,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Uint8Array> {
  const draw = seededBytes(`punchline-demo/${seed}/transfer`);
  for (let sent = 0; sent < total;) {
    const piece = draw(Math.min(BULK_CHUNK_BYTES, total - sent));
    hash.update(piece);
    sent += piece.length;
    yield piece;
  }
}

/** Start the transfer now, on the session the sender has open; it runs on as the clock runs. */
export function startTransfer(w: TransferWorld): TransferRun {
  const total = w.kib * 1024;
  const senderHash = createHash('sha256');
  const receiverHash = createHash('sha256');
  const st = { received: 0, relay: 0, direct: 0, contiguous: true, marks: 0, over: false };
  let senderSha: string | undefined;
  let ms: number | undefined;
  const from = w.sender.who;
  const to = w.receiver.who;

  w.receiver.node.setBulkReceiver((r) => {
    if (r.transfer !== TRANSFER_ID || st.over) return Promise.resolve('refused');
    // Records come in stream order, once each: any other offset is a byte lost or doubled.
    if (r.offset !== st.received) st.contiguous = false;
    receiverHash.update(r.data);
    st.received += r.data.length;
    if (w.receiverPath() === 'direct') st.direct += r.data.length;
    else st.relay += r.data.length;
    while (st.marks < MARKS.length && st.received * 100 >= total * MARKS[st.marks]!) {
      const percent = MARKS[st.marks++]!;
      w.emit({
        t: w.now(),
        type: 'transfer-progress',
        peer: to,
        from,
        percent,
        bytes: st.received,
        total,
        path: w.receiverPath(),
      });
    }
    return Promise.resolve();
  });

  let final: TransferFigures | undefined;
  const end = (failed?: string): TransferFigures => (final ??= finish(failed));
  const finish = (failed?: string): TransferFigures => {
    st.over = true;
    const sha256 = receiverHash.digest('hex');
    const figures: TransferFigures = {
      total,
      bytes: st.received,
      relayBytes: st.relay,
      directBytes: st.direct,
      ...(ms !== undefined && ms > 0 ? { ms, kibPerSecond: Math.round(total / 1024 / (ms / 1000)) } : {}),
      contiguous: st.contiguous,
      matches: failed === undefined && st.contiguous && st.received === total && sha256 === senderSha,
      ...(failed !== undefined ? { failed } : {}),
    };
    w.emit({
      t: w.now(),
      type: 'transfer-end',
      peer: from,
      to,
      sha256,
      ...(senderSha !== undefined ? { senderSha256: senderSha } : {}),
      ...figures,
    });
    return figures;
  };

  w.emit({
    t: w.now(),
    type: 'transfer-start',
    peer: from,
    to,
    id: TRANSFER_ID,
    bytes: total,
    path: w.senderPath(),
  });
  w.sender.node
    .sendBulk(to, payload(w.seed, total, senderHash), TRANSFER_ID)
    .then((res) => {
      senderSha = senderHash.digest('hex');
      ms = Math.round(res.ms * 10) / 10;
      end();
    })
    .catch((e: unknown) => end(e instanceof Error ? e.message : String(e)));
  return { received: () => st.received, over: () => st.over, end };
}
