/**
 * The --real demo's eyes: each `punchline chat --json --log-level debug` peer's JSON events
 * (stdout) and 'punch step' debug logs (stderr), turned into the demo events the narrator tells
 * (events.ts), with the state the demo's steps wait on and the outcome the summary reports.
 */
import { parseJsonObject, type JsonObject, type LabProcess } from '../../common/lab/index.js';
import type { CandidateKind } from '../../common/path/candidates.js';
import type { DemoEvent, Outcome, Who } from './events.js';
import { PEERS, other } from './events.js';

/** What one peer has reported so far. */
export interface PeerState {
  /** The peer's own (private) address in its namespace. */
  ip: string;
  /** Its `punchline chat` process, once started. */
  proc?: LabProcess;
  udp?: string;
  tcp?: string;
  seesOther: boolean;
  probes: number;
  probesIn: number;
  chosen?: { remote: string; kind: CandidateKind; ms: number };
  failed?: string;
  connected?: { path: string; remote: string; ms: number };
  path?: { path: string; remote: string };
  delivered: boolean;
  /** When the receipt came (ms since the start). */
  deliveredAt?: number;
  received: boolean;
  stats?: JsonObject;
}

/** Lines kept for the report when a step times out. */
const SEEN_KEPT = 12;

const str = String;
const num = (v: unknown): number | undefined => (v === undefined ? undefined : Number(v));

export class RealWatch {
  readonly peers: Record<Who, PeerState>;
  /** The last lines seen (events and punch steps), for the report when a step times out. */
  readonly seen: string[] = [];
  /** When alice sent the message (ms since the start). */
  sentAt = 0;

  constructor(
    ips: Record<Who, string>,
    private readonly now: () => number,
    private readonly tell: (e: DemoEvent) => void,
  ) {
    const fresh = (ip: string): PeerState => ({
      ip,
      seesOther: false,
      probes: 0,
      probesIn: 0,
      delivered: false,
      received: false,
    });
    this.peers = { alice: fresh(ips.alice), bob: fresh(ips.bob) };
  }

  private remember(w: Who, line: string): void {
    this.seen.push(`${w} ${line}`);
    if (this.seen.length > SEEN_KEPT) this.seen.shift();
  }

  /** One line of a peer's stdout: a chat event. */
  onEvent(w: Who, line: string): void {
    const e = parseJsonObject(line);
    if (!e || typeof e.event !== 'string') return;
    this.remember(w, line);
    const s = this.peers[w];
    const o = other(w);
    const t = this.now();
    switch (e.event) {
      case 'registered':
        return this.registered(w, e);
      case 'presence':
        if (s.seesOther || !JSON.stringify(e.peers).includes(`"${o}"`)) return;
        s.seesOther = true;
        return this.tell({ t, type: 'presence', peer: w, sees: [o] });
      case 'connected':
        s.connected = { path: str(e.path), remote: str(e.remote), ms: Number(e.ms) };
        return this.tell({ t, type: 'connected', peer: w, ...s.connected });
      case 'path':
        s.path = { path: str(e.path), remote: str(e.remote) };
        return this.tell({ t, type: 'path', peer: w, ...s.path });
      case 'message':
        s.received = true;
        return this.tell({ t, type: 'message', peer: w, from: o, id: str(e.id), text: str(e.text) });
      case 'delivered':
        s.delivered = true;
        s.deliveredAt = t;
        return this.tell({ t, type: 'delivered', peer: w, to: o, id: str(e.id), rttMs: this.receiptMs() });
      case 'stats':
        s.stats = e;
        return this.tell({
          t,
          type: 'stats',
          peer: w,
          path: str(e.path),
          rttMs: num(e.rtt_ms),
          minRttMs: num(e.min_rtt_ms),
        });
      case 'error':
        return this.tell({ t, type: 'error', peer: w, code: str(e.code), message: str(e.message) });
    }
  }

  private registered(w: Who, e: JsonObject): void {
    const s = this.peers[w];
    const udp = e.transport === 'udp';
    if (udp) s.udp = str(e.public);
    else s.tcp = str(e.public);
    this.tell({
      t: this.now(),
      type: 'registered',
      peer: w,
      public: str(e.public),
      local: s.ip,
      transport: udp ? 'udp' : 'tcp',
      id: str(e.peer_id),
    });
  }

