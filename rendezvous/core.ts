import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { sameEndpoint } from '../common/net/types.js';
import { toHex } from '../common/wire/bytes.js';
import type { AuthChannel } from '../common/wire/server-auth.js';
import type { Bindings } from './bindings.js';
import type { ClaimResult } from './cluster/cluster.js';
import type { LimitLog } from './limit-log.js';
import type { ResolvedOptions } from './options.js';
import type { MemberRecord, Registry } from './registry.js';
import { sendError } from './reply.js';
import type { ReplyContext } from './reply.js';
import type { RendezvousStats } from './stats.js';

/**
 * What the server's message handlers share (registration.ts, introductions.ts, server.ts): the
 * options, the injected seams, the counters, the registry and this node's bindings table.
 */
export interface ServerCore {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  readonly log: Logger;
  readonly random: (n: number) => Uint8Array;
  readonly stats: RendezvousStats;
  readonly registry: Registry;
  readonly bindings: Bindings;
  readonly limitLog: LimitLog;
  /** In a cluster: what the handlers tell the other nodes (rendezvous/cluster-host.ts). */
  cluster?: ClusterHooks;
}

/** What the message handlers ask of the cluster (docs/architecture.md, Cluster). */
export interface ClusterHooks {
  /** Claim `rec`'s name cluster-wide before it is registered under it. */
  claim(rec: MemberRecord): Promise<ClaimResult>;
  /** A local member registered or changed (NAT_INFO): the other nodes mirror it. */
  changed(rec: MemberRecord): void;
  /** `target` is held by another node: it introduces its member to `from` (intro id `introId`). */
  introduce(target: MemberRecord, from: MemberRecord, introId: Uint8Array): void;
}

/** A message that speaks for a registered member (see authenticate). */
export interface Authenticated {
  rec: MemberRecord;
  auth: AuthChannel;
  moved: boolean;
}

/**
 * The record for `idHex` if this message speaks for it: its auth trailer verifies under the key
 * of that member's registration on this transport (and is not a replay), and, over a stream, it
 * came on the very connection that registered. Over UDP `moved` says it came from another
 * address than the one the registration proved (a NAT rebinding, or a forwarded copy): such a
 * sender gets at most a small answer, never presence or introductions.
 */
export function authenticate(
  core: ServerCore,
  idHex: string,
  ctx: ReplyContext,
  raw: Uint8Array,
): Authenticated | 'unknown' | 'forged' {
  const rec = core.registry.get(idHex);
  const binding = rec && core.bindings.of(rec, ctx.transport);
  if (!rec || !binding) {
    core.stats.dropped.not_registered++;
    return 'unknown';
  }
  if (ctx.transport === 'ws' && (ctx.connection === undefined || rec.ws?.connection !== ctx.connection)) {
    core.stats.dropped.not_registered++;
    return 'forged';
  }
  if (!binding.auth.open(raw)) {
    core.stats.dropped.bad_mac++;
    return 'forged';
  }
  const moved = ctx.transport === 'udp' && !sameEndpoint(rec.udp!.observed, ctx.from);
  return { rec, auth: binding.auth, moved };
}

/**
 * authenticate() for a request (KEEPALIVE, CONNECT), answering those that do not pass: the
 * sender, or undefined when it was answered already.
 *  - an id this server does not hold (it expired, or the server restarted) gets an unsealed
 *    NOT_REGISTERED no larger than the request, so the peer registers again at once;
 *  - one that fails its MAC gets nothing at all: its source may be forged;
 *  - an authentic one from another address than the registration proved gets only "register
 *    again from there" (re-registering proves the new address), sealed and no larger than it.
 */
export function authenticateRequest(
  core: ServerCore,
  m: { id: Uint8Array; txid: Uint8Array },
  ctx: ReplyContext,
  raw: Uint8Array,
): Authenticated | undefined {
  const who = authenticate(core, toHex(m.id), ctx, raw);
  if (who === 'unknown') sendError(ctx, m.txid, 'NOT_REGISTERED', 'not registered', undefined, raw.length);
  if (typeof who === 'string') return undefined;
  if (who.moved) {
    core.stats.dropped.not_registered++;
    sendError(ctx, m.txid, 'NOT_REGISTERED', 'not registered from this address', who.auth, raw.length);
    return undefined;
  }
  return who;
}
