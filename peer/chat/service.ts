import path from 'node:path';
import { Emitter } from '../../common/emitter.js';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import type { ErrorCode } from '../../common/errors.js';
import { fingerprint } from '../../common/identity.js';
import { toHex } from '../../common/wire/bytes.js';
import { MAX_TEXT_BYTES } from '../app-message.js';
import type { PeerEvents, PeerKeysSeen, PeerNode } from '../peer-node.js';
import { History } from './history.js';
import type { HistoryRecord } from './history.js';
import { ioError } from './journal.js';
import type { JournalFs } from './journal.js';
import { Outbox } from './outbox.js';
import { PEERS_FILE, TrustStore } from './trust.js';
import type { PeerKeys, TrustVerdict } from './trust.js';
import type {
  ChatEvents,
  ChatMessage,
  ChatService,
  ConversationId,
  DeliveryState,
  PeerInfo,
  PeerView,
  SelfView,
  SendOptions,
} from './types.js';

export interface ChatServiceOptions {
  dataDir: string;
  /** fsync every journal batch (default true; tests may turn it off for speed). */
  durable?: boolean;
  now?: () => number;
  /** Storage limits (STORAGE_DEFAULTS, flags in peer/chat-main.ts). */
  quota?: Partial<StorageLimits>;
  /** Pause before a message whose store failed is offered to the store again (peer/peer-link.ts STORE_RETRY_MS). */
  storeRetryMs?: number;
  /** The file seam under outbox.jsonl and history.jsonl (tests: a full disk, a crash between writes). */
  fs?: JournalFs;
}

export interface StorageLimits {
  /** Text bytes stored per sending peer per UTC day; more is refused with QUOTA until the next day. */
  peerBytesPerDay: number;
  /** history.jsonl rotates at this size (history.1.jsonl is kept): disk use is at most about twice it. */
  historyMaxBytes: number;
  /** The end of history.jsonl read at start. */
  historyTailBytes: number;
}

export const STORAGE_DEFAULTS: StorageLimits = {
  peerBytesPerDay: 32 * 1024 * 1024,
  historyMaxBytes: 64 * 1024 * 1024,
  historyTailBytes: 8 * 1024 * 1024,
};

const DAY_MS = 86_400_000;

const convKey = (c: ConversationId): string => (c.kind === 'room' ? 'room' : c.peerId);

/**
 * The chat layer over a PeerNode: what the TUI (and any UI) uses. Every outgoing message goes
 * to the outbox (one entry per recipient) before it is shown, and is marked done when that
 * recipient's receipt comes back; on start-up what is left is handed to the peers as they
 * appear. Incoming messages are recorded in history once (by sender and id).
 *
 * The first peer seen behind a name is pinned (peer/chat/trust.ts), with its keys once a session
 * shows them. A peer whose name is pinned to another id or other keys is flagged KEY_CHANGED and
 * nothing goes to it until trust(): send() and the outbox check the pin before handing a message
 * to the node, and the node asks this service (its trust gate) again with the session's keys
 * before the first message goes into each session, relayed or direct.
 */
export class PeerChatService extends Emitter<ChatEvents> implements ChatService {
  private readonly outbox: Outbox;
  private readonly history_: History;
  private readonly trustStore: TrustStore;
  private readonly now: () => number;
  /** (id|peer) already handed to the node in this process. */
  private readonly handed = new Set<string>();
  /** Delivery state per outgoing message and recipient, for messages of this run and the outbox. */
  private readonly delivery = new Map<string, Record<string, DeliveryState>>();
  /**
   * Peers (by id) shown behind a name pinned to another id or other keys -> that name. Messages
   * to them are held until trust(); only trust() clears a flag.
   */
  private readonly changed = new Map<string, string>();
  private knownPresent = new Map<string, string>(); // id -> name, for join/leave notices
  private selfView: SelfView;
  private readonly offs: (() => void)[] = [];
  private readonly limits: StorageLimits;
  /** Text bytes stored (or being stored) per sending peer on `day`. */
  private quotaDay = -1;
  private readonly received = new Map<string, number>();
  /** The last storage error reported per peer (reported once until a store succeeds). */
  private readonly failing = new Map<string, ErrorCode>();

