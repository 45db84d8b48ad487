import type { PeerEvents, PeerStatsView } from '../peer-node.js';
import type { IncomingMessage } from './incoming.js';
import type { PeerConnection, PeerInfo } from './types.js';

/**
 * What the node tells, in the chat layer's words: its session views as PeerConnection and
 * PeerInfo, and the notices shown in a peer's conversation when its session changes.
 */

export function connectionOf(c: PeerEvents['connected']): PeerConnection {
  return {
    peerId: c.id,
    name: c.peer,
    path: c.path,
    remote: c.remote,
    ms: c.ms,
    fingerprint: c.fingerprint,
    signKey: c.sign_key,
    dhKey: c.dh_key,
  };
}

export function incomingOf(m: PeerEvents['message']): IncomingMessage {
  return {
    id: m.id,
    fromId: m.from_id,
    fromName: m.from,
    text: m.text,
    ts: m.ts,
    room: m.room,
    ...(m.action ? { action: true } : {}),
  };
}

/** A peer's session figures (/info, the `stats` command). */
export function peerInfoOf(s: PeerStatsView): PeerInfo {
  return {
    id: s.id,
    name: s.peer,
    fingerprint: s.fingerprint,
    state: s.state,
    ...(s.path ? { path: s.path } : {}),
    ...(s.remote && s.path !== 'relay' ? { remote: s.remote } : {}), // a relayed path has no peer address
    ...(s.punch ? { candidates: s.punch.candidates, connectMs: s.punch.ms } : {}),
    ...(s.rtt_ms !== undefined ? { rttMs: s.rtt_ms } : {}),
    ...(s.min_rtt_ms !== undefined ? { minRttMs: s.min_rtt_ms } : {}),
    ...(s.loss !== undefined ? { lossPct: Math.round(s.loss * 1000) / 10, loss: s.loss } : {}),
    ...(s.retransmits !== undefined ? { retransmits: s.retransmits } : {}),
    ...(s.cwnd !== undefined ? { cwnd: s.cwnd } : {}),
    ...(s.bytes_in_flight !== undefined ? { bytesInFlight: s.bytes_in_flight } : {}),
    ...(s.packets_sent !== undefined ? { packetsSent: s.packets_sent } : {}),
    ...(s.packets_received !== undefined ? { packetsReceived: s.packets_received } : {}),
    pending: s.pending,
  };
}

export const connectedNotice = (c: PeerConnection): string =>
  c.path === 'relay'
    ? `connected to ${c.name} through the relay in ${c.ms} ms; trying a direct path`
    : `connected to ${c.name}: direct path to ${c.remote} in ${c.ms} ms`;

export const pathNotice = (name: string, path: 'direct' | 'relay', remote: string): string =>
  path === 'relay' ? `${name}: direct path lost, now through the relay` : `${name}: now direct to ${remote}`;

export const disconnectedNotice = (name: string, reason: 'timeout' | 'closed' | 'error'): string =>
  reason === 'timeout'
    ? `lost ${name}: no answer for 15 s; reconnecting`
    : reason === 'closed'
      ? `${name} closed the session`
      : `the session with ${name} failed`;

/** The server's own words from a stream close ("closed by remote (1001 server shutting down)"). */
export function closeReason(reason: string): string {
  const m = /^closed by remote \(\d+ (.+)\)$/.exec(reason);
  return m ? m[1]! : reason;
}
