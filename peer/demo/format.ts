/** Layout of the demo's text: timestamps, wrapping, and the indent of detail lines. */

/** Text lines are wrapped to fit a default 80-column terminal. */
const WIDTH = 80;

/** "[+   12.3 ms] " */
function stamp(t: number): string {
  return `[+${t.toFixed(1).padStart(8)} ms] `;
}

/** Detail lines sit under the sentence, after the timestamp's width. */
const DETAIL_INDENT = ' '.repeat(stamp(0).length + 2);

/** Greedy word wrap: the first line starts with `first`, the rest with `rest`. */
export function wrap(text: string, first: string, rest = ' '.repeat(first.length), width = WIDTH): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > width) {
      out.push(line);
      line = rest + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  out.push(line);
  return out;
}

/** A step: the plain sentence after its timestamp, then the technical detail, indented. */
export function step(t: number, sentence: string, detail?: string): string[] {
  const lines = wrap(sentence, stamp(t));
  if (detail) lines.push(...wrap(detail, `${DETAIL_INDENT}· `, `${DETAIL_INDENT}  `));
  return lines;
}

/** "20%" from 0.2. */
export const percent = (p: number): string => `${Math.round(p * 1000) / 10}%`;

/** "8 ms" / "8.5 ms". */
export const ms = (v: number): string => `${Math.round(v * 10) / 10} ms`;
