import type { Clock } from '../common/clock.js';
import { PunchlineError, isPunchlineError } from '../common/errors.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import { PROBE_BUDGET, admitAttempt } from '../common/path/probe-budget.js';
import type { PortBehaviour } from '../common/nat-behaviour.js';
import type { DatagramSocket, Endpoint, Network } from '../common/net/types.js';
import { endpointKey } from '../common/net/types.js';
import { toHex } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import type { Introduce, Probe } from '../common/wire/messages.js';
import type { EmitPeerEvent } from './peer-events.js';
import type { IntroVerdict, PathMode, PeerLink } from './peer-link.js';
import type { PeerEntry, PeerTable } from './peer-table.js';
import type { SearchCounters, SearchTrace } from './port-search.js';
import { PortSearches } from './port-searches.js';
import { PunchAttempt, validProbe } from './puncher.js';
import type { PunchCounters, PunchOptions, PunchResult, PunchTrace } from './puncher.js';
import type { RendezvousClient } from './rendezvous-client.js';
import { RetryLoops } from './retry-loops.js';

/** A biting limit is logged at most this often per kind: the counters keep the full count. */
export const LIMIT_LOG_INTERVAL_MS = 10_000;

/** The longest a connect waits for our port behaviour to reach the server (peer/nat-probe.ts gives up at 1.5 s). */
export const NAT_SETTLE_MS = 1_500;

/** Finished punch attempts are kept this long, so late probes from the other side are still answered. */
const ATTEMPT_MEMORY_MS = 60_000;

export interface PunchOrchestratorComponents {
  identity: Identity;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  /** The node's punch counters (PeerStats.punch). */
  counters: PunchCounters;
  options: PunchOptions;
  mode: PathMode;
  send: (bytes: Uint8Array, to: Endpoint) => void;
  /** Port searches (peer/port-searches.ts): sockets come from here, datagrams on them go to `deliver`. */
  network: Network;
  /** The node's bind address, if any: search sockets bind it too. */
  bindAddress?: string;
  searchCounters: SearchCounters;
  deliver: (data: Uint8Array, from: Endpoint, via: DatagramSocket) => void;
  /** Our NAT's port behaviour, measured at registration (unknown until then). */
  nat: () => PortBehaviour;
  /** Wait (bounded) until a running measurement of it has reached the server. */
  natSettled?: (maxMs: number) => Promise<void>;
  /** The UDP rendezvous client (punching needs it registered; our public endpoint is what it observed). */
  udp: () => RendezvousClient | undefined;
  /** The rendezvous client to ask for introductions (UDP when registered there, else the relay stream's). */
  signalling: () => RendezvousClient | undefined;
  /** Is a relay configured at all, and is it up now? */
  relay: () => { configured: boolean; ready: boolean };
  table: PeerTable;
  emit: EmitPeerEvent;
}

/**
 * Connecting to peers: asking for introductions, running a punch attempt for each one (both sides
 * at once), moving the session to the direct path punching finds, and the retry loops
 * (peer/retry-loops.ts) that reconnect and retry the direct path later. Each peer gets at most
 * PROBE_BUDGET.attemptsPerWindow punch attempts per window (common/path/probe-budget.ts).
 */
export class PunchOrchestrator {
  private readonly attempts = new Map<string, { attempt: PunchAttempt; at: number }>();
  private readonly limitLoggedAt = new Map<string, number>();
  readonly retries: RetryLoops;
  /** Port searches towards peers behind NATs that give every destination a new port. */
  readonly searches: PortSearches;

  constructor(private readonly c: PunchOrchestratorComponents) {
    this.searches = new PortSearches({
      clock: c.clock,
      logger: c.logger,
      randomBytes: c.randomBytes,
      network: c.network,
      ...(c.bindAddress !== undefined ? { bindAddress: c.bindAddress } : {}),
      self: c.identity.id,
      counters: c.searchCounters,
      nat: c.nat,
      send: c.send,
      deliver: c.deliver,
      trace: (peer, t) => this.trace(peer, t),
    });
    this.retries = new RetryLoops({
      clock: c.clock,
      logger: c.logger,
      randomBytes: c.randomBytes,
      mode: c.mode,
      connect: (e) => this.connect(e),
      udpRegistered: () => c.udp()?.state === 'registered',
      reintroduce: (e) => c.udp()!.connect(e.link.id),
      introduce: (e) => {
        const client = c.signalling();
        return client
          ? client.connect(e.link.id)
          : Promise.reject(new PunchlineError('CLOSED', 'not started'));
      },
      punch: (intro) => this.punch(intro),
      entries: () => c.table.values(),
    });
  }