  constructor(
    private readonly node: PeerNode,
    opts: ChatServiceOptions,
  ) {
    super();
    this.now = opts.now ?? Date.now;
    const durable = opts.durable ?? true;
    // The pins first: a damaged peers.json throws before any journal is opened.
    this.trustStore = new TrustStore(path.join(opts.dataDir, PEERS_FILE), this.now);
    this.limits = { ...STORAGE_DEFAULTS, ...opts.quota };
    const fs = opts.fs ? { fs: opts.fs } : {};
    this.outbox = new Outbox(opts.dataDir, { durable, ...fs });
    this.history_ = new History(opts.dataDir, {
      durable,
      maxBytes: this.limits.historyMaxBytes,
      tailBytes: this.limits.historyTailBytes,
      ...fs,
    });
    node.setTrustGate((p) => this.gate(p));
    const id = toHex(node.identity.id);
    this.selfView = {
      name: node.name,
      id,
      fingerprint: fingerprint(node.identity.id),
      room: node.room,
      server: 'connecting',
    };
    this.recover();
    // Delivery marks come back from the outbox: delivered where the receipt was recorded, else pending.
    for (const conv of this.history_.conversations())
      for (const r of this.history_.list(conv)) if (r.out) this.restoreDelivery(r);
    // Incoming messages are acknowledged only once stored (peer/peer-link.ts accept).
    node.setReceiver((m) => this.store(m), opts.storeRetryMs);
    const skipped = this.outbox.skipped + this.history_.skipped;
    if (skipped > 0)
      setImmediate(() =>
        this.emit('error', {
          code: 'MALFORMED',
          message: `skipped ${skipped} damaged or over-limit record${skipped > 1 ? 's' : ''} in outbox.jsonl/history.jsonl`,
        }),
      );
    this.offs.push(
      // The endpoint peers punch to is the UDP mapping; the relay stream's TCP source port is not.
      node.on('registered', (e) =>
        this.updateSelf(
          e.transport === 'udp'
            ? { publicEndpoint: e.public, server: 'registered', serverClosed: undefined }
            : { server: 'registered', serverClosed: undefined },
        ),
      ),
      node.on('server-closed', (e) => this.updateSelf({ serverClosed: closeReason(e.reason) })),
      node.on('server', (e) => this.updateSelf({ server: e.state })),
      node.on('presence', (e) => this.onPresence(e.peers)),
      node.on('delivered', (d) => this.onDelivered(d.messageId, d.peerId)),
      node.on('connected', (c) => {
        this.notice(
          { kind: 'peer', peerId: c.peerId },
          c.path === 'relay'
            ? `connected to ${c.peer} through the relay in ${c.ms} ms; trying a direct path`
            : `connected to ${c.peer}: direct path to ${c.remote} in ${c.ms} ms`,
        );
        // The session proved these keys: they join the pin (or flag the peer, if not the pinned ones).
        if (c.signKey && c.dhKey) this.mayDeliver(c.peerId, { signKey: c.signKey, dhKey: c.dhKey });
        this.markSent(c.peerId);
        this.emitPeers();
      }),
      node.on('path', (p) => {
        this.notice(
          { kind: 'peer', peerId: p.peerId },
          p.path === 'relay'
            ? `${p.peer}: direct path lost, now through the relay`
            : `${p.peer}: now direct to ${p.remote}`,
          p.path === 'relay' ? 'warn' : 'info',
        );
        this.emitPeers();
      }),
      node.on('disconnected', (d) => {
        const text =
          d.reason === 'timeout'
            ? `lost ${d.peer}: no answer for 15 s; reconnecting`
            : d.reason === 'closed'
              ? `${d.peer} closed the session`
              : `the session with ${d.peer} failed`;
        this.notice({ kind: 'peer', peerId: d.peerId }, text, d.reason === 'closed' ? 'info' : 'warn');
        this.emitPeers();
      }),
      node.on('error', (e) => this.emit('error', e)),
    );
  }

  /**
   * The outbox record of a message is written before its history record; a crash between the
   * two (or a failed history write) leaves messages in the outbox that history lacks. They are
   * the newest outbox messages (both files are written in the same order), so walking the
   * outbox from its newest message back to the first one history has finds them all; each gets
   * its history record again. Then the outbox is compacted.
   */
  private recover(): void {
    const loaded = this.history_.takeLoaded();
    const oldestLoadedTs = this.history_.truncated ? (loaded[0]?.ts ?? Infinity) : -Infinity;
    const missing: HistoryRecord[] = [];
    const pending = this.outbox.loaded();
    for (let i = pending.length - 1; i >= 0; i--) {
      const m = pending[i]!;
      if (this.history_.has(this.selfView.id, m.id) || m.ts < oldestLoadedTs) break;
      missing.unshift({
        id: m.id,
        conv: m.room ? 'room' : m.to[0]!,
        fromId: this.selfView.id,
        fromName: this.node.name,
        text: m.text,
        ts: m.ts,
        out: true,
      });
    }
    this.recovered = missing;
    this.outbox.compact();
    for (const r of missing) this.restoreDelivery(r);
    for (const r of missing)
      this.history_.add(r).catch((e: unknown) => this.storageError(undefined, ioError(e, 'history.jsonl')));
  }
  /** History records written again at start (tests). */
  recovered: HistoryRecord[] = [];

