/**
 * The NAT types consistent with the findings, and a name for them: classic names for people, an
 * RFC 4787 label with the alternatives the check cannot tell apart.
 */
import { NAT_BEHAVIOURS } from '../../common/nat-behaviour.js';
import type { NatBehaviour } from '../../common/nat-behaviour.js';
import type { FilteringFinding, MappingFinding, NatCheckReport } from './types.js';

const EIM: NatBehaviour = 'endpoint-independent';
const ADM: NatBehaviour = 'address-dependent';
const APDM: NatBehaviour = 'address-and-port-dependent';

/**
 * The NAT types consistent with the findings. `dependent`: 'APDM' when only the server port
 * differed (a new mapping for another port of the same address is address-and-port-dependent).
 * That matters since the port search (common/path/predict-direct.ts, portSearchFinds) runs for
 * APDM only.
 */
export function possibleTypes(
  mapping: MappingFinding,
  filtering: FilteringFinding,
  dependent: 'APDM' | 'ADM|APDM' = 'ADM|APDM',
): { mapping: NatBehaviour; filtering: NatBehaviour }[] {
  const maps: NatBehaviour[] =
    mapping === 'endpoint-independent'
      ? [EIM]
      : mapping === 'dependent'
        ? dependent === 'APDM'
          ? [APDM]
          : [ADM, APDM]
        : [...NAT_BEHAVIOURS];
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
