import type { ErrorCode } from '../common/errors.js';
import type { SessionStats } from '../common/session/stats.js';
import type { PathKind } from './peer-link.js';
import type { PunchResult, PunchTrace } from './puncher.js';
import type { SearchTrace } from './port-search.js';
import type { ServerState } from './rendezvous-client.js';
import type { BulkRecord } from './bulk-record.js';

/**
 * What a PeerNode tells its owner, typed. In every event about another peer `peer` is the name it
 * goes by and `peerId` its id (hex); `messageId` is always a message's id. The JSON-lines mode
 * prints these under the names docs/cli.md gives (peer/cli/json-events.ts).
 */

export type PeerState = 'online' | 'connecting' | 'direct' | 'relay' | 'offline';

/** What a session's peer showed: the name it is addressed by, its id and public keys (hex). */
export interface PeerKeysSeen {
  name: string;
  id: string;
  signKey: string;
  dhKey: string;
}

/**
 * Asked before the first message goes into each session (PeerLink mayHandOver): true lets the
 * messages go, false holds them in the link until release(). The chat layer's trust pins.
 */
export type TrustGate = (peer: PeerKeysSeen) => boolean;

/** Who a name or id refers to (PeerNode.lookup): its keys when an introduction showed them. */
export interface PeerIdentity {
  id: string;
  name: string;
  fingerprint: string;
  keys: { signKey: string; dhKey: string } | undefined;
}

/** One row of PeerNode.peerList(). */
export interface PeerInfo {
  id: string;
  name: string;
  state: PeerState;
  remote?: string;
  pending?: number;
}

/**
 * One peer's figures as measured (PeerNode.peerStats): unrounded, for the caller to present.
 * `rttMs` and `minRttMs` are there once a round trip was measured (before that the estimator
 * holds RFC 9002's 333 ms guess, which is not a measurement).
 */
export interface PeerFigures {
  peer: string;
  peerId: string;
  fingerprint: string;
  state: PeerState;
  path?: PathKind;
  remote?: string;
  session?: SessionFigures;
  pending: number;
  punch?: PunchResult;
}

export type SessionFigures = Pick<
  SessionStats,
  'loss' | 'cwnd' | 'bytesInFlight' | 'retransmits' | 'packetsSent' | 'packetsReceived'
> & { rttMs?: number; minRttMs?: number };

/** A bulk record from a peer (peer/bulk-record.ts), for PeerNode.setBulkReceiver. */
export interface IncomingBulk extends BulkRecord {
  readonly peer: string;
  readonly peerId: string;
}

/** Why the client moved to another server. */
export type ServerChangeReason = 'unanswered' | 'draining';

export interface PeerEvents extends Record<string, unknown> {
  /** `transport`: udp (public = your NAT's UDP mapping) or ws (the relay's WebSocket: public = your TCP source). */
  registered: { selfId: string; public: string; transport: 'udp' | 'ws' };
  /** The server's key was seen for the first time and is now pinned (trust on first use). */
  'server-key': { fingerprint: string; server?: string };
  presence: { peers: { id: string; name: string }[] };
  /**
   * The session is open; `path` is the path its first message takes. `fingerprint` is the id's
   * (common/identity/identity.ts fingerprint), `signKey` and `dhKey` the peer's public keys (hex) the
   * handshake proved (dhKey) and the id vouches for (both hash to it).
   */
  connected: {
    peer: string;
    peerId: string;
    path: PathKind;
    remote: string;
    ms: number;
    fingerprint: string;
    signKey: string;
    dhKey: string;
  };
  /** The session moved: upgraded to direct, fell back to the relay, or followed a rebinding. */
  path: { peer: string; peerId: string; path: PathKind; remote: string };
  /** A message from `peer`. */
  message: {
    peer: string;
    peerId: string;
    messageId: string;
    text: string;
    ts: number;
    room: boolean;
    action?: boolean;
  };
  sent: { peer: string; peerId: string; messageId: string };
  delivered: { peer: string; peerId: string; messageId: string };
  disconnected: { peer: string; peerId: string; reason: 'timeout' | 'closed' | 'error' };
  /** `peer`: the name of the peer the error is about, when it is about one. */
  error: { code: ErrorCode; message: string; peer?: string };
  server: { state: ServerState };
  /**
   * The client left a server for the next in its list (`--server A,B`, peer/server-failover.ts);
   * both by the name given (HOST:PORT). `reason`: `unanswered` (it stopped answering) or
   * `draining` (it said GOING_AWAY: it is going down for maintenance).
   */
  'server-changed': { server: string; previous: string; reason: ServerChangeReason };
  /** The server closed the relay stream; `reason` as the stream reports it (the close frame's text). */
  'server-closed': { reason: string };
  /** Every step of hole punching and of a port search, for narration (`punchline demo`) and debugging. */
  trace: { peer: string } & (PunchTrace | SearchTrace);
}

/** How a PeerNode's parts raise its events. */
export type EmitPeerEvent = <K extends keyof PeerEvents>(name: K, event: PeerEvents[K]) => void;
