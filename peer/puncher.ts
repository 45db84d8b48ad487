import type { Clock, TimerHandle } from '../common/clock.js';
import { PunchlineError } from '../common/errors.js';
import type { Identity } from '../common/identity/identity.js';
import { verifySignature } from '../common/identity/identity.js';
import { candidate, candidatesFor, probeSchedule } from '../common/path/candidates.js';
import type { Candidate } from '../common/path/candidates.js';
import { PROBE_BUDGET, mayProbe, triggeredCheck } from '../common/path/probe-budget.js';
import type { Endpoint } from '../common/net/types.js';
import { endpointKey } from '../common/net/types.js';
import { equalBytes } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { encode, probeSigningBytes } from '../common/wire/messages.js';
import type { Introduce, Probe } from '../common/wire/messages.js';

export interface PunchOptions {
  /** Give up after this long without a valid answer (reported as PUNCH_FAILED with the candidates tried). */
  deadlineMs: number;
  /** ICE's pacing interval Ta (RFC 8445 §14.2): the first probe rounds go out this far apart. */
  paceMs: number;
  /** After a lower-priority answer, wait this long for a better one (a LAN answer beats public). */
  graceMs: number;
}

export const PUNCH_DEFAULTS: PunchOptions = { deadlineMs: 10_000, paceMs: 50, graceMs: 150 };

export interface PunchResult {
  remote: Endpoint;
  kind: Candidate['kind'];
  ms: number;
  rttMs: number;
  probesSent: number;
  candidates: { endpoint: string; kind: Candidate['kind']; answered: boolean }[];
}

/** What a punch attempt does, step by step (for `punchline demo` and debug logs). */
export type PunchTrace =
  | { type: 'probe'; to: string; kind: Candidate['kind']; seq: number }
  | { type: 'probe-in'; from: string; known: boolean }
  | { type: 'answer'; from: string; kind: Candidate['kind']; rttMs: number }
  | { type: 'chosen'; remote: string; kind: Candidate['kind']; ms: number }
  | { type: 'failed'; reason: string };

/**
 * What the probe budget (common/path/probe-budget.ts) did, summed over a node's attempts
 * (PeerStats.punch). Each counter is a limit biting, except attempts, probesSent and triggeredChecks.
 */
export interface PunchCounters {
  /** Punch attempts started. */
  attempts: number;
  /** Introductions served over the relay only: the peer used up PROBE_BUDGET.attemptsPerWindow. */
  attemptsLimited: number;
  probesSent: number;
  /** Scheduled probes not sent: the candidate had not answered and its allowance was used up. */
  probesCapped: number;
  /** LAN candidates given no probes: the peer is behind another NAT, or past PROBE_BUDGET.lanCandidates. */
  lanNotProbed: number;
  /** Probes sent at once in answer to a probe from a candidate whose allowance was used up. */
  triggeredChecks: number;
  /** Peer-reflexive addresses not added: past PROBE_BUDGET.reflexiveCandidates. */
  reflexiveRefused: number;
  /** Valid PROBEs whose seq this attempt had already seen (a duplicate or a replay): answered, earn nothing. */
  replayedProbes: number;
  /** PROBE_ACKs not sent because they would be larger than the PROBE they answer. */
  acksWithheld: number;
}

export const newPunchCounters = (): PunchCounters => ({
  attempts: 0,
  attemptsLimited: 0,
  probesSent: 0,
  probesCapped: 0,
  lanNotProbed: 0,
  triggeredChecks: 0,
  reflexiveRefused: 0,
  replayedProbes: 0,
  acksWithheld: 0,
});

/** Seqs of received PROBEs remembered per attempt (the peer's own budget keeps it far below). */
const MAX_SEEN_SEQS = 1024;

export interface PunchComponents {
  /** Called for every step (optional). */
  trace?: (e: PunchTrace) => void;
  /** Budget counters to add to (a node passes its PeerStats.punch). */
  counters?: PunchCounters;
  /** A limit bit (the node logs it, rate-limited). */
  limited?: (what: keyof PunchCounters, fields: Record<string, unknown>) => void;
  identity: Identity;
  /** Our own public endpoint as the server saw it: decides whether the peer's LAN addresses are likely ours too. */
  selfPublic?: () => Endpoint | undefined;
  clock: Clock;
  send: (bytes: Uint8Array, to: Endpoint) => void;
  /** A fresh, valid PROBE came from this probed candidate: the peer's NAT lets us in there now. */
  heard?: (from: Endpoint) => void;
}

/** Is this probe (or ack) a valid message of this punch attempt from the introduced peer? */
export function validProbe(p: Probe, intro: Introduce, self: Uint8Array): boolean {
  return (
    equalBytes(p.introId, intro.introId) &&
    equalBytes(p.from, intro.id) &&
    equalBytes(p.to, self) &&
    verifySignature(intro.signKey, probeSigningBytes(p), p.signature)
  );
}

