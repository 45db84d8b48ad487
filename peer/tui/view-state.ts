/**
 * The terminal client's state as the chat service reports it, with no terminal: who you are,
 * the other members (roster.ts), the conversations and what they hold (conversation-list.ts),
 * what the server's problems are (server-status.ts), and where each pane goes. ChatViewModel
 * (view-model.ts) adds what the person does: keys, the input line, commands, and the frame.
 */
import { Emitter } from '../../common/emitter.js';
import type {
  ChatEvents,
  ChatMessage,
  ChatService,
  ConversationId,
  PeerView,
  SelfView,
} from '../chat/types.js';
import { ROOM } from '../chat/types.js';
import { conversationRows, dropOldest, formatDate, holdAnchor, topAnchor } from './conversation.js';
import type { Conversation, ConversationView, RowStyle } from './conversation.js';
import { ConversationList } from './conversation-list.js';
import { ASCII_GLYPHS, UNICODE_GLYPHS, formatTime } from './format.js';
import type { Glyphs } from './format.js';
import { computeLayout } from './layout.js';
import type { Layout } from './layout.js';
import { mentions } from './panes.js';
import type { Entry, NoticeLevel, PaneStyle } from './panes.js';
import type { FileSystemView } from './paths.js';
import { Roster } from './roster.js';
import { FileTransfers } from './transfers.js';
import { SERVER_CODES, ServerStatus } from './server-status.js';
import type { Line } from './theme.js';

export interface ViewModelOptions {
  /** Bold and underline instead of colours (NO_COLOR, or a terminal without colours). */
  monochrome?: boolean;
  /** Unicode marks and rules; false for a locale without UTF-8 (ASCII fallbacks). Default true. */
  unicode?: boolean;
  cols?: number;
  rows?: number;
  /** Timestamp format; default local HH:MM. */
  formatTime?: (ts: number) => string;
  /** Wall clock for the UI's own system lines (default Date.now). */
  now?: () => number;
  /** Messages loaded from history when a conversation opens (default 200). */
  historyLimit?: number;
  /** Lines kept per conversation; older ones drop off the top (default 2000). */
  maxEntries?: number;
  /** Input lines remembered for Up/Down (default 500). */
  inputHistory?: number;
  /** Date format for the day rules; default "Thu 2 Jan 2025" in local time. */
  formatDate?: (ts: number) => string;
  /** A paste of more lines than this asks before sending them as that many messages (default 5). */
  pasteConfirmLines?: number;
  /** The file system /send and /accept see and Tab completes paths from (default: the real one). */
  fs?: FileSystemView;
  /** Where a relative path starts (default process.cwd()) and what "~" is (default the home directory). */
  cwd?: string;
  home?: string;
}

export type ViewModelEvents = {
  /** Something visible changed: repaint. */
  change: undefined;
  quit: undefined;
  /** Ctrl-L: repaint the whole terminal. */
  redraw: undefined;
};

export class ChatViewState extends Emitter<ViewModelEvents> {
  readonly monochrome: boolean;
  readonly glyphs: Glyphs;
  protected readonly style: PaneStyle;
  private cols: number;
  private rows: number;
  private readonly now: () => number;
  private readonly maxEntries: number;
  protected selfView: SelfView;
  protected readonly roster = new Roster();
  protected readonly convs: ConversationList;
  private readonly formatDate: (ts: number) => string;
  protected readonly server = new ServerStatus();
  protected readonly files: FileTransfers;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;

  constructor(
    protected readonly service: ChatService,
    opts: ViewModelOptions = {},
  ) {
    super();
    this.monochrome = opts.monochrome ?? false;
    this.glyphs = opts.unicode === false ? ASCII_GLYPHS : UNICODE_GLYPHS;
    this.style = {
      glyphs: this.glyphs,
      monochrome: this.monochrome,
      formatTime: opts.formatTime ?? formatTime,
    };
    this.cols = opts.cols ?? 80;
    this.rows = opts.rows ?? 24;
    this.now = opts.now ?? Date.now;
    const historyLimit = opts.historyLimit ?? 200;
    this.maxEntries = opts.maxEntries ?? 2000;
    this.formatDate = opts.formatDate ?? formatDate;
    this.convs = new ConversationList((id) => service.history(id, historyLimit), this.now);

    this.selfView = service.self;
    this.convs.all.push(this.convs.open(ROOM, service.self.room));
    this.setPeers(service.peers());
    this.files = this.fileTransfers();
    this.listen();
  }

