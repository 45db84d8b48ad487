/**
 * Hole punching, told from demo events (events.ts): new NAT mappings, probes, probes getting
 * in, answers, the path chosen or the punching given up, and the packets routers drop.
 * Repetitive steps (later probe rounds, more drops) are told a few times and counted in the
 * summary.
 */
import type { CandidateKind } from '../../common/path/candidates.js';
import type { DemoEventOf, Who } from './events.js';
import { PEERS, other } from './events.js';
import { whyUnknownPortGotIn } from './explain.js';
import { ms, step } from './format.js';
import { NAT_KINDS } from './nat-kinds.js';
import type { Probe, Story } from './story.js';

type Lines = string[];

/** Probe rounds told in full per peer; later ones are summed up in one line. */
const ROUNDS_TOLD = 3;
/** Probes told one by one per peer when they do not come in rounds (--real). */
const PROBES_TOLD = 6;
/** Routers' refusals told per router. */
const REFUSALS_TOLD = 2;
/** New mappings told per router (after the first, which is told always). */
const REMAPS_TOLD = 2;

/** Candidate kinds in the words the story uses: a "lan" candidate is a private address. */
const kindText = (k: CandidateKind): string => (k === 'lan' ? 'private' : k);

export function tellMapping(s: Story, e: DemoEventOf<'mapping'>): Lines {
  const list = s.mappings[e.router];
  list.push({ external: e.external, to: e.to });
  if (list.length === 1)
    return step(
      e.t,
      `${e.router}'s first packet (to ${s.whose(e.to)}) leaves home. The router swaps ${e.router}'s ` +
        `private address for its public one and remembers the pair: a NAT mapping.`,
      `${e.router}'s router maps ${e.internal} -> ${e.external}`,
    );
  if (list.length > 1 + REMAPS_TOLD) return [];
  const more = list.length === 1 + REMAPS_TOLD ? ' It does this for every new destination.' : '';
  return step(
    e.t,
    `${e.router}'s router makes a new mapping for a new destination (${s.whose(e.to)}), with a new ` +
      `public port: not the port the rendezvous saw.${more}`,
    `${e.router}'s router maps ${e.internal} -> ${e.external} for packets to ${e.to}`,
  );
}

/** --real: the introduction arrives on its own, before the probes (told one by one). */
export function tellIntroduced(s: Story, e: DemoEventOf<'introduced'>): Lines {
  const w = e.peer;
  const o = other(w);
  const again = s.introduced.has(w);
  s.introduced.add(w);
  const lan = e.lan.join(', ');
  return step(
    e.t,
    again
      ? `${w} gets a new introduction to ${o} (a retry of the direct path) and punches again.`
      : `${w} gets the introduction to ${o} and starts punching: probes (small signed packets) to each ` +
          `address ${o} might be reached at. Each probe also opens ${w}'s router for replies from there.`,
    `${o}: public ${e.public}${lan ? `, private ${lan}` : ''}`,
  );
}

/**
 * A probe. The simulated peers probe in rounds (every candidate at one instant), gathered and
 * told as one step (flushRound); probes after an introduction told on its own go one by one.
 */
export function tellProbe(s: Story, e: Probe): Lines {
  s.probed[e.peer].add(e.to);
  const n = ++s.probes[e.peer];
  if (s.introduced.has(e.peer)) {
    if (n <= PROBES_TOLD)
      return step(e.t, `${e.peer} sends probe #${e.seq}.`, `-> ${e.to} (${e.kind}: ${s.whose(e.to)})`);
    if (n === PROBES_TOLD + 1)
      return step(e.t, `${e.peer} keeps probing (every probe is counted in the summary).`);
    return [];
  }
  // A peer-reflexive probe on its own is a triggered check; within a round it is one more candidate.
  if (e.kind === 'peer-reflexive' && s.round.length === 0) return triggered(s, e);
  s.round.push(e);
  return [];
}