  /** Connect to a peer: introduction, hole punching, then the encrypted session. Resolves when it is open. */
  connect(e: PeerEntry): Promise<void> {
    if (e.link.open) return Promise.resolve();
    if (!e.connecting) {
      e.connecting = (async () => {
        try {
          const client = this.c.signalling();
          if (!client) throw new PunchlineError('CLOSED', 'not started');
          // An introduction asked for while our NAT is being measured would lack our port
          // behaviour, and the first attempt could not search: wait for it (1.5 s at most).
          await this.c.natSettled?.(NAT_SETTLE_MS);
          let intro: Introduce;
          try {
            intro = await client.connect(e.link.id);
          } catch (err) {
            // The server could not introduce us (unknown peer, not registered, unreachable).
            this.connectFailed(e, isPunchlineError(err) ? err : new PunchlineError('INTERNAL', String(err)));
            throw err;
          }
          await this.punch(intro);
        } finally {
          e.connecting = undefined;
        }
      })();
    }
    return e.connecting;
  }

  /** The other peer asked the server for us: punch at the same moment it does. */
  onIntroduce(intro: Introduce): void {
    this.punch(intro).catch(() => {
      /* reported through the error event */
    });
  }

  /**
   * A PROBE or PROBE_ACK for one of our attempts; false when none takes it. `via`: it came in on
   * a port search's socket, which then carries the path (PortSearches.claim).
   */
  probe(m: Probe, from: Endpoint, size: number, via?: DatagramSocket): boolean {
    const a = this.attempts.get(toHex(m.introId));
    if (!a || !validProbe(m, a.attempt.intro, this.c.identity.id)) return false;
    this.searches.heard(m.from, from, via);
    if (m.type === MsgType.PROBE) a.attempt.onProbe(m, from, size);
    else a.attempt.onProbeAck(m);
    return true;
  }

  /**
   * Run the punch attempt for an introduction (both sides call this at the same moment), with a
   * fresh session that starts on the path punching finds. Resolves when the session is open.
   */
  async punch(intro: Introduce): Promise<void> {
    const e = this.c.table.entry(intro.id, intro.name);
    const link = e.link;
    const verdict = link.consider(intro);
    if (verdict === 'ignore') return; // a crossing introduction that lost to the lower id
    if (verdict === 'new-session') link.adopt(intro); // on the relay at once, if there is one
    // The peer asked while our session with it is open: it lost its side (a restart). A candidate
    // session proves itself beside the open one and replaces it (PeerLink.candidate).
    if (verdict === 'punch-only' && !intro.initiator) link.candidate(intro);
    const opened = verdict === 'new-session' ? whenOpen(link) : Promise.resolve();
    opened.catch(() => {});
    const wantsPunch = link.shouldPunch(intro) && this.c.udp()?.state === 'registered';
    // A peer introduced to us over and over (every CONNECT it sends makes the server introduce
    // it again) gets PROBE_BUDGET.attemptsPerWindow punch attempts a minute; later introductions
    // are served over the relay only (common/path/probe-budget.ts).
    if (!wantsPunch || !this.admitPunch(e, intro)) {
      if (verdict === 'new-session') link.begin(undefined);
      return this.withoutPunch(e, intro, verdict, wantsPunch, opened);
    }
    const attempt = this.attempt(intro);
    this.searches.start(intro, attempt);
    e.uninformed = this.c.nat().kind === 'unknown' || intro.nat === undefined;
    // The handshake races on the probed endpoints and the relay (PeerLink.begin).
    if (verdict === 'new-session') link.begin(attempt.probed, this.c.udp()?.rttMs);
    let result: PunchResult;
    try {
      result = await attempt.result;
    } catch (err) {
      return this.punchFailed(e, verdict, opened, err);
    }
    if (!link.session || link.session.state === 'closed') return;
    link.useDirect(result);
    return verdict === 'new-session' ? whenOpen(link) : undefined;
  }

  /**
   * No punching for this introduction. With a relay configured the session rides it (now, or as
   * soon as the stream is up: PeerLink.relayUp); without one there is no way to this peer, and
   * this throws.
   */
  private withoutPunch(
    e: PeerEntry,
    intro: Introduce,
    verdict: IntroVerdict,
    wantedPunch: boolean,
    opened: Promise<void>,
  ): Promise<void> {
    if (verdict !== 'new-session' || this.c.relay().configured) return opened;
    const why =
      this.c.mode === 'relay-only'
        ? 'relay-only, but no relay is configured'
        : wantedPunch
          ? `${PROBE_BUDGET.attemptsPerWindow} punch attempts in ${PROBE_BUDGET.windowMs / 1000} s already, and no relay`
          : 'no UDP path and no relay';
    const err = new PunchlineError('PUNCH_FAILED', `cannot reach ${intro.name}: ${why}`);
    e.link.close();
    this.connectFailed(e, err);
    throw err;
  }

