/** The demo's closing summary: what path, how fast, how many probes, and what it means. */
import type { DemoEventOf, Outcome, Topology, Who } from './events.js';
import { RELAY_EXPLAINED, whyDirect, whyNoDirect } from './explain.js';
import type { SideFacts } from './explain.js';
import { ms, percent, wrap } from './format.js';
import { transferText } from './tell-transfer.js';

export interface SummaryContext {
  setup?: DemoEventOf<'setup'>;
  topology?: Topology;
  facts: (who: Who) => SideFacts;
}

const row = (name: string, value: string): string[] => wrap(value, `  ${name.padEnd(16)}`);

function pathText(o: Outcome): string {
  switch (o.path) {
    case 'direct':
      return `direct, peer to peer: alice sends straight to bob at ${o.remote ?? '?'}${o.kind ? ` (${o.kind === 'lan' ? 'private' : o.kind})` : ''}`;
    case 'relay':
      return 'relayed through the rendezvous: no direct path opened';
    case 'none':
      return o.error?.code === 'PUNCH_FAILED'
        ? 'none: no direct path (PUNCH_FAILED), and no relay'
        : `none${o.error ? ` (${o.error.code})` : ''}`;
  }
}

function theory(o: Outcome, c: SummaryContext): string {
  const pair = c.setup ? `${c.setup.labels[0]} with ${c.setup.labels[1]}: ` : '';
  const direct = o.path === 'direct';
  if (o.predictedDirect && direct) return `${pair}a direct path predicted, and it opened`;
  if (o.predictedDirect)
    return `${pair}a direct path predicted, but none opened here${c.setup?.loss ? ` (${percent(c.setup.loss)} loss per link)` : ''}`;
  if (!direct) return `${pair}no direct path predicted, and none opened`;
  return `${pair}no direct path predicted, yet one opened (please report this: the theory is wrong)`;
}

function meaning(o: Outcome, c: SummaryContext): string {
  const [a, b] = [c.facts('alice'), c.facts('bob')];
  if (o.path === 'none' && o.punchMs !== undefined && o.error?.code !== 'PUNCH_FAILED')
    return (
      'Punching found a direct path, but the encrypted handshake over it could not finish before the ' +
      "demo's time ran out: too many of its packets were lost. Try a smaller --loss or another --seed."
    );
  if (o.error?.code === 'SERVER_UNREACHABLE' || (o.path === 'none' && o.error === undefined))
    return (
      "The peers could not finish the steps before the demo's time ran out: with this much loss even the " +
      'rendezvous is hard to reach. Try a smaller --loss or another --seed.'
    );
  if (o.path === 'direct')
    return (
      `${whyDirect(a, b)} ` +
      (o.relayedFirst
        ? 'The relay carried the session at first, while they tried; since the move the server carries nothing: '
        : 'After the introduction the server carried nothing: ') +
      `the chat goes straight between alice and bob, encrypted` +
      (a.kind === 'none' && b.kind === 'none'
        ? '.'
        : `, and a keepalive every few seconds holds the router${a.kind === 'none' || b.kind === 'none' ? "'s mapping" : "s' mappings"} open.`)
    );
  const why = o.predictedDirect
    ? 'These NATs allow a direct path, but the lossy links swallowed the probes before the deadline.'
    : `No direct path is possible here. ${whyNoDirect(a, b)} The routers are doing their job: they drop what looks unsolicited.`;
  if (o.path === 'relay')
    return `${why} So the relay carried the chat: the rendezvous forwarded the encrypted packets, which it cannot read.`;
  return `${why} ${RELAY_EXPLAINED} This run had no relay (--no-relay), so these two peers could not chat; without the flag the relay carries the chat.`;
}

function searchText(x: NonNullable<Outcome['search']>): string {
  const figures = `${x.sockets} sockets opened, ${x.portProbes.toLocaleString('en-US')} port probes sent`;
  if (!x.found) return `${figures}; none landed`;
  return x.hitMs !== undefined ? `${figures}; a hit after ${ms(x.hitMs)}` : `${figures}; found the path`;
}

/**
 * The round trip: of the message and its receipt; --real also has the session's own measure
 * (its smoothed RTT, free of the chat processes' own delays).
 */
function roundTrip(o: Outcome, c: SummaryContext): string {
  const relayed = o.path === 'relay' ? ' (over the relay)' : '';
  const value = (v: number | undefined): string => (v === undefined ? '?' : ms(v));
  if (c.setup?.real === true)
    return `${value(o.sessionRttMs)} (session rtt, smoothed); message to receipt ${value(o.rttMs)}${relayed}`;
  if (o.rttMs !== undefined) return `${ms(o.rttMs)}: encrypted message out, receipt back${relayed}`;
  return o.path === 'none'
    ? 'none: with no path, the message was not sent'
    : 'the receipt did not come back in time';
}

/** The summary's rows and what the outcome means, for the simulated run and --real alike. */
export function summaryLines(o: Outcome, c: SummaryContext): string[] {
  const title =
    c.setup?.real === true
      ? 'Summary (real time, Linux NAT in network namespaces)'
      : 'Summary (simulated time)';
  const lines = [title, ...row('path', pathText(o))];
  if (o.path === 'direct' && o.punchMs !== undefined) {
    const sides = (['alice', 'bob'] as const).filter((w) => o.punchMs?.[w] !== undefined);
    lines.push(
      ...row(
        'time to direct',
        sides.map((w) => `${w} ${o.punchMs![w]} ms`).join(', ') +
          (o.relayedFirst ? ' after the introduction that found it' : ' after the introduction') +
          (o.sessionMs !== undefined ? `; encrypted session open after ${o.sessionMs} ms` : ''),
      ),
    );
  } else if (o.sessionMs !== undefined)
    lines.push(...row('session open', `${o.sessionMs} ms after the introduction`));
  const fate = o.probesIn
    ? `got through the routers: alice ${o.probesIn.alice}, bob ${o.probesIn.bob}`
    : `refused by routers: ${o.refused}, lost on links: ${o.lost}`;
  lines.push(...row('probes sent', `alice ${o.probes.alice}, bob ${o.probes.bob} (${fate})`));
  if (o.search) lines.push(...row('port search', searchText(o.search)));
  lines.push(...row('round trip', roundTrip(o, c)));
  if (o.transfer) lines.push(...row('transfer', transferText(o.transfer)));
  lines.push(...row('theory', theory(o, c)));
  lines.push(...row('ended at', `+${o.endMs.toFixed(1)} ms`));
  lines.push('', ...wrap(`What it means: ${meaning(o, c)}`, ''));
  return lines;
}
