/**
 * A scripted ChatService for the terminal client's tests and for trying the TUI by hand
 * (test/tui/fixtures/fake-tui.ts). It keeps a room of fake peers and an outbox; the script
 * methods (receive, advance, setPeer, join, leave, keyChange, notice) play the network's part.
 * Every call the UI makes is recorded in `calls`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Emitter } from '../../common/emitter.js';
import { PunchlineError, badArgument } from '../../common/errors.js';
import type {
  FileView,
  ChatEvents,
  BulkSent,
  ChatMessage,
  ChatService,
  ConversationId,
  DeliveryState,
  PeerConnection,
  PeerInfo,
  PeerPresence,
  PeerView,
  SelfView,
  SendOptions,
} from '../../peer/chat/types.js';
import { ROOM, conversationKey } from '../../peer/chat/types.js';

export interface FakePeer {
  name: string;
  state?: PeerPresence;
  rttMs?: number;
  keyChanged?: boolean;
  /** Extra /info fields (path, candidates, loss...). */
  info?: Partial<PeerInfo>;
}

export interface FakeOptions {
  name?: string;
  room?: string;
  publicEndpoint?: string;
  server?: SelfView['server'];
  peers?: FakePeer[];
  /** Wall clock for message timestamps. */
  now?: () => number;
  /** Advance deliveries on timers: pending -> sent after sentMs, -> delivered after deliveredMs. */
  autoDeliver?: { sentMs: number; deliveredMs: number };
}

/** A peer id as the real peer shows it: 32 hex digits (here derived from the name). */
export const fakeId = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 32);
const fakeFingerprint = (id: string): string => (id.slice(0, 16).match(/.{4}/g) ?? []).join(':');

/** File ids as the engine makes them (21 characters of [A-Za-z0-9_-]), distinct in their first 8. */
const fileIdPrefix = (n: number): string => `F${String(n).padStart(7, '0')}`;

const REACHABLE: PeerPresence[] = ['direct', 'relay', 'online', 'connecting'];

export class FakeChatService extends Emitter<ChatEvents> implements ChatService {
  self: SelfView;
  readonly calls: string[] = [];
  readonly store: ChatMessage[] = [];
  closed = false;
  /** The next connect() rejects with this. */
  failConnect: PunchlineError | null = null;
  private list: PeerView[];
  private readonly extra = new Map<string, Partial<PeerInfo>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private seq = 0;
  private readonly now: () => number;

  constructor(private readonly opts: FakeOptions = {}) {
    super();
    const name = opts.name ?? 'alice';
    const id = fakeId(name);
    this.self = {
      name,
      id,
      fingerprint: fakeFingerprint(id),
      room: opts.room ?? 'lobby',
      publicEndpoint: opts.publicEndpoint ?? '203.0.113.5:40000',
      server: opts.server ?? 'registered',
    };
    this.now = opts.now ?? Date.now;
    this.list = (opts.peers ?? []).map((p) => this.view(p));
  }

  private view(p: FakePeer): PeerView {
    const id = fakeId(p.name);
    if (p.info) this.extra.set(id, p.info);
    return { id, name: p.name, state: p.state ?? 'online', rttMs: p.rttMs, keyChanged: p.keyChanged };
  }

  // ---- ChatService ----

  peers(): PeerView[] {
    return this.list.map((p) => ({ ...p }));
  }

  history(c: ConversationId, limit = 200): ChatMessage[] {
    const key = conversationKey(c);
    return this.store.filter((m) => conversationKey(m.conversation) === key).slice(-limit);
  }

  send(c: ConversationId, text: string, opts: SendOptions = {}): ChatMessage {
    this.calls.push(`send ${conversationKey(c)} ${opts.action ? '/me ' : ''}${text}`);
    if (text.trim() === '') throw badArgument('empty message');
    if (Buffer.byteLength(text) > 1000) throw badArgument('message too long: at most 1000 bytes');
    const recipients = c.kind === 'room' ? this.list : [this.resolvePeer(c.peerId)];
    const delivery: Record<string, DeliveryState> = {};
    for (const p of recipients) delivery[p.id] = p.keyChanged ? 'held' : 'pending';
    const m = this.add({
      conversation: c,
      fromId: this.self.id,
      fromName: this.self.name,
      text,
      outgoing: true,
      delivery,
      ...(opts.action ? { action: true } : {}),
    });
    this.emit('message', { ...m, delivery: { ...delivery } });
    const auto = this.opts.autoDeliver;
    if (auto) {
      this.later(auto.sentMs, () => this.advanceMessage(m, 'sent'));
      this.later(auto.deliveredMs, () => this.advanceMessage(m, 'delivered'));
    }
    return { ...m, delivery: { ...delivery } };
  }

