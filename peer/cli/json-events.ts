import type { ChatEvents, ChatMessage, PeerConnection, PeerInfo, PeerView } from '../chat/types.js';

/**
 * The JSON-lines events (docs/cli.md, Events) made from what the chat service tells: one
 * function per event, the only place the contract's field names are written. One rule for ids:
 * `id` is always a message id, `peer_id` always a peer's id (`peer` or `from` its name).
 */
export type Json = Record<string, unknown>;

export const registeredJson = (e: ChatEvents['registered']): Json => ({
  event: 'registered',
  peer_id: e.peerId,
  public: e.publicEndpoint,
  transport: e.transport,
});

export const presenceJson = (e: ChatEvents['presence']): Json => ({
  event: 'presence',
  peers: e.members.map((m) => ({ peer_id: m.peerId, name: m.name })),
});

export const connectedJson = (c: PeerConnection): Json => ({
  event: 'connected',
  peer: c.name,
  peer_id: c.peerId,
  path: c.path,
  remote: c.remote,
  ms: c.ms,
  fingerprint: c.fingerprint,
  sign_key: c.signKey,
  dh_key: c.dhKey,
});

export const pathJson = (p: ChatEvents['path']): Json => ({
  event: 'path',
  peer: p.name,
  peer_id: p.peerId,
  path: p.path,
  remote: p.remote,
});

export const disconnectedJson = (d: ChatEvents['disconnected']): Json => ({
  event: 'disconnected',
  peer: d.name,
  peer_id: d.peerId,
  reason: d.reason,
});

/** An incoming message (outgoing ones are answered by `sent`). */
export const messageJson = (m: ChatMessage): Json => ({
  event: 'message',
  from: m.fromName,
  peer_id: m.fromId,
  id: m.id,
  text: m.text,
  ts: m.ts,
  room: m.conversation.kind === 'room',
  ...(m.action ? { action: true } : {}),
});

/** `send` answered: `held` when the key behind the name is in question (KEY_CHANGED). */
export const sentJson = (peer: PeerView, messageId: string, held: boolean): Json => ({
  event: 'sent',
  peer: peer.name,
  peer_id: peer.id,
  id: messageId,
  ...(held ? { held: true } : {}),
});

/** `send_room` answered, with the names of the members it goes to. */
export const sentRoomJson = (messageId: string, names: string[]): Json => ({
  event: 'sent',
  room: true,
  id: messageId,
  peers: names,
});

export const deliveredJson = (messageId: string, peer: { id: string; name: string }): Json => ({
  event: 'delivered',
  peer: peer.name,
  peer_id: peer.id,
  id: messageId,
});

export const peersJson = (peers: PeerView[]): Json => ({
  event: 'peers',
  peers: peers.map((p) => ({
    peer_id: p.id,
    name: p.name,
    state: p.state,
    ...(p.remote !== undefined ? { remote: p.remote } : {}),
    ...(p.pending !== undefined ? { pending: p.pending } : {}),
  })),
});

/** A session's figures; a relayed path's `remote` is `relay` (PeerInfo leaves it out). */
export const statsJson = (s: PeerInfo): Json => ({
  event: 'stats',
  peer: s.name,
  peer_id: s.id,
  fingerprint: s.fingerprint,
  state: s.state,
  ...(s.path !== undefined ? { path: s.path } : {}),
  ...(s.path === 'relay' ? { remote: 'relay' } : s.remote !== undefined ? { remote: s.remote } : {}),
  ...(s.rttMs !== undefined ? { rtt_ms: s.rttMs } : {}),
  ...(s.minRttMs !== undefined ? { min_rtt_ms: s.minRttMs } : {}),
  ...(s.loss !== undefined ? { loss: s.loss } : {}),
  ...(s.cwnd !== undefined ? { cwnd: s.cwnd } : {}),
  ...(s.bytesInFlight !== undefined ? { bytes_in_flight: s.bytesInFlight } : {}),
  ...(s.retransmits !== undefined ? { retransmits: s.retransmits } : {}),
  ...(s.packetsSent !== undefined ? { packets_sent: s.packetsSent } : {}),
  ...(s.packetsReceived !== undefined ? { packets_received: s.packetsReceived } : {}),
  ...(s.pending !== undefined ? { pending: s.pending } : {}),
  ...(s.connectMs !== undefined ? { connect_ms: s.connectMs } : {}),
  ...(s.candidates !== undefined ? { candidates: s.candidates } : {}),
});

/** `trust` answered: `peer` as the command named it. */
export const trustedJson = (named: string, peerId: string): Json => ({
  event: 'trusted',
  peer: named,
  peer_id: peerId,
});

export const serverJson = (state: string): Json => ({ event: 'server', state });

/** The client moved to another rendezvous server (`--server A,B`): `previous` stopped answering, or is draining. */
export const serverChangedJson = (e: ChatEvents['server-changed']): Json => ({
  event: 'server-changed',
  server: e.server,
  previous: e.previous,
  reason: e.reason,
});
