/**
 * `punchline nat-check`'s reasoning, as pure functions (docs/architecture.md house style §4): what the STUN answers
 * say about this host's NAT (RFC 4787 mapping and filtering, tested in the manner of RFC 5780
 * §4.3-4.4), and what that means for hole punching against each kind of remote NAT
 * (`predictDirect`, the same table as docs/nat-traversal.md). probe.ts gathers the
 * observations; format.ts prints the report.
 *
 * One server IP address, two ports (RFC 5780 wants two of each): mapping shows as "the same public
 * endpoint for both ports" (EIM, or ADM, which only a second server address could tell apart and
 * which is rare) or "a new one per destination port" (APDM; for punching ADM and APDM are alike:
 * "dependent"), and filtering as "lets in a port it never sent to" (EIF or ADF: telling those
 * apart needs a second address as well) or "only the exact ip:port it sent to" (APDF).
 */
import { endpointKey, sameEndpoint } from '../../common/net/types.js';
import type { Endpoint } from '../../common/net/types.js';
import { NAT_BEHAVIOURS, natLabel } from '../../common/nat-behaviour.js';
import { predictDirect } from '../../common/path/predict-direct.js';
import type { NatBehaviour, NatType } from '../../common/nat-behaviour.js';
import { backoffDelay } from '../../common/path/backoff.js';
import type { BackoffOptions } from '../../common/path/backoff.js';

// ---------------------------------------------------------------------------------------------
// Observations (what probe.ts saw)

/** One answered Binding request. */
export interface BindingAnswer {
  /** XOR-MAPPED-ADDRESS: this socket as the server saw it. */
  readonly mapped: Endpoint;
  /** Where the answer came from (the datagram's source). */
  readonly from: Endpoint;
  readonly rttMs: number;
  readonly tries: number;
  /** RFC 5780 OTHER-ADDRESS, if the server sent one. */
  readonly otherAddress?: Endpoint;
}

/** A Binding request that was not answered (or answered with an error). */
export interface BindingFailure {
  readonly tries: number;
  readonly waitedMs: number;
  /** An error response (e.g. "420 Unknown Attribute"); undefined when nothing came back. */
  readonly error?: string;
}

export type BindingOutcome = ({ ok: true } & BindingAnswer) | ({ ok: false } & BindingFailure);

/** The filtering test: a Binding request to the main port with CHANGE-REQUEST "change port". */
export type FilteringObservation =
  /** Answered from another port than the one asked: the NAT let in a port we never sent to. */
  | { readonly kind: 'other-port'; readonly from: Endpoint; readonly tries: number }
  /** Answered from the port asked: the server ignored CHANGE-REQUEST. */
  | { readonly kind: 'same-port'; readonly from: Endpoint }
  /** An error response: the server cannot do the test (no alternate port: 420). */
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'no-answer'; readonly tries: number; readonly waitedMs: number }
  | { readonly kind: 'not-run' };

export interface RelayObservation {
  readonly url: string;
  readonly reachable: boolean;
  readonly ms?: number;
  readonly error?: string;
}

export interface NatCheckObservations {
  readonly server: Endpoint;
  /** This socket's local endpoint (0.0.0.0 when bound to every interface). */
  readonly local: Endpoint;
  /** The host's interface addresses. */
  readonly localAddresses: readonly string[];
  /** Test I: a plain Binding request to the server's main port. */
  readonly primary: BindingOutcome;
  /** The alternate endpoint tested, and how it was learnt; undefined when there is none. */
  readonly alt?: {
    readonly endpoint: Endpoint;
    readonly source: 'other-address' | 'flag' | 'answer' | 'port+1';
  };
  readonly filtering: FilteringObservation;
  /** Test II: a plain Binding request to the alternate port (after the filtering test). */
  readonly secondary: BindingOutcome | 'not-run';
  /** undefined: the relay was not checked. */
  readonly relay?: RelayObservation;
}

