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
  /** The open session's peer address (`ip:port`), or `relay`. */
  remote?: string;
  /** Messages to this peer not yet delivered, when there are any. */
  pending?: number;
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
  /** The lowest round trip seen, ms (with rttMs, once measured). */
  minRttMs?: number;
  lossPct?: number;
  /** Fraction of recent packets lost, to three decimals (lossPct is it in percent, to one). */
  loss?: number;
  retransmits?: number;
  connectMs?: number;
  /** Congestion window and bytes in flight, bytes; packets both ways: while a session exists. */
  cwnd?: number;
  bytesInFlight?: number;
  packetsSent?: number;
  packetsReceived?: number;
  /** Messages to this peer not yet delivered. */
  pending?: number;
}

/** An open session, as `connected` and connection() tell it. */
export interface PeerConnection {
  peerId: string;
  name: string;
  /** The path its first message takes (`connected`), or takes now (connection()). */
  path: 'direct' | 'relay';
  /** `ip:port` of a direct path, or `relay`. */
  remote: string;
  /** From the introduction to the encrypted session being open. */
  ms: number;
  fingerprint: string;
  /** The peer's Ed25519 and X25519 public keys (hex) the handshake proved; both hash to peerId. */
  signKey: string;
  dhKey: string;
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
  /** With several servers (`--server A,B`): the one in use (or being tried), by the name given. */
  serverName?: string;
  /** Why the client last moved to another of its servers: it stopped answering, or said it is going down. */
  serverChange?: 'unanswered' | 'draining';
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
  error: { code: ErrorCode; message: string; peer?: string };
  /** The server registered us over `transport`; `publicEndpoint` is the address it saw. */
  registered: { peerId: string; publicEndpoint: string; transport: 'udp' | 'ws' };
  /** The room's members other than us, as the server last told them. */
  presence: { members: { peerId: string; name: string }[] };
  /** A session opened (also again after a reconnect). */
  connected: PeerConnection;
  /** A session moved to another path. */
  path: { peerId: string; name: string; path: 'direct' | 'relay'; remote: string };
  disconnected: { peerId: string; name: string; reason: 'timeout' | 'closed' | 'error' };
  /** The server state changed (SelfView.server holds it). */
  server: { state: SelfView['server'] };
  /**
   * The client moved from `previous` to `server` (SelfView.serverName): `previous` stopped
   * answering (`unanswered`) or said it is going down (`draining`).
   */
  'server-changed': { server: string; previous: string; reason: 'unanswered' | 'draining' };
  /** Receiver: a peer offers a file; nothing is stored until acceptFile(file). */
  file_offer: FileOffer;
  /**
   * Both sides: bytes of a transfer so far (the sender's: handed to the session; the receiver's:
   * written to disk). At most one every 250 ms per transfer, plus one at the end.
   */
  file_progress: FileProgress;
  /** Both sides: the receiver checked the SHA-256 and moved the file into place. */
  file_done: FileDone;
  /** Both sides: the transfer ended without the file; the receiver left no partial file behind. */
  file_failed: FileFailed;
}

/** A file transfer's id: 21 characters of [A-Za-z0-9_-], chosen by the sender (the bulk transfer id too). */
export type FileId = string;

export interface FileOffer {
  file: FileId;
  peer: string;
  peerId: string;
  /** The sender's key fingerprint, to check out of band before accepting. */
  fingerprint: string;
  /** Already sanitised: one path component, no control characters, at most 255 bytes. */
  name: string;
  size: number;
  sha256: string;
}

export interface FileProgress {
  file: FileId;
  bytes: number;
  size: number;
  /** Bytes per second over the last interval. */
  rate: number;
  /** Time left at that rate, ms (undefined while the rate is 0). */
  etaMs?: number;
  path: 'direct' | 'relay';
}

export interface FileDone {
  file: FileId;
  /** Receiver: where the file was saved; sender: the source file. */
  filePath: string;
  bytes: number;
  sha256: string;
  /** From the first byte sent (this run, after a resume) to the receiver's confirmation. */
  ms: number;
  path: 'direct' | 'relay';
}

export interface FileFailed {
  file: FileId;
  /** TOO_LARGE, REJECTED, CANCELLED, CHECKSUM, SOURCE_CHANGED, IO, CLOSED, ... */
  code: ErrorCode;
  message: string;
}

