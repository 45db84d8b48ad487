/**
 * The blessed layer: six boxes positioned from the view-model's layout and filled with its lines.
 * It owns no chat logic: key presses go to ChatViewModel.handleKey(), every 'change' repaints
 * (coalesced to one paint per tick), and resize re-lays out. destroy() leaves the alternate
 * screen and shows the cursor again.
 */
import blessed from 'blessed';
import type { ChatViewModel, Frame, Rect } from './view-model.js';
import { toTags } from './theme.js';
import type { Line } from './theme.js';

export interface TuiScreenOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** terminfo name; default $TERM. */
  terminal?: string;
  monochrome: boolean;
  /** The locale is UTF-8: write box-drawing characters as they are rather than as DEC line drawing. */
  unicode: boolean;
  /** Called with anything a key handler threw that the view-model did not handle. */
  onFatal: (e: unknown) => void;
}

type Box = blessed.Widgets.BoxElement;

export class TuiScreen {
  private readonly screen: blessed.Widgets.Screen;
  private readonly tabs: Box;
  private readonly peers: Box;
  private readonly log: Box;
  private readonly status: Box;
  private readonly input: Box;
  private readonly help: Box;
  private frame: Frame | null = null;
  private scheduled = false;
  private destroyed = false;
  private readonly colours: number;
  private readonly offChange: () => void;
  private readonly offRedraw: () => void;

  constructor(
    private readonly vm: ChatViewModel,
    private readonly opts: TuiScreenOptions,
  ) {
    this.screen = blessed.screen({
      smartCSR: true,
      fullUnicode: true,
      // @types/blessed has input and output swapped; they are a readable and a writable stream.
      input: opts.input as never,
      output: opts.output as never,
      ...(opts.terminal !== undefined ? { terminal: opts.terminal } : {}),
      autoPadding: false,
      warnings: false,
    });
    const tput = this.screen.tput as unknown as { colors?: number; brokenACS?: boolean };
    // blessed draws "│" and "─" through the alternate character set unless it believes ACS is
    // broken; in a UTF-8 terminal the characters themselves are right, and they survive
    // copy-paste and tmux capture-pane (ACS cells capture as "x" and "q").
    if (opts.unicode) tput.brokenACS = true;
    // blessed cannot parse ncurses 6's extended terminfo format (tmux-256color, for one) and
    // falls back to 8-colour xterm; the terminal's name says better.
    const term = opts.terminal ?? process.env.TERM ?? '';
    if ((tput.colors ?? 8) < 256 && /256col/.test(term)) tput.colors = 256;
    this.colours = opts.monochrome ? 2 : (tput.colors ?? 8);
    const box = (extra: blessed.Widgets.BoxOptions = {}): Box =>
      blessed.box({ parent: this.screen, tags: true, wrap: false, ...extra });
    this.tabs = box();
    this.peers = box();
    this.log = box();
    this.status = box();
    this.input = box();
    this.help = box({ hidden: true, border: { type: 'line' } });

    this.screen.on('keypress', (ch: string | undefined, key: { full?: string } | undefined) => {
      const full = key?.full ?? ch ?? '';
      try {
        this.vm.handleKey(full, ch).catch(opts.onFatal);
      } catch (e) {
        opts.onFatal(e);
      }
    });
    this.screen.on('resize', () => {
      this.vm.resize(this.width(), this.height());
      this.paint();
    });
    this.screen.on('render', () => this.placeCursor());
    this.offChange = vm.on('change', () => this.schedule());
    this.offRedraw = vm.on('redraw', () => {
      this.screen.realloc();
      this.paint();
    });
    this.vm.resize(this.width(), this.height());
    this.paint();
  }

  private width(): number {
    return Number(this.screen.width);
  }

  private height(): number {
    return Number(this.screen.height);
  }

  private schedule(): void {
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.paint();
    });
  }

  /** Lay out and fill every box from one view-model frame, then render. */
  paint(): void {
    if (this.destroyed) return;
    const f = this.vm.render();
    this.frame = f;
    const { layout } = f;
    const put = (b: Box, r: Rect, lines: Line[]): void => {
      b.top = r.top;
      b.left = r.left;
      b.width = r.width;
      b.height = r.height;
      b.setContent(lines.map((l) => toTags(l, this.opts.monochrome, this.colours)).join('\n'));
    };
    put(this.tabs, layout.tabs, [f.tabs]);
    if (layout.peers) {
      put(this.peers, layout.peers, f.peers);
      this.peers.show();
    } else this.peers.hide();
    put(this.log, layout.log, f.log);
    put(this.status, layout.status, [f.status]);
    put(this.input, layout.input, [f.input]);
    if (f.help) {
      put(this.help, layout.help, f.help);
      this.help.setLabel(f.helpTitle);
      this.help.show();
      this.help.setFront();
    } else this.help.hide();
    this.screen.render();
  }

  private placeCursor(): void {
    const f = this.frame;
    if (!f || this.destroyed) return;
    const p = this.screen.program;
    if (f.help) {
      p.hideCursor();
      return;
    }
    p.cup(f.layout.input.top, f.cursor);
    p.showCursor();
  }

  /** Leave the alternate screen, show the cursor, give the terminal back (idempotent). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.offChange();
    this.offRedraw();
    this.screen.program.showCursor();
    this.screen.destroy();
  }
}