// ---------------------------------------------------------------------------------------------
// The report

export type MappingFinding = 'endpoint-independent' | 'dependent' | 'unknown';
export type FilteringFinding =
  'endpoint-independent-or-address-dependent' | 'address-and-port-dependent' | 'unknown';

export interface Finding {
  readonly topic: 'server' | 'udp' | 'public' | 'mapping' | 'filtering' | 'nat type' | 'relay';
  /** The conclusion, e.g. "endpoint-independent". */
  readonly result: string;
  /** What it rests on, e.g. "203.0.113.20:40000 seen by both 7000 and 7001". */
  readonly evidence: string;
}

export type PathVerdict = 'direct' | 'relay' | 'none';

export interface Prediction {
  /** e.g. "port-restricted cone". */
  readonly remote: string;
  /** e.g. "EIM/APDF". */
  readonly remoteLabel: string;
  /** direct: hole punching works; relay: chat goes through the server's relay; none: no path. */
  readonly path: PathVerdict;
  /** False when the answer depends on something the check could not measure (`why` says what). */
  readonly certain: boolean;
  readonly why?: string;
}

export interface NatCheckReport {
  readonly server: string;
  readonly altPort: number | null;
  readonly local: string;
  readonly udp: 'ok' | 'blocked';
  /**
   * 'no': nothing answered on either transport (no UDP answer and the relay refused or timed
   * out): the server is not there, or not at this address; the check exits 1 and predicts
   * nothing. 'unknown': no UDP answer and the relay was not checked.
   */
  readonly serverReachable: 'yes' | 'no' | 'unknown';
  /** This socket as the server saw it. */
  readonly public: string | null;
  /** 'none': the public endpoint is this host's own; 'yes': something translates; 'unknown': no answer. */
  readonly nat: 'none' | 'yes' | 'unknown';
  readonly mapping: MappingFinding;
  readonly filtering: FilteringFinding;
  /** e.g. { name: 'port-restricted cone', label: 'EIM/APDF' }. */
  readonly natType: { readonly name: string; readonly label: string };
  readonly relay: RelayObservation | null;
  readonly findings: readonly Finding[];
  readonly predictions: readonly Prediction[];
  readonly notes: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Retransmission

/**
 * Retransmissions of one Binding request: 250 ms, then doubling (the rendezvous's own request
 * backoff, common/path/backoff.ts: shorter than STUN's 500 ms RTO, RFC 8489 §6.2.1, because the
 * server is one known hop away), no jitter. Each test is bounded by `timeoutMs` (default 3 s):
 * sends at 0, 250, 750 and 1750 ms, then the answer is awaited until 3000 ms.
 */
export const NAT_CHECK_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 2_000, factor: 2, jitter: 0 };
export const NAT_CHECK_TIMEOUT_MS = 3_000;

/** When each try of one request is sent, ms after the first; all before `timeoutMs`. */
export function sendTimes(timeoutMs: number, backoff: BackoffOptions = NAT_CHECK_BACKOFF): number[] {
  const out = [0];
  for (let i = 0; ; i++) {
    const next = out[out.length - 1]! + backoffDelay(i, backoff, 0.5);
    if (next >= timeoutMs) return out;
    out.push(next);
  }
}

// ---------------------------------------------------------------------------------------------
// Classification

const isLoopback = (a: string): boolean => a.startsWith('127.') || a === '::1';

/** Is `mapped` this very socket, untranslated (no NAT on the way to the server)? */
export function isUntranslated(
  mapped: Endpoint,
  local: Endpoint,
  localAddresses: readonly string[],
): boolean {
  if (mapped.port !== local.port) return false;
  return (
    mapped.address === local.address || localAddresses.includes(mapped.address) || isLoopback(mapped.address)
  );
}

const port = (e: Endpoint): string => String(e.port);

