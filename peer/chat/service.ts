import path from 'node:path';
import { Emitter } from '../../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import { fingerprint } from '../../common/identity/identity.js';
import { toHex } from '../../common/wire/bytes.js';
import { MAX_TEXT_BYTES } from '../app-message.js';
import type { PeerEvents, PeerKeysSeen, PeerNode } from '../peer-node.js';
import { DeliveryBook } from './delivery.js';
import { FileTransfers } from './files.js';
import { History } from './history.js';
import type { HistoryRecord } from './history.js';
import { IncomingStore } from './incoming.js';
import { ioError } from './journal.js';
import { KeyWatch } from './key-watch.js';
import { Outbox } from './outbox.js';
import {
  closeReason,
  connectedNotice,
  connectionOf,
  disconnectedNotice,
  incomingOf,
  pathNotice,
  peerInfoOf,
} from './presentation.js';
import { recoverStores } from './recover.js';
import { STORAGE_DEFAULTS } from './storage-limits.js';
import type { ChatServiceOptions } from './storage-limits.js';
import { StorageErrors } from './storage-errors.js';
import { PEERS_FILE, TrustStore } from './trust.js';
import type {
  ChatEvents,
  ChatMessage,
  ChatService,
  ConversationId,
  DeliveryState,
  PeerConnection,
  PeerInfo,
  PeerView,
  SelfView,
  SendOptions,
  BulkChunk,
  BulkSent,
  FileView,
} from './types.js';

export { STORAGE_DEFAULTS } from './storage-limits.js';
export type { ChatServiceOptions, StorageLimits } from './storage-limits.js';

const convKey = (c: ConversationId): string => (c.kind === 'room' ? 'room' : c.peerId);

/**
 * The chat layer over a PeerNode: what the TUI (and any UI) uses. Every outgoing message goes
 * to the open sessions at once and to the outbox (one entry per recipient) meanwhile, and is
 * marked done when that recipient's receipt comes back; on start-up what is left is handed to the peers as they
 * appear. Incoming messages are recorded in history once (by sender and id; incoming.ts).
 *
 * The first peer seen behind a name is pinned (peer/chat/trust.ts), with its keys once a session
 * shows them. A peer whose name is pinned to another id or other keys is flagged KEY_CHANGED
 * (key-watch.ts) and nothing goes to it until trust(): send() and the outbox check the pin
 * before handing a message to the node, and the node asks this service (its trust gate) again
 * with the session's keys before the first message goes into each session, relayed or direct.
 */
export class PeerChatService extends Emitter<ChatEvents> implements ChatService {
  private readonly outbox: Outbox;
  private readonly history_: History;
  private readonly keys: KeyWatch;
  private readonly incoming: IncomingStore;
  private readonly errors = new StorageErrors((e) => this.emit('error', e));
  private readonly delivery = new DeliveryBook((e) => this.emit('delivery', e));
  private readonly now: () => number;
  /** (id|peer) already handed to the node in this process. */
  private readonly handed = new Set<string>();
  private knownPresent = new Map<string, string>(); // id -> name, for join/leave notices
  private selfView: SelfView;
  private readonly offs: (() => void)[] = [];
  private closed = false;
  private readonly files_: FileTransfers; // file transfers, both ways (files.ts)
  private bulkSink: ((r: BulkChunk) => Promise<void>) | undefined;
  /** History records written again at start (tests). */
  readonly recovered: HistoryRecord[];

  constructor(
    private readonly node: PeerNode,
    opts: ChatServiceOptions,
  ) {
    super();
    this.now = opts.now ?? Date.now;
    const durable = opts.durable ?? true;
    // The pins first: a damaged peers.json throws before any journal is opened.
    this.keys = new KeyWatch(new TrustStore(path.join(opts.dataDir, PEERS_FILE), this.now), {
      peerName: (id) => node.peerName(id),
      flagged: (id, name, message) => this.flagged(id, name, message),
      storageError: (name, err) => this.errors.report(name, err, 'peers.json'),
    });
    const limits = { ...STORAGE_DEFAULTS, ...opts.quota };
    const fs = opts.fs ? { fs: opts.fs } : {};
    this.outbox = new Outbox(opts.dataDir, { durable, ...fs });
    this.history_ = new History(opts.dataDir, {
      durable,
      maxBytes: limits.historyMaxBytes,
      tailBytes: limits.historyTailBytes,
      ...fs,
    });
    this.incoming = new IncomingStore({
      history: this.history_,
      errors: this.errors,
      peerBytesPerDay: limits.peerBytesPerDay,
      now: this.now,
      tell: (e) => this.emit('error', e),
      arrived: (r) => {
        if (!this.closed) this.emit('message', this.toMessage(r));
      },
    });
    node.setTrustGate((p) => this.gate(p));
    this.files_ = new FileTransfers(node, opts, (k, e) => this.emit(k, e));
    // Records of a file we receive go to files.ts; the others to onBulk's sink, or are refused.
    node.setBulkReceiver((r) => this.files_.take(r) ?? this.bulkSink?.(r) ?? Promise.resolve('refused'));
    this.selfView = {
      name: node.name,
      id: toHex(node.identity.id),
      fingerprint: fingerprint(node.identity.id),
      room: node.room,
      server: 'connecting',
      ...(node.serverNames.length > 1 ? { serverName: node.serverName } : {}),
    };
    this.recovered = recoverStores({
      history: this.history_,
      outbox: this.outbox,
      self: this.selfView,
      delivery: this.delivery,
      errors: this.errors,
    });
    // Incoming messages are acknowledged only once stored (peer/peer-link.ts accept).
    node.setReceiver((m) => this.incoming.store(incomingOf(m)), opts.storeRetryMs);
    this.errors.skipped(this.outbox.skipped + this.history_.skipped);
    this.offs.push(...this.follow(node));
  }

