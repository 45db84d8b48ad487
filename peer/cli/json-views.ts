import type { PeerEvents, PeerFigures } from '../peer-events.js';

/**
 * The node's events and figures as the JSON-lines contract prints them (docs/cli.md): its field
 * names (snake_case, `id` for whichever id the event is about), its field order, and figures
 * rounded for reading. Fields are only ever added here, never renamed.
 */

type Json = Record<string, unknown>;

/** Round to `places` decimal places. */
const round = (x: number, places: number): number => Math.round(x * 10 ** places) / 10 ** places;

export function registeredJson(e: PeerEvents['registered']): Json {
  return { event: 'registered', id: e.selfId, public: e.public, transport: e.transport };
}

export function connectedJson(e: PeerEvents['connected']): Json {
  return {
    event: 'connected',
    peer: e.peer,
    id: e.peerId,
    path: e.path,
    remote: e.remote,
    ms: e.ms,
    fingerprint: e.fingerprint,
    sign_key: e.signKey,
    dh_key: e.dhKey,
  };
}

export function pathJson(e: PeerEvents['path']): Json {
  return { event: 'path', peer: e.peer, id: e.peerId, path: e.path, remote: e.remote };
}

export function messageJson(e: PeerEvents['message']): Json {
  return {
    event: 'message',
    from: e.peer,
    from_id: e.peerId,
    id: e.messageId,
    text: e.text,
    ts: e.ts,
    room: e.room,
    ...(e.action ? { action: true } : {}),
  };
}

/** `sent` and `delivered`: the peer's name and the message's id. */
export function messageStateJson(
  event: 'sent' | 'delivered',
  e: PeerEvents['sent'] | PeerEvents['delivered'],
): Json {
  return { event, peer: e.peer, id: e.messageId };
}

export function disconnectedJson(e: PeerEvents['disconnected']): Json {
  return { event: 'disconnected', peer: e.peer, id: e.peerId, reason: e.reason };
}

/** The `stats` answer: round trips to a tenth of a millisecond, loss to a thousandth. */
export function statsJson(f: PeerFigures): Json {
  const s = f.session;
  return {
    event: 'stats',
    peer: f.peer,
    id: f.peerId,
    fingerprint: f.fingerprint,
    state: f.state,
    ...(f.path ? { path: f.path } : {}),
    ...(f.remote !== undefined ? { remote: f.remote } : {}),
    ...(s?.rttMs !== undefined && s.minRttMs !== undefined
      ? { rtt_ms: round(s.rttMs, 1), min_rtt_ms: round(s.minRttMs, 1) }
      : {}),
    ...(s
      ? {
          loss: round(s.loss, 3),
          cwnd: s.cwnd,
          bytes_in_flight: s.bytesInFlight,
          retransmits: s.retransmits,
          packets_sent: s.packetsSent,
          packets_received: s.packetsReceived,
        }
      : {}),
    pending: f.pending,
    ...(f.punch ? { connect_ms: f.punch.ms, candidates: f.punch.candidates } : {}),
  };
}
