/**
 * The demo's topology as a small ASCII diagram with the real (simulated) addresses:
 *
 *   alice  10.1.0.2:44752                   bob  10.2.0.2:53835
 *     |    home network 10.1.0.0/24           |    home network 10.2.0.0/24
 *   [NAT]  cone (EIM/APDF)                  [NAT]  cone (EIM/APDF)
 *     |    public 203.0.113.20                |    public 203.0.113.30
 *     |    10 ms                              |    20 ms
 *   --+------------------ internet -----------+--------------------
 *                      |    5 ms
 *           rendezvous 203.0.113.10:7000
 */
import type { Side, Topology } from './events.js';

/** Where bob's column starts. */
const COLUMN = 40;
const INDENT = '  ';

function linkText(delayMs: number, loss: number): string {
  return loss > 0 ? `${delayMs} ms, ${Math.round(loss * 1000) / 10}% loss` : `${delayMs} ms`;
}

/** One side's column, top (the peer) to bottom (its link to the internet). */
function column(s: Side): string[] {
  const link = `  |    ${s.link ?? linkText(s.delayMs, s.loss)}`;
  if (s.routerPublic === undefined)
    return [`${s.peer}  ${s.local}`, '  |    no NAT: a public address', '  |', '  |', link];
  return [
    `${s.peer}  ${s.local}`,
    `  |    home network ${s.lan ?? ''}`,
    `[NAT]  ${s.nat} (${s.natLabel})`,
    `  |    public ${s.routerPublic}`,
    link,
  ];
}

export function topologyDiagram(t: Topology): string[] {
  const left = column(t.alice);
  const right = column(t.bob);
  const rows = left.map((l, i) => (INDENT + l.padEnd(COLUMN) + right[i]!).trimEnd());
  const width = COLUMN + 24;
  const net = `--+${'-'.repeat(COLUMN - 1)}+${'-'.repeat(width - COLUMN - 3)}`;
  const label = ' internet ';
  const mid = Math.floor((COLUMN - label.length) / 2) + 2;
  rows.push(INDENT + net.slice(0, mid) + label + net.slice(mid + label.length));
  const hub = Math.floor(COLUMN / 2);
  rows.push(INDENT + ' '.repeat(hub) + `|    ${t.rendezvousLink ?? linkText(t.rendezvousDelayMs, 0)}`);
  const rdv = `rendezvous ${t.rendezvous}`;
  rows.push(INDENT + ' '.repeat(Math.max(0, hub - Math.floor(rdv.length / 2))) + rdv);
  return rows;
}