  /** Follow the service: every event it reports is shown, then repainted. */
  private listen(): void {
    const on = <K extends keyof ChatEvents>(name: K, fn: (e: ChatEvents[K]) => void): void => {
      this.unsubscribe.push(
        this.service.on(name, (e) => {
          if (this.closed) return;
          fn(e);
          this.changed();
        }),
      );
    };
    on('self', (s) => this.setSelf(s));
    on('peers', (p) => this.setPeers(p));
    on('message', (m) => this.addMessage(m));
    on('delivery', (d) => this.convs.delivered(d.id, d.peerId, d.state));
    // A peer's notice (connected, path changed) goes to your private conversation with them if
    // you have one, else to the room: a peer who only speaks in the room gets no tab.
    on('notice', (n) => {
      const c = this.convs.existing(n.conversation) ?? this.convs.room;
      this.addSystem(c, n.text, n.level, n.ts);
    });
    on('file_offer', (o) => this.files.offer(o));
    on('file_progress', (p) => this.files.progress(p));
    on('file_done', (d) => this.files.done(d));
    on('file_failed', (f) => this.files.failed(f));
    on('error', (e) => {
      if (e.code === 'KEY_CHANGED') {
        const p =
          e.peer === undefined ? undefined : (this.roster.flaggedOrNamed(e.peer) ?? this.resolve(e.peer));
        if (p) this.announceKeyChange(p);
        else this.addSystem(this.active, e.message, 'alert');
        return;
      }
      if (SERVER_CODES.has(e.code)) return this.serverProblem(e.code, e.message);
      this.addSystem(this.active, e.message, 'error');
    });
  }

  /** Where the transfers' lines go: the conversation with the peer, pointed to from elsewhere. */
  private fileTransfers(): FileTransfers {
    return new FileTransfers({
      toPeer: (peerId, name, e, notify) => {
        const c = this.conversationFor({ kind: 'peer', peerId }, name);
        if (notify && c !== this.active) {
          if (c.markerAt === null) c.markerAt = c.entries.length;
          c.unread++;
        }
        this.push(c, e);
      },
      elsewhere: (peerId, text) => {
        if (this.activePeerId() !== peerId) this.addSystem(this.active, text, 'info');
      },
      toRoom: (text, level) => this.addSystem(this.convs.room, text, level),
      edit: (change) => this.keepView(change),
      files: () => this.service.files(),
      now: this.now,
    });
  }

  // ---- the server's state ----

  private setSelf(s: SelfView): void {
    const prev = this.selfView;
    this.selfView = s;
    for (const l of this.server.selfChanged(prev, s)) this.addSystem(this.convs.room, l.text, l.level);
  }

  /** A problem with the rendezvous server: said once in the room (server-status.ts). */
  private serverProblem(code: string, message: string): void {
    const r = this.server.problem(code, message);
    if (r === 'ignored') return;
    if (r === 'noted') return this.changed();
    this.addSystem(this.convs.room, r.text, r.level);
  }

  /** Stop listening to the service (idempotent). */
  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /**
   * Ask the service for the peer list again. Round trips change with every sample and the
   * service announces no event for that; runTui calls this every second so the peer list shows
   * the same RTT as /info.
   */
  refreshPeers(): void {
    if (this.closed) return;
    const list = this.service.peers().filter((p) => p.id !== this.selfView.id);
    const same =
      list.length === this.roster.size &&
      list.every((p) => JSON.stringify(p) === JSON.stringify(this.roster.get(p.id)));
    if (same) return;
    this.setPeers(list);
    this.changed();
  }

  // ---- state, read-only ----

  get self(): SelfView {
    return this.selfView;
  }

  get peers(): PeerView[] {
    return this.roster.list();
  }

  get conversations(): ConversationView[] {
    return this.convs.all.map((c, i) => ({
      key: c.key,
      id: c.id,
      title: this.title(c),
      unread: c.unread,
      mention: c.mention,
      active: i === this.convs.activeIdx,
    }));
  }

  get activeConversation(): ConversationId {
    return this.active.id;
  }

  /** Rows the active conversation is scrolled up from the bottom. */
  get scrollOffset(): number {
    return this.active.scroll;
  }

  /** The entries of a conversation (by conversationKey), oldest first. */
  entries(key: string): readonly Entry[] {
    return this.convs.byKey(key)?.entries ?? [];
  }

  // ---- conversations ----

  switchTo(index: number): void {
    if (this.convs.switchTo(index)) this.changed();
  }

  /** Open (creating it if needed) and switch to a conversation. */
  open(id: ConversationId): void {
    this.switchTo(this.convs.all.indexOf(this.conversationFor(id)));
  }

  resize(cols: number, rows: number): void {
    this.cols = Math.max(1, cols);
    this.rows = Math.max(1, rows);
    this.changed();
  }

  // ---- service events ----

