/**
 * The filtering finding (RFC 4787 §5, tested in the manner of RFC 5780 §4.4 test III with one
 * server address): did an answer from a port this socket never sent to get in?
 */
import { endpointKey } from '../../common/net/types.js';
import type { FilteringFinding, NatCheckObservations } from './types.js';

export function classifyFiltering(o: NatCheckObservations): {
  filtering: FilteringFinding;
  evidence: string;
} {
  const f = o.filtering;
  const alt = o.alt ? String(o.alt.endpoint.port) : 'the other port';
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
        evidence: `an answer from port ${f.from.port} to a request sent to ${o.server.port} got in`,
      };
    case 'no-answer': {
      const plainOk = o.primary.ok && o.secondary !== 'not-run' && o.secondary.ok;
      if (plainOk)
        return {
          filtering: 'address-and-port-dependent',
          evidence:
            `no answer from port ${alt} to a request sent to ${o.server.port} after ${f.tries} tries in ` +
            `${f.waitedMs} ms, while plain requests to both ports were answered`,
        };
      return {
        filtering: 'unknown',
        evidence: `no answer from port ${alt}, and a plain request to it was not answered either`,
      };
    }
  }
}
