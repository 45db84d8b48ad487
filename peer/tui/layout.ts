/**
 * Where each pane of the terminal client goes for a terminal size: the tab bar on top, the peer
 * list on the left (on screens 60 columns or wider), the conversation, the status bar and the
 * input line at the bottom, and the help overlay centred over them.
 */
import type { Glyphs } from './format.js';
import { helpLines } from './panes.js';

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

const PEER_LIST_MIN_COLS = 60;
const HELP_WIDTH = 66;

export const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

export function computeLayout(cols: number, rows: number, glyphs: Glyphs): Layout {
  const bodyH = Math.max(0, rows - 3);
  const pw = cols >= PEER_LIST_MIN_COLS ? clamp(Math.floor(cols / 4), 20, 28) : 0;
  const logLeft = pw > 0 ? pw + 1 : 0;
  const helpW = Math.min(cols, HELP_WIDTH);
  const helpH = Math.min(rows, helpLines(glyphs, helpW - 2).length + 2);
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