  private setPeers(list: PeerView[]): void {
    const { renamed, keyChanged } = this.roster.replace(list, this.selfView.id);
    // The same id under another name: a member renamed themselves (/nick).
    for (const { from, peer } of renamed) {
      const text = `${from} is now known as ${peer.name}`;
      this.addSystem(this.convs.room, text, 'info');
      const priv = this.convs.existing({ kind: 'peer', peerId: peer.id });
      if (priv) this.addSystem(priv, text, 'info');
    }
    for (const p of keyChanged) this.announceKeyChange(p);
  }

  private announceKeyChange(p: PeerView): void {
    if (!this.roster.flagKeyChange(p)) return;
    const text =
      `WARNING: the key of ${p.name} has CHANGED. Someone may be impersonating them. ` +
      `Messages to ${p.name} are held. Compare fingerprints (/info ${p.name}) out of band, then /trust ${p.name}`;
    // The tab of that name, if one is open (its old key's): never a second tab with the same name.
    const peerConv =
      this.convs.existing({ kind: 'peer', peerId: p.id }) ??
      this.convs.all.find((c) => c.id.kind === 'peer' && c.name === p.name) ??
      this.conversationFor({ kind: 'peer', peerId: p.id }, p.name);
    this.addSystem(peerConv, text, 'alert');
    if (peerConv !== this.convs.room) this.addSystem(this.convs.room, text, 'alert');
  }

  protected addMessage(m: ChatMessage): void {
    const copy = this.convs.admit(m);
    if (!copy) return;
    const c = this.conversationFor(m.conversation, m.outgoing ? undefined : m.fromName);
    if (c !== this.active && !m.outgoing) {
      if (c.markerAt === null) c.markerAt = c.entries.length;
      c.unread++;
      if (mentions(this.selfView.name, m.text)) c.mention = true;
    }
    this.push(c, { kind: 'message', msg: copy });
  }

  protected addSystem(c: Conversation, text: string, level: NoticeLevel, ts = this.now()): void {
    this.push(c, { kind: 'system', text, level, ts });
    this.changed();
  }

  private push(c: Conversation, e: Entry): void {
    const add = (): void => {
      c.entries.push(e);
      this.convs.forget(dropOldest(c, this.maxEntries));
    };
    if (c !== this.active || c.scroll <= 0) return add();
    this.keepView(add);
    c.newBelow++;
  }

  /**
   * Change what the active conversation shows (a line added, a transfer's line changed in place)
   * keeping a scrolled-up view where it is: the same rows stay at the top of the window, wherever
   * the change was. Following the conversation (not scrolled), the change shows at the bottom.
   */
  private keepView(change: () => void): void {
    const c = this.active;
    if (c.scroll <= 0) return change();
    const { width, height } = this.layout().log;
    const before: Entry[] = [];
    this.rowsOf(c, width, before);
    const anchor = topAnchor(c, before, height);
    change();
    if (!anchor || c.scroll <= 0) return;
    const after: Entry[] = [];
    this.rowsOf(c, width, after);
    holdAnchor(c, anchor, after, height);
  }

  protected changed(): void {
    if (!this.closed) this.emit('change', undefined);
  }

  // ---- helpers ----

  protected get active(): Conversation {
    return this.convs.active;
  }

  protected activePeerId(): string | undefined {
    const id = this.active.id;
    return id.kind === 'peer' ? id.peerId : undefined;
  }

  /** The conversation for `id`, opened if needed under the peer's name (or `name`, or its id). */
  protected conversationFor(id: ConversationId, name?: string): Conversation {
    return this.convs.get(id, () => {
      if (id.kind !== 'peer') return this.selfView.room;
      return this.roster.get(id.peerId)?.name ?? name ?? id.peerId.slice(0, 8);
    });
  }

  /** The service's view of a peer by name or id, or undefined when it knows none. */
  private resolve(nameOrId: string): PeerView | undefined {
    try {
      return this.service.resolvePeer(nameOrId);
    } catch {
      return undefined;
    }
  }

  protected title(c: Conversation): string {
    if (c.id.kind === 'room') return `#${this.selfView.room}`;
    return this.roster.get(c.id.peerId)?.name ?? c.name;
  }

  // ---- layout and rendering ----

  layout(): Layout {
    return computeLayout(this.cols, this.rows, this.glyphs);
  }

  /** Every display row of a conversation at a width, with the "new" rule where it belongs. */
  protected rowsOf(c: Conversation, width: number, owners?: Entry[]): Line[] {
    const r: RowStyle = { style: this.style, formatDate: this.formatDate, selfName: this.selfView.name };
    return conversationRows(c, width, r, c === this.active, owners);
  }
}
