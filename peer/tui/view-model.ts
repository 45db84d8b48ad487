/**
 * The terminal client's state and behaviour, with no terminal: conversations (the room first,
 * then one per peer), unread counts and the "new" marker, scrollback, the input line, commands,
 * and the layout of every pane. The blessed layer (screen.ts) forwards key names to handleKey()
 * and paints render(); the tests drive this class directly against a fake ChatService.
 */
import { isPunchlineError } from '../../common/errors.js';
import type { ChatService } from '../chat/types.js';
import { runCommand } from './command-actions.js';
import type { CommandTarget } from './command-actions.js';
import { parseInput } from './commands.js';
import { logWindow } from './conversation.js';
import type { Conversation } from './conversation.js';
import { InputLine } from './input-line.js';
import { cleanText, helpKey, lineEdit, tabCandidates, typedText } from './key-bindings.js';
import { clamp } from './layout.js';
import type { Layout } from './layout.js';
import { describeState, helpLines, peerList, statusBar, tabBar } from './panes.js';
import { defaultPathContext } from './paths.js';
import type { PathContext } from './paths.js';
import type { Line } from './theme.js';
import { ChatViewState } from './view-state.js';
import type { ViewModelOptions } from './view-state.js';

export type { ViewModelOptions } from './view-state.js';

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

export class ChatViewModel extends ChatViewState {
  private readonly line: InputLine;
  private helpOpen = false;
  private helpScroll = 0;
  private readonly pasteConfirmLines: number;
  /** A long paste waiting for y/n: the lines it would send. */
  private pendingPaste: string[] | null = null;
  private readonly paths: PathContext;

  constructor(service: ChatService, opts: ViewModelOptions = {}) {
    super(service, opts);
    this.line = new InputLine(opts.inputHistory ?? 500);
    this.pasteConfirmLines = opts.pasteConfirmLines ?? 5;
    const d = defaultPathContext();
    this.paths = { fs: opts.fs ?? d.fs, cwd: opts.cwd ?? d.cwd, home: opts.home ?? d.home };
  }

  get input(): { text: string; cursor: number } {
    return { text: this.line.text, cursor: this.line.cursor };
  }

