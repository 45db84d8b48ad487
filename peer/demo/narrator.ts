/**
 * Turns demo events (events.ts) into the story printed by `punchline demo`: each step is one
 * plain sentence for someone who has never heard of NATs, with the technical detail under it.
 * Repetitive steps (later probe rounds, more drops) are told once and counted in the summary.
 */
import type { CandidateKind } from '../../common/path/candidates.js';
import { natLabel } from '../../common/nat-behaviour.js';
import { topologyDiagram } from './diagram.js';
import type { DemoEvent, DemoEventOf, Topology, Who } from './events.js';
import { PEERS, other } from './events.js';
import { whyUnknownPortGotIn } from './explain.js';
import type { SideFacts } from './explain.js';
import { ms, percent, step, wrap } from './format.js';
import { NAT_KINDS } from './nat-kinds.js';
import type { NatKindInfo } from './nat-kinds.js';
import { summaryLines } from './summary.js';

/** Probe rounds told in full per peer; later ones are summed up in one line. */
const ROUNDS_TOLD = 3;
/** Routers' refusals told per router. */
const REFUSALS_TOLD = 2;
/** New mappings told per router (after the first, which is told always). */
const REMAPS_TOLD = 2;

type Probe = DemoEventOf<'probe'>;

/** Candidate kinds in the words the story uses: a "lan" candidate is a private address. */
const kindText = (k: CandidateKind): string => (k === 'lan' ? 'private' : k);

/** "alice's router is a port-restricted cone (EIM/APDF): it keeps ..." */
function sideText(who: Who, k: NatKindInfo): string {
  if (k.kind === 'none') return `${who} has no NAT: ${k.plain}.`;
  return `${who}'s router is a ${k.name} (${natLabel(k.type)}, --nat ${k.kind}): it ${k.plain}.`;
}

export class Narrator {
  private setup: DemoEventOf<'setup'> | undefined;
  private topo: Topology | undefined;
  private keys: DemoEventOf<'keys'>[] = [];
  /** Each router's mappings in the order made: public endpoint, and the destination it was made for. */
  private readonly mappings: Record<Who, { external: string; to: string }[]> = { alice: [], bob: [] };
  private readonly rounds: Record<Who, number> = { alice: 0, bob: 0 };
  private round: Probe[] = [];
  private readonly told = new Set<string>();
  private readonly refusals: Record<Who, number> = { alice: 0, bob: 0 };
  /** Where each peer has sent probes: what its router will let back in. */
  private readonly probed: Record<Who, Set<string>> = { alice: new Set(), bob: new Set() };

  constructor(private readonly quiet = false) {}

  /** The lines this event adds to the story (possibly none). */
  lines(e: DemoEvent): string[] {
    const out: string[] = [];
    if (this.round.length > 0 && !(e.type === 'probe' && this.sameRound(e))) out.push(...this.flushRound());
    out.push(...this.tell(e));
    return this.quiet && e.type !== 'summary' ? [] : out;
  }

  private sameRound(e: Probe): boolean {
    const first = this.round[0]!;
    return e.peer === first.peer && e.t === first.t;
  }

  private once(key: string): boolean {
    if (this.told.has(key)) return false;
    this.told.add(key);
    return true;
  }

  /** Facts for the explanations: the NAT kind of each side, and a port its router remapped. */
  facts(who: Who): SideFacts {
    const kind = this.setup?.nat[who === 'alice' ? 0 : 1] ?? 'cone';
    const newPort = this.mappings[who][1]?.external;
    return { who, kind, ...(newPort ? { newPort } : {}) };
  }

  /** "bob's router", "alice", "the rendezvous", or the endpoint itself. */
  private whose(endpoint: string): string {
    const t = this.topo;
    if (!t) return endpoint;
    const address = endpoint.replace(/:\d+$/, '');
    if (endpoint === t.rendezvous) return 'the rendezvous';
    for (const w of PEERS) {
      if (t[w].routerPublic === address) return `${w}'s public address`;
      if (t[w].local.replace(/:\d+$/, '') === address)
        return t[w].routerPublic === undefined ? `${w}'s address` : `${w}'s private address`;
    }
    return endpoint;
  }

  private peerAt(endpoint: string): Who | undefined {
    const address = endpoint.replace(/:\d+$/, '');
    return PEERS.find(
      (w) => this.topo?.[w].routerPublic === address || this.topo?.[w].local.startsWith(`${address}:`),
    );
  }

