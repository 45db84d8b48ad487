import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Network } from '../common/net/types.js';
import type { StreamNetwork } from '../common/net/stream.js';
import type { KeyPair } from '../common/crypto/x25519.js';
import type { ClusterConfig } from './cluster/cluster.js';
import type { Registry } from './registry.js';

/** What an operator sets (`punchline rendezvous` flags, main.ts) and what tests swap (components). */
export interface RendezvousOptions {
  host?: string;
  port?: number;
  /**
   * A second UDP socket on this port (same host) that answers STUN Binding requests and nothing
   * else, so clients can test their NAT in the manner of RFC 5780 (`punchline nat-check`): both
   * sockets honour CHANGE-REQUEST "change port" by answering from the other one (see
   * `answerStunRequest` for "change IP", and why OTHER-ADDRESS is not sent).
   * undefined (the default): the UDP port + 1, skipped with a warning if that cannot be bound;
   * 0: off; any other number: that port, and failing to bind it fails start().
   */
  altPort?: number;
  /**
   * How often peers should refresh their registration (and so their NAT mapping). 15 s: the
   * floor RFC 8445 §11 and RFC 8085 §3.5 set for keepalives, and well inside the ~30 s after
   * which many real NATs drop idle UDP mappings.
   */
  keepaliveMs?: number;
  /** A registration expires after this long without a keepalive: three missed ones plus slack. */
  expiryMs?: number;
  /**
   * Members per room (1000). What one join costs grows with it: the joiner's full list is
   * ceil(n / 23) datagrams (44 at 1000). At most 5865 (255 parts of 23: `parts` is one byte).
   */
  maxRoomMembers?: number;
  // ---- server cost bounds (docs/security.md "Server cost bounds") ----
  /**
   * REGISTERs per second per source (an IPv4 address, an IPv6 /64: rate-keys.ts sourceKey), taken
   * after the cookie check (so the source is proven: nobody can spend another address's tokens)
   * and before the signature check and the DH, ~240 us of CPU together. 10/s with a burst of 40:
   * a NAT'd office restarting 40 peers at once registers at once; one source cannot make the
   * server spend more than 10 x 240 us = 2.4 ms of CPU per second on it.
   */
  registerRate?: number;
  registerBurst?: number;
  /** Peer ids registered from one source, UDP and WebSocket together (32: an office behind one NAT). */
  maxIdsPerIp?: number;
  /**
   * New CONNECTs (introductions) per second per member, burst: each makes the server send two
   * INTRODUCEs (and retransmit the target's until acknowledged). 2/s, 20: opening a chat with
   * twenty peers at once, then one new peer every half second.
   */
  connectRate?: number;
  connectBurst?: number;
  /**
   * Rate-limit buckets kept per kind (sources for REGISTER, members for CONNECT); past it the least
   * recently used is forgotten. 65536 buckets ~ 10 MB: a flood from many addresses costs a bounded
   * amount of memory.
   */
  maxRateKeys?: number;
  /** A room's changes go out as one PRESENCE_DELTA at most this often once its burst is spent (ms). */
  presenceIntervalMs?: number;
  /** PRESENCE_DELTAs a room may send back to back (a quiet room's changes leave at once). */
  presenceBurst?: number;
  /** A member that asks for the full list again (a gap) gets it at most this often (ms). */
  presenceResyncMs?: number;
  /** Full list to every member on every change: the old fan-out, for comparisons only (no flag). */
  presenceFullLists?: boolean;
  /** The target's INTRODUCE is retransmitted until acknowledged: first after this, then doubling. */
  introRetryMs?: number;
  introRetries?: number;

