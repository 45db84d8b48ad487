/**
 * The port search, told from demo events (events.ts): when one peer's router gives every
 * destination a new port and the other's keeps one, the first opens many sockets (each one a
 * new port of its router, open towards the other peer) and the second sprays small probes at
 * random ports of the first's address until one lands (peer/port-search.ts,
 * common/path/port-strategy.ts). Said for someone who has never heard of NATs.
 */
import { PORT_SEARCH } from '../../common/path/port-strategy.js';
import type { DemoEventOf } from './events.js';
import { other } from './events.js';
import { ms, step } from './format.js';
import type { Story } from './story.js';

type Lines = string[];

const port = (endpoint: string): string => endpoint.replace(/^.*:/, '');
const count = (n: number): string => n.toLocaleString('en-US');

/** The ports a search hits among, and the probes after which half the searches have hit. */
const RANGE = PORT_SEARCH.portRange[1] - PORT_SEARCH.portRange[0] + 1;
const HALF_AT = Math.round(Math.log(0.5) / Math.log(1 - PORT_SEARCH.sockets / RANGE));

export function tellSearch(s: Story, e: DemoEventOf<'search'>): Lines {
  const w = e.peer;
  const o = other(w);
  s.searches[w] = e;
  // A search on a later introduction (the first came before the peers had measured their
  // routers): its round of plain probes is told after it (flushRound).
  const again = s.rounds[w] > 0 && !s.reintroduced.has(w);
  if (again) s.reintroduced.add(w);
  const intro = again
    ? `${w} gets a new introduction to ${o} and tries the direct path again (while the relay carries the ` +
      `chat, it is retried every few seconds). `
    : '';
  const measured = s.once('search measured')
    ? 'Both peers measure their routers right after registering, so they know what to expect' +
      (again ? ' (the first introduction came too early for that). ' : '. ')
    : '';
  if (e.strategy === 'open-sockets')
    return step(
      e.t,
      `${intro}${measured}${w}'s router gives every new destination its own port, so ${w} searches: ${w} opens ${e.budget} extra sockets and ` +
        `sends one small probe from each to ${o}'s public address. Each makes ${w}'s router open another ` +
        `public port, open to ${o} only: ${e.budget} doors for ${o}. (${o}'s router drops these probes; that ` +
        `does not matter, the doors are open.)`,
      `port search (open-sockets): ${e.budget} sockets, ${count(e.perSecond)} a second, one 12-byte PORT_PROBE each`,
    );
  return step(
    e.t,
    `${intro}${measured}${o}'s router gives every new destination its own port, and nobody can know which ` +
      `ones it will pick for ${w}. So ${w} searches: it sprays small probes at ` +
      (e.predicted ? `the ports ${o}'s router is likely to pick next, then at ` : '') +
      `random ports of ${o}'s public address, hoping to hit one of the doors ${o} is opening. With ` +
      `${o}'s ${PORT_SEARCH.sockets} doors among ${count(RANGE)} ports, half the time a hit comes within ` +
      `${HALF_AT} probes (the "birthday paradox").`,
    `port search (probe-ports): at most ${count(e.budget)} PORT_PROBEs, ${count(e.perSecond)} a second`,
  );
}

export function tellSearchHit(s: Story, e: DemoEventOf<'search-hit'>): Lines {
  const w = e.peer;
  const o = other(w);
  s.searchHits[w] = e;
  if (e.strategy === 'open-sockets')
    return step(
      e.t,
      `One of ${o}'s probes lands on one of ${w}'s open doors: ${w}'s router lets it in, because that ` +
        `port was opened for ${o}. Now ${w} knows which socket works, and probes ${o} from it.`,
      `PORT_PROBE from ${e.from} on one of ${e.sockets} search sockets, ${ms(e.ms)} after the search began`,
    );
  return step(
    e.t,
    `A probe from ${o} arrives from port ${port(e.from)}: one of the ${count(e.portProbes)} probes ${w} ` +
      `has sprayed so far went to exactly that port, one of ${o}'s doors. The search hit, ${ms(e.ms)} ` +
      `after it began.`,
    `hit: ${e.from}, after ${count(e.portProbes)} PORT_PROBEs in ${ms(e.ms)}`,
  );
}

export function tellSearchEnd(s: Story, e: DemoEventOf<'search-end'>): Lines {
  const w = e.peer;
  const what =
    s.searches[w]?.strategy === 'open-sockets'
      ? `${e.sockets} sockets opened`
      : `${count(e.portProbes)} PORT_PROBEs sent`;
  if (e.found)
    return step(
      e.t,
      s.searches[w]?.strategy === 'open-sockets'
        ? `${w} closes the other search sockets and keeps the one that worked.`
        : `${w} stops probing.`,
      `search over: ${what}, ${ms(e.ms)}`,
    );
  if (e.superseded)
    return step(e.t, `Plain punching found the path first; ${w} stops searching.`, `search over: ${what}`);
  return step(
    e.t,
    `${w}'s search found nothing this time: none of the probes landed.`,
    `search over: ${what}, ${ms(e.ms)}`,
  );
}
