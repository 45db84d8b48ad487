/**
 * Path verdicts: direct or relay against each kind of remote NAT, from `predictDirect` (the same
 * table as docs/nat-traversal.md) applied to every NAT type consistent with the findings.
 */
import { NAT_BEHAVIOURS, natLabel } from '../../common/nat-behaviour.js';
import { plainPunchFinds, predictDirect } from '../../common/path/predict-direct.js';
import { PORT_SEARCH } from '../../common/path/port-strategy.js';
import type { NatBehaviour, NatType } from '../../common/nat-behaviour.js';
import { natTypeName, possibleTypes } from './nat-type.js';
import type { FilteringFinding, MappingFinding, Prediction, RelayObservation } from './types.js';

const EIM: NatBehaviour = 'endpoint-independent';
const APDM: NatBehaviour = 'address-and-port-dependent';

/** The remote NATs the prediction table covers (classic names, RFC 4787 types). */
const REMOTE_KINDS: readonly { name: string; type: NatType }[] = [
  { name: 'full cone', type: { mapping: EIM, filtering: 'endpoint-independent' } },
  { name: 'restricted cone', type: { mapping: EIM, filtering: 'address-dependent' } },
  { name: 'port-restricted cone', type: { mapping: EIM, filtering: 'address-and-port-dependent' } },
  { name: 'symmetric', type: { mapping: APDM, filtering: 'address-and-port-dependent' } },
  // A public address with no filtering firewall: nothing remaps, nothing filters.
  { name: 'no NAT', type: { mapping: EIM, filtering: 'endpoint-independent' } },
];

/** The port search's longest run, from its budget: 1,500 probes, 4 per 8 ms tick = 3 s. */
const SEARCH_S = ((PORT_SEARCH.probes / PORT_SEARCH.probesPerTick) * PORT_SEARCH.tickMs) / 1000;

/** How a direct path opens when only a port search finds it (common/path/port-strategy.ts). */
export const BY_PORT_SEARCH =
  `by a port search: the side whose NAT gives every destination a new port opens ${PORT_SEARCH.sockets} ` +
  `of them, the other probes random ports until one gets in, within ${SEARCH_S} s`;

/**
 * Direct or relay against each remote kind. Every NAT type consistent with the findings is
 * tried with `predictDirect`: when they all agree the verdict is certain; when they do not, the
 * verdict is the conservative one (relay) and `why` names the types that would go direct. A
 * direct verdict that only the port search reaches says so in `why`. Without UDP nothing goes
 * direct; without a reachable relay, "relay" becomes "none".
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
  const own = possibleTypes(mapping, filtering, dependent);
  return REMOTE_KINDS.map(({ name, type }) => {
    const head = { remote: name, remoteLabel: natLabel(type) };
    if (udp === 'blocked') return { ...head, ...fallback('UDP does not get out', true) };
    const direct = own.filter((t) => predictDirect(t, type));
    const searched = direct.length > 0 && direct.every((t) => !plainPunchFinds(t, type));
    if (direct.length === own.length)
      return {
        ...head,
        path: 'direct' as const,
        certain: true,
        ...(searched ? { why: BY_PORT_SEARCH } : {}),
      };
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
      ...fallback(
        `direct${searched ? ' (by a port search)' : ''} only if ${describeTypes(direct, own)}, which this check could not tell`,
        false,
      ),
    };
  });
}

/**
 * The remote kinds a chat reaches directly when this NAT's mapping is endpoint-independent but
 * not when it is address-dependent, which one server address cannot tell apart (ADM keeps one
 * port towards both server ports). Peers measure their NAT the same way, so an ADM side looks
 * consistent to them too: against a symmetric NAT its port search finds nothing.
 */
export function lostIfAddressDependent(filtering: FilteringFinding): string[] {
  const eim = possibleTypes('endpoint-independent', filtering);
  const adm = eim.map((t) => ({ ...t, mapping: 'address-dependent' as const }));
  const all = (ts: readonly NatType[], type: NatType): boolean => ts.every((t) => predictDirect(t, type));
  return REMOTE_KINDS.filter(({ type }) => all(eim, type) && !all(adm, type)).map((r) => r.name);
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