  private restoreDelivery(r: HistoryRecord): void {
    const marks = this.outbox.marks(r.id);
    if (!marks) return;
    const states: Record<string, DeliveryState> = {};
    for (const to of marks.to) states[to] = marks.done.includes(to) ? 'delivered' : 'pending';
    this.delivery.set(r.id, states);
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
      const rttMs = st?.session?.rttMs;
      return {
        id: p.id,
        name: p.name,
        state: p.state,
        ...(rttMs !== undefined ? { rttMs: tenths(rttMs) } : {}),
        ...(this.changed.has(p.id) ? { keyChanged: true } : {}),
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
      this.checkPeer(name, id);
      this.handOver(id);
    }
    for (const [id, name] of this.knownPresent)
      if (!now.has(id)) this.notice({ kind: 'room' }, `${name} left`);
    this.knownPresent = now;
    this.emitPeers();
  }

  /**
   * Check `id` (and its `keys`, when a session showed them) behind `name` against the pins; a
   * mismatch flags the peer (KEY_CHANGED, once) and holds what waits for it. True when the peer
   * may be sent to.
   */
  private checkPeer(name: string, id: string, keys?: PeerKeys): boolean {
    if (this.changed.has(id)) return false;
    let verdict: TrustVerdict;
    try {
      verdict = this.trustStore.check(name, id, keys);
    } catch (e) {
      // peers.json cannot be written: say so (once), and let presence and everything after it go
      // on; the verdict stands in memory for this run.
      this.storageError(name, ioError(e, 'cannot write peers.json'), 'peers.json');
      verdict = this.trustStore.check(name, id, keys);
    }
    if (verdict !== 'changed') return true;
    this.changed.set(id, name);
    const pin = this.trustStore.pinned(name);
    const was = pin ? fingerprintOfHex(pin.id) : 'nothing';
    const msg =
      pin && pin.id === id
        ? `the keys shown for "${name}" are not the pinned ones (id ${was}): messages to ${name} are held until /trust ${name}`
        : `the key behind "${name}" changed (pinned ${was}, now ${fingerprintOfHex(id)}): messages to ${name} are held until /trust ${name}`;
    // One event; the user interface words the warning (the TUI in the room and the peer's tab).
    this.emit('error', { code: 'KEY_CHANGED', message: msg, peer: name });
    // What is still pending waits (in the outbox, or in the node's link behind the trust gate).
    for (const [mid, d] of this.delivery) if (d[id] === 'pending') this.setState(mid, id, 'held');
    this.emitPeers();
    return false;
  }

  /** Is this peer's key in question (flagged, or not matching the pin of the name the node knows)? */
  private heldNow(peerId: string): boolean {
    if (this.changed.has(peerId)) return true;
    const name = this.node.peerName(peerId);
    return name !== undefined && !this.checkPeer(name, peerId);
  }

  /** May messages go to this peer (checked against the pins under the name the node knows it by)? */
  private mayDeliver(peerId: string, keys?: PeerKeys): boolean {
    if (this.changed.has(peerId)) return false;
    const name = this.node.peerName(peerId);
    return name !== undefined && this.checkPeer(name, peerId, keys);
  }

  /** The node's trust gate: asked with the session's keys before its first message (PeerLink). */
  private gate(p: PeerKeysSeen): boolean {
    return this.checkPeer(p.name, p.id, { signKey: p.signKey, dhKey: p.dhKey });
  }

  /** Hand this peer's outbox entries to the node (once per run), unless its key is in question. */
  private handOver(peerId: string): void {
    if (!this.mayDeliver(peerId)) return; // held until /trust
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
    const d = this.delivery.get(r.id);
    if (r.out) m.delivery = d ? { ...d } : {};
    return m;
  }

  send(c: ConversationId, text: string, opts: SendOptions = {}): ChatMessage {
    return this.submit(c, text, opts).message;
  }

