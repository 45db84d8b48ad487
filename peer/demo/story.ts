/**
 * What the narrator remembers while it tells a demo run (narrator.ts): the setup and topology,
 * each router's mappings, probe rounds, what has been told once already, and who an address
 * belongs to. The telling functions (tell-*.ts) read and update it; it says nothing itself.
 */
import type { SideFacts } from './explain.js';
import type { DemoEventOf, Topology, Who } from './events.js';
import { PEERS } from './events.js';

export type Probe = DemoEventOf<'probe'>;

export class Story {
  setup: DemoEventOf<'setup'> | undefined;
  topo: Topology | undefined;
  readonly keys: DemoEventOf<'keys'>[] = [];
  /** Each router's mappings in the order made: public endpoint, and the destination it was made for. */
  readonly mappings: Record<Who, { external: string; to: string }[]> = { alice: [], bob: [] };
  /** Probe rounds told so far per peer (the simulated peers probe in rounds). */
  readonly rounds: Record<Who, number> = { alice: 0, bob: 0 };
  /** The probe round being gathered: probes of one peer at one instant. */
  round: Probe[] = [];
  /** Probes sent and probes from the other side that got in, per peer. */
  readonly probes: Record<Who, number> = { alice: 0, bob: 0 };
  readonly probesIn: Record<Who, number> = { alice: 0, bob: 0 };
  readonly refusals: Record<Who, number> = { alice: 0, bob: 0 };
  /** Where each peer has sent probes: what its router will let back in. */
  readonly probed: Record<Who, Set<string>> = { alice: new Set(), bob: new Set() };
  /** The public endpoint the rendezvous saw for each peer over UDP. */
  readonly registered: Partial<Record<Who, string>> = {};
  /** A port of each peer's router that the other side saw and the rendezvous did not (--real). */
  readonly newPortSeen: Partial<Record<Who, string>> = {};
  /** Peers whose session has run over the relay. */
  readonly relayed = new Set<Who>();
  /** Each peer's latest port search, and its hit (tell-search.ts). */
  readonly searches: Partial<Record<Who, DemoEventOf<'search'>>> = {};
  readonly searchHits: Partial<Record<Who, DemoEventOf<'search-hit'>>> = {};
  /** Peers introduced again (a retry of the direct path), in the simulated run. */
  readonly reintroduced = new Set<Who>();
  /** Peers introduced to the other (--real tells the introduction on its own). */
  readonly introduced = new Set<Who>();
  private readonly told = new Set<string>();

  constructor(readonly quiet: boolean) {}

  /** The --real demo: a few sentences name the lab instead of the simulation. */
  get real(): boolean {
    return this.setup?.real === true;
  }

  /** True the first time for `key`, false after: for things told only once. */
  once(key: string): boolean {
    if (this.told.has(key)) return false;
    this.told.add(key);
    return true;
  }

  hasTold(key: string): boolean {
    return this.told.has(key);
  }

  /** Facts for the explanations: the NAT kind of each side, and a port its router remapped. */
  facts(who: Who): SideFacts {
    const kind = this.setup?.nat[who === 'alice' ? 0 : 1] ?? 'cone';
    const newPort = this.mappings[who][1]?.external ?? this.newPortSeen[who];
    return { who, kind, ...(newPort ? { newPort } : {}) };
  }

  /** "bob's public address", "alice's private address", "the rendezvous", or the endpoint itself. */
  whose(endpoint: string): string {
    const t = this.topo;
    if (!t) return endpoint;
    const address = endpoint.replace(/:\d+$/, '');
    if (endpoint === t.rendezvous) return 'the rendezvous';
    for (const w of PEERS) {
      if (t[w].routerPublic === address) {
        const seen = this.registered[w];
        return this.real && seen !== undefined && seen !== endpoint
          ? `${w}'s router, a port the rendezvous never saw`
          : `${w}'s public address`;
      }
      if (t[w].local.replace(/:\d+$/, '') === address)
        return t[w].routerPublic === undefined ? `${w}'s address` : `${w}'s private address`;
    }
    return endpoint;
  }

  /** The peer behind an endpoint (its router's public address or its own), if any. */
  peerAt(endpoint: string): Who | undefined {
    const address = endpoint.replace(/:\d+$/, '');
    return PEERS.find(
      (w) => this.topo?.[w].routerPublic === address || this.topo?.[w].local.startsWith(`${address}:`),
    );
  }

  /** The peer is behind a router (not on a public address of its own). */
  behind(who: Who): boolean {
    return this.topo?.[who].routerPublic !== undefined;
  }
}