  get helpVisible(): boolean {
    return this.helpOpen;
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
    const n = this.convs.all.length;
    const at = this.convs.activeIdx;
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
        return this.switchTo((at + 1) % n);
      case 'C-p':
      case 'M-left':
        return this.switchTo((at - 1 + n) % n);
      case 'pageup':
        return this.scrollPage(1);
      case 'pagedown':
        return this.scrollPage(-1);
      case 'C-d':
        if (this.line.empty) return this.quit();
        return this.editLine(() => this.line.deleteForward());
    }
    const edit = lineEdit(this.line, full, (word, before) =>
      tabCandidates(word, before, (prefix) => this.roster.namesStarting(prefix), this.paths),
    );
    if (edit) return this.editLine(edit);
    const text = typedText(full, ch);
    if (text !== '') this.insert(text);
  }

  private helpKey(full: string): void {
    const next = helpKey(full, this.helpScroll);
    if (next === undefined) return;
    if (next === 'close') this.helpOpen = false;
    else this.helpScroll = next;
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

  // ---- pasting ----

  /**
   * Text pasted in one piece (the terminal's bracketed paste, or several lines in one read).
   * Each complete line is a message, as if typed and sent with Enter (the first one continues
   * the line being typed); what follows the last newline stays in the input line. More lines than
   * `pasteConfirmLines` ask first: "paste 12 lines as 12 messages? y/n".
   */
  async paste(text: string): Promise<void> {
    const parts = text.replace(/\r\n?/g, '\n').split('\n');
    if (parts.length === 1) return this.insert(cleanText(parts[0]!));
    this.line.insert(cleanText(parts[0]!));
    const lines = [this.line.text, ...parts.slice(1, -1).map(cleanText)].filter((l) => l.trim() !== '');
    this.line.set(cleanText(parts.at(-1)!));
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
      await runCommand(this.commandTarget(this.active), p.command);
    } catch (e) {
      this.addSystem(this.active, errorText(e), 'error');
    }
  }

  /** What a command may see and do, from the conversation it was typed in (command-actions.ts). */
  private commandTarget(here: Conversation): CommandTarget {
    return {
      service: this.service,
      files: this.files,
      paths: this.paths,
      glyphs: this.glyphs,
      self: this.selfView,
      server: this.server,
      here,
      activePeerId: () => this.activePeerId(),
      sortedPeers: () => this.roster.sorted(),
      knownPeer: (id) => this.roster.get(id),
      trusted: (p) => this.roster.trusted(p),
      say: (text) => this.addSystem(here, text, 'info'),
      quit: () => this.quit(),
      showHelp: () => this.showHelp(),
      clear: (c) => {
        c.entries = [];
        c.markerAt = null;
        c.scroll = 0;
        this.changed();
      },
      close: (c) => {
        this.convs.remove(c);
        this.changed();
      },
      openPrivate: (p, name) => {
        const c = this.conversationFor({ kind: 'peer', peerId: p.id }, name);
        this.switchTo(this.convs.all.indexOf(c));
        return c;
      },
      send: (c, text, action) => this.sendTo(c, text, action),
    };
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

  render(): Frame {
    const layout = this.layout();
    const g = this.glyphs;
    const { line: input, cursor } = this.line.render(layout.input.width, this.title(this.active), g.ellipsis);
    const tabs = this.convs.all.map((c) => ({
      title: this.title(c),
      unread: c.unread,
      mention: c.mention,
      alert: c.id.kind === 'peer' && this.roster.get(c.id.peerId)?.keyChanged === true,
    }));
    const online = this.roster.onlineCount();
    const { peers, status } = layout;
    return {
      layout,
      tabs: tabBar(g, tabs, this.convs.activeIdx, layout.tabs.width),
      peers: peers
        ? peerList(this.style, this.selfView, this.roster.sorted(), peers.width, peers.height, online)
        : [],
      log: this.renderLog(layout.log.width, layout.log.height),
      status: statusBar(
        g,
        this.selfView,
        this.peers,
        this.scrollHint(),
        this.where(),
        status.width,
        this.server.note,
      ),
      input,
      cursor,
      help: this.helpOpen ? this.helpWindow(layout) : null,
      helpTitle: ' help: Esc closes, Up/Down scroll ',
    };
  }

  /** What the status bar says about the active conversation: the room's count, or the peer's path. */
  private where(): string {
    const pid = this.activePeerId();
    if (pid === undefined) return `${this.roster.onlineCount()} in room`;
    const p = this.roster.get(pid);
    return p ? `${p.name} ${describeState(p)}` : 'not in the room';
  }

  /** The help lines the overlay shows at its scroll position (clamped to what there is). */
  private helpWindow(layout: Layout): Line[] {
    const all = helpLines(this.glyphs, layout.help.width - 2);
    const h = Math.max(0, layout.help.height - 2);
    this.helpScroll = clamp(this.helpScroll, 0, Math.max(0, all.length - h));
    return all.slice(this.helpScroll, this.helpScroll + h);
  }

  /** The status bar's hint while scrolled up, with how many lines arrived below. */
  private scrollHint(): string | null {
    const c = this.active;
    if (c.scroll <= 0) return null;
    return c.newBelow > 0 ? `-- more below: ${c.newBelow} new --` : '-- more below --';
  }

  private renderLog(width: number, height: number): Line[] {
    const c = this.active;
    return logWindow(c, this.rowsOf(c, width), width, height, this.glyphs.ellipsis);
  }
}

function errorText(e: unknown): string {
  return isPunchlineError(e) ? e.message : `error: ${(e as Error).message}`;
}
