import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { endpointKey, sameEndpoint } from '../common/net/types.js';
import { PORT_SEARCH, type PortStrategy, searchPorts } from '../common/path/port-strategy.js';
import { portProbe, validPortProbe } from './port-probe.js';
import type { Introduce, PortProbe } from '../common/wire/messages.js';

/** What port searches did, summed over a node's searches (PeerStats.search). */
export interface SearchCounters {
  /** Searches started, by role. */
  opened: number;
  swept: number;
  /** Searches whose own path won, those ended by a path plain punching found first, and those that found none. */
  found: number;
  superseded: number;
  failed: number;
  /** Searches not started: the peer's back-off after failures, or the node's limit on searches at once. */
  refused: number;
  /** Sockets opened by open-sockets searches, and PORT_PROBEs sent by probe-ports ones. */
  sockets: number;
  portProbes: number;
  /** PORT_PROBEs answered (an easy side whose filter let one in), and ones dropped as not the peer's. */
  answered: number;
  rejected: number;
}

export const newSearchCounters = (): SearchCounters => ({
  opened: 0,
  swept: 0,
  found: 0,
  superseded: 0,
  failed: 0,
  refused: 0,
  sockets: 0,
  portProbes: 0,
  answered: 0,
  rejected: 0,
});

/**
 * What a port search does, for `punchline demo` and debug logs (the node's `trace` event, beside
 * PunchTrace): its start with its budget, the hit, and its end. `ms` counts from its start.
 */
export type SearchTrace =
  | {
      type: 'search';
      strategy: Exclude<PortStrategy, 'plain'>;
      /** The budget: sockets to open (open-sockets) or PORT_PROBEs to send (probe-ports), and how fast. */
      budget: number;
      perSecond: number;
      /** probe-ports towards a NAT that counts up: predicted ports go first. */
      predicted: boolean;
    }
  | {
      type: 'search-hit';
      strategy: Exclude<PortStrategy, 'plain'>;
      /** Where the peer's packet came from (probe-ports: the port of the peer's NAT that was hit). */
      from: string;
      sockets: number;
      portProbes: number;
      ms: number;
    }
  | {
      type: 'search-end';
      found: boolean;
      superseded: boolean;
      sockets: number;
      portProbes: number;
      ms: number;
    };

export interface PortSearchComponents {
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  network: Network;
  /** The local address the node's main socket is bound to (undefined: all): search sockets use it too. */
  bindAddress?: string;
  /** Our own id (PORT_PROBE tags name it as the sender). */
  self: Uint8Array;
  counters: SearchCounters;
  /** Send from the node's main socket. */
  send: (bytes: Uint8Array, to: Endpoint) => void;
  /** A datagram that came in on one of this search's sockets, other than a PORT_PROBE: for the demux. */
  deliver: (data: Uint8Array, from: Endpoint, via: DatagramSocket) => void;
  /** A socket (undefined: the main one) has a mapping the peer reaches: probe the peer from it now. */
  opened: (via: DatagramSocket | undefined) => void;
  /** Called at the search's start, hit and end (optional). */
  trace?: (e: SearchTrace) => void;
}

/**
 * One port search towards an introduced peer behind a NAT that gives every destination a new
 * port (common/path/port-strategy.ts has the strategies and their limits):
 *
 * - open-sockets (our NAT is the hard one): open PORT_SEARCH.sockets sockets, paced, and send
 *   one PORT_PROBE from each to the peer's public endpoint, the one the server saw it at; each
 *   opens a mapping. When the peer's PORT_PROBE comes in on one of them, that socket carries the
 *   path (`winner`): every datagram to the peer's endpoint leaves from it (socketFor) and the
 *   others close.
 * - probe-ports (the peer's NAT is the hard one): send PORT_PROBEs to ports of the peer's public
 *   address, predicted ones first, paced, at most PORT_SEARCH.probes; one that lands on a mapping
 *   the peer opened towards us gets through its NAT, and the peer probes us from there.
 *
 * Only ever towards the address the server saw the peer at (it proved it receives there by
 * registering), never a claimed one; PORT_PROBEs are 12 bytes and name nobody.
 */
export class PortSearch {
  private readonly sockets: DatagramSocket[] = [];
  private timer: TimerHandle | undefined;
  private ports: Generator<number> | undefined;
  private seq = 0;
  private sent = 0;
  private answers = 0;
  /** Sockets opened by this search (closed ones too), for the trace. */
  private socketsOpened = 0;
  private readonly startedAt: number;
  private stopped = false;
  private closed = false;
  /** The socket the path found runs on (undefined with `found`: the main socket). */
  winner: DatagramSocket | undefined;
  found = false;

  constructor(
    readonly intro: Introduce,
    readonly strategy: Exclude<PortStrategy, 'plain'>,
    private readonly c: PortSearchComponents,
  ) {
    this.startedAt = c.clock.now();
    if (strategy === 'open-sockets') c.counters.opened++;
    else {
      c.counters.swept++;
      this.ports = searchPorts(intro.nat ?? { kind: 'unknown' }, c.randomBytes);
    }
    const open = strategy === 'open-sockets';
    const perTick = open ? PORT_SEARCH.socketsPerTick : PORT_SEARCH.probesPerTick;
    c.trace?.({
      type: 'search',
      strategy,
      budget: open ? PORT_SEARCH.sockets : PORT_SEARCH.probes,
      perSecond: (perTick * 1000) / PORT_SEARCH.tickMs,
      predicted: !open && intro.nat?.kind === 'sequential',
    });
    this.tick();
  }

  /** Is this search still opening sockets or sending PORT_PROBEs? */
  get running(): boolean {
    return !this.stopped;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const more = this.strategy === 'open-sockets' ? this.openSome() : this.probeSome();
    if (more) this.timer = this.c.clock.setTimeout(() => this.tick(), PORT_SEARCH.tickMs);
  }