  /** send(), stored at once (the fake has no disk). */
  sendStored(
    c: ConversationId,
    text: string,
    opts: SendOptions = {},
  ): { message: ChatMessage; stored: Promise<void> } {
    return { message: this.send(c, text, opts), stored: Promise.resolve() };
  }

  /** No open sessions in the fake, so no bulk path either: CLOSED, as the real one says without a session. */
  sendBulk(nameOrId: string): Promise<BulkSent> {
    this.resolvePeer(nameOrId);
    return Promise.reject(new PunchlineError('CLOSED', 'no open session'));
  }

  onBulk(): void {}

  /** Transfers offered or in progress, both directions (files() lists them). */
  readonly fileList: FileView[] = [];

  /** As the engine (peer/chat/file-send.ts): the path must be a readable regular file. */
  sendFile(nameOrId: string, filePath: string): Promise<FileView> {
    const p = this.resolvePeer(nameOrId);
    this.calls.push(`sendFile ${p.name} ${filePath}`);
    let data: Buffer;
    try {
      if (!statSync(filePath).isFile()) throw badArgument(`${filePath} is not a regular file`);
      data = readFileSync(filePath);
    } catch (e) {
      return Promise.reject(e instanceof PunchlineError ? e : badArgument(`cannot read ${filePath}`));
    }
    const v: FileView = {
      file: `${fileIdPrefix(++this.seq)}SendFile0000000`.slice(0, 21),
      direction: 'send',
      peer: p.name,
      peerId: p.id,
      name: path.basename(filePath),
      size: data.length,
      bytes: 0,
      sha256: createHash('sha256').update(data).digest('hex'),
      state: 'offered',
      filePath,
    };
    this.fileList.push(v);
    return Promise.resolve({ ...v });
  }

  acceptFile(file: string, dir?: string): Promise<void> {
    this.calls.push(`acceptFile ${file}${dir !== undefined ? ` ${dir}` : ''}`);
    const f = this.fileList.find(
      (x) => x.file === file && x.direction === 'receive' && x.state === 'offered',
    );
    if (!f) return Promise.reject(badArgument(`no file offer ${file}`));
    Object.assign(f, { state: 'active', filePath: dir ?? '/home/alice/downloads' });
    return Promise.resolve();
  }

  rejectFile(file: string): void {
    this.calls.push(`rejectFile ${file}`);
    this.dropFile(file);
    // As the engine: the event follows once the refusal is sent (file-receive.ts ends it async).
    queueMicrotask(() => this.emit('file_failed', { file, code: 'REJECTED', message: 'declined here' }));
  }

  cancelFile(file: string): void {
    this.calls.push(`cancelFile ${file}`);
    this.dropFile(file);
    this.emit('file_failed', { file, code: 'CANCELLED', message: 'cancelled here' });
  }

  files(): FileView[] {
    return this.fileList.map((f) => ({ ...f }));
  }

  /** No open sessions in the fake: `connected` comes only from connect(). */
  connection(nameOrId: string): PeerConnection | undefined {
    this.resolvePeer(nameOrId);
    return undefined;
  }

  async connect(nameOrId: string): Promise<void> {
    const p = this.resolvePeer(nameOrId);
    this.calls.push(`connect ${p.name}`);
    await Promise.resolve();
    if (this.failConnect) {
      const e = this.failConnect;
      this.failConnect = null;
      throw e;
    }
    if (p.state === 'online' || p.state === 'connecting')
      this.setPeer(p.name, { state: 'direct', rttMs: p.rttMs ?? 20 });
  }