  /** One line of a peer's stderr: a debug log, of which the punching ones tell the story. */
  onLog(w: Who, line: string): void {
    const e = parseJsonObject(line);
    if (!e) return;
    const s = this.peers[w];
    const t = this.now();
    if (e.msg === 'punching') {
      const lan = Array.isArray(e.lan) ? e.lan.map(str) : [];
      return this.tell({ t, type: 'introduced', peer: w, public: str(e.public), lan });
    }
    if (e.msg !== 'punch step') return;
    this.remember(w, line);
    const kind = str(e.kind) as CandidateKind;
    switch (e.type) {
      case 'probe':
        s.probes++;
        return this.tell({ t, type: 'probe', peer: w, to: str(e.to), kind, seq: Number(e.seq) });
      case 'probe-in':
        s.probesIn++;
        return this.tell({ t, type: 'probe-in', peer: w, from: str(e.from), known: Boolean(e.known) });
      case 'answer':
        return this.tell({ t, type: 'answer', peer: w, from: str(e.from), kind, rttMs: Number(e.rttMs) });
      case 'chosen':
        s.chosen = { remote: str(e.remote), kind, ms: Number(e.ms) };
        return this.tell({ t, type: 'chosen', peer: w, ...s.chosen });
      case 'failed':
        s.failed = str(e.reason);
        return this.tell({ t, type: 'punch-failed', peer: w, reason: s.failed });
      case 'search':
        return this.tell({
          t,
          type: 'search',
          peer: w,
          strategy: e.strategy === 'open-sockets' ? 'open-sockets' : 'probe-ports',
          budget: Number(e.budget),
          perSecond: Number(e.perSecond),
          predicted: Boolean(e.predicted),
        });
      case 'search-hit':
        return this.tell({
          t,
          type: 'search-hit',
          peer: w,
          strategy: e.strategy === 'open-sockets' ? 'open-sockets' : 'probe-ports',
          from: str(e.from),
          sockets: Number(e.sockets),
          portProbes: Number(e.portProbes),
          ms: Number(e.ms),
        });
      case 'search-end':
        return this.tell({
          t,
          type: 'search-end',
          peer: w,
          found: Boolean(e.found),
          superseded: Boolean(e.superseded),
          sockets: Number(e.sockets),
          portProbes: Number(e.portProbes),
          ms: Number(e.ms),
        });
    }
  }

  /** alice's message out to its receipt back, ms. */
  receiptMs(): number {
    const a = this.peers.alice;
    return Math.round(((a.deliveredAt ?? this.now()) - this.sentAt) * 10) / 10;
  }

  /** Registered over UDP and over the relay's stream, both of them. */
  allRegistered(): boolean {
    return PEERS.every((w) => this.peers[w].udp !== undefined && this.peers[w].tcp !== undefined);
  }

  /** On the direct path, or done punching without one. */
  settled(w: Who): boolean {
    const s = this.peers[w];
    return s.connected?.path === 'direct' || s.path?.path === 'direct' || s.failed !== undefined;
  }

  /** What happened, for the summary (alice's view, as in the simulated demo). */
  outcome(predictedDirect: boolean): Outcome {
    const [a, b] = [this.peers.alice, this.peers.bob];
    const direct = (a.path?.path ?? a.connected?.path) === 'direct';
    const chosen = PEERS.filter((w) => this.peers[w].chosen);
    const kind = (a.chosen ?? b.chosen)?.kind;
    const rtt = num(a.stats?.rtt_ms);
    return {
      path: direct ? 'direct' : 'relay',
      ...(direct ? { remote: a.path?.remote ?? a.connected?.remote ?? '?' } : {}),
      ...(direct && kind ? { kind } : {}),
      ...(chosen.length > 0
        ? { punchMs: Object.fromEntries(chosen.map((w) => [w, this.peers[w].chosen!.ms])) }
        : {}),
      ...(a.connected ? { sessionMs: a.connected.ms } : {}),
      ...(direct && a.connected?.path === 'relay' ? { relayedFirst: true } : {}),
      probes: { alice: a.probes, bob: b.probes },
      probesIn: { alice: a.probesIn, bob: b.probesIn },
      refused: 0,
      lost: 0,
      rttMs: this.receiptMs(),
      ...(rtt !== undefined && !Number.isNaN(rtt) ? { sessionRttMs: rtt } : {}),
      delivered: a.delivered,
      predictedDirect,
      endMs: this.now(),
    };
  }
}