export function classifyMapping(o: NatCheckObservations): { mapping: MappingFinding; evidence: string } {
  const p = o.primary;
  if (!p.ok) return { mapping: 'unknown', evidence: 'no answer from the server' };
  const none = isUntranslated(p.mapped, o.local, o.localAddresses);
  const s = o.secondary;
  if (!o.alt || s === 'not-run')
    return none
      ? { mapping: 'endpoint-independent', evidence: 'no NAT: nothing translates your address' }
      : {
          mapping: 'unknown',
          evidence: 'the server has no alternate port to compare with (run it with --alt-port)',
        };
  if (!s.ok) {
    if (none) return { mapping: 'endpoint-independent', evidence: 'no NAT: nothing translates your address' };
    const why = s.error
      ? `port ${port(o.alt.endpoint)} answered "${s.error}"`
      : `no answer from port ${port(o.alt.endpoint)} after ${s.tries} tries in ${s.waitedMs} ms (the server may run without --alt-port, or a firewall drops that port)`;
    return { mapping: 'unknown', evidence: why };
  }
  if (sameEndpoint(p.mapped, s.mapped))
    return {
      mapping: 'endpoint-independent',
      evidence: `${endpointKey(p.mapped)} seen by both ${port(o.server)} and ${port(o.alt.endpoint)}`,
    };
  // Only the server's port differed (one server address): a new mapping for another port of the
  // same address is address-and-port-dependent; punching treats ADM and APDM alike.
  const what = o.alt.endpoint.address === o.server.address ? 'per destination port' : 'per destination';
  return {
    mapping: 'dependent',
    evidence:
      `a new public ${p.mapped.address === s.mapped.address ? 'port' : 'address'} ${what}: ` +
      `${port(o.server)} saw ${endpointKey(p.mapped)}, ${port(o.alt.endpoint)} saw ${endpointKey(s.mapped)}`,
  };
}

export function classifyFiltering(o: NatCheckObservations): {
  filtering: FilteringFinding;
  evidence: string;
} {
  const f = o.filtering;
  const alt = o.alt ? port(o.alt.endpoint) : 'the other port';
  switch (f.kind) {
    case 'not-run':
      return { filtering: 'unknown', evidence: o.primary.ok ? 'not tested' : 'no answer from the server' };
    case 'refused':
      return {
        filtering: 'unknown',
        evidence: `the server cannot do the test ("${f.error}"): it has no alternate port (run it with --alt-port)`,
      };
    case 'same-port':
      return {
        filtering: 'unknown',
        evidence: `the server ignored CHANGE-REQUEST (answered from ${endpointKey(f.from)})`,
      };
    case 'other-port':
      return {
        filtering: 'endpoint-independent-or-address-dependent',
        evidence: `an answer from port ${port(f.from)} to a request sent to ${port(o.server)} got in`,
      };
    case 'no-answer': {
      const plainOk = o.primary.ok && o.secondary !== 'not-run' && o.secondary.ok;
      if (plainOk)
        return {
          filtering: 'address-and-port-dependent',
          evidence:
            `no answer from port ${alt} to a request sent to ${port(o.server)} after ${f.tries} tries in ` +
            `${f.waitedMs} ms, while plain requests to both ports were answered`,
        };
      return {
        filtering: 'unknown',
        evidence: `no answer from port ${alt}, and a plain request to it was not answered either`,
      };
    }
  }
}

const EIM: NatBehaviour = 'endpoint-independent';
const ADM: NatBehaviour = 'address-dependent';
const APDM: NatBehaviour = 'address-and-port-dependent';

/** The NAT types consistent with the findings. */
export function possibleTypes(
  mapping: MappingFinding,
  filtering: FilteringFinding,
): { mapping: NatBehaviour; filtering: NatBehaviour }[] {
  const maps: NatBehaviour[] =
    mapping === 'endpoint-independent' ? [EIM] : mapping === 'dependent' ? [ADM, APDM] : [...NAT_BEHAVIOURS];
  const filters: NatBehaviour[] =
    filtering === 'endpoint-independent-or-address-dependent'
      ? ['endpoint-independent', 'address-dependent']
      : filtering === 'address-and-port-dependent'
        ? ['address-and-port-dependent']
        : [...NAT_BEHAVIOURS];
  return maps.flatMap((m) => filters.map((f) => ({ mapping: m, filtering: f })));
}