  private tell(e: DemoEvent): string[] {
    switch (e.type) {
      case 'setup':
        this.setup = e;
        return this.header(e);
      case 'topology':
        this.topo = e.topology;
        return [
          'The network (simulated addresses)',
          '',
          ...topologyDiagram(e.topology),
          '',
          'What happens',
          '',
        ];
      case 'keys':
        this.keys.push(e);
        if (this.keys.length < 2) return [];
        return step(
          e.t,
          "alice and bob each create a key pair. A peer's id is a hash of its public keys, so nobody else can " +
            'pretend to be alice or bob.',
          this.keys.map((k) => `${k.peer} ${k.fingerprint}`).join(', ') +
            ' (Ed25519 to sign, X25519 to encrypt)',
        );
      case 'mapping':
        return this.mapping(e);
      case 'registered': {
        const behind = this.topo?.[e.peer].routerPublic !== undefined;
        return step(
          e.t,
          behind
            ? `The rendezvous sees ${e.peer}'s packets arrive from ${e.public}, the router's public address, ` +
                `and tells ${e.peer}. That is where others can try to reach ${e.peer}.`
            : `The rendezvous sees ${e.peer}'s packets arrive from ${e.public}: ${e.peer}'s own address, ` +
                `since no router changes it.`,
          `${e.peer} registered: private ${e.local}, public ${e.public}`,
        );
      }
      case 'presence':
        return step(
          e.t,
          `The rendezvous tells ${e.peer} who else is online in the same room: ${e.sees.join(', ')}.`,
        );
      case 'connect':
        return step(
          e.t,
          `${e.peer} asks the rendezvous for an introduction to ${e.target}. The rendezvous sends each of ` +
            `them the other's public and private addresses at the same moment, so both start punching at once: ` +
            `each side's outgoing probes open its own router for the other's.`,
          `CONNECT ${e.target}; INTRODUCE to both`,
        );
      case 'probe':
        this.probed[e.peer].add(e.to);
        // A peer-reflexive probe on its own is a triggered check; within a round it is one more candidate.
        if (e.kind === 'peer-reflexive' && this.round.length === 0) return this.triggered(e);
        this.round.push(e);
        return [];
      case 'probe-in':
        return this.probeIn(e);
      case 'answer':
        if (!this.once(`answer ${e.peer}`)) return [];
        return step(
          e.t,
          `${e.peer} gets ${other(e.peer)}'s answer: packets now get through both routers, both ways.`,
          `answer from ${e.from} (${kindText(e.kind)}), probe round trip ${ms(e.rttMs)}`,
        );
      case 'chosen':
        return step(
          e.t,
          `${e.peer} picks this path: direct, peer to peer, with no server in between.`,
          `direct to ${e.remote} (` +
            (e.kind === 'peer-reflexive'
              ? `a new port of ${other(e.peer)}'s router, where the probes really came from`
              : this.whose(e.remote)) +
            `), ` +
            `${e.ms} ms after the introduction`,
        );
      case 'punch-failed':
        return step(
          e.t,
          `${e.peer} gives up punching: none of the probes got an answer.`,
          `${e.reason}; ${this.rounds[e.peer]} probe rounds`,
        );
      case 'drop':
        return this.drop(e);
      case 'connected':
        return this.connected(e);
      case 'path':
        return step(
          e.t,
          e.path === 'direct'
            ? `The direct path works, so ${e.peer}'s session moves off the relay onto it, without losing a message.`
            : `${e.peer}'s session now runs over the relay.`,
          `path ${e.path}${e.remote ? ` ${e.remote}` : ''}`,
        );
      case 'sent':
        return step(
          e.t,
          `${e.peer} sends ${e.to} a message. It is encrypted before it leaves ${e.peer}'s computer.`,
          `"${e.text}" (id ${e.id})`,
        );
      case 'message':
        return step(
          e.t,
          `${e.peer} receives it and decrypts it (only ${e.peer}'s session keys can), then sends back a receipt.`,
          `from ${e.from}: "${e.text}"`,
        );
      case 'delivered':
        return step(
          e.t,
          `${e.peer} gets ${e.to}'s receipt: the message arrived. Round trip: ${ms(e.rttMs)}.`,
          `receipt for ${e.id}`,
        );
      case 'error':
        if (e.code === 'PUNCH_FAILED' && this.told.has('relay'))
          return this.once('punch error')
            ? step(e.t, 'Punching gives up, so the chat stays on the relay.', `${e.code}: ${e.message}`)
            : [];
        if (e.code === 'PUNCH_FAILED')
          return this.once('punch error')
            ? step(
                e.t,
                `The connection attempt ends (both sides give up on their own).`,
                `${e.code}: ${e.message}`,
              )
            : [];
        if (e.code === 'SERVER_UNREACHABLE')
          return step(
            e.t,
            `${e.peer}'s packets to the rendezvous keep getting lost; ${e.peer} will try again shortly.`,
            `${e.code}: ${e.message}`,
          );
        return step(e.t, `${e.peer} reports an error.`, `${e.code}: ${e.message}`);
      case 'summary':
        return [
          ...(this.quiet ? [] : ['']),
          ...summaryLines(e.outcome, {
            facts: (w) => this.facts(w),
            ...(this.setup ? { setup: this.setup } : {}),
            ...(this.topo ? { topology: this.topo } : {}),
          }),
        ];
    }
  }