  /** The node's events, in the chat layer's words (each handler tells its own event last). */
  private follow(node: PeerNode): (() => void)[] {
    return [
      node.on('registered', (e) => this.onRegistered(e)),
      node.on('server-closed', (e) => this.updateSelf({ serverClosed: closeReason(e.reason) })),
      node.on('server', (e) => {
        this.updateSelf({ server: e.state });
        this.emit('server', { state: e.state });
      }),
      node.on('server-changed', (e) => {
        this.updateSelf({ serverName: e.server, serverChange: e.reason });
        this.emit('server-changed', { server: e.server, previous: e.previous, reason: e.reason });
      }),
      node.on('presence', (e) => this.onPresence(e.peers)),
      node.on('delivered', (d) => this.onDelivered(d.messageId, d.peerId)),
      node.on('connected', (c) => this.onConnected(c)),
      node.on('path', (p) => {
        this.notice(
          { kind: 'peer', peerId: p.peerId },
          pathNotice(p.peer, p.path, p.remote),
          p.path === 'relay' ? 'warn' : 'info',
        );
        this.emitPeers();
        this.emit('path', { peerId: p.peerId, name: p.peer, path: p.path, remote: p.remote });
      }),
      node.on('disconnected', (d) => {
        const level = d.reason === 'closed' ? 'info' : 'warn';
        this.notice({ kind: 'peer', peerId: d.peerId }, disconnectedNotice(d.peer, d.reason), level);
        this.emitPeers();
        this.emit('disconnected', { peerId: d.peerId, name: d.peer, reason: d.reason });
      }),
      node.on('error', (e) => this.emit('error', e)),
    ];
  }

  private onRegistered(e: PeerEvents['registered']): void {
    // The endpoint peers punch to is the UDP mapping; the relay stream's TCP source port is not.
    this.updateSelf(
      e.transport === 'udp'
        ? { publicEndpoint: e.public, server: 'registered', serverClosed: undefined }
        : { server: 'registered', serverClosed: undefined },
    );
    this.emit('registered', { peerId: e.selfId, publicEndpoint: e.public, transport: e.transport });
  }

  private onConnected(e: PeerEvents['connected']): void {
    const c = connectionOf(e);
    this.notice({ kind: 'peer', peerId: c.peerId }, connectedNotice(c));
    // The session proved these keys: they join the pin (or flag the peer, if not the pinned ones).
    if (c.signKey && c.dhKey) this.keys.mayDeliver(c.peerId, { signKey: c.signKey, dhKey: c.dhKey });
    this.delivery.move(c.peerId, 'pending', 'sent');
    this.emitPeers();
    this.emit('connected', c);
  }

  private updateSelf(p: Partial<SelfView>): void {
    this.selfView = { ...this.selfView, ...p, name: this.node.name };
    this.emit('self', this.selfView);
  }

  get self(): SelfView {
    return this.selfView;
  }

  peers(): PeerView[] {
    return this.node.peerList().map((p) => {
      const st = p.state === 'direct' || p.state === 'relay' ? this.node.peerStats(p.id) : undefined;
      const rttMs = st ? peerInfoOf(st).rttMs : undefined;
      return {
        id: p.id,
        name: p.name,
        state: p.state,
        ...(rttMs !== undefined ? { rttMs } : {}),
        ...(this.keys.isFlagged(p.id) ? { keyChanged: true } : {}),
        ...(p.remote !== undefined ? { remote: p.remote } : {}),
        ...(p.pending !== undefined ? { pending: p.pending } : {}),
      };
    });
  }

  private emitPeers(): void {
    this.emit('peers', this.peers());
  }

