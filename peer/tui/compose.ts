/**
 * The whole screen as rows of exactly `cols` cells, built from one view-model frame: the tab bar,
 * the peer list beside the conversation, the status bar, the input line, and the help overlay
 * (with its border) laid over them. The widget layer (screen.ts) writes each row that changed
 * from its first column, so what the terminal shows is these rows and nothing else: no cell is
 * left over from an earlier paint, whatever the text's widths.
 */
import type { Glyphs } from './format.js';
import { fitLine, lineWidth } from './panes.js';
import { units } from './text.js';
import type { Line, Segment } from './theme.js';
import type { Frame } from './view-model.js';

/** The cells [from, to) of a line; a wide character cut by either edge becomes spaces. */
export function cutCells(line: Line, from: number, to: number): Line {
  const out: Line = [];
  let col = 0;
  for (const seg of line) {
    let text = '';
    for (const u of units(seg.text)) {
      const end = col + u.width;
      if (col >= from && end <= to) text += u.text;
      else if (end > from && col < to) text += ' '.repeat(Math.min(end, to) - Math.max(col, from));
      col = end;
    }
    if (text !== '') out.push({ ...seg, text });
  }
  const w = lineWidth(out);
  if (w < to - from) out.push({ text: ' '.repeat(to - from - w), role: 'plain' });
  return out;
}

/** Lay `over` (already `width` cells) on `row` at column `left`. */
function overlay(row: Line, left: number, over: Line, cols: number): Line {
  const width = lineWidth(over);
  return [...cutCells(row, 0, left), ...over, ...cutCells(row, left + width, cols)];
}

/** The help box: a one-cell border with the title in the top edge, the lines inside. */
function helpBox(g: Glyphs, unicode: boolean, lines: Line[], title: string, w: number, h: number): Line[] {
  const [tl, tr, bl, br, hz, vt] = unicode ? ['┌', '┐', '└', '┘', '─', '│'] : ['+', '+', '+', '+', '-', '|'];
  const inner = Math.max(0, w - 2);
  const edge = (s: string): Segment => ({ text: s, role: 'plain' });
  const top = fitLine([edge(tl + hz), { text: title, role: 'heading' }], w - 1, 'plain', g.ellipsis).map(
    (s) => (s.role === 'plain' && /^ +$/.test(s.text) ? { ...s, text: hz.repeat(s.text.length) } : s),
  );
  const out: Line[] = [[...top, edge(tr)]];
  for (let i = 0; i < h - 2; i++)
    out.push([edge(vt), ...fitLine(lines[i] ?? [], inner, 'plain', g.ellipsis), edge(vt)]);
  out.push([edge(bl + hz.repeat(inner) + br)]);
  return out.slice(0, h);
}

/** Every row of the screen, top to bottom, each exactly `frame.layout.cols` cells. */
export function composeRows(f: Frame, g: Glyphs, unicode: boolean): Line[] {
  const { cols, rows } = f.layout;
  const blank = (): Line => [{ text: ' '.repeat(cols), role: 'plain' }];
  const screen: Line[] = Array.from({ length: rows }, blank);
  const put = (top: number, left: number, width: number, line: Line): void => {
    if (top < 0 || top >= rows || width <= 0) return;
    screen[top] = overlay(screen[top]!, left, fitLine(line, width, 'plain', g.ellipsis), cols);
  };
  const l = f.layout;
  put(l.tabs.top, l.tabs.left, l.tabs.width, f.tabs);
  for (let i = 0; i < l.log.height; i++) {
    if (l.peers) put(l.peers.top + i, l.peers.left, l.peers.width, f.peers[i] ?? []);
    put(l.log.top + i, l.log.left, l.log.width, f.log[i] ?? []);
  }
  put(l.status.top, l.status.left, l.status.width, f.status);
  put(l.input.top, l.input.left, l.input.width, f.input);
  if (f.help) {
    const box = helpBox(g, unicode, f.help, f.helpTitle, l.help.width, l.help.height);
    box.forEach((line, i) => put(l.help.top + i, l.help.left, l.help.width, line));
  }
  return screen;
}