/** The probe round gathered so far, told as one step (the first one is the introduction). */
export function flushRound(s: Story): Lines {
  const r = s.round;
  s.round = [];
  const first = r[0]!;
  const who = first.peer;
  const n = ++s.rounds[who];
  const detail = r.map((p) => `#${p.seq} -> ${p.to} (${kindText(p.kind)})`).join(', ');
  if (n === 1)
    return step(
      first.t,
      `${who} gets the introduction and starts punching: a probe (a small signed packet) to each ` +
        `address ${other(who)} might be reached at.` +
        (s.behind(who) ? ` Each probe also opens ${who}'s router for replies from that address.` : ''),
      detail,
    );
  // A round starting over at probe #0: a new punch attempt, from a new introduction.
  if (first.seq === 0) {
    if (s.reintroduced.has(who))
      // Told with the port search that started first (tell-search.ts).
      return step(first.t, `${who} also probes ${other(who)} the plain way, beside the search.`, detail);
    s.reintroduced.add(who);
    return step(
      first.t,
      `${who} gets a new introduction to ${other(who)} and punches again: while the relay carries the chat, ` +
        `the direct path is retried every few seconds.`,
      detail,
    );
  }
  if (n <= ROUNDS_TOLD) return step(first.t, `${who} probes again (round ${n}).`, detail);
  if (n === ROUNDS_TOLD + 1)
    return step(
      first.t,
      `${who} keeps probing until an answer comes: every 50 ms at first, then every 500 ms (later rounds ` +
        `are counted in the summary).`,
      detail,
    );
  return [];
}

function triggered(s: Story, e: Probe): Lines {
  if (!s.once(`triggered ${e.peer} ${e.to}`) || s.rounds[e.peer] > ROUNDS_TOLD + 3) return [];
  return step(
    e.t,
    `${e.peer} also probes ${e.to}, the address ${other(e.peer)}'s probe really came from (a ` +
      `"peer-reflexive" candidate).`,
    `#${e.seq} -> ${e.to} (peer-reflexive)`,
  );
}

export function tellProbeIn(s: Story, e: DemoEventOf<'probe-in'>): Lines {
  const them = other(e.peer);
  s.probesIn[e.peer]++;
  const seen = s.registered[them];
  if (s.topo?.[them].routerPublic === e.from.replace(/:\d+$/, '') && seen !== undefined && e.from !== seen)
    s.newPortSeen[them] = e.from;
  const hit = s.searchHits[e.peer];
  if (hit?.strategy === 'probe-ports' && hit.from === e.from && s.once(`probe-in search ${e.peer}`))
    return step(
      e.t,
      `${e.peer}'s router lets that probe in: ${e.peer} had just sent a probe to that very port. ${e.peer} ` +
        `answers it.`,
      `probe from ${e.from} (found by the port search)`,
    );
  if (!s.once(`probe-in ${e.peer} ${e.known}`)) return [];
  if (e.known)
    return step(
      e.t,
      s.behind(e.peer)
        ? `A probe from ${them} gets through ${e.peer}'s router: ${e.peer} has already sent a probe to that ` +
            `address, so the router takes ${them}'s probe for a reply. ${e.peer} answers it.`
        : `A probe from ${them} reaches ${e.peer}, who answers it.`,
      `probe from ${e.from} (${s.whose(e.from)})`,
    );
  return step(
    e.t,
    `A probe from ${them} arrives from ${e.from}, a port ${e.peer} has never seen: ${them}'s router picked ` +
      `a new port for it. ${whyUnknownPortGotIn(s.facts(e.peer))}, so it gets in. ${e.peer} answers it.`,
    `probe from ${e.from} (not a known candidate of ${them})`,
  );
}

export function tellAnswer(s: Story, e: DemoEventOf<'answer'>): Lines {
  if (!s.once(`answer ${e.peer}`)) return [];
  return step(
    e.t,
    `${e.peer} gets ${other(e.peer)}'s answer: packets now get through both routers, both ways.`,
    `answer from ${e.from} (${kindText(e.kind)}), probe round trip ${ms(e.rttMs)}`,
  );
}