/**
 * A name for people and an RFC 4787 label with the alternatives the check cannot tell apart.
 * `dependent` labels a dependent mapping: 'APDM' when only the server port differed.
 */
export function natTypeName(
  nat: NatCheckReport['nat'],
  mapping: MappingFinding,
  filtering: FilteringFinding,
  dependent: 'APDM' | 'ADM|APDM' = 'ADM|APDM',
): { name: string; label: string } {
  const m = { 'endpoint-independent': 'EIM', dependent, unknown: '?M' }[mapping];
  const f = {
    'endpoint-independent-or-address-dependent': 'EIF|ADF',
    'address-and-port-dependent': 'APDF',
    unknown: '?F',
  }[filtering];
  const label = `${m}/${f}`;
  if (nat === 'unknown') return { name: 'unknown', label };
  if (nat === 'none') {
    const name =
      filtering === 'address-and-port-dependent'
        ? 'no NAT, behind a stateful firewall'
        : filtering === 'unknown'
          ? 'no NAT'
          : 'no NAT, no filtering of unknown ports';
    return { name, label };
  }
  const names: Record<MappingFinding, Record<FilteringFinding, string>> = {
    'endpoint-independent': {
      'endpoint-independent-or-address-dependent': 'full cone or restricted cone',
      'address-and-port-dependent': 'port-restricted cone',
      unknown: 'cone (filtering unknown)',
    },
    dependent: {
      'endpoint-independent-or-address-dependent': 'symmetric mapping with a lenient filter',
      'address-and-port-dependent': 'symmetric',
      unknown: 'symmetric (filtering unknown)',
    },
    unknown: {
      'endpoint-independent-or-address-dependent': 'NAT (mapping unknown)',
      'address-and-port-dependent': 'NAT (mapping unknown)',
      unknown: 'NAT (behaviour unknown)',
    },
  };
  return { name: names[mapping][filtering], label };
}

/** The remote NATs the prediction table covers (classic names, RFC 4787 types). */
export const REMOTE_KINDS: readonly { name: string; type: NatType }[] = [
  { name: 'full cone', type: { mapping: EIM, filtering: 'endpoint-independent' } },
  { name: 'restricted cone', type: { mapping: EIM, filtering: 'address-dependent' } },
  { name: 'port-restricted cone', type: { mapping: EIM, filtering: 'address-and-port-dependent' } },
  { name: 'symmetric', type: { mapping: APDM, filtering: 'address-and-port-dependent' } },
  // A public address with no filtering firewall: nothing remaps, nothing filters.
  { name: 'no NAT', type: { mapping: EIM, filtering: 'endpoint-independent' } },
];

/**
 * Direct or relay against each remote kind. Every NAT type consistent with the findings is
 * tried with `predictDirect`: when they all agree the verdict is certain; when they do not, the
 * verdict is the conservative one (relay) and `why` names the types that would go direct.
 * Without UDP nothing goes direct; without a reachable relay, "relay" becomes "none".
 */