  /**
   * Send, and learn when the message is safe: `stored` resolves once its outbox record is on disk
   * (it then survives a crash and goes out), or rejects with the error that kept it from being
   * written (which is then not also emitted as an event). How the JSON-lines mode answers `send`.
   */
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
    const action = opts.action === true ? { action: true } : {};
    const states: Record<string, DeliveryState> = {};
    // Held at once for a key in question (the pins are checked now, and again before sending).
    for (const to of recipients) states[to] = this.heldNow(to) ? 'held' : 'pending';
    this.delivery.set(id, states);
    const rec: HistoryRecord = {
      id,
      conv: convKey(c),
      fromId: this.selfView.id,
      fromName: this.node.name,
      text,
      ts,
      out: true,
      ...action,
    };
    const msg = this.toMessage(rec);
    this.emit('message', msg);
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
   * The outbox record first (once on disk the message survives a crash), then history, then the
   * sessions. A crash between the two writes is repaired at start (recover()).
   */
  private async commit(rec: HistoryRecord, recipients: string[]): Promise<PunchlineError | undefined> {
    const { id, text, ts } = rec;
    const room = rec.conv === 'room';
    const action = rec.action === true;
    try {
      await this.outbox.add({ id, to: recipients, room, text, ts, ...(action ? { action } : {}) });
    } catch (e) {
      this.delivery.delete(id);
      const err = isPunchlineError(e) ? e : ioError(e, 'cannot write outbox.jsonl');
      return new PunchlineError(err.code, `message ${id} not sent: ${err.message}`, { cause: err });
    }
    this.writeHistory(rec);
    if (this.closed) return;
    for (const to of recipients) {
      if (!this.mayDeliver(to)) {
        this.setState(id, to, 'held');
        continue;
      }
      try {
        this.node.sendMessage(to, text, { id, ts, room, ...(action ? { action: true } : {}) });
      } catch (e) {
        if (!isPunchlineError(e, 'UNKNOWN_PEER')) throw e;
        continue; // not known in this run yet: presence hands it over
      }
      this.handed.add(`${id}|${to}`);
      // (The node's trust gate may have held it meanwhile: then it stays held.)
      const st = this.node.peerList().find((p) => p.id === to)?.state;
      if ((st === 'direct' || st === 'relay') && this.delivery.get(id)?.[to] === 'pending')
        this.setState(id, to, 'sent');
    }
  }

  private writeHistory(rec: HistoryRecord): void {
    this.history_.add(rec).then(
      () => this.failing.delete(''),
      (e: unknown) => this.storageError(undefined, ioError(e, 'cannot write history.jsonl')),
    );
  }

  private setState(id: string, peerId: string, state: DeliveryState): void {
    const d = this.delivery.get(id);
    if (!d || d[peerId] === state || d[peerId] === 'delivered') return;
    d[peerId] = state;
    this.emit('delivery', { id, peerId, state });
  }

  /** The session to this peer is open: what was handed over is now on its way. */
  private markSent(peerId: string): void {
    for (const [id, d] of this.delivery) if (d[peerId] === 'pending') this.setState(id, peerId, 'sent');
  }

  private onDelivered(id: string, peerId: string): void {
    this.outbox
      .done(id, peerId)
      .catch((e: unknown) => this.storageError(undefined, ioError(e, 'cannot write outbox.jsonl')));
    this.setState(id, peerId, 'delivered');
  }

