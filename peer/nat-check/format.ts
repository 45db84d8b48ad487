/** `punchline nat-check`'s output: one line per finding with its evidence, then the predictions. */
import type { NatCheckReport } from './types.js';

const pad = (s: string, n: number): string => (s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length));

/** The human-readable report (what the command prints without --json). */
export function formatReport(r: NatCheckReport): string[] {
  const out: string[] = [];
  const alt = r.altPort !== null ? `, alternate port ${r.altPort}` : '';
  out.push(`punchline nat-check: server ${r.server}${alt}, local socket ${r.local}`);
  out.push('');
  for (const f of r.findings) out.push(`${pad(`${f.topic}:`, 11)}${f.result} (${f.evidence})`);
  if (r.predictions.length === 0) return out;
  out.push('');
  out.push('Against a peer behind each kind of NAT, a chat would go:');
  const w = Math.max(...r.predictions.map((p) => p.remote.length)) + 2;
  const lw = Math.max(...r.predictions.map((p) => p.remoteLabel.length)) + 2;
  for (const p of r.predictions) {
    const verdict = p.path === 'none' ? 'no path' : p.path;
    const why = p.why ? ` (${p.certain ? '' : 'probably: '}${p.why})` : '';
    out.push(`  ${pad(p.remote, w)}${pad(p.remoteLabel, lw)}${verdict}${why}`);
  }
  if (r.notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  return out;
}

/** The --json form: the report as one object on one line. */
export function formatJson(r: NatCheckReport): string {
  return JSON.stringify(r);
}
