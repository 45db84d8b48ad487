import { type PathId, pathKey } from '../path/path-id.js';

/**
 * Where a session sends: a direct UDP endpoint, a relay tunnel, anything that carries datagrams.
 * The owner builds one per source address for receive(), so the session can answer a
 * PATH_CHALLENGE on the path it came from.
 */
export interface SessionPath {
  /** Which path this is: events carry it, and paths with the same pathKey are the same path. */
  readonly id: PathId;
  send(datagram: Uint8Array): void;
  /**
   * Packets on this path come from the introduced peer and nobody else: the relay, whose server
   * delivers a frame only from the connection that proved that peer's registered key. A handshake
   * message proving another static key on such a path ends the session at once (KEY_MISMATCH);
   * on any other path its source is unverified and it is counted (dropped.keyMismatch) and dropped.
   */
  readonly vouched?: boolean;
  /**
   * A path whose carrier polices its rate (the relay: the server drops what goes over its per-peer
   * token buckets): ms until a datagram of `bytes` may go without being dropped for that, 0 now;
   * a hair short counts as now, so that a timer set for the exact wait finds the packet allowed.
   * Stream data waits for it (packet-sender.ts), in the send buffer; absent: not limited.
   */
  wait?(bytes: number): number;
}

/** Two session paths are the same path when their ids have the same pathKey. */
export const samePath = (a: SessionPath, b: SessionPath): boolean =>
  a === b || a.id === b.id || pathKey(a.id) === pathKey(b.id);