export function tellChosen(s: Story, e: DemoEventOf<'chosen'>): Lines {
  return step(
    e.t,
    s.real
      ? `${e.peer} picks the direct path, peer to peer, with no server in between.`
      : `${e.peer} picks this path: direct, peer to peer, with no server in between.`,
    `direct to ${e.remote} (` +
      (e.kind === 'peer-reflexive'
        ? `a new port of ${other(e.peer)}'s router, where the probes really came from`
        : s.whose(e.remote)) +
      `), ${e.ms} ms after the ${s.reintroduced.has(e.peer) ? 'new ' : ''}introduction`,
  );
}

export function tellPunchFailed(s: Story, e: DemoEventOf<'punch-failed'>): Lines {
  const w = e.peer;
  const counted =
    s.rounds[w] > 0
      ? `${s.rounds[w]} probe rounds`
      : `${s.probes[w]} probes sent, ${s.probesIn[w]} probes from ${other(w)} got in`;
  return step(e.t, `${w} gives up punching: none of the probes got an answer.`, `${e.reason}; ${counted}`);
}

export function tellDrop(s: Story, e: DemoEventOf<'drop'>): Lines {
  const router = PEERS.find((w) => e.where === `${w}-router`);
  if (router && (e.reason === 'filtered' || e.reason === 'no-mapping')) {
    const n = ++s.refusals[router];
    if (n > REFUSALS_TOLD + 1) return [];
    if (n === REFUSALS_TOLD + 1)
      return step(e.t, `${router}'s router drops more of them (counted in the summary).`);
    const sender = s.peerAt(e.src);
    const what = sender ? `${sender}'s probe` : 'a packet';
    return step(
      e.t,
      `${router}'s router drops ${what}: ${whyRefused(s, router, e)}`,
      `${e.src} -> ${e.dst}: ${e.reason}`,
    );
  }
  if (e.reason === 'no-route' && /^(10|192\.168|172\.(1[6-9]|2\d|3[01]))\./.test(e.dst)) {
    if (!s.once('lan probe')) return [];
    return step(
      e.t,
      `The probe to ${s.whose(e.dst)} goes nowhere: a private address means ` +
        `something only inside its own home network. (Peers behind the same router would meet this way.)`,
      `${e.src} -> ${e.dst}: no route`,
    );
  }
  if (e.reason === 'loss') {
    if (!s.once('loss')) return [];
    return step(
      e.t,
      'A packet is lost on the way (--loss). Every step retries, so the story goes on; losses are ' +
        'counted in the summary.',
      `${e.src} -> ${e.dst}: lost`,
    );
  }
  return [];
}

/** Why `router`'s router refused this packet, from what its owner has sent so far. */
function whyRefused(s: Story, router: Who, e: DemoEventOf<'drop'>): string {
  const port = (x: string): string => x.replace(/^.*:/, '');
  if (e.reason === 'no-mapping')
    return `no mapping uses port ${port(e.dst)}: nobody behind the router opened it.`;
  if (s.probed[router].size === 0)
    return (
      `${router} has not sent anything to ${e.src} yet, so it looks unsolicited. Expected early on: ` +
      `probes repeat.`
    );
  // A router that maps per destination: the port hit was opened for someone else.
  const hit = s.mappings[router].find((m) => m.external === e.dst);
  const own = s.mappings[router].find((m) => m.to === e.src);
  const perDestination = NAT_KINDS[s.facts(router).kind].type.mapping !== 'endpoint-independent';
  if (perDestination && hit && hit.to !== e.src) {
    const opened = `it arrives at port ${port(e.dst)}, which ${router}'s router opened only for ${s.whose(hit.to)}`;
    return own
      ? `${opened}. ${router}'s own probes to ${e.src} left through another port, ${port(own.external)}.`
      : `${opened}, and it comes from port ${port(e.src)}, which ${router} has never sent to.`;
  }
  const address = e.src.replace(/:\d+$/, '');
  const sent = [...s.probed[router]].filter((x) => x.startsWith(`${address}:`));
  if (sent.length > 0)
    return (
      `${router} has sent probes to ${sent.join(', ')}, but this one comes from another port, ` +
      `${port(e.src)}, so it looks unsolicited.`
    );
  return `${router} has never sent anything to ${e.src}, so it looks unsolicited.`;
}
