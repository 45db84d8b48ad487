/**
 * The mapping finding (RFC 4787 §4.1, tested in the manner of RFC 5780 §4.3 with one server
 * address): does this socket keep one public endpoint for both of the server's ports?
 */
import { endpointKey, sameEndpoint } from '../../common/net/types.js';
import type { Endpoint } from '../../common/net/types.js';
import type { MappingFinding, NatCheckObservations } from './types.js';

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
      ? `port ${o.alt.endpoint.port} answered "${s.error}"`
      : `no answer from port ${o.alt.endpoint.port} after ${s.tries} tries in ${s.waitedMs} ms (the server may run without --alt-port, or a firewall drops that port)`;
    return { mapping: 'unknown', evidence: why };
  }
  if (sameEndpoint(p.mapped, s.mapped))
    return {
      mapping: 'endpoint-independent',
      evidence: `${endpointKey(p.mapped)} seen by both ${o.server.port} and ${o.alt.endpoint.port}`,
    };
  // Only the server's port differed (one server address): a new mapping for another port of the
  // same address is address-and-port-dependent; punching treats ADM and APDM alike.
  const what = o.alt.endpoint.address === o.server.address ? 'per destination port' : 'per destination';
  return {
    mapping: 'dependent',
    evidence:
      `a new public ${p.mapped.address === s.mapped.address ? 'port' : 'address'} ${what}: ` +
      `${o.server.port} saw ${endpointKey(p.mapped)}, ${o.alt.endpoint.port} saw ${endpointKey(s.mapped)}`,
  };
}