  private onPresence(list: { id: string; name: string }[]): void {
    const now = new Map(list.map((p) => [p.id, p.name]));
    for (const [id, name] of now) {
      if (!this.knownPresent.has(id)) this.notice({ kind: 'room' }, `${name} joined`);
      this.keys.check(name, id);
      this.handOver(id);
    }
    for (const [id, name] of this.knownPresent)
      if (!now.has(id)) this.notice({ kind: 'room' }, `${name} left`);
    this.knownPresent = now;
    this.emitPeers();
    this.emit('presence', { members: list.map((p) => ({ peerId: p.id, name: p.name })) });
  }

  /** A peer was flagged KEY_CHANGED: one event (the UI words the warning); what waits for it is held. */
  private flagged(peerId: string, name: string, message: string): void {
    this.emit('error', { code: 'KEY_CHANGED', message, peer: name });
    // What is still pending waits (in the outbox, or in the node's link behind the trust gate).
    this.delivery.move(peerId, 'pending', 'held');
    this.emitPeers();
  }

  /** The node's trust gate: asked with the session's keys before its first message (PeerLink). */
  private gate(p: PeerKeysSeen): boolean {
    return this.keys.check(p.name, p.id, { signKey: p.signKey, dhKey: p.dhKey });
  }

  /** Hand this peer's outbox entries to the node (once per run), unless its key is in question. */
  private handOver(peerId: string): void {
    if (!this.keys.mayDeliver(peerId)) return; // held until /trust
    for (const e of this.outbox.pendingFor(peerId)) {
      const k = `${e.id}|${peerId}`;
      if (this.handed.has(k)) continue;
      try {
        this.node.sendMessage(peerId, e.text, {
          id: e.id,
          ts: e.ts,
          room: e.room,
          ...(e.action ? { action: true } : {}),
        });
        this.handed.add(k);
      } catch (err) {
        if (!isPunchlineError(err, 'UNKNOWN_PEER')) throw err;
        return; // not known yet: presence brings it
      }
    }
  }

  history(c: ConversationId, limit?: number): ChatMessage[] {
    return this.history_.list(convKey(c), limit).map((r) => this.toMessage(r));
  }

  private toMessage(r: HistoryRecord): ChatMessage {
    const m = History.toMessage(r);
    if (r.out) m.delivery = this.delivery.of(r.id) ?? {};
    return m;
  }

  send(c: ConversationId, text: string, opts: SendOptions = {}): ChatMessage {
    return this.submit(c, text, opts).message;
  }

  sendBulk(nameOrId: string, source: AsyncIterable<Uint8Array> | Uint8Array): Promise<BulkSent> {
    return this.node.sendBulk(this.node.lookup(nameOrId).id, source);
  }

  onBulk(sink: (r: BulkChunk) => Promise<void>): void {
    this.bulkSink = sink;
  }

  sendFile(nameOrId: string, file: string): Promise<FileView> {
    return this.files_.send(nameOrId, file);
  }

  acceptFile(file: string, dir?: string): Promise<void> {
    return this.files_.accept(file, dir);
  }

  rejectFile(file: string): void {
    this.files_.reject(file);
  }

  cancelFile(file: string): void {
    this.files_.cancel(file);
  }

  files(): FileView[] {
    return this.files_.list();
  }

  sendStored(
    c: ConversationId,
    text: string,
    opts: SendOptions = {},
  ): { message: ChatMessage; stored: Promise<void> } {
    return this.submit(c, text, opts, true);
  }

