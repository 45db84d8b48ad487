/**
 * The report's words: the findings about UDP, the public endpoint, the relay and the server, and
 * the notes on what the check could not tell. classify.ts decides; this says it.
 */
import { endpointKey } from '../../common/net/types.js';
import { lostIfAddressDependent } from './paths.js';
import type {
  FilteringFinding,
  Finding,
  MappingFinding,
  NatCheckObservations,
  NatCheckReport,
  RelayObservation,
} from './types.js';

/** The local socket for people: "10.1.0.2:40000", or "port 40000 on 10.1.0.2" when bound to all. */
function localText(o: NatCheckObservations): string {
  const wildcard = o.local.address === '0.0.0.0' || o.local.address === '::';
  if (!wildcard || o.localAddresses.length === 0) return endpointKey(o.local);
  return `port ${o.local.port} on ${o.localAddresses.join(', ')}`;
}

/** What the first Binding request says: UDP works (and where it comes out), or it is blocked. */
export function udpFindings(o: NatCheckObservations, nat: NatCheckReport['nat']): Finding[] {
  const p = o.primary;
  if (p.ok)
    return [
      {
        topic: 'udp',
        result: 'works',
        evidence: `answer from ${endpointKey(p.from)} in ${p.rttMs} ms${p.tries > 1 ? ` (try ${p.tries})` : ''}`,
      },
      {
        topic: 'public',
        result: endpointKey(p.mapped),
        evidence:
          nat === 'none'
            ? `no NAT: that is this host's own address and port`
            : `NAT: your socket is ${localText(o)}${p.mapped.port === o.local.port ? '; the NAT kept the port' : ''}`,
      },
    ];
  if (p.error !== undefined)
    return [{ topic: 'udp', result: 'works', evidence: `the server answered "${p.error}"` }];
  const tcpUp = o.relay?.reachable === true;
  return [
    {
      topic: 'udp',
      result: 'blocked',
      evidence:
        `no answer from ${endpointKey(o.server)} after ${p.tries} tries in ${p.waitedMs} ms: ` +
        (tcpUp
          ? 'the server is up, its relay answered over TCP: UDP is blocked on the way'
          : 'UDP blocked or the server unreachable over UDP'),
    },
  ];
}

export function relayFinding(relay: RelayObservation): Finding {
  return {
    topic: 'relay',
    result: relay.reachable ? 'reachable' : 'unreachable',
    evidence: relay.reachable
      ? `${relay.url} accepted a connection in ${relay.ms ?? 0} ms`
      : `${relay.url}: ${relay.error ?? 'no connection'}`,
  };
}

/** Nothing answered on either transport: said first, and nothing else can be said. */
export const SERVER_UNREACHABLE: Finding = {
  topic: 'server',
  result: 'unreachable',
  evidence:
    'no answer over UDP and no connection to its relay: check the address and port, that the ' +
    'rendezvous is running, and that your network lets UDP and TCP out; nothing can be said ' +
    'about your NAT without an answer',
};

/** What the findings cannot say, and what the predictions assume instead. */
export function notesOn(
  o: NatCheckObservations,
  nat: NatCheckReport['nat'],
  mapping: MappingFinding,
  filtering: FilteringFinding,
): string[] {
  const notes: string[] = [];
  if (mapping === 'dependent')
    notes.push(
      o.alt?.endpoint.address === o.server.address
        ? 'Only the server port differed, so the mapping is address-and-port-dependent (APDM); for hole ' +
            'punching address-dependent (ADM) is no better: both open a new public port per destination ("symmetric").'
        : 'Address-dependent and address-and-port-dependent mapping are not told apart here; for hole punching ' +
            'they are alike: a new public port per destination ("symmetric").',
    );
  if (mapping === 'endpoint-independent' && nat === 'yes') {
    const lost = lostIfAddressDependent(filtering);
    notes.push(
      'With one server address, endpoint-independent mapping cannot be told from address-dependent mapping (a new ' +
        'port only per destination address; rare in practice): the predictions assume endpoint-independent' +
        (lost.length > 0
          ? `; an address-dependent one would take the relay with ${lost.join(' and ')} peers.`
          : '.'),
    );
  }
  if (filtering === 'endpoint-independent-or-address-dependent')
    notes.push(
      'With one server address the check cannot tell endpoint-independent from address-dependent filtering: ' +
        'an answer from another port of the same server got in, which both allow.',
    );
  if (filtering === 'address-and-port-dependent')
    notes.push('A lost answer looks like filtering: with heavy packet loss, run the check again.');
  if (nat === 'none' && filtering === 'unknown')
    notes.push('No NAT, but a firewall may still filter: the filtering test could not run.');
  if (o.alt?.source === 'port+1' && o.secondary !== 'not-run' && !o.secondary.ok)
    notes.push(
      `Port ${o.alt.endpoint.port} was assumed to be the server's alternate port (the rendezvous's default, PORT+1); ` +
        'if it runs with another --alt-port, give the same --alt-port here.',
    );
  return notes;
}