/**
 * One hole-punch attempt towards an introduced peer. Both sides run one at the same moment:
 * each probes every candidate of the other on the schedule; a probe opens the sender's own NAT
 * towards that endpoint, so once both have sent, the next probe in either direction gets in.
 * The first authenticated PROBE_ACK names a working path. Probes received are answered (to the
 * address they came from) whether or not this side has finished.
 */
export class PunchAttempt {
  readonly started: number;
  private readonly candidates: Candidate[];
  /** Probes sent per candidate (endpointKey), for the budget. */
  private readonly sentTo = new Map<string, number>();
  private readonly seenSeqs = new Set<number>();
  private readonly counters: PunchCounters;
  private readonly sentAt = new Map<number, { cand: Candidate; at: number }>();
  private readonly answered = new Map<string, { cand: Candidate; rttMs: number }>();
  private timers: TimerHandle[] = [];
  private graceTimer: TimerHandle | undefined;
  private seq = 0;
  private probesSent = 0;
  private done = false;
  private hurried = false;
  readonly result: Promise<PunchResult>;
  private resolve!: (r: PunchResult) => void;
  private reject!: (e: Error) => void;

  constructor(
    readonly intro: Introduce,
    private readonly c: PunchComponents,
    private readonly opts: PunchOptions = PUNCH_DEFAULTS,
  ) {
    this.started = c.clock.now();
    this.counters = c.counters ?? newPunchCounters();
    this.counters.attempts++;
    this.candidates = candidatesFor(intro, c.selfPublic?.());
    const unprobed = this.candidates.filter((x) => x.kind === 'lan' && x.allowance === 0);
    if (unprobed.length > 0) {
      this.counters.lanNotProbed += unprobed.length;
      this.c.limited?.('lanNotProbed', {
        peer: intro.name,
        lan: unprobed.map((x) => endpointKey(x.endpoint)),
      });
    }
    this.result = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.result.catch(() => {}); // the owner awaits it; never an unhandled rejection
    for (const at of probeSchedule(opts.deadlineMs, opts.paceMs))
      this.timers.push(c.clock.setTimeout(() => this.round(), at));
    this.timers.push(c.clock.setTimeout(() => this.fail(), opts.deadlineMs));
  }

  /** The endpoints this attempt probes from the start (the handshake races on them: PeerLink.begin). */
  get probed(): Endpoint[] {
    return this.candidates.filter((c) => c.allowance > 0).map((c) => c.endpoint);
  }

  get finished(): boolean {
    return this.done;
  }

  private probe(
    type: typeof MsgType.PROBE | typeof MsgType.PROBE_ACK,
    seq: number,
    timestamp: number,
    seen?: Endpoint,
  ): Uint8Array {
    const body = {
      type,
      introId: this.intro.introId,
      from: this.c.identity.id,
      to: this.intro.id,
      seq,
      timestamp,
      seen,
    };
    return encode({ ...body, signature: this.c.identity.sign(probeSigningBytes(body)) });
  }

  /** The budget's view of a candidate (common/path/probe-budget.ts). */
  private count(cand: Candidate): { sent: number; allowance: number; validated: boolean } {
    const key = endpointKey(cand.endpoint);
    return { sent: this.sentTo.get(key) ?? 0, allowance: cand.allowance, validated: this.answered.has(key) };
  }

  private sendProbe(cand: Candidate): void {
    const seq = this.seq++ & 0xffff;
    const now = this.c.clock.now();
    const key = endpointKey(cand.endpoint);
    this.sentAt.set(seq, { cand, at: now });
    this.sentTo.set(key, (this.sentTo.get(key) ?? 0) + 1);
    this.probesSent++;
    this.counters.probesSent++;
    this.c.trace?.({ type: 'probe', to: endpointKey(cand.endpoint), kind: cand.kind, seq });
    this.c.send(this.probe(MsgType.PROBE, seq, Math.floor(now) % 2 ** 48), cand.endpoint);
  }

  private round(): void {
    if (this.done) return;
    let capped = 0;
    for (const cand of this.candidates) {
      if (mayProbe(this.count(cand))) this.sendProbe(cand);
      else if (cand.allowance > 0) capped++; // a candidate never probed is counted once, as lanNotProbed
    }
    if (capped > 0) {
      this.counters.probesCapped += capped;
      this.c.limited?.('probesCapped', { peer: this.intro.name, capped });
    }
  }

