import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { skeletons } from '../../common/names.js';
import type { RedisLink } from './redis-link.js';
import {
  decodeClusterMessage,
  emptyClusterStats,
  ID_BYTES,
  isSharedMember,
  keys,
  RELAY_TAG,
} from './shared.js';
import type { ClusterMessage, ClusterStats, IntroRequest, SharedMember } from './shared.js';

/** What the cluster asks of the server it runs in (rendezvous/cluster-host.ts). */
export interface ClusterHost {
  /** Members this node holds, for writing again after an outage. */
  localMembers(): SharedMember[];
  /** A member held by another node: add or update its mirrored record (it replaces a local one). */
  mirror(m: SharedMember): void;
  /** A mirrored member is gone: it left, its node died, or a reload no longer finds it. */
  unmirror(id: string): void;
  /** Another node got a CONNECT for `intro.target`, held here: introduce it to `intro.from`. */
  introduceLocal(intro: IntroRequest): void;
  /** A RELAYED frame from another node for `target`, held here. */
  relayIn(target: string, frame: Uint8Array): void;
}

export interface ClusterOptions {
  readonly nodeId: string;
  /** A node beats (and refreshes its keys' expiry) this often (ms). */
  readonly heartbeatMs: number;
  /** A node not heard for this long is dead (ms); its keys expire after the same time. */
  readonly graceMs: number;
}

/** A rendezvous node's place in a cluster (`punchline rendezvous --redis`: rendezvous/main.ts builds it). */
export interface ClusterConfig {
  /** The connection to the shared Redis (redis-link.ts). */
  readonly link: RedisLink;
  /** This node's id, unique in the cluster (--node-id); default 12 hex digits from the server's random source. */
  readonly nodeId?: string;
  /** Beats and key refreshes (2000 ms); a node silent for graceMs (10000 ms) is dead. */
  readonly heartbeatMs?: number;
  readonly graceMs?: number;
}

/** 2 s beats; dead after 10 s, five beats missed (a busy Redis or event loop may delay a few). */
export const CLUSTER_DEFAULTS = { heartbeatMs: 2_000, graceMs: 10_000 } as const;

export type ClaimResult = 'held' | 'taken' | 'unreachable';

/**
 * One node of a rendezvous cluster (docs/architecture.md, Cluster): publishes the members it
 * holds, mirrors the others', claims names cluster-wide, carries introductions and relay frames
 * to other nodes, beats, judges other nodes dead, and resynchronises when Redis returns.
 */
export class ClusterNode {
  readonly stats: ClusterStats = emptyClusterStats();
  /** Mirrored member id -> the node holding it. */
  private readonly mirrored = new Map<string, string>();
  /** Other nodes -> when this node last heard from them (its clock). */
  private readonly lastHeard = new Map<string, number>();
  /** Local member id -> the name keys it holds in Redis. */
  private readonly held = new Map<string, string[]>();
  private readonly localIds = new Set<string>();
  private timer: TimerHandle | undefined;
  /** During a reload: members an 'up' message mirrored since it began (newer than its scan). */
  private fresh: Set<string> | undefined;
  /** After a reload: members it did not find, and those announced again since (kept). */
  private recheck: { timer: TimerHandle; announced: Set<string> } | undefined;
  private closed = false;
  private started = false;
  private reason = 'connecting';

  constructor(
    private readonly opts: ClusterOptions,
    private readonly link: RedisLink,
    private readonly host: ClusterHost,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** Nodes heard within the grace, this one included. */
  get liveNodes(): number {
    return this.lastHeard.size + 1;
  }

  get mirroredCount(): number {
    return this.mirrored.size;
  }

  /** The node holding a mirrored member, undefined for a local or unknown one. */
  nodeOf(id: string): string | undefined {
    return this.mirrored.get(id);
  }

  health(): { up: boolean; reason: string } {
    return { up: this.link.up, reason: this.link.up ? 'ok' : `redis: ${this.reason}` };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.link.onMessage((channel, message) => this.onMessage(channel, message));
    this.link.onState((up, reason) => this.onState(up, reason));
    this.link.subscribe([keys.cluster, keys.nodeChannel(this.nodeId)]);
    if (this.link.up) this.onState(true, 'ok');
    this.schedule();
  }

  private onState(up: boolean, reason: string): void {
    if (this.closed) return;
    if (up) {
      this.log.info('redis available', { node: this.nodeId });
      void this.resync();
    } else {
      this.reason = reason;
      this.log.warn('redis unavailable', { node: this.nodeId, reason });
    }
  }

  /** Run a Redis command for its effect: a failure is counted, never thrown. */
  private async run<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch {
      this.stats.redisErrors++;
      return undefined;
    }
  }

