import type { PeerEvents, PeerFigures } from '../peer-events.js';
import type { IncomingMessage } from './incoming.js';
import type { PeerConnection, PeerInfo } from './types.js';

/**
 * What the node tells, in the chat layer's words: its session views as PeerConnection and
 * PeerInfo, and the notices shown in a peer's conversation when its session changes.
 */

export function connectionOf(c: PeerEvents['connected']): PeerConnection {
  return {
    peerId: c.peerId,
    name: c.peer,
    path: c.path,
    remote: c.remote,
    ms: c.ms,
    fingerprint: c.fingerprint,
    signKey: c.signKey,
    dhKey: c.dhKey,
  };
}

export function incomingOf(m: PeerEvents['message']): IncomingMessage {
  return {
    id: m.messageId,
    fromId: m.peerId,
    fromName: m.peer,
    text: m.text,
    ts: m.ts,
    room: m.room,
    ...(m.action ? { action: true } : {}),
  };
}

/** Round to `places` decimal places: figures as people read them. */
const round = (x: number, places: number): number => Math.round(x * 10 ** places) / 10 ** places;

/**
 * A peer's session figures (/info, the `stats` command), rounded for reading: round trips to a
 * tenth of a millisecond, loss to a thousandth; figures not measured yet are left out.
 */
export function peerInfoOf(f: PeerFigures): PeerInfo {
  const s = f.session;
  const loss = s ? round(s.loss, 3) : undefined;
  return {
    id: f.peerId,
    name: f.peer,
    fingerprint: f.fingerprint,
    state: f.state,
    ...(f.path ? { path: f.path } : {}),
    ...(f.remote && f.path !== 'relay' ? { remote: f.remote } : {}), // a relayed path has no peer address
    ...(f.punch ? { candidates: f.punch.candidates, connectMs: f.punch.ms } : {}),
    ...(s?.rttMs !== undefined && s.minRttMs !== undefined
      ? { rttMs: round(s.rttMs, 1), minRttMs: round(s.minRttMs, 1) }
      : {}),
    ...(s && loss !== undefined
      ? {
          lossPct: Math.round(loss * 1000) / 10,
          loss,
          retransmits: s.retransmits,
          cwnd: s.cwnd,
          bytesInFlight: s.bytesInFlight,
          packetsSent: s.packetsSent,
          packetsReceived: s.packetsReceived,
        }
      : {}),
    pending: f.pending,
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
