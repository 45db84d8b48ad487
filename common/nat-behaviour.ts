/**
 * NAT behaviour vocabulary, shared by everything that models or measures a NAT: the simulated
 * network (common/net/sim), the path logic that predicts the hole-punching
 * outcome (common/path/predict-direct.ts), docs/nat-traversal.md and `punchline nat-check`.
 * It sits at the root of common/ so that the simulator and the path logic both build on it
 * without importing each other.
 *
 * RFC 4787 §4.1 (mapping) and §5 (filtering) use the same three words:
 * - endpoint-independent: the remote endpoint does not matter;
 * - address-dependent: the remote IP matters, not its port;
 * - address-and-port-dependent: the remote IP and port both matter.
 */
export type NatBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export const NAT_BEHAVIOURS: readonly NatBehaviour[] = [
  'endpoint-independent',
  'address-dependent',
  'address-and-port-dependent',
];

export interface NatType {
  mapping: NatBehaviour;
  filtering: NatBehaviour;
}

/** Short names: EIM/ADM/APDM for mapping, EIF/ADF/APDF for filtering (RFC 4787 usage). */
export function natLabel(n: NatType): string {
  const short = {
    'endpoint-independent': 'EI',
    'address-dependent': 'AD',
    'address-and-port-dependent': 'APD',
  };
  return `${short[n.mapping]}M/${short[n.filtering]}F`;
}
