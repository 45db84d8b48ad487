/**
 * What happens in a demo run, as plain data: the simulated scenario (scenario.ts) and the
 * real-NAT run (real.ts) emit these in order, the one narrator (narrator.ts) turns them into
 * sentences and `--json` prints them one per line. Times `t` are milliseconds since the demo
 * started: simulated time, or real time with --real.
 */
import type { CandidateKind } from '../../common/path/candidates.js';
import type { DropReason } from '../../common/net/sim/stats.js';
import type { NatKind } from './nat-kinds.js';
import type { SearchTrace } from '../port-search.js';

export type Who = 'alice' | 'bob';
export const PEERS: readonly Who[] = ['alice', 'bob'];
export const other = (p: Who): Who => (p === 'alice' ? 'bob' : 'alice');

/** alice's one message to bob, in the simulated run and with --real. */
export const MESSAGE_TEXT = 'hello bob, this is alice';

/** One side of the topology: a peer, its LAN address, and the router in front of it (if any). */
export interface Side {
  peer: Who;
  nat: NatKind;
  /** "EIM/APDF" etc. (natLabel), or "no NAT". */
  natLabel: string;
  /** The peer's own address and port, e.g. 10.1.0.2:44752 (its public address when nat is none). */
  local: string;
  /** The home network, e.g. 10.1.0.0/24 (undefined without a NAT). */
  lan?: string;
  /** The router's public address (undefined without a NAT). */
  routerPublic?: string;
  /** One-way delay (ms) and loss of the link between this side and the internet. */
  delayMs: number;
  loss: number;
  /** Text for the link instead of delay and loss (the --real demo: no added delay). */
  link?: string;
}

export interface Topology {
  rendezvous: string;
  rendezvousDelayMs: number;
  /** Text for the rendezvous' link instead of its delay (the --real demo). */
  rendezvousLink?: string;
  alice: Side;
  bob: Side;
}

export interface Outcome {
  /** How alice and bob ended up talking. */
  path: 'direct' | 'relay' | 'none';
  /** Where alice sends to reach bob (direct: bob's endpoint). */
  remote?: string;
  /** Candidate kind of the direct path (public, lan, peer-reflexive). */
  kind?: CandidateKind;
  /** From the introduction to a working direct path, on each side that found one, ms. */
  punchMs?: Partial<Record<Who, number>>;
  /** From the introduction to the open encrypted session (alice's side), ms. */
  sessionMs?: number;
  probes: Record<Who, number>;
  /** --real: probes from the other side that got through each peer's router. */
  probesIn?: Record<Who, number>;
  /** Probes and answers the routers refused (no mapping, or filtered). */
  refused: number;
  /** Packets the links lost (--loss). */
  lost: number;
  /** Message out to receipt back, ms (undefined when it was not delivered). */
  rttMs?: number;
  /** --real: the session's smoothed round trip, as it measured it. */
  sessionRttMs?: number;
  delivered: boolean;
  /**
   * The port search, when one ran (peer/port-search.ts): sockets the hard side opened, PORT_PROBEs
   * the easy side sent, and when the first side to notice saw the hit (ms after the search began).
   */
  search?: { sockets: number; portProbes: number; found: boolean; hitMs?: number };
  /** The session opened on the relay before it moved to the direct path. */
  relayedFirst?: boolean;
  /** --transfer: alice's bulk transfer to bob, as it ended. */
  transfer?: TransferFigures;
  /** What predictDirect said before the run. */
  predictedDirect: boolean;
  /** The error that ended the attempt, if any (e.g. PUNCH_FAILED). */
  error?: { code: string; message: string };
  /** When the story ended, ms (simulated, or real with --real). */
  endMs: number;
}

/**
 * --transfer, as it ended: bytes bob took (of `total`), by the path bob's session was on when
 * each record arrived, and whether bob's SHA-256 of them equals alice's of what she sent.
 */
export interface TransferFigures {
  total: number;
  bytes: number;
  relayBytes: number;
  directBytes: number;
  /** From the first record handed to the session to alice hearing bob took the last, ms. */
  ms?: number;
  kibPerSecond?: number;
  /** Every record's offset was where the previous one ended: nothing lost, nothing doubled. */
  contiguous: boolean;
  /** The hashes match, the offsets were contiguous and every byte came. */
  matches: boolean;
  /** Why it did not finish (CLOSED, or the demo's time ran out), if it did not. */
  failed?: string;
}