  /** Open the next PORT_SEARCH.socketsPerTick sockets; false when all are open. */
  private openSome(): boolean {
    for (let i = 0; i < PORT_SEARCH.socketsPerTick && this.sockets.length < PORT_SEARCH.sockets; i++) {
      const s = this.c.network.createUdpSocket();
      this.sockets.push(s);
      this.socketsOpened++;
      this.c.counters.sockets++;
      s.onMessage((data, from) => this.onDatagram(data, from, s));
      s.bind(0, this.c.bindAddress).then(
        () => {
          if (!this.stopped)
            s.send(portProbe(this.intro.introId, this.c.self, this.seq++), this.intro.observed);
        },
        (e: unknown) => {
          this.c.logger.debug('port search socket', { error: String(e) });
          this.drop(s);
        },
      );
    }
    return this.sockets.length < PORT_SEARCH.sockets;
  }

  /** Send the next PORT_PROBE_SEARCH.probesPerTick PORT_PROBEs; false when the budget is spent. */
  private probeSome(): boolean {
    for (let i = 0; i < PORT_SEARCH.probesPerTick && this.sent < PORT_SEARCH.probes; i++) {
      const port = this.ports!.next();
      if (port.done) return false;
      this.sent++;
      this.c.counters.portProbes++;
      const to = { address: this.intro.observed.address, port: port.value };
      this.c.send(portProbe(this.intro.introId, this.c.self, this.seq++), to);
    }
    return this.sent < PORT_SEARCH.probes;
  }

  private onDatagram(data: Uint8Array, from: Endpoint, via: DatagramSocket): void {
    if (this.closed) return;
    this.c.deliver(data, from, via);
  }

  /**
   * A PORT_PROBE for this search's introduction? On a search socket (or the main one, `via`
   * undefined): false when it is not the peer's. The peer's PORT_PROBE from its public endpoint
   * says our mapping there is open to it; one that reached the easy side (its filter lets the
   * port in) is answered once, with the same 12 bytes, so the hard side learns it got through.
   */
  onPortProbe(m: PortProbe, from: Endpoint, via: DatagramSocket | undefined): boolean {
    if (this.closed || !validPortProbe(m, this.intro.introId, this.intro.id)) return false;
    if (from.address !== this.intro.observed.address) {
      this.c.counters.rejected++;
      return true;
    }
    if (this.strategy === 'probe-ports') {
      // Answered only while searching: after it, a PORT_PROBE is somebody's late or replayed one.
      if (this.answers >= PORT_SEARCH.answersPerSearch || this.stopped) return true;
      this.answers++;
      this.c.counters.answered++;
      this.c.send(portProbe(this.intro.introId, this.c.self, this.seq++), from);
      return true;
    }
    if (!sameEndpoint(from, this.intro.observed)) {
      this.c.counters.rejected++;
      return true;
    }
    this.claim(via, from);
    return true;
  }

  /**
   * A valid PROBE from the peer came from `from`: on the probe-ports side, one from a port of the
   * peer's address other than the one the server saw means a PORT_PROBE hit a mapping the peer
   * opened. The search has done its work; stop probing.
   */
  heard(from: Endpoint): void {
    if (this.strategy !== 'probe-ports' || this.found) return;
    if (from.address !== this.intro.observed.address || from.port === this.intro.observed.port) return;
    this.found = true;
    this.traceHit(from);
    this.finish();
  }

  /**
   * A valid punch message came in on `via` (undefined: the main socket), from `from`: that
   * socket carries the path.
   */
  claim(via: DatagramSocket | undefined, from?: Endpoint): void {
    if (this.found || this.closed) return;
    if (via && !this.sockets.includes(via)) return;
    this.found = true;
    this.winner = via;
    this.traceHit(from);
    this.finish();
    this.c.opened(via);
  }

  private get ms(): number {
    return this.c.clock.now() - this.startedAt;
  }

  private traceHit(from: Endpoint | undefined): void {
    this.c.trace?.({
      type: 'search-hit',
      strategy: this.strategy,
      from: from ? endpointKey(from) : '?',
      sockets: this.socketsOpened,
      portProbes: this.sent,
      ms: this.ms,
    });
  }

  /** Does `s` belong to this search? */
  owns(s: DatagramSocket): boolean {
    return this.sockets.includes(s);
  }

  /** The socket to send to `to` from, when this search's path runs on one of its own. */
  socketFor(to: Endpoint): DatagramSocket | undefined {
    return this.winner && !this.closed && sameEndpoint(to, this.intro.observed) ? this.winner : undefined;
  }

  /**
   * Stop opening and probing; close every socket but the winner. `pathFound`: the punch attempt
   * found a path (this search's, or plain punching's first). Idempotent.
   */
  finish(pathFound = this.found): void {
    if (this.stopped) return;
    this.stopped = true;
    this.c.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of [...this.sockets]) if (s !== this.winner) this.drop(s);
    this.c.counters[this.found ? 'found' : pathFound ? 'superseded' : 'failed']++;
    this.c.trace?.({
      type: 'search-end',
      found: this.found,
      superseded: !this.found && pathFound,
      sockets: this.socketsOpened,
      portProbes: this.sent,
      ms: this.ms,
    });
  }

  private drop(s: DatagramSocket): void {
    const i = this.sockets.indexOf(s);
    if (i >= 0) this.sockets.splice(i, 1);
    s.close();
  }

  /** Close everything, the winner too. Idempotent. */
  close(): void {
    this.finish();
    this.closed = true;
    for (const s of [...this.sockets]) this.drop(s);
    this.winner = undefined;
  }
}