  private submit(
    c: ConversationId,
    text: string,
    opts: SendOptions,
    callerReports = false,
  ): { message: ChatMessage; stored: Promise<void> } {
    if (text.length === 0) throw new PunchlineError('BAD_ARGUMENT', 'empty message');
    // In bytes, before anything is written: a refused message leaves no trace on disk.
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_TEXT_BYTES)
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `text is ${bytes} bytes; at most ${MAX_TEXT_BYTES} fit in one message`,
      );
    // A room message waits for every member seen in the room, online or not (those who left get it when they are back).
    const recipients = c.kind === 'room' ? this.roomMembers() : [this.node.lookup(c.peerId).id];
    const id = this.node.newMessageId();
    const ts = this.now();
    const states: Record<string, DeliveryState> = {};
    // Held at once for a key in question (the pins are checked now, and again before sending).
    for (const to of recipients) states[to] = this.keys.heldNow(to) ? 'held' : 'pending';
    this.delivery.start(id, states);
    const rec: HistoryRecord = {
      id,
      conv: convKey(c),
      fromId: this.selfView.id,
      fromName: this.node.name,
      text,
      ts,
      out: true,
      ...(opts.action === true ? { action: true } : {}),
    };
    this.emit('message', this.toMessage(rec));
    const stored = this.commit(rec, recipients).then((err) => {
      if (!err) return;
      if (callerReports) throw err;
      this.emit('error', { code: err.code, message: err.message });
    });
    if (!callerReports) stored.catch(() => {});
    return { message: this.toMessage(rec), stored };
  }

  /** Room members: every peer of this room the node knows (present or gone), but not ourselves. */
  private roomMembers(): string[] {
    const ids = new Set(this.node.peerList().map((p) => p.id));
    for (const id of this.knownPresent.keys()) ids.add(id);
    ids.delete(this.selfView.id);
    return [...ids];
  }

  /**
   * The message goes to the sessions at once, and its outbox record is written meanwhile: the
   * disk's latency (an fsync) never delays a chat line. Once the outbox record is on disk the
   * message survives a crash; then history. A crash between the two writes is repaired at start
   * (recover.ts). An outbox that cannot be written is reported: the message is still delivered
   * while this process runs (sessions retransmit until acknowledged), but not after a restart.
   */
  private async commit(rec: HistoryRecord, recipients: string[]): Promise<PunchlineError | undefined> {
    const { id, text, ts } = rec;
    const room = rec.conv === 'room';
    const action = rec.action === true;
    if (!this.closed) for (const to of recipients) this.handTo(to, rec);
    try {
      await this.outbox.add({ id, to: recipients, room, text, ts, ...(action ? { action } : {}) });
    } catch (e) {
      const err = isPunchlineError(e) ? e : ioError(e, 'cannot write outbox.jsonl');
      return new PunchlineError(
        err.code,
        `message ${id} is not in the outbox (${err.message}): it is delivered while punchline runs, not after a restart`,
        { cause: err },
      );
    }
    this.writeHistory(rec);
  }

  /** One recipient of a new message. */
  private handTo(to: string, rec: HistoryRecord): void {
    const { id, text, ts } = rec;
    if (!this.keys.mayDeliver(to)) {
      this.delivery.set(id, to, 'held');
      return;
    }
    try {
      this.node.sendMessage(to, text, {
        id,
        ts,
        room: rec.conv === 'room',
        ...(rec.action ? { action: true } : {}),
      });
    } catch (e) {
      if (!isPunchlineError(e, 'UNKNOWN_PEER')) throw e;
      return; // not known in this run yet: presence hands it over
    }
    this.handed.add(`${id}|${to}`);
    // (The node's trust gate may have held it meanwhile: then it stays held.)
    const st = this.node.peerList().find((p) => p.id === to)?.state;
    if ((st === 'direct' || st === 'relay') && this.delivery.stateOf(id, to) === 'pending')
      this.delivery.set(id, to, 'sent');
  }

  private writeHistory(rec: HistoryRecord): void {
    this.history_.add(rec).then(
      () => this.errors.clear(''),
      (e: unknown) => this.errors.report(undefined, ioError(e, 'cannot write history.jsonl')),
    );
  }

  private onDelivered(id: string, peerId: string): void {
    this.outbox
      .done(id, peerId)
      .catch((e: unknown) => this.errors.report(undefined, ioError(e, 'cannot write outbox.jsonl')));
    this.delivery.delivered(id, peerId);
  }

  /** Incoming messages refused by the store (IO or QUOTA), retries included. */
  get storeFailures(): number {
    return this.incoming.failures;
  }

  private notice(
    conversation: ConversationId,
    text: string,
    level: 'info' | 'warn' | 'error' = 'info',
  ): void {
    this.emit('notice', { conversation, text, level, ts: this.now() });
  }

  connect(nameOrId: string): Promise<void> {
    return this.node.connect(nameOrId);
  }

  connection(nameOrId: string): PeerConnection | undefined {
    const c = this.node.connection(nameOrId);
    return c ? connectionOf(c) : undefined;
  }

  resolvePeer(nameOrId: string): PeerView {
    const id = this.node.lookup(nameOrId).id;
    return this.peers().find((p) => p.id === id)!;
  }

  info(nameOrId: string): PeerInfo {
    return peerInfoOf(this.node.peerStats(nameOrId));
  }

  trust(nameOrId: string): void {
    const p = this.node.lookup(nameOrId);
    // The keys of its last introduction, when there was one (they hash to the id, or the store
    // refuses them); else the id alone, and its keys join the pin at the first session.
    this.keys.trust(p.name, p.id, p.keys);
    this.notice({ kind: 'peer', peerId: p.id }, `trusting the new key of ${p.name} (${p.fingerprint})`);
    // Held messages go now: those still in the outbox, and those the node held for the gate.
    this.delivery.move(p.id, 'held', 'pending');
    this.handOver(p.id);
    this.node.release(p.id);
    if (this.node.connection(p.id)) this.delivery.move(p.id, 'pending', 'sent');
    this.emitPeers();
  }

  async nick(name: string): Promise<void> {
    await this.node.rename(name);
    this.updateSelf({});
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.offs) off();
    await this.files_.close();
    await this.outbox.close();
    await this.history_.close();
  }
}
