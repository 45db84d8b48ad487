import { fromHex, toHex } from '../common/wire/bytes.js';
import type { Bindings } from './bindings.js';
import { CLUSTER_DEFAULTS, ClusterNode } from './cluster/cluster.js';
import type { ClaimResult, ClusterConfig, ClusterHost } from './cluster/cluster.js';
import type { IntroRequest, SharedMember } from './cluster/shared.js';
import type { ClusterHooks, ServerCore } from './core.js';
import type { Introducer } from './introductions.js';
import type { PresenceFanout } from './presence.js';
import type { MemberRecord } from './registry.js';
import type { StreamFront } from './stream-front.js';

/** The parts of the server the cluster reaches into (server.ts gives them). */
export interface ClusterParts {
  readonly core: ServerCore;
  readonly bindings: Bindings;
  readonly presence: PresenceFanout;
  readonly introducer: Introducer;
  /** The server's own bookkeeping for a member that left the registry (pairs, buckets, presence). */
  forget(rec: MemberRecord): void;
  /** Another node announced member `id` (it may have moved here from this node: rendezvous/handover.ts). */
  arrived(id: string): void;
  front(): StreamFront | undefined;
}

/** Where a mirrored member's stream registration points: nowhere on this node. */
const ELSEWHERE = Object.freeze({ address: '0.0.0.0', port: 0 });

export function toShared(rec: MemberRecord, node: string): SharedMember {
  return {
    id: rec.idHex,
    node,
    room: rec.room,
    name: rec.name,
    signKey: toHex(rec.signKey),
    dhKey: toHex(rec.dhKey),
    lan: rec.lan,
    ...(rec.udp
      ? {
          udp: {
            observed: rec.udp.observed,
            regTxid: rec.udp.regTxid,
            regTime: rec.udp.regTime,
            ...(rec.udp.nat ? { nat: rec.udp.nat } : {}),
          },
        }
      : {}),
    ...(rec.ws ? { ws: { regTxid: rec.ws.regTxid, regTime: rec.ws.regTime } } : {}),
  };
}

function fromShared(m: SharedMember, now: number): MemberRecord {
  return {
    id: fromHex(m.id),
    idHex: m.id,
    room: m.room,
    name: m.name,
    signKey: fromHex(m.signKey),
    dhKey: fromHex(m.dhKey),
    lan: m.lan.map((e) => ({ address: e.address, port: e.port })),
    node: m.node,
    ...(m.udp
      ? {
          udp: {
            observed: m.udp.observed,
            lastSeen: now,
            regTxid: m.udp.regTxid,
            regTime: m.udp.regTime,
            ...(m.udp.nat ? { nat: m.udp.nat } : {}),
          },
        }
      : {}),
    ...(m.ws
      ? { ws: { remote: ELSEWHERE, connection: -1, regTxid: m.ws.regTxid, regTime: m.ws.regTime } }
      : {}),
  };
}

/**
 * Joins a ClusterNode (rendezvous/cluster/) to the server: the handlers' hooks (core.cluster) go
 * out to it, and what other nodes say comes in as mirrored records in the registry, presence
 * changes, introductions and relay frames (docs/architecture.md, Cluster).
 */
export class ClusterGlue implements ClusterHost, ClusterHooks {
  readonly node: ClusterNode;
  /** Members held here, as told to the cluster. */
  private readonly locals = new Set<string>();

  constructor(
    config: ClusterConfig,
    private readonly parts: ClusterParts,
  ) {
    const { core } = parts;
    this.node = new ClusterNode(
      {
        nodeId: config.nodeId ?? toHex(core.random(6)),
        heartbeatMs: config.heartbeatMs ?? CLUSTER_DEFAULTS.heartbeatMs,
        graceMs: config.graceMs ?? CLUSTER_DEFAULTS.graceMs,
      },
      config.link,
      this,
      core.clock,
      core.log,
    );
  }

  // ---- the handlers' hooks: local changes going out ----

  claim(rec: MemberRecord): Promise<ClaimResult> {
    return this.node.claimName(rec.idHex, rec.room, rec.name);
  }

  changed(rec: MemberRecord): void {
    this.locals.add(rec.idHex);
    this.node.localUp(toShared(rec, this.node.nodeId));
  }

  /** A local member left the registry (server.ts forgetMember). */
  gone(rec: MemberRecord): void {
    if (rec.node !== undefined || !this.locals.delete(rec.idHex)) return;
    this.node.localDown(rec.idHex);
  }

  introduce(target: MemberRecord, from: MemberRecord, introId: Uint8Array): void {
    this.node.introduce(target.node!, { from: from.idHex, target: target.idHex, introId: toHex(introId) });
  }

  forward(node: string, target: string, frame: Uint8Array): boolean {
    return this.node.forward(node, fromHex(target), frame);
  }

  // ---- the cluster's host: other nodes' changes coming in ----

  localMembers(): SharedMember[] {
    const out: SharedMember[] = [];
    for (const id of this.locals) {
      const rec = this.parts.core.registry.get(id);
      if (rec && rec.node === undefined) out.push(toShared(rec, this.node.nodeId));
    }
    return out;
  }

  mirror(m: SharedMember): void {
    const { core, bindings, presence } = this.parts;
    const prev = core.registry.get(m.id);
    if (prev && prev.node === undefined) {
      // It registered on another node since: that node holds it now; its bindings here go quietly.
      this.locals.delete(m.id);
      bindings.follow(m.id, undefined);
      presence.forget(m.id);
    }
    const rec = fromShared(m, core.clock.now());
    const result = core.registry.upsert(rec);
    if (!result.ok) {
      this.node.stats.nameConflicts++;
      core.log.warn('cluster member not mirrored', { id: m.id, node: m.node, reason: result.code });
      return;
    }
    if (result.previousRoom !== undefined && prev) presence.changed(result.previousRoom, prev);
    if (result.changed) presence.changed(rec.room, rec);
    this.parts.arrived(m.id);
  }

  unmirror(id: string): void {
    const rec = this.parts.core.registry.get(id);
    if (!rec || rec.node === undefined) return;
    this.parts.core.registry.remove(id);
    this.parts.forget(rec);
  }

  introduceLocal(intro: IntroRequest): void {
    this.parts.introducer.introduceFromNode(intro.from, intro.target, fromHex(intro.introId));
  }

  relayIn(target: string, frame: Uint8Array): void {
    this.parts.front()?.relayFromNode(target, frame, 'cluster');
  }
}