export function predict(
  udp: 'ok' | 'blocked',
  mapping: MappingFinding,
  filtering: FilteringFinding,
  relay: RelayObservation | undefined,
  dependent: 'APDM' | 'ADM|APDM' = 'ADM|APDM',
): Prediction[] {
  const relayDown = relay !== undefined && !relay.reachable;
  const fallback = (why: string, certain: boolean): Pick<Prediction, 'path' | 'certain' | 'why'> =>
    relayDown
      ? { path: 'none', certain, why: `${why}; and the relay is unreachable` }
      : { path: 'relay', certain, why };
  const own = possibleTypes(mapping, filtering);
  return REMOTE_KINDS.map(({ name, type }) => {
    const head = { remote: name, remoteLabel: natLabel(type) };
    if (udp === 'blocked') return { ...head, ...fallback('UDP does not get out', true) };
    const direct = own.filter((t) => predictDirect(t, type));
    if (direct.length === own.length) return { ...head, path: 'direct' as const, certain: true };
    if (direct.length === 0)
      return {
        ...head,
        ...fallback(
          `no direct path between ${natTypeName('yes', mapping, filtering, dependent).label} and ${natLabel(type)}`,
          true,
        ),
      };
    return {
      ...head,
      ...fallback(`direct only if ${describeTypes(direct, own)}, which this check could not tell`, false),
    };
  });
}

/**
 * Say which of the `own` types are in `subset`, as briefly as possible: "your NAT's filtering is
 * endpoint-independent or address-dependent" when the subset is all of one dimension, else labels.
 */
export function describeTypes(subset: readonly NatType[], own: readonly NatType[]): string {
  const uniq = (xs: NatBehaviour[]): NatBehaviour[] => NAT_BEHAVIOURS.filter((b) => xs.includes(b));
  const ownMaps = uniq(own.map((t) => t.mapping));
  const ownFilters = uniq(own.map((t) => t.filtering));
  const maps = uniq(subset.map((t) => t.mapping));
  const filters = uniq(subset.map((t) => t.filtering));
  const full = (ms: NatBehaviour[], fs: NatBehaviour[]): boolean =>
    subset.length === ms.length * fs.length &&
    ms.every((m) => fs.every((f) => subset.some((t) => t.mapping === m && t.filtering === f)));
  if (filters.length === ownFilters.length && full(maps, ownFilters))
    return `your NAT's mapping is ${maps.join(' or ')}`;
  if (maps.length === ownMaps.length && full(ownMaps, filters))
    return `your NAT's filtering is ${filters.join(' or ')}`;
  return `your NAT is ${subset.map(natLabel).join(' or ')}`;
}

/** The local socket for people: "10.1.0.2:40000", or "port 40000 on 10.1.0.2" when bound to all. */
function localText(o: NatCheckObservations): string {
  const wildcard = o.local.address === '0.0.0.0' || o.local.address === '::';
  if (!wildcard || o.localAddresses.length === 0) return endpointKey(o.local);
  return `port ${o.local.port} on ${o.localAddresses.join(', ')}`;
}

