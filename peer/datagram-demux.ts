import type { Logger } from '../common/log.js';
import type { DatagramSocket, Endpoint } from '../common/net/types.js';
import { connectionIdOf, isSessionPacket } from '../common/session/packet.js';
import { toHex } from '../common/wire/bytes.js';
import { MsgType } from '../common/wire/constants.js';
import { decode, isPunchline } from '../common/wire/messages.js';
import type { Message, PortProbe, Probe } from '../common/wire/messages.js';
import type { PeerLink } from './peer-link.js';
import { newSearchCounters, type SearchCounters } from './port-search.js';
import { newPunchCounters } from './puncher.js';
import type { PunchCounters } from './puncher.js';
import type { ServerGate } from './server-gate.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';

/** A node's datagram counters: what came and went, and what was dropped on the way in, by reason. */
export class PeerStats {
  datagramsIn = 0;
  datagramsOut = 0;
  dropped: Record<'malformed' | 'unexpected' | 'bad_probe' | 'no_session', number> = {
    malformed: 0,
    unexpected: 0,
    bad_probe: 0,
    no_session: 0,
  };
  /** Punching and its probe budget (common/path/probe-budget.ts, docs/nat-traversal.md). */
  punch: PunchCounters = newPunchCounters();
  /** Port searches towards symmetric NATs (peer/port-search.ts, docs/nat-traversal.md). */
  search: SearchCounters = newSearchCounters();
}

/** Where the demux hands what it sorted out. */
export interface DemuxTargets {
  gate: ServerGate;
  logger: Logger;
  /** The link of the peer with this id (hex), if the node knows it. */
  peerLink(idHex: string): PeerLink | undefined;
  /** A message of the server's part of the protocol, from the server's endpoint. */
  server(m: Message, raw: Uint8Array): void;
  /** A PROBE or PROBE_ACK: false when no punch attempt takes it (counted as bad_probe). */
  probe(m: Probe, from: Endpoint, size: number, via?: DatagramSocket): boolean;
  /** A PORT_PROBE: false when no port search takes it (counted as bad_probe). */
  portProbe(m: PortProbe, from: Endpoint, via?: DatagramSocket): boolean;
}

/**
 * The receive side of the node's one UDP socket (and of the relay's session packets): session
 * packets go to the link their connection id is routed to, the server's messages through the
 * server gate, probes to the punch attempts; everything else is counted and dropped. Nothing a
 * sender puts in a datagram escapes as an exception.
 */
export class DatagramDemux {
  private readonly routes = new Map<string, PeerLink>();

  constructor(
    private readonly stats: PeerStats,
    private readonly to: DemuxTargets,
  ) {}

  /** Route session packets with these connection ids (hex) to `link`, or (undefined) stop routing them to `owner`. */
  route(owner: PeerLink, cids: string[], link: PeerLink | undefined): void {
    for (const cid of cids) {
      if (link) this.routes.set(cid, link);
      else if (this.routes.get(cid) === owner) this.routes.delete(cid);
    }
  }

  /**
   * A datagram from the UDP socket, or (`via`) from one of a port search's sockets, which take
   * session packets and the peers' punching messages only (peer/port-search.ts).
   */
  onDatagram(data: Uint8Array, from: Endpoint, via?: DatagramSocket): void {
    this.stats.datagramsIn++;
    if (isSessionPacket(data)) {
      // Routed by connection id: the session decides (authenticated) whether `from` is news.
      const cid = connectionIdOf(data);
      const link = cid === undefined ? undefined : this.routes.get(cid);
      if (!link?.session) {
        this.stats.dropped.no_session++;
        return;
      }
      link.receive(data, link.pathTo(from), cid);
      return;
    }
    if (!isPunchline(data)) {
      if (via || !this.to.gate.noteStunAnswer(data, from)) this.stats.dropped.malformed++;
      return;
    }
    const m = decodeOrDrop(decode, data, () => this.stats.dropped.malformed++);
    if (!m) return;
    try {
      this.dispatch(m, from, data, via);
    } catch (e) {
      this.to.logger.error('receive handler failed', { type: m.type, error: String(e) });
    }
  }

  /** A session packet that came through the relay from the peer with id `from`. */
  onRelayed(from: Uint8Array, payload: Uint8Array): void {
    const peer = this.to.peerLink(toHex(from));
    const cid = isSessionPacket(payload) ? connectionIdOf(payload) : undefined;
    const link = cid === undefined ? undefined : this.routes.get(cid);
    if (!peer || link !== peer) {
      this.stats.dropped.no_session++;
      return;
    }
    link.receive(payload, link.relayPath, cid);
  }

  private dispatch(m: Message, from: Endpoint, raw: Uint8Array, via: DatagramSocket | undefined): void {
    if (this.to.gate.isServerType(m.type)) {
      // Only the server may speak the server's part of the protocol, and only to the main socket.
      if (!via && this.to.gate.fromServer(from)) this.to.server(m, raw);
      else this.stats.dropped.unexpected++;
      return;
    }
    if (m.type === MsgType.PROBE || m.type === MsgType.PROBE_ACK) {
      if (!this.to.probe(m, from, raw.length, via)) this.stats.dropped.bad_probe++;
      return;
    }
    if (m.type === MsgType.PORT_PROBE) {
      if (!this.to.portProbe(m, from, via)) this.stats.dropped.bad_probe++;
      return;
    }
    this.stats.dropped.unexpected++;
  }
}