  // ---- the stream (WebSocket) side: relay and fallback signalling (docs/self-hosting.md) ----
  /**
   * Largest RELAY payload relayed, bytes. 1400: a full-size session packet (1200, MAX_DATAGRAM)
   * with room to spare, under a 1500-byte Ethernet MTU; larger frames are dropped ('too_big').
   */
  relayMaxFrame?: number;
  /**
   * Per-peer relay rate, bytes/s: 1 MiB/s (8 Mbit/s) carries chat and a trickle of files while
   * one abusive peer can take only that share of the server. Every message on the stream counts.
   */
  relayRateBytes?: number;
  /** Bucket depth, bytes: 2 s at the full rate, so a burst (history sync) is not cut short. */
  relayBurstBytes?: number;
  /**
   * Per-peer messages/s: 2000 (~ one 1 MiB/s stream of 512-byte packets plus its ACKs), which
   * bounds the per-message cost (parsing, lookups) an abuser can make the server spend.
   */
  relayRateFrames?: number;
  relayBurstFrames?: number;
  /**
   * Cap on a receiver's outbound queue (WebSocket bufferedAmount), bytes. A frame that would go
   * over it is dropped ('slow_consumer'); the session above retransmits. 64 KiB ~ 46 full frames,
   * close to DERP's 32-packet queue per client.
   */
  relayQueueBytes?: number;
  /** An introduced pair may relay for this long after its introduction or its last relayed frame. */
  relayPairTtlMs?: number;
  /** Partners remembered per peer (the least recently used is forgotten first). */
  relayMaxPairs?: number;
  /** Open stream connections per source IP (a NAT'd office shares one IP; 16 leaves it room). */
  maxConnsPerIp?: number;
  /** Open stream connections in total; keep it below the process's file-descriptor limit. */
  maxConnections?: number;
  /**
   * Largest WebSocket message accepted, bytes (ws maxPayload); a larger one closes the connection
   * (1009). 4096 covers a maximal RELAY (1400 + 20) and every signalling message (<= 1200).
   */
  maxMessageBytes?: number;
  /** WebSocket ping interval; a connection with no pong by the next ping is dead. 0 = off. */
  pingMs?: number;
  /** A connection that has not registered (HELLO, COOKIE, REGISTER) within this is closed. */
  authTimeoutMs?: number;
  /** A TCP connection not upgraded to a WebSocket within this is destroyed (it counts until then). */
  upgradeTimeoutMs?: number;
  /** A closing WebSocket whose client has not finished the closing handshake within this is destroyed. */
  closeTimeoutMs?: number;
  /** Serve https/wss with this PEM certificate chain and key. */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
}

export interface RendezvousComponents {
  network: Network;
  /** When given, the server also listens on TCP (same port number as UDP): WebSocket, /healthz, /metrics. */
  streamNetwork?: StreamNetwork;
  clock: Clock;
  logger?: Logger;
  registry?: Registry;
  randomBytes?: (n: number) => Uint8Array;
  /**
   * The server's long-term X25519 key (rendezvous/server-key.ts keeps it on disk). Peers pin it;
   * every registration's message keys derive from it. Default: a fresh one from `randomBytes`.
   */
  serverKey?: KeyPair;
  /** A node of a cluster sharing one Redis (docs/architecture.md, Cluster); none: a single node. */
  cluster?: ClusterConfig;
}

export const RENDEZVOUS_DEFAULTS = {
  host: '0.0.0.0',
  port: 7000,
  keepaliveMs: 15_000,
  expiryMs: 50_000,
  maxRoomMembers: 1000,
  introRetryMs: 250,
  introRetries: 4,
  registerRate: 10,
  registerBurst: 40,
  maxIdsPerIp: 32,
  connectRate: 2,
  connectBurst: 20,
  maxRateKeys: 65_536,
  presenceIntervalMs: 250,
  presenceBurst: 4,
  presenceResyncMs: 2000,
  presenceFullLists: false,
  relayMaxFrame: 1400,
  relayRateBytes: 1_048_576,
  relayBurstBytes: 2_097_152,
  relayRateFrames: 2000,
  relayBurstFrames: 4000,
  relayQueueBytes: 65_536,
  relayPairTtlMs: 600_000,
  relayMaxPairs: 256,
  maxConnsPerIp: 16,
  maxConnections: 20_000,
  maxMessageBytes: 4096,
  pingMs: 30_000,
  authTimeoutMs: 10_000,
  upgradeTimeoutMs: 10_000,
  closeTimeoutMs: 2_000,
} as const;

export type ResolvedOptions = Required<Omit<RendezvousOptions, 'tls' | 'altPort'>> &
  Pick<RendezvousOptions, 'tls' | 'altPort'>;