  /** Start the punch attempt for an introduction; its probes are answered until ATTEMPT_MEMORY_MS after it ends. */
  private attempt(intro: Introduce): PunchAttempt {
    this.pruneAttempts();
    const attempt = new PunchAttempt(
      intro,
      {
        identity: this.c.identity,
        clock: this.c.clock,
        send: this.c.send,
        selfPublic: () => this.c.udp()?.observed,
        // The peer's NAT is open towards us there: a racing handshake sends message 1 at once.
        heard: (from) => this.c.table.get(toHex(intro.id))?.link.probeHeard(from),
        counters: this.c.counters,
        limited: (what, fields) => this.limitBit(what, fields),
        trace: (t) => this.trace(intro.name, t),
      },
      this.c.options,
    );
    this.attempts.set(toHex(intro.introId), { attempt, at: this.c.clock.now() });
    this.c.logger.debug('punching', {
      peer: intro.name,
      public: endpointKey(intro.observed),
      lan: intro.lan.map(endpointKey),
    });
    return attempt;
  }

  /** A step of a punch attempt or a port search: a debug log line and the `trace` event. */
  private trace(peer: string, t: PunchTrace | SearchTrace): void {
    this.c.logger.debug('punch step', { peer, ...t });
    this.c.emit('trace', { peer, ...t });
  }

  /** Punching found no path: stay on the relay and retry later, or (no relay) report the failure and throw. */
  private punchFailed(
    e: PeerEntry,
    verdict: IntroVerdict,
    opened: Promise<void>,
    err: unknown,
  ): Promise<void> | undefined {
    const link = e.link;
    if (!link.session || link.session.state === 'closed') return; // superseded or closed
    const pe = isPunchlineError(err) ? err : new PunchlineError('INTERNAL', String(err));
    link.directFailed();
    if (link.path === 'relay' || (this.c.relay().ready && this.c.mode !== 'direct-only')) {
      // The relay carries the session: no error, just stay there and retry later.
      this.c.logger.info('no direct path yet; staying on the relay', { peer: link.name, reason: pe.message });
      this.retries.scheduleDirect(e);
      return opened;
    }
    if (verdict === 'punch-only') return; // the open session goes on where it is
    link.close();
    this.connectFailed(e, pe);
    throw pe;
  }

  /** May a punch attempt with this peer start now? Counts and logs the refusal. */
  private admitPunch(e: PeerEntry, intro: Introduce): boolean {
    const { admit, starts } = admitAttempt(e.punchStarts, this.c.clock.now());
    e.punchStarts = starts;
    if (!admit) {
      this.c.counters.attemptsLimited++;
      this.limitBit('attemptsLimited', { peer: intro.name, id: e.link.idHex });
    }
    return admit;
  }

  /** A probe-budget limit bit: log it, at most once per LIMIT_LOG_INTERVAL_MS per kind. */
  private limitBit(what: keyof PunchCounters, fields: Record<string, unknown>): void {
    const now = this.c.clock.now();
    const last = this.limitLoggedAt.get(what);
    if (last !== undefined && now - last < LIMIT_LOG_INTERVAL_MS) return;
    this.limitLoggedAt.set(what, now);
    this.c.logger.info('probe budget limit', { limit: what, total: this.c.counters[what], ...fields });
  }

  /** Report a failed connection attempt, with what waits (messages stay queued for the next try). */
  connectFailed(e: PeerEntry, err: PunchlineError): void {
    const n = e.link.pendingCount;
    this.c.emit('error', {
      code: err.code,
      message: n > 0 ? `${err.message} (${n} message${n > 1 ? 's' : ''} waiting; will retry)` : err.message,
      peer: e.link.name,
    });
    if (n > 0) this.retries.scheduleReconnect(e);
  }

  /** Forget finished attempts after ATTEMPT_MEMORY_MS (late probes from the other side are answered until then). */
  private pruneAttempts(): void {
    const cutoff = this.c.clock.now() - ATTEMPT_MEMORY_MS;
    for (const [k, a] of this.attempts) if (a.attempt.finished && a.at < cutoff) this.attempts.delete(k);
  }

  /** Cancel every attempt, close every port search and stop the retry loops; idempotent. */
  close(): void {
    for (const a of this.attempts.values()) a.attempt.cancel('closing');
    this.searches.close();
    this.retries.close();
  }
}

/** Resolves when the link's current session opens; rejects if it closes first. */
function whenOpen(link: PeerLink): Promise<void> {
  if (link.open) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const offOpen = link.on('open', () => {
      offOpen();
      offClosed();
      resolve();
    });
    const offClosed = link.on('closed', (c) => {
      offOpen();
      offClosed();
      reject(c.error ?? new PunchlineError('CLOSED', `session with ${link.name} closed (${c.reason})`));
    });
  });
}