/** A transfer in progress or offered, as files() lists it (/info). */
export interface FileView {
  file: FileId;
  direction: 'send' | 'receive';
  peer: string;
  peerId: string;
  name: string;
  size: number;
  /** Bytes done so far (sent, or written and kept). */
  bytes: number;
  sha256: string;
  /**
   * offered: waiting for the receiver's answer; active: bytes flowing; waiting: accepted, no
   * session with the peer right now (resumes on the next one).
   */
  state: 'offered' | 'active' | 'waiting';
  /** Sender: the source file; receiver: the directory it is saved into, once accepted. */
  filePath?: string;
}

/** A finished bulk send: the bytes the peer took and the time from first record to last receipt. */
export interface BulkSent {
  readonly bytes: number;
  readonly ms: number;
}

/** A piece of a bulk transfer from a peer: `data` starts at `offset`; `last` ends the transfer. */
export interface BulkChunk {
  readonly peer: string;
  readonly peerId: string;
  readonly transfer: string;
  readonly offset: number;
  readonly last: boolean;
  readonly data: Uint8Array;
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
  /**
   * Messages of a conversation from history, oldest first (at most `limit`, the newest ones): stored
   * ones. A message just sent is shown by the `message` event at once and listed here once on disk.
   */
  history(c: ConversationId, limit?: number): ChatMessage[];
  /**
   * Hand to the open sessions at once and write the outbox meanwhile; deliver to the others when
   * they can be reached. Returns the message.
   */
  send(c: ConversationId, text: string, opts?: SendOptions): ChatMessage;
  /**
   * send(), and learn when the message is safe: `stored` resolves once its outbox record is on
   * disk (it then survives a crash and goes out), or rejects with the error that kept it from
   * being written (which is then not also an `error` event; the message is still delivered while
   * this process runs).
   */
  sendStored(
    c: ConversationId,
    text: string,
    opts?: SendOptions,
  ): { message: ChatMessage; stored: Promise<void> };
  /**
   * Send bytes in bulk over the open session with a peer, behind any chat line, read from the
   * source only as fast as the session takes them. Resolves once the peer's bulk receiver (onBulk)
   * has taken every byte (its `done` reply); rejects with CLOSED without an open session, if it
   * ends on the way, or if the peer takes no bulk data (its `refused` reply).
   */
  sendBulk(nameOrId: string, source: AsyncIterable<Uint8Array> | Uint8Array): Promise<BulkSent>;
  /** Take bulk records from peers: each is acknowledged to its sender once `sink` resolves. */
  onBulk(sink: (r: BulkChunk) => Promise<void>): void;
  /**
   * Offer a file to a peer: it is hashed (SHA-256), remembered in the data directory (a restart
   * resumes it) and offered now or at the next session. Rejects BAD_ARGUMENT for a missing or
   * unreadable path or a directory. Then file_progress, file_done or file_failed tell the rest.
   */
  sendFile(nameOrId: string, path: string): Promise<FileView>;
  /**
   * Accept an offered file into `dir` (default: the service's download directory). Data goes to
   * a hidden temporary file there, checked against the SHA-256, then renamed to a free name.
   * Rejects BAD_ARGUMENT for an unknown id.
   */
  acceptFile(file: FileId, dir?: string): Promise<void>;
  /** Decline an offered file: the sender gets file_failed REJECTED. */
  rejectFile(file: FileId): void;
  /** Cancel a transfer from either side: both get file_failed CANCELLED; no partial file stays. */
  cancelFile(file: FileId): void;
  /** Transfers offered or in progress, both directions. */
  files(): FileView[];
  connect(nameOrId: string): Promise<void>;
  /** The open session with a peer, its path as it is now; undefined when none is open. */
  connection(nameOrId: string): PeerConnection | undefined;
  info(nameOrId: string): PeerInfo;
  /** Accept the new key behind a name whose key changed; releases held messages. */
  trust(nameOrId: string): void;
  /** Change your name in the room (re-registers). */
  nick(name: string): Promise<void>;
  resolvePeer(nameOrId: string): PeerView;
  close(): Promise<void>;
}
