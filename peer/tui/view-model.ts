/**
 * The terminal client's state and behaviour, with no terminal: conversations (the room first,
 * then one per peer), unread counts and the "new" marker, scrollback, the input line, commands,
 * and the layout of every pane. The blessed layer (screen.ts) forwards key names to handleKey()
 * and paints render(); the tests drive this class directly against a fake ChatService.
 */
import { Emitter } from '../../common/emitter.js';
import { badArgument, isPunchlineError } from '../../common/errors.js';
import type {
  ChatEvents,
  ChatMessage,
  ChatService,
  ConversationId,
  PeerView,
  SelfView,
} from '../chat/types.js';
import { ROOM, conversationKey } from '../chat/types.js';
import { completeCommand, parseInput } from './commands.js';
import type { Command } from './commands.js';
import { ASCII_GLYPHS, STATE_RANK, UNICODE_GLYPHS, formatInfo, formatTime } from './format.js';
import type { Glyphs } from './format.js';
import { InputLine } from './input-line.js';
import { sanitize } from './text.js';
import {
  describeState,
  entryRows,
  fitLine,
  helpLines,
  markerRow,
  mentions,
  peerList,
  statusBar,
  tabBar,
} from './panes.js';
import type { Entry, NoticeLevel, PaneStyle } from './panes.js';
import type { Line } from './theme.js';

export type { Entry, NoticeLevel } from './panes.js';

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
}