export type DemoEvent = { t: number } & (
  | {
      type: 'setup';
      /** Seed of everything random in the simulation (absent with --real). */
      seed?: number;
      nat: [NatKind, NatKind];
      labels: [string, string];
      predictedDirect: boolean;
      loss: number;
      delayMs?: number;
      /** The --real demo: Linux NAT in network namespaces, real times (the seed is not used). */
      real?: boolean;
    }
  | { type: 'topology'; topology: Topology }
  | { type: 'keys'; peer: Who; id: string; fingerprint: string }
  /** A router made a new mapping: packets from `internal` to `to` now leave as `external`. */
  | { type: 'mapping'; router: Who; internal: string; external: string; to: string }
  /** --real: the lab is built (how many network namespaces, and their name prefix). */
  | { type: 'lab'; namespaces: number; prefix: string }
  /** --real: the `punchline rendezvous` process is listening. */
  | { type: 'rendezvous-up'; endpoint: string }
  /** --real: both `punchline chat` processes are started, each with a fresh key pair. */
  | { type: 'chat-started' }
  /**
   * The rendezvous saw the peer at `public`. The --real demo names the transport (its chat
   * registers over UDP and over the relay's WebSocket) and the peer's id.
   */
  | { type: 'registered'; peer: Who; public: string; local: string; transport?: 'udp' | 'tcp'; id?: string }
  | { type: 'presence'; peer: Who; sees: string[] }
  | { type: 'connect'; peer: Who; target: Who }
  /** --real: the peer got an introduction (the other's public and private endpoints) and punches. */
  | { type: 'introduced'; peer: Who; public: string; lan: string[] }
  | { type: 'probe'; peer: Who; to: string; kind: CandidateKind; seq: number }
  | { type: 'probe-in'; peer: Who; from: string; known: boolean }
  | { type: 'answer'; peer: Who; from: string; kind: CandidateKind; rttMs: number }
  | { type: 'chosen'; peer: Who; remote: string; kind: CandidateKind; ms: number }
  | { type: 'punch-failed'; peer: Who; reason: string }
  /** A port search's start (with its budget), hit and end: peer/port-search.ts's SearchTrace. */
  | (SearchTrace & { peer: Who })
  /** The network dropped a packet: at a router (refused), on a link (lost), or nowhere to go. */
  | { type: 'drop'; where: string; reason: DropReason; src: string; dst: string }
  | { type: 'connected'; peer: Who; path: string; remote: string; ms: number }
  /**
   * The path under the session changed (relay <-> direct), once the peer reports it; with
   * --transfer under way, `transferred` bytes of it had reached bob by then.
   */
  | { type: 'path'; peer: Who; path: string; remote: string; transferred?: number }
  /** --transfer: alice starts sending bob `bytes` seeded bytes in bulk, on the session's `path`. */
  | { type: 'transfer-start'; peer: Who; to: Who; id: string; bytes: number; path: string }
  /** --transfer: `percent` (25, 50, 75) of it reached bob, whose session is on `path`. */
  | {
      type: 'transfer-progress';
      peer: Who;
      from: Who;
      percent: number;
      bytes: number;
      total: number;
      path: string;
    }
  /** --transfer: it ended (or failed); both SHA-256 digests in hex (alice's once she read it all). */
  | ({ type: 'transfer-end'; peer: Who; to: Who; sha256: string; senderSha256?: string } & TransferFigures)
  /** A message left; `id` when the sender knows it at once (the simulated peers do). */
  | { type: 'sent'; peer: Who; to: Who; id?: string; text: string }
  | { type: 'message'; peer: Who; from: Who; id: string; text: string }
  | { type: 'delivered'; peer: Who; to: Who; id: string; rttMs: number }
  /** --real: the session's own round-trip figures (smoothed and minimum), ms. */
  | { type: 'stats'; peer: Who; path: string; rttMs?: number; minRttMs?: number }
  | { type: 'error'; peer: Who; code: string; message: string }
  | { type: 'summary'; outcome: Outcome }
);

export type DemoEventOf<T extends DemoEvent['type']> = Extract<DemoEvent, { type: T }>;
