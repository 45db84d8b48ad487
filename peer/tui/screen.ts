/**
 * The terminal layer. blessed's Program reads the keys (terminfo, escape sequences, raw mode)
 * and switches to the alternate screen; the painting is ours: composeRows() (compose.ts) gives
 * every row of the screen at its exact width in cells, measured by text.ts, and each row that
 * changed since the last paint is rewritten whole, from column one, after erasing it. blessed's
 * own cell model counts emoji, flags and joined emoji differently from terminals, and its
 * partial redraws then left characters behind (a stray "✓" beside a received message); a row
 * written whole cannot keep anything from an earlier paint, and with autowrap off a row the
 * terminal measures wider than we do cannot spill into the next one.
 *
 * It owns no chat logic: key presses go to ChatViewModel.handleKey(), every 'change' repaints
 * (coalesced to one paint per tick), resize re-lays out. close() turns autowrap back on, leaves
 * the alternate screen and shows the cursor again.
 */
import { StringDecoder } from 'node:string_decoder';
import blessed from 'blessed';
import { composeRows } from './compose.js';
import type { ChatViewModel } from './view-model.js';
import { toAnsi } from './theme.js';

export interface TuiScreenOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** terminfo name; default $TERM. */
  terminal?: string;
  monochrome: boolean;
  /** The locale is UTF-8: box-drawing characters and Unicode marks are drawn as they are. */
  unicode: boolean;
  /** Called with anything a key handler threw that the view-model did not handle. */
  onFatal: (e: unknown) => void;
}

interface Colours {
  reduce(index: number, total: number): number;
}

const CSI = '\x1b[';
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
/** A bracketed paste longer than this is taken as ended (a lost end marker must not eat every key). */
const PASTE_MAX = 4 * 1024 * 1024;

export class TuiScreen {
  private readonly program: blessed.BlessedProgram;
  /** What each row of the terminal holds now (as written), to write only the rows that changed. */
  private shown: string[] = [];
  private scheduled = false;
  private closed = false;
  private readonly colours: number;
  private readonly offChange: () => void;
  private readonly offRedraw: () => void;
  private readonly decoder = new StringDecoder('utf8');
  /** Inside a bracketed paste: the text so far. */
  private pasting: string | null = null;
  /** The keys blessed is about to report belong to a paste already handed to the view-model. */
  private swallow = false;

  constructor(
    private readonly vm: ChatViewModel,
    private readonly opts: TuiScreenOptions,
  ) {
    this.program = blessed.program({
      // @types/blessed has input and output swapped; they are a readable and a writable stream.
      input: opts.input as never,
      output: opts.output as never,
      ...(opts.terminal !== undefined ? { terminal: opts.terminal } : {}),
    });
    const tput = (this.program as unknown as { tput: { colors?: number } }).tput;
    // blessed cannot parse ncurses 6's extended terminfo format (tmux-256color, for one) and
    // falls back to 8-colour xterm; the terminal's name says better.
    const term = opts.terminal ?? process.env.TERM ?? '';
    const have = (tput.colors ?? 8) < 256 && /256col/.test(term) ? 256 : (tput.colors ?? 8);
    this.colours = opts.monochrome ? 2 : have;

    const p = this.program;
    p.alternateBuffer();
    (p as unknown as { put: { keypad_xmit(): void } }).put.keypad_xmit();
    // Autowrap off: a row is never continued on the next one. Bracketed paste on: a paste
    // arrives marked, so many lines are not taken for many Enters.
    this.write(`${CSI}?7l${CSI}?2004h${CSI}0m${CSI}2J`);

    // Every read reaches this listener before blessed turns it into keys (program.js listens
    // to the input's data before keys.js does).
    p.on('data', (data: Buffer | string) => this.onData(data));

    p.on('keypress', (ch: string | undefined, key: { full?: string } | undefined) => {
      if (this.swallow) return;
      const full = key?.full ?? ch ?? '';
      try {
        this.vm.handleKey(full, ch).catch(opts.onFatal);
      } catch (e) {
        opts.onFatal(e);
      }
    });
    p.on('resize', () => {
      this.vm.resize(this.width(), this.height());
      this.repaintAll();
    });
    this.offChange = vm.on('change', () => this.schedule());
    this.offRedraw = vm.on('redraw', () => this.repaintAll());
    this.vm.resize(this.width(), this.height());
    this.paint();
  }

  /**
   * A paste: between the bracketed-paste markers, or (a terminal without them) a read of more
   * than one character with a newline in it, which typing by hand does not produce. It goes to
   * the view-model whole, and the keys blessed parses from the same read are dropped.
   */
  private onData(data: Buffer | string): void {
    const s = typeof data === 'string' ? data : this.decoder.write(data);
    let text: string | null = null;
    if (this.pasting !== null || s.includes(PASTE_START)) {
      const buf =
        (this.pasting ?? '') +
        (this.pasting === null ? s.slice(s.indexOf(PASTE_START) + PASTE_START.length) : s);
      const end = buf.indexOf(PASTE_END);
      if (end >= 0 || buf.length > PASTE_MAX) {
        text = end >= 0 ? buf.slice(0, end) : buf;
        this.pasting = null;
      } else this.pasting = buf;
    } else if (s.length > 1 && /[\r\n]/.test(s) && !s.startsWith('\x1b')) text = s;
    else return;
    this.swallow = true;
    queueMicrotask(() => (this.swallow = false));
    if (text !== null) this.vm.paste(text).catch(this.opts.onFatal);
  }

  private write(s: string): void {
    if (!this.closed) this.opts.output.write(s);
  }

  private width(): number {
    return Math.max(1, Number(this.program.cols));
  }

  private height(): number {
    return Math.max(1, Number(this.program.rows));
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.paint();
    });
  }

  /** Ctrl-L and resize: forget what the terminal holds, clear it, write every row. */
  private repaintAll(): void {
    this.shown = [];
    this.write(`${CSI}0m${CSI}2J`);
    this.paint();
  }

  /** One view-model frame: every row that differs from what is shown, then the cursor. */
  paint(): void {
    if (this.closed) return;
    const f = this.vm.render();
    const glyphs = this.vm.glyphs;
    const colours = blessed.colors as unknown as Colours;
    const rows = composeRows(f, glyphs, this.opts.unicode).map((l) =>
      toAnsi(l, this.opts.monochrome, this.colours, colours.reduce),
    );
    let out = `${CSI}?25l`;
    rows.forEach((r, y) => {
      if (this.shown[y] === r) return;
      out += `${CSI}${y + 1};1H${CSI}0m${CSI}2K${r}`;
    });
    this.shown = rows;
    out += f.help ? '' : `${CSI}${f.layout.input.top + 1};${f.cursor + 1}H${CSI}?25h`;
    this.write(out);
  }

  /** Leave the alternate screen, show the cursor, give the terminal back (idempotent). */
  close(): void {
    if (this.closed) return;
    this.write(`${CSI}0m${CSI}?2004l${CSI}?7h${CSI}?25h`);
    this.closed = true;
    this.offChange();
    this.offRedraw();
    const p = this.program;
    (p as unknown as { put: { keypad_local(): void } }).put.keypad_local();
    p.showCursor();
    p.normalBuffer();
    p.flush();
    p.destroy();
  }
}