/** Everything together: the report probe.ts returns and format.ts prints. */
export function classifyNat(o: NatCheckObservations): NatCheckReport {
  const p = o.primary;
  const udp = p.ok || p.error !== undefined ? 'ok' : 'blocked';
  const nat: NatCheckReport['nat'] = !p.ok
    ? 'unknown'
    : isUntranslated(p.mapped, o.local, o.localAddresses)
      ? 'none'
      : 'yes';
  const { mapping, evidence: mappingWhy } = classifyMapping(o);
  const { filtering, evidence: filteringWhy } = classifyFiltering(o);
  // Only the server port differed: a dependent mapping is then address-and-port-dependent.
  const dependent = o.alt?.endpoint.address === o.server.address ? 'APDM' : 'ADM|APDM';
  const natType = natTypeName(nat, mapping, filtering, dependent);
  const findings: Finding[] = [];
  const notes: string[] = [];

  if (p.ok) {
    findings.push({
      topic: 'udp',
      result: 'works',
      evidence: `answer from ${endpointKey(p.from)} in ${p.rttMs} ms${p.tries > 1 ? ` (try ${p.tries})` : ''}`,
    });
    findings.push({
      topic: 'public',
      result: endpointKey(p.mapped),
      evidence:
        nat === 'none'
          ? `no NAT: that is this host's own address and port`
          : `NAT: your socket is ${localText(o)}${p.mapped.port === o.local.port ? '; the NAT kept the port' : ''}`,
    });
  } else if (p.error !== undefined) {
    findings.push({ topic: 'udp', result: 'works', evidence: `the server answered "${p.error}"` });
  } else {
    const tcpUp = o.relay?.reachable === true;
    findings.push({
      topic: 'udp',
      result: 'blocked',
      evidence:
        `no answer from ${endpointKey(o.server)} after ${p.tries} tries in ${p.waitedMs} ms: ` +
        (tcpUp
          ? 'the server is up, its relay answered over TCP: UDP is blocked on the way'
          : 'UDP blocked or the server unreachable over UDP'),
    });
  }
  if (udp === 'ok') {
    findings.push({ topic: 'mapping', result: mapping, evidence: mappingWhy });
    findings.push({ topic: 'filtering', result: filtering, evidence: filteringWhy });
    findings.push({ topic: 'nat type', result: natType.name, evidence: natType.label });
  }
  if (o.relay)
    findings.push({
      topic: 'relay',
      result: o.relay.reachable ? 'reachable' : 'unreachable',
      evidence: o.relay.reachable
        ? `${o.relay.url} accepted a connection in ${o.relay.ms ?? 0} ms`
        : `${o.relay.url}: ${o.relay.error ?? 'no connection'}`,
    });

  if (mapping === 'dependent')
    notes.push(
      o.alt?.endpoint.address === o.server.address
        ? 'Only the server port differed, so the mapping is address-and-port-dependent (APDM); for hole ' +
            'punching address-dependent (ADM) is no better: both open a new public port per destination ("symmetric").'
        : 'Address-dependent and address-and-port-dependent mapping are not told apart here; for hole punching ' +
            'they are alike: a new public port per destination ("symmetric").',
    );
  if (mapping === 'endpoint-independent' && nat === 'yes')
    notes.push(
      'With one server address, endpoint-independent mapping cannot be told from address-dependent mapping (a new ' +
        'port only per destination address; rare in practice): the predictions assume endpoint-independent.',
    );
  if (filtering === 'endpoint-independent-or-address-dependent')
    notes.push(
      'With one server address the check cannot tell endpoint-independent from address-dependent filtering: ' +
        'an answer from another port of the same server got in, which both allow.',
    );
  if (filtering === 'address-and-port-dependent')
    notes.push('A lost answer looks like filtering: with heavy packet loss, run the check again.');
  if (nat === 'none' && filtering === 'unknown')
    notes.push('No NAT, but a firewall may still filter: the filtering test could not run.');
  if (o.alt?.source === 'port+1' && o.secondary !== 'not-run' && !o.secondary.ok)
    notes.push(
      `Port ${port(o.alt.endpoint)} was assumed to be the server's alternate port (the rendezvous's default, PORT+1); ` +
        'if it runs with another --alt-port, give the same --alt-port here.',
    );

  const serverReachable: NatCheckReport['serverReachable'] =
    udp === 'ok' || o.relay?.reachable === true ? 'yes' : o.relay ? 'no' : 'unknown';
  if (serverReachable === 'no')
    findings.unshift({
      topic: 'server',
      result: 'unreachable',
      evidence:
        'no answer over UDP and no connection to its relay: check the address and port, that the ' +
        'rendezvous is running, and that your network lets UDP and TCP out; nothing can be said ' +
        'about your NAT without an answer',
    });

  return {
    server: endpointKey(o.server),
    altPort: o.alt?.endpoint.port ?? null,
    local: endpointKey(o.local),
    udp,
    serverReachable,
    public: p.ok ? endpointKey(p.mapped) : null,
    nat,
    mapping,
    filtering,
    natType,
    relay: o.relay ?? null,
    findings,
    predictions: serverReachable === 'no' ? [] : predict(udp, mapping, filtering, o.relay, dependent),
    notes,
  };
}