  private header(e: DemoEventOf<'setup'>): string[] {
    const [a, b] = [NAT_KINDS[e.nat[0]], NAT_KINDS[e.nat[1]]];
    const para = (s: string): string[] => [...wrap(s, ''), ''];
    const links =
      e.delayMs !== undefined
        ? `Every link to the internet adds ${e.delayMs} ms each way`
        : 'Links to the internet add 10 ms (alice), 20 ms (bob) and 5 ms (rendezvous) each way';
    return [
      ...wrap(
        'punchline demo: two peers, alice and bob, try to open a direct, encrypted chat across the internet.',
        '',
      ),
      '',
      ...para(
        'Everything below runs inside this process on a simulated network, so it is instant. The times ' +
          `are simulated time since the start: how long each step takes on real links like these (seed ${e.seed}).`,
      ),
      ...para(
        'What to know: a home router shares one public internet address among the computers behind it. ' +
          'It rewrites their private address (10.x.x.x) to its public one on the way out and remembers the ' +
          'pair (a "NAT mapping"), so replies find their way back. Packets from the internet that match no ' +
          'mapping are dropped. So alice and bob cannot simply send to each other: a rendezvous server on ' +
          'the internet tells each one where the other is, and then both "punch a hole" through their own ' +
          'router by sending at the same time.',
      ),
      ...wrap(sideText('alice', a), '', '  '),
      ...wrap(sideText('bob', b), '', '  '),
      ...wrap(
        '(EIM, APDF and the like are RFC 4787 short names: M for how a router Maps ports to the outside, ' +
          'F for how it Filters what comes in.)',
        '',
      ),
      ...wrap(
        `${links}${e.loss > 0 ? `; alice's and bob's links lose ${percent(e.loss)} of packets, both ways` : ''}.`,
        '',
      ),
      ...wrap(
        `Theory (predictDirect, docs/nat-traversal.md): ${e.labels[0]} with ${e.labels[1]} ` +
          (e.predictedDirect ? 'can open a direct path.' : 'cannot open a direct path. Watch what happens.'),
        '',
      ),
      '',
    ];
  }

  private mapping(e: DemoEventOf<'mapping'>): string[] {
    const list = this.mappings[e.router];
    list.push({ external: e.external, to: e.to });
    if (list.length === 1)
      return step(
        e.t,
        `${e.router}'s first packet (to ${this.whose(e.to)}) leaves home. The router swaps ${e.router}'s ` +
          `private address for its public one and remembers the pair: a NAT mapping.`,
        `${e.router}'s router maps ${e.internal} -> ${e.external}`,
      );
    if (list.length > 1 + REMAPS_TOLD) return [];
    const more = list.length === 1 + REMAPS_TOLD ? ' It does this for every new destination.' : '';
    return step(
      e.t,
      `${e.router}'s router makes a new mapping for a new destination (${this.whose(e.to)}), with a new ` +
        `public port: not the port the rendezvous saw.${more}`,
      `${e.router}'s router maps ${e.internal} -> ${e.external} for packets to ${e.to}`,
    );
  }

