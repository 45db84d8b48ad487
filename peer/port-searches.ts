import { isPunchlineError } from '../common/errors.js';
import type { PortBehaviour } from '../common/nat-behaviour.js';
import type { DatagramSocket, Endpoint } from '../common/net/types.js';
import { admitSearch, portStrategy, type SearchHistory } from '../common/path/port-strategy.js';
import { toHex } from '../common/wire/bytes.js';
import type { Introduce, PortProbe } from '../common/wire/messages.js';
import { PortSearch, type PortSearchComponents, type SearchTrace } from './port-search.js';
import type { PunchAttempt } from './puncher.js';

/** Searches running at once per node: 2 x 256 sockets at most, one search's probes at 500 a second each. */
export const MAX_RUNNING_SEARCHES = 2;
/** Peers whose search history is kept (a failure's back-off); the oldest is forgotten first. */
const MAX_HISTORY = 1024;

export interface PortSearchesComponents extends Omit<PortSearchComponents, 'opened' | 'trace'> {
  /** Our own port behaviour, as measured at registration. */
  nat: () => PortBehaviour;
  /** Each search's steps, with the peer's name (optional). */
  trace?: (peer: string, e: SearchTrace) => void;
}

/**
 * A node's port searches (peer/port-search.ts), one per peer at most: which introduction gets
 * one (common/path/port-strategy.ts: the strategy, the back-off after a failed search, and
 * MAX_RUNNING_SEARCHES), which socket a datagram to a peer leaves from once a search found its
 * path, and where a PORT_PROBE goes.
 */
export class PortSearches {
  private readonly byPeer = new Map<string, PortSearch>();
  private readonly history = new Map<string, SearchHistory>();

  constructor(private readonly c: PortSearchesComponents) {}

  /** Start the search this introduction calls for, if any, beside its punch attempt. */
  start(intro: Introduce, attempt: PunchAttempt): PortSearch | undefined {
    const key = toHex(intro.id);
    this.byPeer.get(key)?.close(); // a new attempt: the old search's sockets go
    this.byPeer.delete(key);
    const strategy = portStrategy(this.c.nat(), intro.nat ?? { kind: 'unknown' });
    if (strategy === 'plain') return undefined;
    const running = [...this.byPeer.values()].filter((s) => s.running).length;
    if (!admitSearch(this.history.get(key), this.c.clock.now()) || running >= MAX_RUNNING_SEARCHES) {
      this.c.counters.refused++;
      this.c.logger.info('port search refused', { peer: intro.name, strategy, running });
      return undefined;
    }
    this.c.logger.debug('port search', { peer: intro.name, strategy, nat: intro.nat });
    const search = new PortSearch(intro, strategy, {
      ...this.c,
      opened: () => attempt.probeNow(intro.observed),
      trace: (t) => this.c.trace?.(intro.name, t),
    });
    if (strategy === 'probe-ports') attempt.hurry();
    this.byPeer.set(key, search);
    attempt.result.then(
      () => this.ended(key, search, true),
      (e: unknown) =>
        this.ended(key, search, isPunchlineError(e) && e.code === 'ABORTED' ? undefined : false),
    );
    return search;
  }

  /** The attempt ended: a path (true), none (false), or cancelled (undefined: not held against the peer). */
  private ended(key: string, search: PortSearch, pathFound: boolean | undefined): void {
    search.finish(pathFound === true);
    if (!pathFound) search.close();
    if (pathFound === undefined) return;
    const h = this.history.get(key) ?? { failures: 0, lastEndedAt: 0 };
    this.history.delete(key);
    if (this.history.size >= MAX_HISTORY) this.history.delete(this.history.keys().next().value!);
    this.history.set(key, { failures: pathFound ? 0 : h.failures + 1, lastEndedAt: this.c.clock.now() });
  }

  /** The socket a datagram to `to` leaves from, when a search's path runs on one of its own. */
  socketFor(to: Endpoint): DatagramSocket | undefined {
    if (this.byPeer.size === 0) return undefined;
    for (const s of this.byPeer.values()) {
      const sock = s.socketFor(to);
      if (sock) return sock;
    }
    return undefined;
  }

  /** A PORT_PROBE (on a search socket, or the main one): false when no search takes it. */
  portProbe(m: PortProbe, from: Endpoint, via: DatagramSocket | undefined): boolean {
    for (const s of this.byPeer.values()) if (s.onPortProbe(m, from, via)) return true;
    return false;
  }

  /**
   * A valid PROBE or PROBE_ACK from this peer came from `from`: on a search socket (`via`), that
   * socket carries the path; on the main socket, a probe-ports search may have hit.
   */
  heard(peer: Uint8Array, from: Endpoint, via: DatagramSocket | undefined): void {
    const s = this.byPeer.get(toHex(peer));
    if (via) s?.claim(via, from);
    else s?.heard(from);
  }

  /** Is `via` one of a running or winning search's sockets? */
  owns(via: DatagramSocket): boolean {
    for (const s of this.byPeer.values()) if (s.owns(via)) return true;
    return false;
  }

  /** The session with this peer ended: its search, and the socket a found path ran on, go. */
  forget(peer: Uint8Array): void {
    const key = toHex(peer);
    this.byPeer.get(key)?.close();
    this.byPeer.delete(key);
  }

  close(): void {
    for (const s of this.byPeer.values()) s.close();
    this.byPeer.clear();
  }
}
