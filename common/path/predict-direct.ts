import type { NatBehaviour, NatType } from '../nat-behaviour.js';

/*
 * The hole-punching outcome a pair of NAT behaviours implies, as a pure function
 * (docs/contributing.md §4). The NAT matrix test, docs/nat-traversal.md and
 * `punchline nat-check` all use this one rule.
 */

const admitsUnknownPort = (f: NatBehaviour): boolean => f !== 'address-and-port-dependent';

/**
 * Does a port search (common/path/port-strategy.ts) run between these two, and find a path? It
 * needs one side whose mapping keeps its port (the fixed target) and one whose NAT gives every
 * destination *port* a new one: the peer measures that against the rendezvous's two ports, and
 * only address-and-port-dependent mapping shows there (an address-dependent NAT keeps one
 * mapping towards both ports of the one server address, so it looks endpoint-independent and
 * gets plain punching). The search then lands on one of the mappings the hard side opened
 * towards the easy side's endpoint, which both filters admit whatever their kind: each side has
 * sent to the other's endpoint. With the budget's odds: 99.7 % (docs/nat-traversal.md).
 */
export function portSearchFinds(a: NatType, b: NatType): boolean {
  const searchable = (easy: NatType, hard: NatType): boolean =>
    easy.mapping === 'endpoint-independent' && hard.mapping === 'address-and-port-dependent';
  return searchable(a, b) || searchable(b, a);
}

/**
 * Can two peers behind these NATs (different NATs, each with one public address) open a direct
 * UDP path with punchline's method: both probe each other's server-reflexive endpoint at once,
 * answer every probe where it came from, and probe that source back (a peer-reflexive triggered
 * check); and, when one side keeps its port and the other's NAT gives every destination a new
 * one, the port search (portSearchFinds)?
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
  return portSearchFinds(a, b) || plainPunchFinds(a, b);
}

/**
 * Does plain punching alone (the rules above, without the port search) open the path? Tools
 * that say how a path opens (`punchline nat-check`, `punchline demo`) tell the search apart.
 */
export function plainPunchFinds(a: NatType, b: NatType): boolean {
  const easyA = a.mapping === 'endpoint-independent';
  const easyB = b.mapping === 'endpoint-independent';
  if (easyA && easyB) return true;
  if (easyA !== easyB) return admitsUnknownPort(easyA ? a.filtering : b.filtering);
  return (
    (b.filtering === 'endpoint-independent' && admitsUnknownPort(a.filtering)) ||
    (a.filtering === 'endpoint-independent' && admitsUnknownPort(b.filtering))
  );
}
