/**
 * The story's opening, told from demo events (events.ts): what the run is, the network, the
 * keys, the lab's processes (--real), registration, presence and the introduction asked for.
 */
import { natLabel } from '../../common/nat-behaviour.js';
import { topologyDiagram } from './diagram.js';
import type { DemoEventOf, Who } from './events.js';
import { percent, step, wrap } from './format.js';
import { NAT_KINDS } from './nat-kinds.js';
import type { NatKindInfo } from './nat-kinds.js';
import type { Story } from './story.js';

type Lines = string[];

/** "alice's router is a port-restricted cone (EIM/APDF): it keeps ..." */
function sideText(who: Who, k: NatKindInfo): string {
  if (k.kind === 'none') return `${who} has no NAT: ${k.plain}.`;
  return `${who}'s router is a ${k.name} (${natLabel(k.type)}, --nat ${k.kind}): it ${k.plain}.`;
}

const para = (s: string): Lines => [...wrap(s, ''), ''];

/** The opening of the simulated demo: what a NAT is, each side's, the links, the theory. */
function simulatedHeader(e: DemoEventOf<'setup'>): Lines {
  const [a, b] = [NAT_KINDS[e.nat[0]], NAT_KINDS[e.nat[1]]];
  const links =
    e.delayMs !== undefined
      ? `Every link to the internet adds ${e.delayMs} ms each way`
      : 'Links to the internet add 10 ms (alice), 20 ms (bob) and 5 ms (rendezvous) each way';
  return [
    ...wrap(
      'punchline demo: two peers, alice and bob, try to open a direct, encrypted chat across the internet.',
      '',
    ),
    '',
    ...para(
      'Everything below runs inside this process on a simulated network, so it is instant. The times ' +
        `are simulated time since the start: how long each step takes on real links like these (seed ${String(e.seed)}).`,
    ),
    ...para(
      'What to know: a home router shares one public internet address among the computers behind it. ' +
        'It rewrites their private address (10.x.x.x) to its public one on the way out and remembers the ' +
        'pair (a "NAT mapping"), so replies find their way back. Packets from the internet that match no ' +
        'mapping are dropped. So alice and bob cannot simply send to each other: a rendezvous server on ' +
        'the internet tells each one where the other is, and then both "punch a hole" through their own ' +
        'router by sending at the same time.',
    ),
    ...wrap(sideText('alice', a), '', '  '),
    ...wrap(sideText('bob', b), '', '  '),
    ...wrap(
      '(EIM, APDF and the like are RFC 4787 short names: M for how a router Maps ports to the outside, ' +
        'F for how it Filters what comes in.)',
      '',
    ),
    ...wrap(
      `${links}${e.loss > 0 ? `; alice's and bob's links lose ${percent(e.loss)} of packets, both ways` : ''}.`,
      '',
    ),
    ...wrap(
      `Theory (predictDirect, docs/nat-traversal.md): ${e.labels[0]} with ${e.labels[1]} ` +
        (e.predictedDirect ? 'can open a direct path.' : 'cannot open a direct path. Watch what happens.'),
      '',
    ),
    '',
  ];
}

/** The opening of the --real demo: the lab it runs in, and the theory. */
function realHeader(e: DemoEventOf<'setup'>): Lines {
  const [a, b] = [NAT_KINDS[e.nat[0]], NAT_KINDS[e.nat[1]]];
  return [
    ...para(
      `punchline demo --real: alice behind a ${a.name} (${e.labels[0]}), bob behind a ${b.name} ` +
        `(${e.labels[1]}), in Linux network namespaces with iptables NAT: the real rendezvous and two real ` +
        'chat peers. Times are real: milliseconds since the demo started.',
    ),
    ...para(
      `Theory (predictDirect, docs/nat-traversal.md): ${e.labels[0]} with ${e.labels[1]} ` +
        (e.predictedDirect
          ? 'can open a direct path.'
          : 'cannot open a direct path; the relay will carry the chat.'),
    ),
  ];
}

export function tellSetup(s: Story, e: DemoEventOf<'setup'>): Lines {
  s.setup = e;
  return e.real === true ? realHeader(e) : simulatedHeader(e);
}

export function tellTopology(s: Story, e: DemoEventOf<'topology'>): Lines {
  s.topo = e.topology;
  if (s.real) return ['', ...topologyDiagram(e.topology), ''];
  return ['The network (simulated addresses)', '', ...topologyDiagram(e.topology), '', 'What happens', ''];
}

export function tellKeys(s: Story, e: DemoEventOf<'keys'>): Lines {
  s.keys.push(e);
  if (s.keys.length < 2) return [];
  return step(
    e.t,
    "alice and bob each create a key pair. A peer's id is a hash of its public keys, so nobody else can " +
      'pretend to be alice or bob.',
    s.keys.map((k) => `${k.peer} ${k.fingerprint}`).join(', ') + ' (Ed25519 to sign, X25519 to encrypt)',
  );
}

export function tellLab(_s: Story, e: DemoEventOf<'lab'>): Lines {
  return step(
    e.t,
    `Built the lab: ${e.namespaces} network namespaces, the routers' NAT in iptables ` +
      '(MASQUERADE; conntrack keeps the mappings).',
    `namespaces ${e.prefix}*`,
  );
}

export function tellRendezvousUp(_s: Story, e: DemoEventOf<'rendezvous-up'>): Lines {
  const port = e.endpoint.replace(/^.*:/, '');
  return step(
    e.t,
    `The rendezvous is up on the lab internet: \`punchline rendezvous\`, UDP and a WebSocket relay on port ${port}.`,
    e.endpoint,
  );
}

export function tellChatStarted(_s: Story, e: DemoEventOf<'chat-started'>): Lines {
  return step(
    e.t,
    'alice and bob each start `punchline chat` with a fresh data directory: each creates a key pair, ' +
      'its identity in the room.',
  );
}

export function tellRegistered(s: Story, e: DemoEventOf<'registered'>): Lines {
  const w = e.peer;
  if (e.transport === 'tcp')
    return step(
      e.t,
      `${w}'s relay stream (a WebSocket over TCP) to the rendezvous is up.`,
      `tcp public ${e.public}`,
    );
  s.registered[w] = e.public;
  if (e.transport === 'udp')
    return step(
      e.t,
      `${w} registers with the rendezvous over UDP. The rendezvous sees ${w}'s packets come from ` +
        `${e.public}: the mapping ${w}'s router made.`,
      `${w}${e.id !== undefined ? ` id ${e.id},` : ''} udp ${e.local} -> public ${e.public}`,
    );
  return step(
    e.t,
    s.behind(w)
      ? `The rendezvous sees ${w}'s packets arrive from ${e.public}, the router's public address, ` +
          `and tells ${w}. That is where others can try to reach ${w}.`
      : `The rendezvous sees ${w}'s packets arrive from ${e.public}: ${w}'s own address, ` +
          `since no router changes it.`,
    `${w} registered: private ${e.local}, public ${e.public}`,
  );
}

export function tellPresence(_s: Story, e: DemoEventOf<'presence'>): Lines {
  return step(
    e.t,
    `The rendezvous tells ${e.peer} who else is online in the same room: ${e.sees.join(', ')}.`,
  );
}

export function tellConnect(_s: Story, e: DemoEventOf<'connect'>): Lines {
  return step(
    e.t,
    `${e.peer} asks the rendezvous for an introduction to ${e.target}. The rendezvous sends each of ` +
      `them the other's public and private addresses at the same moment, so both start punching at once: ` +
      `each side's outgoing probes open its own router for the other's.`,
    `CONNECT ${e.target}; INTRODUCE to both`,
  );
}
