import type { Clock } from '../common/clock.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import type { StreamNetwork } from '../common/net/stream.js';
import type { Endpoint, Network } from '../common/net/types.js';
import type { PathMode } from './peer-link.js';
import type { PunchOptions } from './puncher.js';

/** How a PeerNode is set up (options) and what it runs on (components). */

/**
 * One rendezvous server a client may use: its UDP endpoint, its relay, its pinned key, and the
 * name its key is pinned under in servers.json (peer/known-servers.ts), HOST:PORT as given (peer/server-failover.ts uses them in turn).
 */
export interface ServerTarget {
  server: Endpoint;
  relayUrl?: string;
  fingerprint?: string;
  name: string;
}

export interface PeerOptions {
  server: Endpoint;
  name: string;
  room?: string;
  /** Local UDP port (0 = any). */
  port?: number;
  /** Local address to bind (default all interfaces); when set it is also the only LAN candidate. */
  bind?: string;
  /**
   * Keepalive towards the server. 15 s: no more often than RFC 8445 §11 and RFC 8085 §3.5
   * allow, and inside the ~30 s many NATs keep an idle UDP mapping. (Direct paths are kept open
   * by the session's own 5 s heartbeat.)
   */
  keepaliveMs?: number;
  punch?: Partial<PunchOptions>;
  /**
   * auto: relay at once, direct as soon as punching finds a path (the default); relay-only:
   * never punch; direct-only: never relay (UDP only: no TCP connection to the server).
   */
  mode?: PathMode;
  /** The relay's WebSocket URL (ws:// or wss://); without it (or without `streams`) there is no relay. */
  relayUrl?: string;
  /**
   * The server key's fingerprint (peer/server-pin.ts), when known: from `--server HOST:PORT#FP` or
   * servers.json. Without it the first key seen is pinned and reported in a `server-key` event.
   */
  serverFingerprint?: string;
  /**
   * Several rendezvous servers (`--server A,B`): when given, these are used instead of `server`,
   * `relayUrl` and `serverFingerprint`, one at a time in this order (peer/server-failover.ts).
   */
  servers?: ServerTarget[];
  /** How long the server in use may not work before the next is tried (default FAILOVER_MS, 10 s). */
  failoverMs?: number;
}

export const PEER_DEFAULTS = {
  room: 'lobby',
  port: 0,
  keepaliveMs: 15_000,
  mode: 'auto' as PathMode,
} as const;

export interface PeerComponents {
  network: Network;
  /** The stream seam for the relay (ws in production, the simulator in tests). */
  streams?: StreamNetwork;
  clock: Clock;
  identity: Identity;
  logger?: Logger;
  randomBytes?: (n: number) => Uint8Array;
  /** Message ids (default nanoid). */
  newId?: () => string;
}