export interface Rect {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface Layout {
  cols: number;
  rows: number;
  tabs: Rect;
  /** The peer list; null on screens narrower than 60 columns. */
  peers: Rect | null;
  log: Rect;
  status: Rect;
  input: Rect;
  /** The help overlay's outer box (with a one-cell border). */
  help: Rect;
}

export interface Frame {
  layout: Layout;
  tabs: Line;
  peers: Line[];
  log: Line[];
  status: Line;
  input: Line;
  /** Cursor column inside the input rect. */
  cursor: number;
  /** Help overlay content (inside its border), or null when closed. */
  help: Line[] | null;
  helpTitle: string;
}

export interface ConversationView {
  key: string;
  id: ConversationId;
  title: string;
  unread: number;
  /** An unread message names you. */
  mention: boolean;
  active: boolean;
}

interface Conversation {
  id: ConversationId;
  key: string;
  /** A title to fall back on when the peer is no longer in the room. */
  name: string;
  entries: Entry[];
  unread: number;
  mention: boolean;
  /** Index of the first entry that arrived while you were elsewhere; the "new" rule goes there. */
  markerAt: number | null;
  /** Rows scrolled up from the bottom (0: following the conversation). */
  scroll: number;
  /** Lines that arrived below while scrolled up (the status bar counts them). */
  newBelow: number;
  /** Entries loaded from history when the conversation opened: a dated rule follows them. */
  historyEnd: number;
  /** When the conversation was opened (the history rule's date). */
  openedAt: number;
}

export type ViewModelEvents = {
  /** Something visible changed: repaint. */
  change: undefined;
  quit: undefined;
  /** Ctrl-L: repaint the whole terminal. */
  redraw: undefined;
};

const PEER_LIST_MIN_COLS = 60;
/** Errors about the rendezvous server: said once per outage, in the room, never per conversation. */
const SERVER_CODES = new Set<string>([
  'SERVER_UNREACHABLE',
  'NAME_TAKEN',
  'ROOM_FULL',
  'SERVER_KEY_CHANGED',
  'NOT_REGISTERED',
  'RATE_LIMITED',
  'RELAY_UNAVAILABLE',
]);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "Thu 2 Jan 2025" in local time. */
export function formatDate(ts: number): string {
  const d = new Date(ts);
  return `${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
}

const dayOf = (ts: number): string => {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
};
const entryTs = (e: Entry): number => (e.kind === 'message' ? e.msg.ts : e.ts);
const HELP_WIDTH = 66;

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

export class ChatViewModel extends Emitter<ViewModelEvents> {
  readonly monochrome: boolean;
  readonly glyphs: Glyphs;
  private readonly style: PaneStyle;
  private cols: number;
  private rows: number;
  private readonly now: () => number;
  private readonly historyLimit: number;
  private readonly maxEntries: number;

  private selfView: SelfView;
  private peerMap = new Map<string, PeerView>();
  private readonly convs: Conversation[] = [];
  private activeIdx = 0;
  private readonly messages = new Map<string, ChatMessage>();
  /** Names whose key change has been announced (and not yet trusted). */
  private readonly warned = new Set<string>();
  private readonly line: InputLine;
  private helpOpen = false;
  private readonly formatDate: (ts: number) => string;
  private readonly pasteConfirmLines: number;
  /** A long paste waiting for y/n: the lines it would send. */
  private pendingPaste: string[] | null = null;
  /** Server problems said in the room since the last registration (by code), so each is said once. */
  private readonly serverSaid = new Set<string>();
  /** A server problem was said: "server back" follows when registered again. */
  private serverDown = false;
  /** The short reason shown in the status bar while the server is lost. */
  private serverNote: string | undefined;
  /** A /nick in flight reports its own NAME_TAKEN. */
  private renaming = false;
  private helpScroll = 0;
  private readonly unsubscribe: (() => void)[] = [];
  private disposed = false;

  constructor(
    private readonly service: ChatService,
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
    this.historyLimit = opts.historyLimit ?? 200;
    this.maxEntries = opts.maxEntries ?? 2000;
    this.line = new InputLine(opts.inputHistory ?? 500);
    this.formatDate = opts.formatDate ?? formatDate;
    this.pasteConfirmLines = opts.pasteConfirmLines ?? 5;

    this.selfView = service.self;
    this.convs.push(this.newConversation(ROOM, service.self.room));
    this.setPeers(service.peers());

    const on = <K extends keyof ChatEvents>(name: K, fn: (e: ChatEvents[K]) => void): void => {
      this.unsubscribe.push(
        service.on(name, (e) => {
          if (this.disposed) return;
          fn(e);
          this.changed();
        }),
      );
    };
    on('self', (s) => this.setSelf(s));
    on('peers', (p) => this.setPeers(p));
    on('message', (m) => this.addMessage(m));
    on('delivery', (d) => {
      const m = this.messages.get(d.id);
      if (m) m.delivery = { ...m.delivery, [d.peerId]: d.state };
    });
    // A peer's notice (connected, path changed) goes to your private conversation with them if
    // you have one, else to the room: a peer who only speaks in the room gets no tab.
    on('notice', (n) => {
      const c = this.existing(n.conversation) ?? this.convs[0]!;
      this.addSystem(c, n.text, n.level, n.ts);
    });
    on('error', (e) => {
      if (e.code === 'KEY_CHANGED') {
        // The flagged one of that name (another key may share it with the pinned one).
        const p =
          e.peer === undefined
            ? undefined
            : ([...this.peerMap.values()].find((v) => v.name === e.peer && v.keyChanged) ??
              this.findPeer(e.peer));
        if (p) this.announceKeyChange(p);
        else this.addSystem(this.active, e.message, 'alert');
        return;
      }
      if (SERVER_CODES.has(e.code)) return this.serverProblem(e.code, e.message);
      this.addSystem(this.active, e.message, 'error');
    });
  }

  // ---- the server's state ----

  private setSelf(s: SelfView): void {
    const prev = this.selfView;
    this.selfView = s;
    if (s.serverClosed !== undefined && s.serverClosed !== prev.serverClosed)
      this.serverProblem('CLOSED', `the server closed the connection: ${s.serverClosed}`);
    if (s.server === 'lost' && prev.server !== 'lost' && !this.serverDown)
      this.serverProblem('LOST', 'server lost; reconnecting');
    if (s.server === 'registered' && prev.server !== 'registered') {
      this.serverSaid.clear();
      this.serverNote = undefined;
      if (this.serverDown) {
        this.serverDown = false;
        this.addSystem(this.convs[0]!, `server back: registered as ${s.name}`, 'info');
      }
    }
  }

  /**
   * A problem with the rendezvous server: one line in the room per kind of problem until the
   * server is back (the UDP and relay clients retry on their own and report each failure), and
   * a short note in the status bar, which every conversation shows.
   */
  private serverProblem(code: string, message: string): void {
    const taken = code === 'NAME_TAKEN' || code === 'ROOM_FULL';
    if (code === 'NAME_TAKEN' && this.renaming) return; // the /nick command reports it
    this.serverNote =
      code === 'NAME_TAKEN' ? 'name taken: /nick NEWNAME' : code === 'ROOM_FULL' ? 'room full' : undefined;
    if (this.serverSaid.has(code)) return this.changed();
    this.serverSaid.add(code);
    this.serverDown = true;
    const text = taken ? `${message}; /nick NEWNAME to join under another name` : message;
    this.addSystem(this.convs[0]!, text, taken ? 'error' : 'warn');
  }

  /** Stop listening to the service. */
  dispose(): void {
    this.disposed = true;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /**
   * Ask the service for the peer list again. Round trips change with every sample and the
   * service announces no event for that; runTui calls this every second so the peer list shows
   * the same RTT as /info.
   */
  refreshPeers(): void {
    if (this.disposed) return;
    const list = this.service.peers().filter((p) => p.id !== this.selfView.id);
    const same =
      list.length === this.peerMap.size &&
      list.every((p) => JSON.stringify(p) === JSON.stringify(this.peerMap.get(p.id)));
    if (same) return;
    this.setPeers(list);
    this.changed();
  }

  // ---- state, read-only ----

  get self(): SelfView {
    return this.selfView;
  }

  get peers(): PeerView[] {
    return [...this.peerMap.values()];
  }

  get conversations(): ConversationView[] {
    return this.convs.map((c, i) => ({
      key: c.key,
      id: c.id,
      title: this.title(c),
      unread: c.unread,
      mention: c.mention,
      active: i === this.activeIdx,
    }));
  }

  get activeConversation(): ConversationId {
    return this.active.id;
  }

  get input(): { text: string; cursor: number } {
    return { text: this.line.text, cursor: this.line.cursor };
  }

  get helpVisible(): boolean {
    return this.helpOpen;
  }

  /** Rows the active conversation is scrolled up from the bottom. */
  get scrollOffset(): number {
    return this.active.scroll;
  }

  /** The entries of a conversation (by conversationKey), oldest first. */
  entries(key: string): readonly Entry[] {
    return this.convs.find((c) => c.key === key)?.entries ?? [];
  }

  // ---- keys ----

  /**
   * One key press, as blessed names it (`enter`, `C-n`, `M-1`, `pageup`, `S-a`...), with the
   * character it typed. Returns when the action is done (Enter may wait on the service).
   */
  async handleKey(full: string, ch?: string): Promise<void> {
    if (full !== 'tab') this.line.endCompletion();
    if (full === 'C-c') return this.quit();
    if (this.pendingPaste) return this.answerPaste(full);
    if (this.helpOpen) return this.helpKey(full);
    const alt = /^M-([0-9])$/.exec(full);
    if (alt) return this.switchTo(alt[1] === '0' ? 9 : Number(alt[1]) - 1);
    const l = this.line;
    switch (full) {
      case 'enter':
      case 'linefeed':
        return this.submit();
      case 'return': // blessed reports "\r" as both return and enter
        return;
      case 'f1':
        return this.showHelp();
      case 'C-l':
        this.emit('redraw', undefined);
        return this.changed();
      case 'C-n':
      case 'M-right':
        return this.switchTo((this.activeIdx + 1) % this.convs.length);
      case 'C-p':
      case 'M-left':
        return this.switchTo((this.activeIdx - 1 + this.convs.length) % this.convs.length);
      case 'pageup':
        return this.scrollPage(1);
      case 'pagedown':
        return this.scrollPage(-1);
      case 'C-d':
        if (l.empty) return this.quit();
        return this.editLine(() => l.deleteForward());
    }
    const edits: Record<string, () => void> = {
      up: () => l.historyPrev(),
      down: () => l.historyNext(),
      tab: () => l.complete((word, atStart) => this.candidates(word, atStart)),
      left: () => l.moveBy(-1),
      'C-b': () => l.moveBy(-1),
      right: () => l.moveBy(1),
      'C-f': () => l.moveBy(1),
      home: () => l.moveTo(0),
      'C-a': () => l.moveTo(0),
      end: () => l.moveEnd(),
      'C-e': () => l.moveEnd(),
      backspace: () => l.deleteBack(),
      'C-h': () => l.deleteBack(),
      delete: () => l.deleteForward(),
      'C-u': () => l.killToStart(),
      'C-k': () => l.killToEnd(),
      'C-w': () => l.deleteWordBack(),
      'M-backspace': () => l.deleteWordBack(),
    };
    const edit = edits[full];
    if (edit) return this.editLine(edit);
    if (ch !== undefined && ch !== '' && !full.startsWith('C-') && !full.startsWith('M-')) {
      const text = sanitize(ch).replace(/\ufffd/g, '');
      if (text !== '') this.insert(text);
    }
  }

  private helpKey(full: string): void {
    if (['escape', 'f1', 'enter', 'q'].includes(full)) this.helpOpen = false;
    else if (full === 'up') this.helpScroll = Math.max(0, this.helpScroll - 1);
    else if (full === 'down') this.helpScroll++;
    else if (full === 'pageup') this.helpScroll = Math.max(0, this.helpScroll - 10);
    else if (full === 'pagedown') this.helpScroll += 10;
    else return;
    this.changed();
  }

  private showHelp(): void {
    this.helpOpen = true;
    this.helpScroll = 0;
    this.changed();
  }

  private editLine(fn: () => void): void {
    fn();
    this.changed();
  }

  /** Tab candidates: command names after a "/" at the start, else peers' names. */
  private candidates(word: string, atStart: boolean): string[] {
    if (atStart && word.startsWith('/')) return completeCommand(word.slice(1)).map((n) => `/${n} `);
    const w = word.toLowerCase();
    const suffix = atStart ? ': ' : ' ';
    return [...this.peerMap.values()]
      .map((p) => p.name)
      .filter((n) => n.toLowerCase().startsWith(w))
      .sort((a, b) => a.localeCompare(b))
      .map((n) => n + suffix);
  }

  // ---- pasting ----

  /**
   * Text pasted in one piece (the terminal's bracketed paste, or several lines in one read).
   * Each complete line is a message, as if typed and sent with Enter (the first one continues
   * the line being typed); what follows the last newline stays in the input line. More lines than
   * `pasteConfirmLines` ask first: "paste 12 lines as 12 messages? y/n".
   */
  async paste(text: string): Promise<void> {
    const parts = text.replace(/\r\n?/g, '\n').split('\n');
    const clean = (s: string): string => sanitize(s).replace(/\ufffd/g, '');
    if (parts.length === 1) return this.insert(clean(parts[0]!));
    this.line.insert(clean(parts[0]!));
    const lines = [this.line.text, ...parts.slice(1, -1).map(clean)].filter((l) => l.trim() !== '');
    this.line.set(clean(parts.at(-1)!));
    if (lines.length > this.pasteConfirmLines) {
      this.pendingPaste = lines;
      return this.addSystem(
        this.active,
        `paste ${lines.length} lines as ${lines.length} messages? y/n`,
        'warn',
      );
    }
    await this.sendLines(lines);
  }

  private async answerPaste(full: string): Promise<void> {
    const lines = this.pendingPaste!;
    this.pendingPaste = null;
    if (full === 'y' || full === 'S-y') return this.sendLines(lines);
    this.addSystem(this.active, `paste not sent (${lines.length} lines)`, 'info');
  }

  /** Lines sent one after another as if each were typed and sent with Enter. */
  private async sendLines(lines: string[]): Promise<void> {
    const draft = this.line.text;
    for (const l of lines) {
      this.line.set(l);
      await this.submit();
    }
    this.line.set(draft);
    this.changed();
  }

  /** A long paste is waiting for y/n. */
  get pasteWaiting(): number {
    return this.pendingPaste?.length ?? 0;
  }

  // ---- input line ----

  insert(text: string): void {
    this.editLine(() => this.line.insert(text));
  }

  setInput(text: string): void {
    this.editLine(() => this.line.set(text));
  }

  // ---- conversations ----

  switchTo(index: number): void {
    if (index < 0 || index >= this.convs.length || index === this.activeIdx) return;
    this.active.markerAt = null;
    this.activeIdx = index;
    const c = this.active;
    c.unread = 0;
    c.mention = false;
    c.scroll = 0;
    this.changed();
  }

  /** Open (creating it if needed) and switch to a conversation. */
  open(id: ConversationId): void {
    this.switchTo(this.convs.indexOf(this.conversationFor(id)));
  }

  /** PgUp (+1) / PgDn (-1): a page is the log's height less two rows of context. */
  scrollPage(direction: number): void {
    this.scrollRows(direction * Math.max(1, this.layout().log.height - 2));
  }

  scrollRows(delta: number): void {
    const c = this.active;
    const log = this.layout().log;
    const max = Math.max(0, this.rowsOf(c, log.width).length - log.height);
    c.scroll = clamp(c.scroll + delta, 0, max);
    this.changed();
  }

  resize(cols: number, rows: number): void {
    this.cols = Math.max(1, cols);
    this.rows = Math.max(1, rows);
    this.changed();
  }

  // ---- commands ----

  /** Enter: send the line to the active conversation, or run the command. */
  async submit(): Promise<void> {
    if (this.line.text.trim() === '') return;
    const p = parseInput(this.line.take());
    this.changed();
    if (p.kind === 'empty') return;
    if (p.kind === 'error') return this.addSystem(this.active, p.message, 'error');
    if (p.kind === 'text') return this.sendTo(this.active, p.text);
    try {
      await this.run(p.command);
    } catch (e) {
      this.addSystem(this.active, errorText(e), 'error');
    }
  }

  private async run(cmd: Command): Promise<void> {
    const here = this.active;
    switch (cmd.name) {
      case 'quit':
        return this.quit();
      case 'help':
        return this.showHelp();
      case 'clear':
        here.entries = [];
        here.markerAt = null;
        here.scroll = 0;
        return this.changed();
      case 'msg': {
        const p = this.service.resolvePeer(cmd.peer);
        const c = this.conversationFor({ kind: 'peer', peerId: p.id }, p.name);
        this.switchTo(this.convs.indexOf(c));
        return this.sendTo(c, cmd.text);
      }
      case 'query': {
        const p = this.service.resolvePeer(cmd.peer);
        return this.open({ kind: 'peer', peerId: p.id });
      }
      case 'close':
        if (here.id.kind === 'room')
          throw badArgument('the room conversation cannot be closed; /quit leaves');
        this.convs.splice(this.activeIdx, 1);
        this.activeIdx = Math.min(this.activeIdx, this.convs.length - 1);
        this.active.unread = 0;
        return this.changed();
      case 'who': {
        // One system entry per report: its lines hang under a single "-!-".
        const peers = this.sortedPeers();
        const lines = [`${peers.length + 1} in ${this.selfView.room}: you (${this.selfView.name})`];
        for (const p of peers) lines.push(`  ${p.name}  ${describeState(p)}  id ${p.id.slice(0, 8)}`);
        return this.addSystem(here, lines.join('\n'), 'info');
      }
      case 'info': {
        const target = cmd.peer ?? this.activePeerId();
        if (target === undefined)
          throw badArgument('usage: /info NAME (or use it in a private conversation)');
        return this.addSystem(here, formatInfo(this.service.info(target), this.glyphs).join('\n'), 'info');
      }
      case 'trust': {
        const target = cmd.peer ?? this.activePeerId();
        if (target === undefined)
          throw badArgument('usage: /trust NAME (or use it in a private conversation)');
        const p = this.service.resolvePeer(target);
        if (!p.keyChanged && this.peerMap.get(p.id)?.keyChanged !== true)
          return this.addSystem(here, `the key of ${p.name} has not changed; nothing is held`, 'info');
        this.service.trust(target);
        this.warned.delete(p.name);
        const known = this.peerMap.get(p.id);
        if (known) this.peerMap.set(p.id, { ...known, keyChanged: false });
        return this.addSystem(here, `trusted the new key of ${p.name}; held messages are released`, 'info');
      }
      case 'nick':
        this.renaming = true;
        try {
          await this.service.nick(cmd.nick);
        } catch (e) {
          if (isPunchlineError(e, 'NAME_TAKEN'))
            throw badArgument(`${e.message}; /nick NEWNAME to pick another`);
          throw e;
        } finally {
          this.renaming = false;
        }
        return this.addSystem(here, `you are now ${cmd.nick}`, 'info');
      case 'me':
        return this.sendTo(here, cmd.text, true);
      case 'names': {
        const peers = this.sortedPeers();
        const on = peers.filter((p) => p.state !== 'offline').map((p) => p.name);
        const off = peers.filter((p) => p.state === 'offline').map((p) => p.name);
        const lines = [
          `${on.length + 1} online in #${this.selfView.room}: ${[`${this.selfView.name} (you)`, ...on].join(', ')}`,
        ];
        if (off.length > 0) lines.push(`offline: ${off.join(', ')}`);
        return this.addSystem(here, lines.join('\n'), 'info');
      }
      case 'connect': {
        const p = this.service.resolvePeer(cmd.peer);
        this.addSystem(here, `connecting to ${p.name}${this.glyphs.ellipsis}`, 'info');
        await this.service.connect(cmd.peer);
        const now = this.peerMap.get(p.id) ?? this.service.resolvePeer(p.id);
        return this.addSystem(here, `connected to ${p.name}: ${describeState(now)}`, 'info');
      }
    }
  }

  private sendTo(c: Conversation, text: string, action = false): void {
    try {
      const m = action ? this.service.send(c.id, text, { action: true }) : this.service.send(c.id, text);
      this.addMessage(m);
    } catch (e) {
      this.addSystem(c, errorText(e), 'error');
    }
    c.markerAt = null;
    c.scroll = 0;
    this.changed();
  }

  private quit(): void {
    this.emit('quit', undefined);
  }

  // ---- service events ----

  private setPeers(list: PeerView[]): void {
    const before = this.peerMap;
    this.peerMap = new Map(list.filter((p) => p.id !== this.selfView.id).map((p) => [p.id, p]));
    // The same id under another name: a member renamed themselves (/nick).
    for (const p of this.peerMap.values()) {
      const old = before.get(p.id);
      if (!old || old.name === p.name) continue;
      const text = `${old.name} is now known as ${p.name}`;
      this.addSystem(this.convs[0]!, text, 'info');
      const priv = this.existing({ kind: 'peer', peerId: p.id });
      if (priv) this.addSystem(priv, text, 'info');
    }
    // Warnings are per name: another key under a name is one warning, whichever ids share it.
    const changedNames = new Set([...this.peerMap.values()].filter((p) => p.keyChanged).map((p) => p.name));
    for (const p of this.peerMap.values()) if (p.keyChanged) this.announceKeyChange(p);
    for (const name of [...this.warned]) if (!changedNames.has(name)) this.warned.delete(name);
  }

  private announceKeyChange(p: PeerView): void {
    const known = this.peerMap.get(p.id);
    if (known && !known.keyChanged) this.peerMap.set(p.id, { ...known, keyChanged: true });
    if (this.warned.has(p.name)) return;
    this.warned.add(p.name);
    const text =
      `WARNING: the key of ${p.name} has CHANGED. Someone may be impersonating them. ` +
      `Messages to ${p.name} are held. Compare fingerprints (/info ${p.name}) out of band, then /trust ${p.name}`;
    // The tab of that name, if one is open (its old key's): never a second tab with the same name.
    const peerConv =
      this.existing({ kind: 'peer', peerId: p.id }) ??
      this.convs.find((c) => c.id.kind === 'peer' && c.name === p.name) ??
      this.conversationFor({ kind: 'peer', peerId: p.id }, p.name);
    this.addSystem(peerConv, text, 'alert');
    if (peerConv !== this.convs[0]) this.addSystem(this.convs[0]!, text, 'alert');
  }

  private addMessage(m: ChatMessage): void {
    const existing = this.messages.get(m.id);
    if (existing) {
      if (m.delivery) existing.delivery = { ...existing.delivery, ...m.delivery };
      return;
    }
    const copy: ChatMessage = { ...m, delivery: m.delivery ? { ...m.delivery } : undefined };
    this.messages.set(m.id, copy);
    const c = this.conversationFor(m.conversation, m.outgoing ? undefined : m.fromName);
    if (c !== this.active && !m.outgoing) {
      if (c.markerAt === null) c.markerAt = c.entries.length;
      c.unread++;
      if (mentions(this.selfView.name, m.text)) c.mention = true;
    }
    this.push(c, { kind: 'message', msg: copy });
  }

  private addSystem(c: Conversation, text: string, level: NoticeLevel, ts = this.now()): void {
    this.push(c, { kind: 'system', text, level, ts });
    this.changed();
  }

  private push(c: Conversation, e: Entry): void {
    if (c === this.active && c.scroll > 0) {
      // Scrolled up: keep the view where it is while the conversation grows below it.
      const w = this.layout().log.width;
      const before = this.rowsOf(c, w).length;
      c.entries.push(e);
      c.scroll += this.rowsOf(c, w).length - before;
      c.newBelow++;
    } else c.entries.push(e);
    if (c.entries.length > this.maxEntries) {
      const drop = c.entries.length - this.maxEntries;
      for (const old of c.entries.splice(0, drop))
        if (old.kind === 'message') this.messages.delete(old.msg.id);
      if (c.markerAt !== null) c.markerAt = Math.max(0, c.markerAt - drop);
      c.historyEnd = Math.max(0, c.historyEnd - drop);
    }
  }

  private changed(): void {
    if (!this.disposed) this.emit('change', undefined);
  }

  // ---- helpers ----

  private get active(): Conversation {
    return this.convs[this.activeIdx]!;
  }

  private activePeerId(): string | undefined {
    const id = this.active.id;
    return id.kind === 'peer' ? id.peerId : undefined;
  }

  private newConversation(id: ConversationId, name: string): Conversation {
    const c: Conversation = {
      id,
      key: conversationKey(id),
      name,
      entries: [],
      unread: 0,
      mention: false,
      markerAt: null,
      scroll: 0,
      newBelow: 0,
      historyEnd: 0,
      openedAt: this.now(),
    };
    for (const m of this.service.history(id, this.historyLimit)) {
      // The message that opens a conversation is often in history already: show it once.
      if (this.messages.has(m.id)) continue;
      const copy: ChatMessage = { ...m, delivery: m.delivery ? { ...m.delivery } : undefined };
      this.messages.set(m.id, copy);
      c.entries.push({ kind: 'message', msg: copy });
    }
    c.historyEnd = c.entries.length;
    return c;
  }

  private existing(id: ConversationId): Conversation | undefined {
    const key = conversationKey(id);
    return this.convs.find((x) => x.key === key);
  }

  private conversationFor(id: ConversationId, name?: string): Conversation {
    const key = conversationKey(id);
    let c = this.convs.find((x) => x.key === key);
    if (!c) {
      const peerName = id.kind === 'peer' ? (this.peerMap.get(id.peerId)?.name ?? name) : undefined;
      c = this.newConversation(
        id,
        peerName ?? (id.kind === 'peer' ? id.peerId.slice(0, 8) : this.selfView.room),
      );
      this.convs.push(c);
    }
    return c;
  }

  private findPeer(nameOrId: string): PeerView | undefined {
    const byId = this.peerMap.get(nameOrId);
    if (byId) return byId;
    for (const p of this.peerMap.values()) if (p.name === nameOrId) return p;
    try {
      return this.service.resolvePeer(nameOrId);
    } catch {
      return undefined;
    }
  }

  private title(c: Conversation): string {
    if (c.id.kind === 'room') return `#${this.selfView.room}`;
    return this.peerMap.get(c.id.peerId)?.name ?? c.name;
  }

  private sortedPeers(): PeerView[] {
    return [...this.peerMap.values()].sort(
      (a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || a.name.localeCompare(b.name),
    );
  }

  // ---- layout and rendering ----

  layout(): Layout {
    const cols = this.cols;
    const rows = this.rows;
    const bodyH = Math.max(0, rows - 3);
    const pw = cols >= PEER_LIST_MIN_COLS ? clamp(Math.floor(cols / 4), 20, 28) : 0;
    const logLeft = pw > 0 ? pw + 1 : 0;
    const helpW = Math.min(cols, HELP_WIDTH);
    const helpH = Math.min(rows, helpLines(this.glyphs, helpW - 2).length + 2);
    return {
      cols,
      rows,
      tabs: { top: 0, left: 0, width: cols, height: 1 },
      peers: pw > 0 ? { top: 1, left: 0, width: pw, height: bodyH } : null,
      log: { top: 1, left: logLeft, width: cols - logLeft, height: bodyH },
      status: { top: Math.max(0, rows - 2), left: 0, width: cols, height: 1 },
      input: { top: rows - 1, left: 0, width: cols, height: 1 },
      help: {
        top: Math.floor((rows - helpH) / 2),
        left: Math.floor((cols - helpW) / 2),
        width: helpW,
        height: helpH,
      },
    };
  }

  render(): Frame {
    const layout = this.layout();
    const g = this.glyphs;
    const { line: input, cursor } = this.line.render(layout.input.width, this.title(this.active), g.ellipsis);
    let help: Line[] | null = null;
    if (this.helpOpen) {
      const all = helpLines(g, layout.help.width - 2);
      const h = Math.max(0, layout.help.height - 2);
      this.helpScroll = clamp(this.helpScroll, 0, Math.max(0, all.length - h));
      help = all.slice(this.helpScroll, this.helpScroll + h);
    }
    const tabs = this.convs.map((c) => ({
      title: this.title(c),
      unread: c.unread,
      mention: c.mention,
      alert: c.id.kind === 'peer' && this.peerMap.get(c.id.peerId)?.keyChanged === true,
    }));
    const pid = this.activePeerId();
    const p = pid !== undefined ? this.peerMap.get(pid) : undefined;
    const where =
      pid === undefined
        ? `${this.onlineCount()} in room`
        : p
          ? `${p.name} ${describeState(p)}`
          : 'not in the room';
    return {
      layout,
      tabs: tabBar(g, tabs, this.activeIdx, layout.tabs.width),
      peers: layout.peers
        ? peerList(
            this.style,
            this.selfView,
            this.sortedPeers(),
            layout.peers.width,
            layout.peers.height,
            this.onlineCount(),
          )
        : [],
      log: this.renderLog(layout.log.width, layout.log.height),
      status: statusBar(
        g,
        this.selfView,
        this.peers,
        this.scrollHint(),
        where,
        layout.status.width,
        this.serverNote,
      ),
      input,
      cursor,
      help,
      helpTitle: ' help: Esc closes, Up/Down scroll ',
    };
  }

  /** You and every member not offline: what "in room" counts. */
  private onlineCount(): number {
    let n = 1;
    for (const p of this.peerMap.values()) if (p.state !== 'offline') n++;
    return n;
  }

  /** The status bar's hint while scrolled up, with how many lines arrived below. */
  private scrollHint(): string | null {
    const c = this.active;
    if (c.scroll <= 0) return null;
    return c.newBelow > 0 ? `-- more below: ${c.newBelow} new --` : '-- more below --';
  }

  private renderLog(width: number, height: number): Line[] {
    const c = this.active;
    const rows = this.rowsOf(c, width);
    c.scroll = clamp(c.scroll, 0, Math.max(0, rows.length - height));
    if (c.scroll === 0) c.newBelow = 0;
    const end = rows.length - c.scroll;
    const visible = rows.slice(Math.max(0, end - height), end);
    const pad: Line[] = Array.from({ length: height - visible.length }, () => []);
    return [...pad, ...visible].map((l) => fitLine(l, width, 'plain', this.glyphs.ellipsis));
  }

  /** Every display row of a conversation at a width, with the "new" rule where it belongs. */
  private rowsOf(c: Conversation, width: number): Line[] {
    const out: Line[] = [];
    let lastDay: string | null = null;
    let lastTs = -Infinity;
    c.entries.forEach((e, i) => {
      // A dated rule where the history loaded at start ends, and wherever the day moves on (a
      // sender's clock running behind does not count).
      if (i === c.historyEnd && i > 0) {
        out.push(markerRow(this.glyphs, width, `end of history, ${this.formatDate(c.openedAt)}`));
        lastDay = dayOf(c.openedAt);
        lastTs = Math.max(lastTs, c.openedAt);
      }
      const ts = entryTs(e);
      if (ts >= lastTs) {
        if (lastDay !== null && dayOf(ts) !== lastDay)
          out.push(markerRow(this.glyphs, width, `day changed to ${this.formatDate(ts)}`));
        lastDay = dayOf(ts);
        lastTs = ts;
      }
      if (i === c.markerAt && c === this.active) out.push(markerRow(this.glyphs, width));
      out.push(...entryRows(this.style, e, width, this.selfView.name));
    });
    return out;
  }
}

function errorText(e: unknown): string {
  return isPunchlineError(e) ? e.message : `error: ${(e as Error).message}`;
}