  private publish(channel: string, m: ClusterMessage): Promise<void | undefined> {
    if (!this.link.up) return Promise.resolve();
    this.stats.messagesOut++;
    return this.run(this.link.publish(channel, JSON.stringify(m)));
  }

  /** A local member registered or changed: its key and the other nodes. */
  localUp(m: SharedMember): void {
    this.localIds.add(m.id);
    if (!this.link.up) return;
    void this.run(this.link.setWithExpiry(keys.member(m.id), JSON.stringify(m), this.opts.graceMs));
    void this.publish(keys.cluster, { t: 'up', node: this.nodeId, member: m });
  }

  /** A local member is gone (left, expired, its last binding closed): its keys and names go. */
  localDown(id: string): void {
    if (!this.localIds.delete(id)) return;
    const names = this.held.get(id) ?? [];
    this.held.delete(id);
    if (!this.link.up) return;
    void this.run(this.link.release(names, id));
    void this.run(this.link.del(keys.member(id)));
    void this.publish(keys.cluster, { t: 'down', node: this.nodeId, id });
  }

  /**
   * Claim `name` in `room` for member `id`: a key per skeleton (common/names.ts, its lookalikes),
   * all or none; the keys it held for another name are released once the new ones are held.
   * 'unreachable': Redis is down, the caller decides on its own view (resync claims it again).
   */
  async claimName(id: string, room: string, name: string): Promise<ClaimResult> {
    const wanted = skeletons(name).map((s) => keys.name(room, s));
    if (!this.link.up) return 'unreachable';
    let ok: boolean;
    try {
      ok = await this.link.claim(wanted, id, this.opts.graceMs);
    } catch {
      this.stats.redisErrors++;
      return 'unreachable';
    }
    if (!ok) return 'taken';
    const old = (this.held.get(id) ?? []).filter((k) => !wanted.includes(k));
    this.held.set(id, wanted);
    if (old.length > 0) void this.run(this.link.release(old, id));
    return 'held';
  }

  /** Ask `node` to introduce its member to ours (its half of a CONNECT made here). */
  introduce(node: string, intro: IntroRequest): void {
    void this.publish(keys.nodeChannel(node), { t: 'intro', node: this.nodeId, intro });
  }

  /** Forward a RELAYED frame to `node`, which holds `target`; false when Redis is down. */
  forward(node: string, target: Uint8Array, frame: Uint8Array): boolean {
    if (!this.link.up) {
      this.stats.redisErrors++;
      return false;
    }
    const out = Buffer.allocUnsafe(1 + ID_BYTES + frame.byteLength);
    out[0] = RELAY_TAG;
    out.set(target, 1);
    out.set(frame, 1 + ID_BYTES);
    this.stats.framesForwarded++;
    this.stats.messagesOut++;
    void this.run(this.link.publish(keys.nodeChannel(node), out));
    return true;
  }

  private onMessage(channel: string, message: Buffer): void {
    if (this.closed) return;
    if (message.length > 0 && message[0] === RELAY_TAG) {
      if (channel !== keys.nodeChannel(this.nodeId) || message.length < 1 + ID_BYTES) {
        this.stats.malformed++;
        return;
      }
      this.stats.messagesIn++;
      this.stats.framesFromNodes++;
      const target = message.subarray(1, 1 + ID_BYTES).toString('hex');
      this.host.relayIn(target, message.subarray(1 + ID_BYTES));
      return;
    }
    const m = decodeClusterMessage(message.toString('utf8'));
    if (!m) {
      this.stats.malformed++;
      return;
    }
    if (m.node === this.nodeId) return; // our own, back from the cluster channel
    this.stats.messagesIn++;
    this.lastHeard.set(m.node, this.clock.now());
    this.apply(m);
  }

  private apply(m: ClusterMessage): void {
    switch (m.t) {
      case 'up':
        return this.mirrorMember(m.member);
      case 'down':
        if (this.mirrored.get(m.id) === m.node) this.unmirror(m.id);
        return;
      case 'intro':
        return this.host.introduceLocal(m.intro);
      case 'beat':
        return;
    }
  }

  private mirrorMember(member: SharedMember): void {
    // The newest registration wins: a member of ours registered on another node has moved there.
    if (this.localIds.delete(member.id)) this.held.delete(member.id);
    this.fresh?.add(member.id);
    this.recheck?.announced.add(member.id);
    this.mirrored.set(member.id, member.node);
    this.host.mirror(member);
  }

