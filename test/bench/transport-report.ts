/**
 * Presenting the transport benchmark: min/median/max over runs, punchline:baseline ratios of the
 * medians, and one markdown table per figure.
 */
import type { System } from './transport-systems.js';

/** Per system, one value per run (NaN for a run that failed or did not finish). */
export type Series = Partial<Record<System, number[]>>;

export interface Spread {
  n: number;
  min: number;
  median: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid =
    v.length === 0
      ? NaN
      : v.length % 2
        ? v[(v.length - 1) / 2]!
        : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return { n: v.length, min: v[0] ?? NaN, median: mid, max: v[v.length - 1] ?? NaN };
}

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join(
    '\n',
  );
}

export interface Row {
  label: string;
  unit: string;
  series: Series;
  digits?: number;
  /** How many runs were tried per system (shown when fewer succeeded). */
  tried?: number;
}

/** One line per measured quantity: each system's median [min-max], then punchline:tcp and punchline:hyperdht. */
export function figureTable(rows: Row[]): string {
  const cell = (r: Row, s: System): string => {
    const v = r.series[s];
    if (!v) return 'n/a';
    const x = spread(v);
    const d = r.digits ?? 2;
    const short = r.tried !== undefined && x.n < r.tried ? ` (${x.n} of ${r.tried} runs)` : '';
    return x.n === 0 ? `failed${short}` : `${fmt(x.median, d)} [${fmt(x.min, d)}–${fmt(x.max, d)}]${short}`;
  };
  const ratio = (r: Row, s: System): string => {
    const p = spread(r.series.punchline ?? []).median;
    const b = spread(r.series[s] ?? []).median;
    return Number.isFinite(p / b) ? `${(p / b).toFixed(2)}` : '-';
  };
  return table([
    ['measurement', 'punchline', 'tcp', 'hyperdht', 'punchline:tcp', 'punchline:hyperdht'],
    ...rows.map((r) => [
      `${r.label} (${r.unit})`,
      cell(r, 'punchline'),
      cell(r, 'tcp'),
      cell(r, 'hyperdht'),
      ratio(r, 'tcp'),
      ratio(r, 'hyperdht'),
    ]),
  ]);
}
