/**
 * `punchline nat-check`'s reasoning, as pure functions (docs/contributing.md §4): what the STUN answers
 * say about this host's NAT (RFC 4787 mapping and filtering, tested in the manner of RFC 5780
 * §4.3-4.4), and what that means for hole punching against each kind of remote NAT
 * (`predictDirect`, the same table as docs/nat-traversal.md). probe.ts gathers the
 * observations; format.ts prints the report.
 *
 * One server IP address, two ports (RFC 5780 wants two of each): mapping shows as "the same public
 * endpoint for both ports" (EIM, or ADM, which only a second server address could tell apart and
 * which is rare) or "a new one per destination port" (APDM; for punching ADM and APDM are alike:
 * "dependent"), and filtering as "lets in a port it never sent to" (EIF or ADF: telling those
 * apart needs a second address as well) or "only the exact ip:port it sent to" (APDF).
 *
 * The parts: mapping.ts, filtering.ts, nat-type.ts (the name), paths.ts (the verdicts),
 * findings.ts (the words).
 */
import { endpointKey } from '../../common/net/types.js';
import { classifyFiltering } from './filtering.js';
import { SERVER_UNREACHABLE, notesOn, relayFinding, udpFindings } from './findings.js';
import { classifyMapping, isUntranslated } from './mapping.js';
import { natTypeName } from './nat-type.js';
import { predict } from './paths.js';
import type { Finding, NatCheckObservations, NatCheckReport } from './types.js';

/** Everything together: the report probe.ts returns and format.ts prints. */
export function classifyNat(o: NatCheckObservations): NatCheckReport {
  const p = o.primary;
  const udp = p.ok || p.error !== undefined ? 'ok' : 'blocked';
  const nat: NatCheckReport['nat'] = !p.ok
    ? 'unknown'
    : isUntranslated(p.mapped, o.local, o.localAddresses)
      ? 'none'
      : 'yes';
  const { mapping, evidence: mappingWhy } = classifyMapping(o);
  const { filtering, evidence: filteringWhy } = classifyFiltering(o);
  // Only the server port differed: a dependent mapping is then address-and-port-dependent.
  const dependent = o.alt?.endpoint.address === o.server.address ? 'APDM' : 'ADM|APDM';
  const natType = natTypeName(nat, mapping, filtering, dependent);

  const findings: Finding[] = udpFindings(o, nat);
  if (udp === 'ok')
    findings.push(
      { topic: 'mapping', result: mapping, evidence: mappingWhy },
      { topic: 'filtering', result: filtering, evidence: filteringWhy },
      { topic: 'nat type', result: natType.name, evidence: natType.label },
    );
  if (o.relay) findings.push(relayFinding(o.relay));
  const serverReachable: NatCheckReport['serverReachable'] =
    udp === 'ok' || o.relay?.reachable === true ? 'yes' : o.relay ? 'no' : 'unknown';
  if (serverReachable === 'no') findings.unshift(SERVER_UNREACHABLE);

  return {
    server: endpointKey(o.server),
    altPort: o.alt?.endpoint.port ?? null,
    local: endpointKey(o.local),
    udp,
    serverReachable,
    public: p.ok ? endpointKey(p.mapped) : null,
    nat,
    mapping,
    filtering,
    natType,
    relay: o.relay ?? null,
    findings,
    predictions: serverReachable === 'no' ? [] : predict(udp, mapping, filtering, o.relay, dependent),
    notes: notesOn(o, nat, mapping, filtering),
  };
}
