import type { NatBehaviour, NatType } from '../nat-behaviour.js';

/*
 * The hole-punching outcome a pair of NAT behaviours implies, as a pure function
 * (docs/contributing.md §4). The NAT matrix test, docs/nat-traversal.md and
 * `punchline nat-check` all use this one rule.
 */

const admitsUnknownPort = (f: NatBehaviour): boolean => f !== 'address-and-port-dependent';

/**
 * Can two peers behind these NATs (different NATs, each with one public address, no port
 * prediction) open a direct UDP path with punchline's method: both probe each other's
 * server-reflexive endpoint at once, answer every probe where it came from, and probe that
 * source back (a peer-reflexive triggered check)?
 *
 * - Both endpoint-independent mapping: yes, whatever the filtering. Each side's probe leaves
 *   from the very endpoint the other is probing, so each outbound probe opens the door the
 *   other's probe comes through.
 * - One side maps per destination ("hard"): its probes leave from a port nobody has seen. They
 *   get in only if the easy side's filter ignores the port (EIF or ADF: the easy side has sent
 *   to the hard side's address). The easy side then answers from its one mapping, which the
 *   hard side's new mapping admits whatever its filtering.
 * - Both hard: one side's probe must land on the other's server-reflexive mapping from an
 *   unseen address, so that side must filter endpoint-independently; the answer then leaves
 *   through yet another new mapping, which the first side admits only if its filter ignores
 *   the port.
 */
export function predictDirect(a: NatType, b: NatType): boolean {
  const easyA = a.mapping === 'endpoint-independent';
  const easyB = b.mapping === 'endpoint-independent';
  if (easyA && easyB) return true;
  if (easyA !== easyB) return admitsUnknownPort(easyA ? a.filtering : b.filtering);
  return (
    (b.filtering === 'endpoint-independent' && admitsUnknownPort(a.filtering)) ||
    (a.filtering === 'endpoint-independent' && admitsUnknownPort(b.filtering))
  );
}