  /**
   * A valid PROBE of `size` bytes arrived from `from`: answer it there (never with more bytes than
   * it had: its source is not verified, RFC 9000 §8), and probe that address too when the
   * schedule no longer does (a triggered check, RFC 8445 §7.3.1.4).
   */
  onProbe(p: Probe, from: Endpoint, size: number): void {
    const ack = this.probe(MsgType.PROBE_ACK, p.seq, p.timestamp, from);
    if (ack.length <= size) this.c.send(ack, from);
    else {
      this.counters.acksWithheld++;
      this.c.limited?.('acksWithheld', { peer: this.intro.name, probe: size, ack: ack.length });
    }
    if (this.done) return;
    // A seq seen before is the network's duplicate or someone's replay, perhaps from a spoofed
    // source: answered like any probe, but it earns no probe and adds no candidate.
    if (this.seenSeqs.has(p.seq) || this.seenSeqs.size >= MAX_SEEN_SEQS) {
      this.counters.replayedProbes++;
      return;
    }
    this.seenSeqs.add(p.seq);
    const key = endpointKey(from);
    const known = this.candidates.find((c) => endpointKey(c.endpoint) === key);
    this.c.trace?.({ type: 'probe-in', from: key, known: known !== undefined });
    // Only a candidate we probe anyway: a PROBE's source is not verified, and what the owner
    // sends there (the handshake's 1200-byte message 1) is larger than the PROBE.
    if (known && known.allowance > 0) this.c.heard?.(from);
    if (known) {
      if (triggeredCheck(this.count(known))) {
        this.counters.triggeredChecks++;
        this.sendProbe(known);
      }
      return;
    }
    if (
      this.candidates.filter((c) => c.kind === 'peer-reflexive').length >= PROBE_BUDGET.reflexiveCandidates
    ) {
      this.counters.reflexiveRefused++;
      this.c.limited?.('reflexiveRefused', { peer: this.intro.name, from: key });
      return;
    }
    const prflx = candidate(from, 'peer-reflexive');
    this.candidates.push(prflx);
    this.sendProbe(prflx);
  }

  /**
   * Probe the candidate at `to` now, outside the schedule: a port search (peer/port-search.ts)
   * just learned that a mapping towards it is open. Counted as a triggered check.
   */
  probeNow(to: Endpoint): void {
    if (this.done) return;
    const cand = this.candidates.find((c) => endpointKey(c.endpoint) === endpointKey(to));
    if (!cand) return;
    this.counters.triggeredChecks++;
    this.sendProbe(cand);
  }

  /**
   * Take the first answered candidate at once, without the grace period for a better one: a
   * port search runs towards a peer whose public candidate cannot answer (its NAT gives us a new
   * port), so the peer-reflexive one the search finds is the best there will be.
   */
  hurry(): void {
    this.hurried = true;
  }

  /** A valid PROBE_ACK: the candidate we sent that probe to works. */
  onProbeAck(p: Probe): void {
    if (this.done) return;
    const sent = this.sentAt.get(p.seq);
    if (!sent) return;
    const key = endpointKey(sent.cand.endpoint);
    if (!this.answered.has(key)) {
      const rttMs = this.c.clock.now() - sent.at;
      this.answered.set(key, { cand: sent.cand, rttMs });
      this.c.trace?.({ type: 'answer', from: key, kind: sent.cand.kind, rttMs: Math.round(rttMs * 10) / 10 });
    }
    const best = Math.max(...this.candidates.map((c) => c.priority));
    if (sent.cand.priority >= best || this.hurried) return this.succeed();
    if (!this.graceTimer) this.graceTimer = this.c.clock.setTimeout(() => this.succeed(), this.opts.graceMs);
  }

  private succeed(): void {
    if (this.done) return;
    let pick: { cand: Candidate; rttMs: number } | undefined;
    for (const a of this.answered.values()) if (!pick || a.cand.priority > pick.cand.priority) pick = a;
    if (!pick) return;
    this.finish();
    const ms = Math.round(this.c.clock.now() - this.started);
    this.c.trace?.({ type: 'chosen', remote: endpointKey(pick.cand.endpoint), kind: pick.cand.kind, ms });
    this.resolve({
      remote: pick.cand.endpoint,
      kind: pick.cand.kind,
      ms,
      rttMs: Math.round(pick.rttMs * 10) / 10,
      probesSent: this.probesSent,
      candidates: this.candidates.map((c) => ({
        endpoint: endpointKey(c.endpoint),
        kind: c.kind,
        answered: this.answered.has(endpointKey(c.endpoint)),
      })),
    });
  }

  private fail(): void {
    if (this.done) return;
    this.finish();
    const tried = this.candidates
      .filter((c) => this.sentTo.has(endpointKey(c.endpoint)))
      .map((c) => `${c.kind} ${endpointKey(c.endpoint)}`)
      .join(', ');
    this.c.trace?.({ type: 'failed', reason: `no answer within ${this.opts.deadlineMs} ms` });
    this.reject(
      new PunchlineError(
        'PUNCH_FAILED',
        `no answer from ${this.intro.name} within ${this.opts.deadlineMs} ms after ${this.probesSent} probes to ${tried}: ` +
          'a NAT on the way filters or remaps (e.g. symmetric NAT)',
      ),
    );
  }

  cancel(reason = 'cancelled'): void {
    if (this.done) return;
    this.finish();
    this.reject(new PunchlineError('ABORTED', reason));
  }

  private finish(): void {
    this.done = true;
    for (const t of this.timers) this.c.clock.clearTimeout(t);
    this.timers = [];
    this.c.clock.clearTimeout(this.graceTimer);
  }
}
