import type { TimerHandle } from '../common/clock.js';
import { PunchlineError } from '../common/errors.js';
import { fingerprint } from '../common/identity/identity.js';
import { endpointKey } from '../common/net/types.js';
import { toHex } from '../common/wire/bytes.js';
import type { Member } from '../common/wire/messages.js';
import type { PeerFigures, PeerInfo, PeerState } from './peer-events.js';
import type { PeerLink } from './peer-link.js';

/** What the node keeps per peer beside its link: connection attempts, the two backoff loops, punch starts. */
export interface PeerEntry {
  link: PeerLink;
  connecting: Promise<void> | undefined;
  reconnectTimer: TimerHandle | undefined;
  reconnectTries: number;
  directTimer: TimerHandle | undefined;
  directTries: number;
  /** Start times of recent punch attempts with this peer (admitAttempt's window). */
  punchStarts: number[];
  /**
   * The last punch attempt ran without both sides' port behaviour (one of them had not measured
   * its NAT yet): the first direct-path retry comes as soon as they will have (RetryLoops).
   */
  uninformed: boolean;
  /** How long the open session took to open (its `connected` event's `ms`). */
  openMs: number;
}

/**
 * Every peer the node has heard of (by presence or an introduction), by id (hex), and how a name
 * or an id prefix a user typed finds one. Entries are never removed: a peer that left keeps its
 * waiting messages for when it comes back.
 */
export class PeerTable {
  private readonly peers = new Map<string, PeerEntry>();

  /** `create` makes the link of a newly heard-of peer; `added` is told of each new entry. */
  constructor(
    private readonly create: (id: Uint8Array, name: string) => PeerLink,
    private readonly added: (e: PeerEntry) => void,
  ) {}

  get(idHex: string): PeerEntry | undefined {
    return this.peers.get(idHex);
  }

  values(): IterableIterator<PeerEntry> {
    return this.peers.values();
  }

  /** The entry for this peer, made on first sight. */
  entry(id: Uint8Array, name: string): PeerEntry {
    const idHex = toHex(id);
    let e = this.peers.get(idHex);
    if (e) return e;
    e = {
      link: this.create(id, name),
      connecting: undefined,
      reconnectTimer: undefined,
      reconnectTries: 0,
      directTimer: undefined,
      directTries: 0,
      punchStarts: [],
      uninformed: false,
      openMs: 0,
    };
    this.peers.set(idHex, e);
    this.added(e);
    return e;
  }

  /**
   * The room's members as presence lists them now (ourselves, `selfHex`, left out): each is known
   * and present under its current name, everyone else is away. Returns the entries that came back
   * with messages waiting and no open session, which should be connected now.
   */
  present(members: Member[], selfHex: string): PeerEntry[] {
    const here = new Set<string>();
    const back: PeerEntry[] = [];
    for (const m of members) {
      const idHex = toHex(m.id);
      if (idHex === selfHex) continue;
      here.add(idHex);
      const e = this.entry(m.id, m.name);
      e.link.name = m.name;
      const wasAway = !e.link.present;
      e.link.present = true;
      if (wasAway && e.link.pendingCount > 0 && !e.link.open) back.push(e);
    }
    for (const e of this.peers.values()) if (!here.has(e.link.idHex)) e.link.present = false;
    return back;
  }

  /** Find a peer by exact name (present ones first), full id, or an unambiguous id prefix (4+ hex digits). */
  resolve(nameOrId: string): PeerEntry {
    const all = [...this.peers.values()];
    const byName = all.filter((p) => p.link.name === nameOrId);
    const presentByName = byName.filter((p) => p.link.present);
    if (presentByName.length === 1) return presentByName[0]!;
    if (presentByName.length === 0 && byName.length === 1) return byName[0]!;
    const lower = nameOrId.toLowerCase();
    const byId = all.filter(
      (p) => p.link.idHex === lower || (lower.length >= 4 && p.link.idHex.startsWith(lower)),
    );
    if (byId.length === 1) return byId[0]!;
    if (byId.length > 1 || byName.length > 1)
      throw new PunchlineError('BAD_ARGUMENT', `"${nameOrId}" matches several peers; give more of the id`);
    throw new PunchlineError('UNKNOWN_PEER', `no peer "${nameOrId}" in the room`);
  }

  /** Session figures for one peer, as measured (PeerNode.peerStats: the `stats` command and /info). */
  figures(e: PeerEntry): PeerFigures {
    const s = e.link.stats();
    const remote = this.remote(e);
    return {
      peer: e.link.name,
      peerId: e.link.idHex,
      fingerprint: fingerprint(e.link.id),
      state: this.state(e),
      ...(e.link.open && e.link.path ? { path: e.link.path } : {}),
      ...(remote !== undefined ? { remote } : {}),
      ...(s
        ? {
            session: {
              // Before the first sample the estimator holds RFC 9002's 333 ms guess: not a measurement.
              ...(s.minRttMs > 0 ? { rttMs: s.rttMs, minRttMs: s.minRttMs } : {}),
              loss: s.loss,
              cwnd: s.cwnd,
              bytesInFlight: s.bytesInFlight,
              retransmits: s.retransmits,
              packetsSent: s.packetsSent,
              packetsReceived: s.packetsReceived,
            },
          }
        : {}),
      pending: e.link.pendingCount,
      ...(e.link.punch ? { punch: e.link.punch } : {}),
    };
  }

  /** Where this peer stands: its session's path when open, else whether one is being made, else presence. */
  state(e: PeerEntry): PeerState {
    if (e.link.open) return e.link.path === 'relay' ? 'relay' : 'direct';
    if (e.connecting || (e.link.session && e.link.session.state !== 'closed' && !e.link.session.dead))
      return 'connecting';
    return e.link.present ? 'online' : 'offline';
  }

  /** Where the open session goes: 'relay', the peer's endpoint, or nothing when no session is open. */
  remote(e: PeerEntry): string | undefined {
    if (!e.link.open) return undefined;
    if (e.link.path === 'relay') return 'relay';
    return e.link.remote ? endpointKey(e.link.remote) : undefined;
  }

  list(): PeerInfo[] {
    return [...this.peers.values()].map((e) => {
      const remote = this.remote(e);
      return {
        id: e.link.idHex,
        name: e.link.name,
        state: this.state(e),
        ...(remote !== undefined ? { remote } : {}),
        ...(e.link.pendingCount > 0 ? { pending: e.link.pendingCount } : {}),
      };
    });
  }
}
