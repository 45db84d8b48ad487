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

/**
 * How a peer's NAT picks the public port of a new mapping, as the peer measured it against the
 * rendezvous's two UDP ports at registration (docs/nat-traversal.md, "Port behaviour"). It decides
 * the punching strategy (common/path/port-strategy.ts):
 * - unknown: not measured (the server has no second port, or did not answer);
 * - consistent: one public port for every destination (endpoint-independent mapping, or a
 *   dependent one that keeps the port); `preserved` when that port is the socket's own;
 * - sequential: a new public port per destination, `step` apart (|step| <= 16), the last one
 *   seen being `last`: the next mappings are predictable;
 * - random: a new, unpredictable public port per destination (MASQUERADE --random-fully).
 */
export type PortBehaviour =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'consistent'; readonly preserved: boolean }
  | { readonly kind: 'sequential'; readonly step: number; readonly last: number }
  | { readonly kind: 'random' };

/** The largest port step still called sequential (a busier NAT hands ports out further apart). */
export const MAX_SEQUENTIAL_STEP = 16;