  info(nameOrId: string): PeerInfo {
    const p = this.resolvePeer(nameOrId);
    this.calls.push(`info ${p.name}`);
    const path = p.state === 'direct' || p.state === 'relay' ? p.state : undefined;
    return {
      id: p.id,
      name: p.name,
      fingerprint: fakeFingerprint(p.id),
      state: p.state,
      ...(path ? { path } : {}),
      ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {}),
      ...this.extra.get(p.id),
    };
  }

  trust(nameOrId: string): void {
    const p = this.resolvePeer(nameOrId);
    this.calls.push(`trust ${p.name}`);
    this.update(p.id, { keyChanged: false });
    for (const m of this.store)
      if (m.delivery?.[p.id] === 'held') {
        m.delivery[p.id] = 'pending';
        this.emit('delivery', { id: m.id, peerId: p.id, state: 'pending' });
      }
  }

  async nick(name: string): Promise<void> {
    this.calls.push(`nick ${name}`);
    await Promise.resolve();
    if (this.list.some((p) => p.name === name))
      throw new PunchlineError('NAME_TAKEN', `the name ${name} is taken`);
    this.setSelf({ name });
  }

  resolvePeer(nameOrId: string): PeerView {
    const exact = this.list.find((p) => p.name === nameOrId || p.id === nameOrId);
    if (exact) return { ...exact };
    if (/^[0-9a-f]{4,}$/.test(nameOrId)) {
      const hits = this.list.filter((p) => p.id.startsWith(nameOrId));
      if (hits.length > 1) throw badArgument(`the id prefix ${nameOrId} is ambiguous`);
      if (hits[0]) return { ...hits[0] };
    }
    throw new PunchlineError('UNKNOWN_PEER', `no peer "${nameOrId}" in the room`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- script ----

  /** A message from `from` in the room (or, with `direct`, in your conversation with them). */
  receive(
    from: string,
    text: string,
    opts: { direct?: boolean; ts?: number; action?: boolean } = {},
  ): ChatMessage {
    const p = this.resolvePeer(from);
    const conversation: ConversationId = opts.direct ? { kind: 'peer', peerId: p.id } : ROOM;
    const m = this.add(
      {
        conversation,
        fromId: p.id,
        fromName: p.name,
        text,
        outgoing: false,
        ...(opts.action ? { action: true } : {}),
      },
      opts.ts,
    );
    this.emit('message', { ...m });
    return m;
  }

  /** Put a message in history without an event (as if from an earlier run). */
  seed(m: Omit<ChatMessage, 'id'> & { id?: string }): ChatMessage {
    const full: ChatMessage = { ...m, id: m.id ?? this.nextId() };
    this.store.push(full);
    return full;
  }

  /** One step for every outgoing message: pending -> sent, sent -> delivered (reachable peers). */
  advance(): number {
    let n = 0;
    for (const m of this.store) {
      if (!m.outgoing || !m.delivery) continue;
      for (const [peerId, state] of Object.entries(m.delivery)) {
        const next = state === 'pending' ? 'sent' : state === 'sent' ? 'delivered' : null;
        if (next && this.reachable(peerId)) {
          this.deliver(m.id, peerId, next);
          n++;
        }
      }
    }
    return n;
  }

  deliver(msgId: string, peerNameOrId: string, state: DeliveryState): void {
    const m = this.store.find((x) => x.id === msgId);
    const p = this.resolvePeer(peerNameOrId);
    if (!m?.delivery) return;
    m.delivery[p.id] = state;
    this.emit('delivery', { id: m.id, peerId: p.id, state });
  }

  /** Change a peer's state or RTT; a path change is announced in the room. */
  setPeer(name: string, patch: Partial<Omit<PeerView, 'id' | 'name'>>): void {
    const p = this.resolvePeer(name);
    this.update(p.id, patch);
    if (patch.state && patch.state !== p.state) {
      const rtt = patch.rttMs ?? p.rttMs;
      this.notice(
        ROOM,
        `${p.name}: ${p.state} -> ${patch.state}${rtt !== undefined && patch.state !== 'offline' ? ` (${rtt} ms)` : ''}`,
      );
    }
  }

  /** A member took another name (/nick): same id, new name. */
  rename(name: string, to: string): void {
    const p = this.resolvePeer(name);
    this.update(p.id, { name: to });
  }

  join(peer: FakePeer): void {
    this.list.push(this.view(peer));
    this.emit('peers', this.peers());
    this.notice(ROOM, `${peer.name} joined`);
  }

  leave(name: string): void {
    const p = this.resolvePeer(name);
    this.list = this.list.filter((x) => x.id !== p.id);
    this.emit('peers', this.peers());
    this.notice(ROOM, `${p.name} left`);
  }

  /** The key behind a name changed: the peer is flagged and an error event says so. */
  keyChange(name: string): void {
    const p = this.resolvePeer(name);
    this.update(p.id, { keyChanged: true });
    this.emit('error', { code: 'KEY_CHANGED', message: `the key of ${p.name} changed`, peer: p.name });
  }

  /** Another key under a known name (a new id, as a new identity would have): flagged and reported. */
  impostor(name: string): string {
    const id = fakeId(`${name}#impostor`);
    this.list = [...this.list, { id, name, state: 'online', keyChanged: true }];
    this.emit('peers', this.peers());
    this.emit('error', { code: 'KEY_CHANGED', message: `the key behind "${name}" changed`, peer: name });
    return id;
  }

  notice(conversation: ConversationId, text: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.emit('notice', { conversation, text, level, ts: this.now() });
  }

  setSelf(patch: Partial<SelfView>): void {
    this.self = { ...this.self, ...patch };
    this.emit('self', { ...this.self });
  }

  fail(
    code: 'PUNCH_FAILED' | 'SERVER_UNREACHABLE' | 'NAME_TAKEN' | 'ROOM_FULL',
    message: string,
    peer?: string,
  ): void {
    this.emit('error', { code, message, ...(peer ? { peer } : {}) });
  }

  /** `from` offers a file: listed as offered and announced (file_offer). Returns its id. */
  offerFile(
    from: string,
    name: string,
    size: number,
    file = `${fileIdPrefix(++this.seq)}OfferFile000000`.slice(0, 21),
  ): string {
    const p = this.resolvePeer(from);
    const sha256 = createHash('sha256').update(file).digest('hex');
    this.fileList.push({
      file,
      direction: 'receive',
      peer: p.name,
      peerId: p.id,
      name,
      size,
      bytes: 0,
      sha256,
      state: 'offered',
    });
    this.emit('file_offer', {
      file,
      peer: p.name,
      peerId: p.id,
      fingerprint: fakeFingerprint(p.id),
      name,
      size,
      sha256,
    });
    return file;
  }

  /** Bytes of a transfer so far, at `rate` bytes per second. */
  fileProgress(file: string, bytes: number, rate: number): void {
    const f = this.fileList.find((x) => x.file === file)!;
    Object.assign(f, { bytes, state: 'active' });
    const eta = rate > 0 ? { etaMs: Math.round(((f.size - bytes) * 1000) / rate) } : {};
    this.emit('file_progress', { file, bytes, size: f.size, rate, ...eta, path: 'direct' });
  }

  /** The transfer ended with the file checked: saved at `filePath` (receiver) or sent (sender). */
  fileDone(file: string, ms: number, filePath?: string): void {
    const f = this.fileList.find((x) => x.file === file)!;
    this.dropFile(file);
    const where = filePath ?? f.filePath ?? path.join('/home/alice/downloads', f.name);
    this.emit('file_done', { file, filePath: where, bytes: f.size, sha256: f.sha256, ms, path: 'direct' });
  }

  fileFailed(file: string, code: 'REJECTED' | 'CHECKSUM' | 'TOO_LARGE' | 'IO', message: string): void {
    this.dropFile(file);
    this.emit('file_failed', { file, code, message });
  }

  // ---- internals ----

  private add(m: Omit<ChatMessage, 'id' | 'ts'>, ts = this.now()): ChatMessage {
    const full: ChatMessage = { ...m, id: this.nextId(), ts };
    this.store.push(full);
    return full;
  }

  private nextId(): string {
    return (++this.seq).toString(16).padStart(16, '0');
  }

  private dropFile(file: string): void {
    const i = this.fileList.findIndex((x) => x.file === file);
    if (i >= 0) this.fileList.splice(i, 1);
  }

  private reachable(peerId: string): boolean {
    const p = this.list.find((x) => x.id === peerId);
    return p !== undefined && !p.keyChanged && REACHABLE.includes(p.state);
  }

  private advanceMessage(m: ChatMessage, to: 'sent' | 'delivered'): void {
    for (const [peerId, state] of Object.entries(m.delivery ?? {})) {
      const ok = to === 'sent' ? state === 'pending' : state === 'sent' || state === 'pending';
      if (ok && this.reachable(peerId)) this.deliver(m.id, peerId, to);
    }
  }

  private update(id: string, patch: Partial<PeerView>): void {
    this.list = this.list.map((p) => (p.id === id ? { ...p, ...patch } : p));
    this.emit('peers', this.peers());
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }
}
