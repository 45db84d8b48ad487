/**
 * The chat layer's contract: what a user interface (the blessed TUI, the JSON-lines mode) sees
 * of a running peer. It sits above PeerNode (paths, sessions) and adds what people need:
 * message ids that survive restarts, an outbox, history, delivery state and key pinning.
 */
import type { ErrorCode } from '../../common/errors.js';

/** A conversation: the room's shared one, or one per peer (keyed by the peer's id). */
export type ConversationId = { kind: 'room' } | { kind: 'peer'; peerId: string };

export const ROOM: ConversationId = { kind: 'room' };
export const conversationKey = (c: ConversationId): string =>
  c.kind === 'room' ? 'room' : `peer:${c.peerId}`;

/** pending: in the outbox, not yet handed to a session; sent: handed over; delivered: receipt back. */
export type DeliveryState = 'pending' | 'sent' | 'delivered' | 'held';

export type PeerPresence = 'online' | 'connecting' | 'direct' | 'relay' | 'offline';

export interface PeerView {
  id: string;
  name: string;
  state: PeerPresence;
  rttMs?: number;
  /** The key behind this name does not match the pinned one: messages are held until /trust. */
  keyChanged?: boolean;
}

export interface ChatMessage {
  /** Globally unique, chosen by the sender (nanoid); the receiver drops duplicates by it. */
  id: string;
  conversation: ConversationId;
  fromId: string;
  fromName: string;
  text: string;
  /** Sender's wall clock, ms since 1970. */
  ts: number;
  outgoing: boolean;
  /** A "/me" action: shown as "* alice waves" (the app message's `action: true`). */
  action?: boolean;
  /** Outgoing only: per recipient (a room message goes to every member on its own session). */
  delivery?: Record<string, DeliveryState>;
}

export interface PeerInfo {
  id: string;
  name: string;
  fingerprint: string;
  state: PeerPresence;
  path?: 'direct' | 'relay';
  remote?: string;
  candidates?: { endpoint: string; kind: string; answered: boolean }[];
  rttMs?: number;
  lossPct?: number;
  retransmits?: number;
  connectMs?: number;
}

export interface SelfView {
  name: string;
  id: string;
  fingerprint: string;
  room: string;
  publicEndpoint?: string;
  server: 'connecting' | 'registered' | 'lost';
  /** Why the server last closed the connection, in its words ("server shutting down"); cleared on registering. */
  serverClosed?: string;
}

export interface ChatEvents extends Record<string, unknown> {
  self: SelfView;
  peers: PeerView[];
  /** A new message in any conversation (incoming, or outgoing just written to the outbox). */
  message: ChatMessage;
  /** Delivery state of an outgoing message changed for one recipient. */
  delivery: { id: string; peerId: string; state: DeliveryState };
  /** A system line for a conversation: joins, leaves, path changes, warnings. */
  notice: { conversation: ConversationId; text: string; level: 'info' | 'warn' | 'error'; ts: number };
  error: { code: ErrorCode | 'KEY_CHANGED'; message: string; peer?: string };
}

export interface SendOptions {
  /** A "/me" action rather than a plain message. */
  action?: boolean;
}

/** Commands a UI issues. Errors are thrown as PunchlineError (BAD_ARGUMENT, UNKNOWN_PEER, ...). */
export interface ChatService {
  on<K extends keyof ChatEvents>(name: K, fn: (e: ChatEvents[K]) => void): () => void;
  readonly self: SelfView;
  peers(): PeerView[];
  /** Messages of a conversation from history, oldest first (at most `limit`, the newest ones). */
  history(c: ConversationId, limit?: number): ChatMessage[];
  /** Write to the outbox, then deliver when the peer(s) can be reached. Returns the message. */
  send(c: ConversationId, text: string, opts?: SendOptions): ChatMessage;
  connect(nameOrId: string): Promise<void>;
  info(nameOrId: string): PeerInfo;
  /** Accept the new key behind a name whose key changed; releases held messages. */
  trust(nameOrId: string): void;
  /** Change your name in the room (re-registers). */
  nick(name: string): Promise<void>;
  resolvePeer(nameOrId: string): PeerView;
  close(): Promise<void>;
}