  /**
   * An incoming message, before its sender may call it delivered: it is stored (history.jsonl,
   * fsync'd) and only then shown and acknowledged. A refusal (QUOTA) or a failure (IO) rejects:
   * the session keeps it unacknowledged and offers it again later (peer/peer-link.ts), and the
   * sender keeps it in its outbox.
   */
  private async store(m: PeerEvents['message']): Promise<void> {
    const bytes = Buffer.byteLength(m.text);
    if (bytes > MAX_TEXT_BYTES) {
      // A conforming sender never sends it; storing would fail forever, so it is acknowledged and dropped.
      this.emit('error', {
        code: 'MALFORMED',
        message: `dropped message ${m.messageId} from ${m.peer}: ${bytes} bytes of text, at most ${MAX_TEXT_BYTES}`,
        peer: m.peer,
      });
      return;
    }
    if (this.history_.has(m.peerId, m.messageId)) return; // stored before: a resend after a lost receipt
    const day = Math.floor(this.now() / DAY_MS);
    if (day !== this.quotaDay) {
      this.quotaDay = day;
      this.received.clear();
    }
    const used = this.received.get(m.peerId) ?? 0;
    if (used + bytes > this.limits.peerBytesPerDay) {
      const err = new PunchlineError(
        'QUOTA',
        `${m.peer} reached today's storage quota (${used} of ${this.limits.peerBytesPerDay} bytes); its messages wait unacknowledged until tomorrow`,
      );
      this.storeFailures++;
      this.storageError(m.peer, err);
      throw err;
    }
    this.received.set(m.peerId, used + bytes);
    const rec: HistoryRecord = {
      id: m.messageId,
      conv: m.room ? 'room' : m.peerId,
      fromId: m.peerId,
      fromName: m.peer,
      text: m.text,
      ts: m.ts,
      out: false,
      ...(m.action ? { action: true } : {}),
    };
    let added: boolean;
    try {
      added = await this.history_.add(rec);
    } catch (e) {
      this.received.set(m.peerId, (this.received.get(m.peerId) ?? bytes) - bytes);
      const err = ioError(e, 'cannot store an incoming message in history.jsonl');
      this.storeFailures++;
      this.storageError(m.peer, err);
      throw err;
    }
    if (!added) this.received.set(m.peerId, (this.received.get(m.peerId) ?? bytes) - bytes);
    this.failing.delete(m.peer);
    if (added && !this.closed) this.emit('message', this.toMessage(rec));
  }

  /** Incoming messages refused by store() (IO or QUOTA), retries included. */
  storeFailures = 0;

  /**
   * Report a storage failure once until the same store succeeds again: per peer for its incoming
   * messages, per file otherwise (`slot`), so one failing file never hides another.
   */
  private storageError(peer: string | undefined, err: PunchlineError, slot?: string): void {
    const k = slot ?? peer ?? '';
    if (this.failing.get(k) === err.code) return;
    this.failing.set(k, err.code);
    this.emit('error', { code: err.code, message: err.message, ...(peer !== undefined ? { peer } : {}) });
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

  resolvePeer(nameOrId: string): PeerView {
    const id = this.node.lookup(nameOrId).id;
    return this.peers().find((p) => p.id === id)!;
  }

  info(nameOrId: string): PeerInfo {
    const s = this.node.peerStats(nameOrId);
    const session = s.session;
    return {
      id: s.peerId,
      name: s.peer,
      fingerprint: s.fingerprint,
      state: s.state,
      ...(s.path ? { path: s.path } : {}),
      ...(s.remote && s.path !== 'relay' ? { remote: s.remote } : {}), // a relayed path has no peer address
      ...(s.punch ? { candidates: s.punch.candidates, connectMs: s.punch.ms } : {}),
      ...(session?.rttMs !== undefined ? { rttMs: tenths(session.rttMs) } : {}),
      ...(session ? { lossPct: Math.round(session.loss * 1000) / 10 } : {}),
      ...(session ? { retransmits: session.retransmits } : {}),
    };
  }

  trust(nameOrId: string): void {
    const p = this.node.lookup(nameOrId);
    // The keys of its last introduction, when there was one (they hash to the id, or the store
    // refuses them); else the id alone, and its keys join the pin at the first session.
    this.trustStore.trust(p.name, p.id, p.keys);
    this.changed.delete(p.id);
    this.notice({ kind: 'peer', peerId: p.id }, `trusting the new key of ${p.name} (${p.fingerprint})`);
    // Held messages go now: those still in the outbox, and those the node held for the gate.
    for (const [id, d] of this.delivery) if (d[p.id] === 'held') this.setState(id, p.id, 'pending');
    this.handOver(p.id);
    this.node.release(p.id);
    if (this.node.connection(p.id)) this.markSent(p.id);
    this.emitPeers();
  }

  async nick(name: string): Promise<void> {
    await this.node.rename(name);
    this.updateSelf({});
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.offs) off();
    await this.outbox.close();
    await this.history_.close();
  }
}

/** The server's own words from a stream close ("closed by remote (1001 server shutting down)"). */
function closeReason(reason: string): string {
  const m = /^closed by remote \(\d+ (.+)\)$/.exec(reason);
  return m ? m[1]! : reason;
}

/** A round trip in milliseconds as shown: to a tenth. */
function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function fingerprintOfHex(idHex: string): string {
  return (idHex.slice(0, 16).match(/.{4}/g) ?? []).join(':');
}
