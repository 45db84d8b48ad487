/**
 * Plain-language explanations of why a pair of NATs does or does not let a direct path open,
 * following the rules of predictDirect and portSearchFinds (common/path/predict-direct.ts) and
 * docs/nat-traversal.md, for someone who has never heard of NATs.
 */
import type { NatBehaviour } from '../../common/nat-behaviour.js';
import type { Who } from './events.js';
import { NAT_KINDS } from './nat-kinds.js';
import type { NatKind } from './nat-kinds.js';

export interface SideFacts {
  who: Who;
  kind: NatKind;
  /** A public port this side's router opened for the other peer, unlike the one the rendezvous saw. */
  newPort?: string;
}

const hard = (k: NatKind): boolean => NAT_KINDS[k].type.mapping !== 'endpoint-independent';
const filtering = (k: NatKind): NatBehaviour => NAT_KINDS[k].type.filtering;

/** What a router lets in, said plainly. */
export function admits(s: SideFacts): string {
  if (s.kind === 'none') return `${s.who} has no router: anything sent to ${s.who}'s address arrives`;
  switch (filtering(s.kind)) {
    case 'endpoint-independent':
      return `${s.who}'s router lets in anything sent to an open port`;
    case 'address-dependent':
      return `${s.who}'s router lets in packets from any port of an address ${s.who} has sent to`;
    case 'address-and-port-dependent':
      return `${s.who}'s router lets in only packets from the exact address and port ${s.who} has sent to`;
  }
}

/** Why a router let a probe in from a port it had never seen (only EIF and ADF do). */
export const whyUnknownPortGotIn = admits;

function remaps(s: SideFacts): string {
  const eg = s.newPort ? ` (here ${s.newPort})` : '';
  return `${s.who}'s router gives every new destination its own public port${eg}, so ${s.who}'s probes leave from a port the rendezvous never saw`;
}

/** Why no direct path can open between these two (predictDirect said no). */
export function whyNoDirect(a: SideFacts, b: SideFacts): string {
  if (hard(a.kind) !== hard(b.kind)) {
    const [h, e] = hard(a.kind) ? [a, b] : [b, a];
    return (
      `${remaps(h)}. ${admits(e)}, and ${e.who} only knows ${h.who}'s port as the rendezvous saw it. ` +
      `So ${h.who}'s probes are dropped at ${e.who}'s router, and ${e.who}'s probes arrive at a port ` +
      `${h.who}'s router never opened for ${e.who}.`
    );
  }
  return (
    `Both routers give every new destination its own public port, so each peer's probes come from ` +
    `a port the other has never seen. One router would have to let in packets from anywhere and the ` +
    `other from any port of a known address; here ${admits(a)}, and ${admits(b)}.`
  );
}

/** Why the direct path did open (predictDirect said yes). */
export function whyDirect(a: SideFacts, b: SideFacts): string {
  if (a.kind === 'none' && b.kind === 'none')
    return 'Neither peer is behind a NAT: both have public addresses, so their probes simply arrive.';
  if (!hard(a.kind) && !hard(b.kind)) {
    const none = [a, b].find((s) => s.kind === 'none');
    if (none) {
      const nat = none === a ? b : a;
      return (
        `${none.who} has a public address (no NAT), so ${nat.who}'s probes reach ${none.who} as they are. ` +
        `${nat.who}'s router keeps one public port per device, so ${none.who}'s probes went to the very port ` +
        `the rendezvous saw, and ${nat.who}'s own probe to ${none.who} had opened it for ${none.who}.`
      );
    }
    return (
      'Both routers keep one public port per device (endpoint-independent mapping), so the address the ' +
      "rendezvous saw for each peer is the very one the other probed. Each side's first probe opened its " +
      "own router for the other's probes, so they met in the middle."
    );
  }
  if (hard(a.kind) !== hard(b.kind)) {
    const [h, e] = hard(a.kind) ? [a, b] : [b, a];
    if (filtering(e.kind) === 'address-and-port-dependent')
      return (
        `${remaps(h)}, and ${admits(e)}. Both measured their routers when they registered, so they ` +
        `searched: ${h.who} opened up to 256 sockets, each sending one small probe to ${e.who}, so its ` +
        `router holds 256 ports open for ${e.who}; ${e.who} sent small probes to random ports of ` +
        `${h.who}'s address until one landed on an open one (the "birthday paradox": 256 of 64,512 ports, ` +
        `half the time within 174 probes). ${h.who} probed back from that socket: the path.`
      );
    return (
      `${remaps(h)}. But ${admits(e)}, so ${h.who}'s probe got in anyway. ${e.who} answered it and ` +
      `probed that new port back (a "peer-reflexive" candidate): that opened the path.`
    );
  }
  return (
    `Both routers give every new destination its own public port, but ${admits(a)}, and ${admits(b)}: ` +
    `enough for one side's probe to get in, be answered, and the answer's new port to be probed back.`
  );
}

/** What a relay does, for when the direct path cannot open. */
export const RELAY_EXPLAINED =
  'This is what a relay is for: both peers keep a connection to the server, and it forwards their ' +
  'packets. They stay encrypted end to end (the server sees only ciphertext), at the cost of a ' +
  'detour through the server.';