  private flushRound(): string[] {
    const r = this.round;
    this.round = [];
    const first = r[0]!;
    const who = first.peer;
    const n = ++this.rounds[who];
    const detail = r.map((p) => `#${p.seq} -> ${p.to} (${kindText(p.kind)})`).join(', ');
    if (n === 1) {
      const behind = this.topo?.[who].routerPublic !== undefined;
      return step(
        first.t,
        `${who} gets the introduction and starts punching: a probe (a small signed packet) to each ` +
          `address ${other(who)} might be reached at.` +
          (behind ? ` Each probe also opens ${who}'s router for replies from that address.` : ''),
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

  private triggered(e: Probe): string[] {
    if (!this.once(`triggered ${e.peer} ${e.to}`) || this.rounds[e.peer] > ROUNDS_TOLD + 3) return [];
    return step(
      e.t,
      `${e.peer} also probes ${e.to}, the address ${other(e.peer)}'s probe really came from (a ` +
        `"peer-reflexive" candidate).`,
      `#${e.seq} -> ${e.to} (peer-reflexive)`,
    );
  }

  private probeIn(e: DemoEventOf<'probe-in'>): string[] {
    if (!this.once(`probe-in ${e.peer} ${e.known}`)) return [];
    const them = other(e.peer);
    const behind = this.topo?.[e.peer].routerPublic !== undefined;
    if (e.known)
      return step(
        e.t,
        behind
          ? `A probe from ${them} gets through ${e.peer}'s router: ${e.peer} has already sent a probe to that ` +
              `address, so the router takes ${them}'s probe for a reply. ${e.peer} answers it.`
          : `A probe from ${them} reaches ${e.peer}, who answers it.`,
        `probe from ${e.from} (${this.whose(e.from)})`,
      );
    return step(
      e.t,
      `A probe from ${them} arrives from ${e.from}, a port ${e.peer} has never seen: ${them}'s router picked ` +
        `a new port for it. ${whyUnknownPortGotIn(this.facts(e.peer))}, so it gets in. ${e.peer} answers it.`,
      `probe from ${e.from} (not a known candidate of ${them})`,
    );
  }

  private drop(e: DemoEventOf<'drop'>): string[] {
    const router = PEERS.find((w) => e.where === `${w}-router`);
    if (router && (e.reason === 'filtered' || e.reason === 'no-mapping')) {
      const n = ++this.refusals[router];
      if (n > REFUSALS_TOLD + 1) return [];
      if (n === REFUSALS_TOLD + 1)
        return step(e.t, `${router}'s router drops more of them (counted in the summary).`);
      const sender = this.peerAt(e.src);
      const what = sender ? `${sender}'s probe` : 'a packet';
      return step(
        e.t,
        `${router}'s router drops ${what}: ${this.whyRefused(router, e)}`,
        `${e.src} -> ${e.dst}: ${e.reason}`,
      );
    }
    if (e.reason === 'no-route' && /^(10|192\.168|172\.(1[6-9]|2\d|3[01]))\./.test(e.dst)) {
      if (!this.once('lan probe')) return [];
      return step(
        e.t,
        `The probe to ${this.whose(e.dst)} goes nowhere: a private address means ` +
          `something only inside its own home network. (Peers behind the same router would meet this way.)`,
        `${e.src} -> ${e.dst}: no route`,
      );
    }
    if (e.reason === 'loss') {
      if (!this.once('loss')) return [];
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
  private whyRefused(router: Who, e: DemoEventOf<'drop'>): string {
    const port = (x: string): string => x.replace(/^.*:/, '');
    if (e.reason === 'no-mapping')
      return `no mapping uses port ${port(e.dst)}: nobody behind the router opened it.`;
    if (this.probed[router].size === 0)
      return (
        `${router} has not sent anything to ${e.src} yet, so it looks unsolicited. Expected early on: ` +
        `probes repeat.`
      );
    // A router that maps per destination: the port hit was opened for someone else.
    const hit = this.mappings[router].find((m) => m.external === e.dst);
    const own = this.mappings[router].find((m) => m.to === e.src);
    const perDestination = NAT_KINDS[this.facts(router).kind].type.mapping !== 'endpoint-independent';
    if (perDestination && hit && hit.to !== e.src) {
      const opened = `it arrives at port ${port(e.dst)}, which ${router}'s router opened only for ${this.whose(hit.to)}`;
      return own
        ? `${opened}. ${router}'s own probes to ${e.src} left through another port, ${port(own.external)}.`
        : `${opened}, and it comes from port ${port(e.src)}, which ${router} has never sent to.`;
    }
    const address = e.src.replace(/:\d+$/, '');
    const sent = [...this.probed[router]].filter((x) => x.startsWith(`${address}:`));
    if (sent.length > 0)
      return (
        `${router} has sent probes to ${sent.join(', ')}, but this one comes from another port, ` +
        `${port(e.src)}, so it looks unsolicited.`
      );
    return `${router} has never sent anything to ${e.src}, so it looks unsolicited.`;
  }

  private connected(e: DemoEventOf<'connected'>): string[] {
    if (e.path === 'relay')
      return step(
        e.t,
        this.once('relay')
          ? `The relay takes over: the rendezvous forwards ${e.peer}'s and ${other(e.peer)}'s packets. ` +
              `They are still encrypted end to end: the server passes on bytes it cannot read.`
          : `${e.peer}'s side of the relayed session is open too.`,
        `${e.peer}: session open over the relay, ${e.ms} ms after the introduction`,
      );
    if (this.told.has('relay'))
      return step(
        e.t,
        `The direct path works, so ${e.peer}'s session moves off the relay onto it, without losing a message.`,
        `${e.peer}: path direct to ${e.remote}`,
      );
    return step(
      e.t,
      this.once('session')
        ? `${e.peer} and ${other(e.peer)} have finished an encrypted handshake (Noise XX) over the direct ` +
            `path: each proved it holds the key behind its id, and they agreed on fresh keys only the two ` +
            `of them know.`
        : `${e.peer}'s side of the encrypted session is open too.`,
      `${e.peer}: session open to ${e.remote}, ${e.ms} ms after the introduction`,
    );
  }
}
