/**
 * The NAT behaviours `punchline demo --nat A,B` offers, in the shared vocabulary of
 * common/nat-behaviour.ts (RFC 4787 mapping/filtering) and the simulator's presets.
 */
import { NAT_PRESETS } from '../../common/net/sim/nat-rules.js';
import type { NatPolicy } from '../../common/net/sim/nat-rules.js';
import type { NatType } from '../../common/nat-behaviour.js';
import { badArgument } from '../../common/errors.js';

export type NatKind = 'cone' | 'full-cone' | 'restricted' | 'symmetric' | 'none';

export interface NatKindInfo {
  kind: NatKind;
  /** What the peer's packets meet on the way out. `none`: a public address, nothing translates. */
  type: NatType;
  /** Policy for Simulator.addNat (undefined for `none`). */
  policy: Partial<NatPolicy> | undefined;
  /** Short name for people, e.g. "port-restricted cone". */
  name: string;
  /** One sentence for someone who has never heard of NATs. */
  plain: string;
}

export const NAT_KINDS: Record<NatKind, NatKindInfo> = {
  cone: {
    kind: 'cone',
    type: NAT_PRESETS.portRestrictedCone,
    policy: NAT_PRESETS.portRestrictedCone,
    name: 'port-restricted cone',
    plain:
      'keeps one public port per device, and lets in only replies from the exact address and port it sent to ' +
      '(what most home routers do)',
  },
  'full-cone': {
    kind: 'full-cone',
    type: NAT_PRESETS.fullCone,
    policy: NAT_PRESETS.fullCone,
    name: 'full cone',
    plain: 'keeps one public port per device, and lets in anything sent to that port',
  },
  restricted: {
    kind: 'restricted',
    type: NAT_PRESETS.restrictedCone,
    policy: NAT_PRESETS.restrictedCone,
    name: 'restricted cone',
    plain: 'keeps one public port per device, and lets in packets from any port of an address it sent to',
  },
  symmetric: {
    kind: 'symmetric',
    type: NAT_PRESETS.symmetric,
    policy: NAT_PRESETS.symmetric,
    name: 'symmetric NAT',
    plain:
      'picks a new random public port for every new destination, and lets in only replies from the exact ' +
      'address and port it sent to (common on mobile and carrier networks)',
  },
  none: {
    kind: 'none',
    // A host with its own public address and no firewall: nothing remaps, nothing filters.
    type: { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
    policy: undefined,
    name: 'no NAT',
    plain: 'the computer has a public address of its own, so nothing rewrites or filters its packets',
  },
};

export const NAT_KIND_NAMES = Object.keys(NAT_KINDS) as NatKind[];

/** Parse `--nat A,B` (one value applies to both). */
export function parseNatPair(v: string): [NatKindInfo, NatKindInfo] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 1) parts.push(parts[0]!);
  if (parts.length !== 2)
    throw badArgument(`--nat takes two kinds, as A,B (e.g. cone,symmetric), got "${v}"`);
  return parts.map((p) => {
    if (!Object.hasOwn(NAT_KINDS, p))
      throw badArgument(`--nat: unknown NAT kind "${p}"; use ${NAT_KIND_NAMES.join(', ')}`);
    return NAT_KINDS[p as NatKind];
  }) as [NatKindInfo, NatKindInfo];
}