  private unmirror(id: string): void {
    this.mirrored.delete(id);
    this.host.unmirror(id);
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      this.beat();
      this.schedule();
    }, this.opts.heartbeatMs);
  }

  /** The heartbeat: our keys' expiry, a beat to the others, and the others judged. */
  private beat(): void {
    if (!this.link.up) return; // a node that cannot hear judges nobody dead
    void this.run(
      this.link.setWithExpiry(keys.alive(this.nodeId), String(this.clock.wallNow()), this.opts.graceMs),
    );
    const live = [...this.localIds].map((id) => keys.member(id));
    for (const names of this.held.values()) live.push(...names);
    void this.run(this.link.refresh(live, this.opts.graceMs));
    void this.publish(keys.cluster, { t: 'beat', node: this.nodeId });
    const now = this.clock.now();
    for (const [node, at] of [...this.lastHeard])
      if (now - at > this.opts.graceMs) this.nodeDead(node, now - at);
  }

  private nodeDead(node: string, silentMs: number): void {
    this.lastHeard.delete(node);
    let dropped = 0;
    for (const [id, holder] of [...this.mirrored])
      if (holder === node) {
        this.unmirror(id);
        dropped++;
      }
    this.log.warn('cluster node silent, its members dropped', { node, silentMs, members: dropped });
  }

  /**
   * Redis is (back) up: write and announce our members and claim their names again, then load
   * the others' members from their keys; mirrored members no longer there are dropped.
   */
  private async resync(): Promise<void> {
    await this.run(
      this.link.setWithExpiry(keys.alive(this.nodeId), String(this.clock.wallNow()), this.opts.graceMs),
    );
    void this.publish(keys.cluster, { t: 'beat', node: this.nodeId });
    for (const m of this.host.localMembers()) {
      this.localUp(m);
      void this.reclaim(m);
    }
    // A node announcing its members while the scan runs may be missing from it: its 'up's count.
    const fresh = (this.fresh = new Set());
    const values = await this.run(this.link.values(keys.memberPattern));
    if (this.fresh === fresh) this.fresh = undefined;
    if (values === undefined || this.closed) return;
    const seen = new Set<string>();
    const now = this.clock.now();
    for (const text of values) {
      const m = parseMember(text);
      if (!m) {
        this.stats.malformed++;
        continue;
      }
      if (m.node === this.nodeId) continue;
      seen.add(m.id);
      if (!this.lastHeard.has(m.node)) this.lastHeard.set(m.node, now);
      this.mirrorMember(m);
    }
    this.dropUnannounced([...this.mirrored.keys()].filter((id) => !seen.has(id) && !fresh.has(id)));
  }

  /**
   * Mirrored members a reload did not find are dropped after the grace unless their node
   * announces them again meanwhile. Dropping them at once told every room that the members of
   * the nodes slower to reconnect had left, and then joined again, after every Redis restart
   * (test/cluster/procs-redis.test.ts); a member that really left during the outage goes a grace
   * later instead.
   */
  private dropUnannounced(missing: string[]): void {
    this.clock.clearTimeout(this.recheck?.timer);
    this.recheck = undefined;
    if (missing.length === 0) return;
    const announced = new Set<string>();
    const timer = this.clock.setTimeout(() => {
      this.recheck = undefined;
      if (this.closed) return;
      for (const id of missing) if (!announced.has(id) && this.mirrored.has(id)) this.unmirror(id);
    }, this.opts.graceMs);
    this.recheck = { timer, announced };
  }

  /**
   * After an outage: a member's name claimed again (the keys may be gone with a restarted Redis,
   * or another member may have taken the name meanwhile: then both keep it, and it is logged).
   */
  private async reclaim(m: SharedMember): Promise<void> {
    if ((await this.claimName(m.id, m.room, m.name)) === 'taken') {
      this.stats.nameConflicts++;
      this.log.warn('cluster name conflict after an outage', { id: m.id, name: m.name, room: m.room });
    }
  }

  /** Leave the cluster: our members' keys and names go and the others are told; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.recheck?.timer);
    if (this.link.up) {
      const ids = [...this.localIds];
      const pending: Promise<unknown>[] = [];
      for (const id of ids) {
        pending.push(this.run(this.link.release(this.held.get(id) ?? [], id)));
        pending.push(this.run(this.link.del(keys.member(id))));
        pending.push(
          this.run(this.link.publish(keys.cluster, JSON.stringify({ t: 'down', node: this.nodeId, id }))),
        );
      }
      pending.push(this.run(this.link.del(keys.alive(this.nodeId))));
      await Promise.all(pending);
    }
    this.localIds.clear();
    this.held.clear();
    await this.link.close();
  }
}

function parseMember(text: string): SharedMember | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isSharedMember(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
