import { MsgType } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { NatInfo } from '../common/wire/messages.js';
import { authenticateRequest } from './core.js';
import type { ServerCore } from './core.js';
import type { ReplyContext } from './reply.js';

/**
 * NAT_INFO: a member's port behaviour (peer/nat-probe.ts measured it), kept on its UDP
 * registration for the introductions of it (introductions.ts). Treated as a KEEPALIVE is, and so
 * limited as one is: authenticated (an unknown id and a moved sender get the same answers),
 * refreshing the registration, answered with a KEEPALIVE_ACK (41 bytes; a NAT_INFO is at least
 * 47). It describes the UDP mapping, so over a stream it is dropped.
 */
export function takeNatInfo(core: ServerCore, m: NatInfo, ctx: ReplyContext, raw: Uint8Array): void {
  if (ctx.transport !== 'udp') return void core.stats.dropped.unexpected++;
  const who = authenticateRequest(core, m, ctx, raw);
  const udp = who?.rec.udp;
  if (!who || !udp) return;
  udp.lastSeen = core.clock.now();
  const news = JSON.stringify(udp.nat) !== JSON.stringify(m.nat);
  udp.nat = m.nat;
  core.stats.natInfo++;
  // The other nodes carry it in their introductions of this member (docs/architecture.md, Cluster).
  if (news) core.cluster?.changed(who.rec);
  const presenceVersion = core.registry.roomVersion(who.rec.room);
  ctx.reply(
    who.auth.seal(encode({ type: MsgType.KEEPALIVE_ACK, txid: m.txid, observed: ctx.from, presenceVersion })),
  );
}
