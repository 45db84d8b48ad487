import type { MessageStream } from '../common/net/stream.js';
import { toHex } from '../common/wire/bytes.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { encodeRelayFrame } from '../common/wire/messages.js';
import type { IntroducedPairs } from './introduced.js';
import type { Registry } from './registry.js';
import type { PeerRateLimit } from './token-bucket.js';

/**
 * The relay's forwarding rules (docs/protocol.md, RELAY and RELAYED). A RELAY frame from a peer's stream
 * is forwarded as RELAYED to the target's stream, or dropped and counted; drops are silent to the
 * sender, because the session above retransmits. Checked in this order:
 *   1. unauthenticated - the connection has not registered (signed, fresh REGISTER) as a peer;
 *   2. too_big         - the payload is over --relay-max-frame;
 *   (rate_limited      - the peer's token buckets, charged for every message by stream-front.ts;)
 *   3. not_introduced  - the server has not introduced the two (or the pair expired);
 *   4. no_route        - the target has no live stream connection here;
 *   5. slow_consumer   - the target's queue (bufferedAmount) would go over --relay-queue-bytes.
 */
export type RelayDropReason =
  'unauthenticated' | 'too_big' | 'rate_limited' | 'not_introduced' | 'no_route' | 'slow_consumer';

export const RELAY_DROP_REASONS: readonly RelayDropReason[] = [
  'unauthenticated',
  'too_big',
  'rate_limited',
  'not_introduced',
  'no_route',
  'slow_consumer',
];

/** What the relay needs of a connection. */
export interface RelayConn {
  readonly id: number;
  readonly stream: MessageStream;
  /** The peer id (hex and bytes) this connection registered as, once it has. */
  peer: string | undefined;
  peerId: Uint8Array | undefined;
  readonly limit: PeerRateLimit;
}

export interface RelayContext {
  opts: { relayMaxFrame: number; relayQueueBytes: number };
  registry: Pick<Registry, 'get'>;
  introduced: IntroducedPairs;
  byPeer: ReadonlyMap<string, RelayConn>;
  now: number;
  stats: { framesRelayed: number; bytesRelayed: number; queueHighWater: number };
  /**
   * In a cluster: send a RELAYED frame to `node`, which holds `target` (docs/architecture.md,
   * Cluster); false when it cannot go (Redis down).
   */
  forward?: (node: string, target: string, frame: Uint8Array) => boolean;
}

/**
 * Forward one RELAY frame; returns why it was dropped, or undefined when it was sent. `frame` is
 * the whole received message (already decoded into `to` and `payload`, views into it): RELAY and
 * RELAYED share their layout, so the frame is turned into the RELAYED in place (type byte, then
 * the sender's id over the destination's) and sent on without an allocation or a copy.
 */
export function relayFrame(
  from: RelayConn,
  frame: Uint8Array,
  to: Uint8Array,
  payload: Uint8Array,
  c: RelayContext,
): RelayDropReason | undefined {
  const sender = from.peer;
  // The registry is the authority: a LEAVE or a newer connection takes the right away.
  if (!sender || !from.peerId || c.registry.get(sender)?.ws?.connection !== from.id) return 'unauthenticated';
  if (payload.byteLength > c.opts.relayMaxFrame) return 'too_big';
  const target = toHex(to);
  const pair = c.introduced.lookup(sender, target, c.now);
  if (!pair) return 'not_introduced';
  const conn = c.byPeer.get(target);
  const size = payload.byteLength + Limits.RELAY_HEADER_BYTES;
  const relayed = (): Uint8Array =>
    frame.byteLength === size && frame[1] === MsgType.RELAY
      ? rewriteInPlace(frame, from.peerId!)
      : encodeRelayFrame(MsgType.RELAYED, from.peerId!, payload);
  if (!conn || c.registry.get(target)?.ws?.connection !== conn.id) {
    // Held by another node: it applies the receiver's rules (no_route, slow_consumer) itself.
    const node = c.registry.get(target)?.node;
    if (node === undefined || !c.forward || !c.forward(node, target, relayed())) return 'no_route';
    c.introduced.relayed(pair, c.now);
    return undefined;
  }
  if (conn.stream.bufferedAmount + size > c.opts.relayQueueBytes) return 'slow_consumer';
  if (!deliverRelayed(conn, relayed(), payload.byteLength, c)) return 'no_route';
  c.introduced.relayed(pair, c.now);
  return undefined;
}

/** Send a RELAYED frame on the target's stream and count it; false when the stream refused it. */
function deliverRelayed(conn: RelayConn, out: Uint8Array, payloadBytes: number, c: RelayContext): boolean {
  if (!conn.stream.send(out)) return false;
  c.stats.framesRelayed++;
  c.stats.bytesRelayed += payloadBytes;
  const queued = conn.stream.bufferedAmount;
  if (queued > c.stats.queueHighWater) c.stats.queueHighWater = queued;
  return true;
}

/**
 * A RELAYED frame another node forwarded for `target` (docs/architecture.md, Cluster): the
 * receiver's rules again, here: the pair introduced on this node too, a live stream for the
 * target, the frame's size, room in its queue. Returns why it was dropped, or undefined.
 */
export function relayFromNode(
  target: string,
  frame: Uint8Array,
  c: RelayContext,
): RelayDropReason | undefined {
  if (frame.byteLength < Limits.RELAY_HEADER_BYTES || frame[1] !== MsgType.RELAYED) return 'no_route';
  const payloadBytes = frame.byteLength - Limits.RELAY_HEADER_BYTES;
  if (payloadBytes > c.opts.relayMaxFrame) return 'too_big';
  const pair = c.introduced.lookup(toHex(frame.subarray(2, 2 + Limits.ID_BYTES)), target, c.now);
  if (!pair) return 'not_introduced';
  const conn = c.byPeer.get(target);
  if (!conn || c.registry.get(target)?.ws?.connection !== conn.id) return 'no_route';
  if (conn.stream.bufferedAmount + frame.byteLength > c.opts.relayQueueBytes) return 'slow_consumer';
  if (!deliverRelayed(conn, frame, payloadBytes, c)) return 'no_route';
  c.introduced.relayed(pair, c.now);
  return undefined;
}

/** RELAY -> RELAYED: same version byte, length and payload; new type and peer id. */
function rewriteInPlace(frame: Uint8Array, senderId: Uint8Array): Uint8Array {
  frame[1] = MsgType.RELAYED;
  frame.set(senderId, 2);
  return frame;
}
