/**
 * The demo's world and story: a rendezvous and two PeerNodes (alice and bob) on the simulated
 * network (common/net/sim), behind the NATs `--nat` picked, run on the VirtualClock so it all
 * takes no real time. It reports what happens as DemoEvent values (events.ts); the narrator tells them.
 */
import { fingerprint, idText } from '../../common/identity/identity.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import type { SimHost } from '../../common/net/sim/host.js';
import type { SimEvent } from '../../common/net/sim/stats.js';
import { predictDirect } from '../../common/path/predict-direct.js';
import { natLabel } from '../../common/nat-behaviour.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import { PeerNode } from '../peer-node.js';
import { PUNCH_DEFAULTS } from '../puncher.js';
import type { SearchTrace } from '../port-search.js';
import type { CandidateKind } from '../../common/path/candidates.js';
import type { DemoEvent, Outcome, Side, Topology, Who } from './events.js';
import { MESSAGE_TEXT, PEERS, other } from './events.js';
import type { NatKindInfo } from './nat-kinds.js';
import { demoIdentity, seededBytes } from './seeded.js';
import { startTransfer, type TransferRun } from './transfer.js';

export interface DemoOptions {
  nat: [NatKindInfo, NatKindInfo];
  /** Share of packets lost on each peer's link to the internet (its router's uplink), both ways. */
  loss: number;
  /** One-way delay of each internet link, ms; default DEFAULT_DELAYS. */
  delayMs?: number;
  seed: number;
  /** The rendezvous also relays (default true); false shows punching alone. */
  relay?: boolean;
  /** Give up punching after this long (PUNCH_DEFAULTS.deadlineMs). */
  punchDeadlineMs?: number;
  /** --transfer: after the message, alice sends bob this many KiB in bulk (transfer.ts). */
  transferKiB?: number;
}

/**
 * One-way delays when --delay is not given, ms: a nearby rendezvous, alice on a fast line, bob
 * on a slower one, and 1 ms inside each home. Different on purpose, so the two sides' steps
 * happen at visibly different times, as they do on real networks.
 */
export const DEFAULT_DELAYS = { rendezvous: 5, alice: 10, bob: 20, lan: 1 } as const;

const ADDRESSES = {
  rendezvous: { address: '203.0.113.10', port: 7000 },
  alice: { public: '203.0.113.20', lan: '10.1.0.0/24' },
  bob: { public: '203.0.113.30', lan: '10.2.0.0/24' },
} as const;

/** Virtual-time bounds of each act, ms: the demo always ends. */
const REGISTER_MS = 60_000;
const CONNECT_SLACK_MS = 5_000;
/** The session's handshake timeout (30 s, common/session/options.ts) and some slack. */
const SESSION_MS = 35_000;
const DELIVERY_MS = 30_000;
/**
 * --transfer: 16 MiB, the flag's most, took 15.4 s on the relay alone (symmetric,symmetric,
 * seed 1: the relay's 1 MiB/s per peer, rendezvous/options.ts).
 */
const TRANSFER_MS = 60_000;

type Emit = (e: DemoEvent) => void;

/** alice's one message: when it left, its id, and the round trip once the receipt is back. */
interface Message {
  sentAt?: number;
  id?: string;
  rttMs?: number;
  /** --transfer, once it has started: the path events tell how far it got. */
  transfer?: TransferRun;
}

interface Peer {
  who: Who;
  node: PeerNode;
  host: SimHost;
  registered: boolean;
  sees: Set<string>;
  connected?: { path: string; remote: string; ms: number };
  failed?: { code: string; message: string };
  chosen?: { remote: string; kind: CandidateKind; ms: number };
  punchDone: boolean;
  probes: number;
  /** This side's port search, if one ran: its last hit and end. */
  search?: { sockets: number; portProbes: number; found: boolean; hitMs?: number };
  /** The path the session first opened on. */
  firstPath?: string;
}

/** Run the whole story; events go to `emit` as they happen; resolves with the outcome. */
export async function runScenario(opts: DemoOptions, report: Emit): Promise<Outcome> {
  // Closing the nodes at the end cancels what is still running; that is not part of the story.
  let closing = false;
  const emit: Emit = (e) => {
    if (!closing) report(e);
  };
  const w = buildWorld(opts);
  const outcome: Outcome = {
    path: 'none',
    probes: { alice: 0, bob: 0 },
    refused: 0,
    lost: 0,
    delivered: false,
    predictedDirect: predictDirect(opts.nat[0].type, opts.nat[1].type),
    endMs: 0,
  };
  const unobserve = watchNetwork(w, outcome, emit);
  // ---- what the peers report ----
  const msg: Message = {};
  for (const q of PEERS.map((who) => w.peers[who])) subscribe(q, emit, w.now, msg);

  await w.server.start();
  for (const who of PEERS) await w.peers[who].node.start();
  announce(opts, w, outcome, emit);
  try {
    await playActs(w, outcome, msg, emit);
    if (msg.transfer) {
      await w.clock.runUntil(msg.transfer.over, TRANSFER_MS);
      outcome.transfer = msg.transfer.end(`the demo's time ran out after ${TRANSFER_MS / 1000} s`);
    }
  } finally {
    closing = true;
    unobserve();
    for (const who of PEERS) await w.peers[who].node.close();
    w.server.close();
  }
  return finish(w, outcome, msg);
}

/** The world as the peers saw it: a Simulator with the rendezvous and both PeerNodes. */
interface World {
  sim: Simulator;
  clock: Simulator['clock'];
  server: RendezvousServer;
  peers: Record<Who, Peer>;
  /** Simulated ms since the start, to a tenth. */
  now: () => number;
  /** One-way delay of a side's internet link, ms. */
  delay: (who: Who | 'rendezvous') => number;
  deadlineMs: number;
  seed: number;
  transferKiB?: number;
}

/** The rendezvous (UDP, and TCP for the relay) and a PeerNode per side, each behind its NAT. */
function buildWorld(opts: DemoOptions): World {
  const sim = new Simulator({ seed: opts.seed });
  const clock = sim.clock;
  const delay = (who: Who | 'rendezvous'): number => opts.delayMs ?? DEFAULT_DELAYS[who];
  const deadlineMs = opts.punchDeadlineMs ?? PUNCH_DEFAULTS.deadlineMs;
  const random = seededBytes(`punchline-demo/${opts.seed}/random`);
  const rdvHost = sim.addHost('rendezvous', {
    internetAddress: ADDRESSES.rendezvous.address,
    link: { delayMs: delay('rendezvous') },
  });
  // The rendezvous also listens on (simulated) TCP: the relay, the fallback when punching fails.
  const server = new RendezvousServer(
    { host: ADDRESSES.rendezvous.address, port: ADDRESSES.rendezvous.port },
    {
      network: rdvHost.network,
      ...(opts.relay !== false ? { streamNetwork: rdvHost.network } : {}),
      clock,
      randomBytes: random,
    },
  );
  const relayUrl = `ws://${ADDRESSES.rendezvous.address}:${ADDRESSES.rendezvous.port}/`;

  const hostFor = (who: Who, kind: NatKindInfo): SimHost => {
    const link = { delayMs: delay(who), loss: opts.loss };
    if (!kind.policy) return sim.addHost(who, { internetAddress: ADDRESSES[who].public, link });
    const router = sim.addNat(`${who}-router`, {
      publicAddress: ADDRESSES[who].public,
      lanSubnet: ADDRESSES[who].lan,
      ...kind.policy,
      link,
    });
    return sim.addHost(who, { behind: router, link: { delayMs: DEFAULT_DELAYS.lan } });
  };

  const messageIds = { n: 0 };
  const peers = {} as Record<Who, Peer>;
  PEERS.forEach((who, i) => {
    const host = hostFor(who, opts.nat[i]!);
    const node = new PeerNode(
      {
        server: ADDRESSES.rendezvous,
        name: who,
        punch: { deadlineMs },
        ...(opts.relay !== false ? { relayUrl } : {}),
      },
      {
        network: host.network,
        ...(opts.relay !== false ? { streams: host.network } : {}),
        clock,
        identity: demoIdentity(opts.seed, who),
        randomBytes: random,
        newId: () => `m${++messageIds.n}`,
      },
    );
    peers[who] = { who, node, host, registered: false, sees: new Set(), punchDone: false, probes: 0 };
  });
  const now = (): number => Math.round(clock.now() * 10) / 10;
  const transferKiB = opts.transferKiB !== undefined ? { transferKiB: opts.transferKiB } : {};
  return { sim, clock, server, peers, now, delay, deadlineMs, seed: opts.seed, ...transferKiB };
}

/** What the network does: new NAT mappings and dropped packets (counted in the outcome). */
function watchNetwork(w: World, outcome: Outcome, emit: Emit): () => void {
  const { now } = w;
  const destOf = new Map<number, string>();
  return w.sim.observe((e: SimEvent) => {
    if (e.kind === 'send') {
      destOf.set(e.id, e.dst);
      if (destOf.size > 512) destOf.delete(destOf.keys().next().value!);
    } else if (e.kind === 'map') {
      const router = PEERS.find((who) => e.node === `${who}-router`);
      if (router)
        emit({
          t: now(),
          type: 'mapping',
          router,
          internal: e.src,
          external: e.dst,
          to: destOf.get(e.id) ?? '?',
        });
    } else if (e.kind === 'drop') {
      if (e.reason === 'loss') outcome.lost++;
      if (e.reason === 'no-mapping' || e.reason === 'filtered') outcome.refused++;
      emit({ t: now(), type: 'drop', where: e.node, reason: e.reason!, src: e.src, dst: e.dst });
    }
  });
}

/** The story's opening: the setup, the topology with the addresses the peers got, their keys. */
function announce(opts: DemoOptions, w: World, outcome: Outcome, emit: Emit): void {
  const p = (who: Who): Peer => w.peers[who];
  const side = (who: Who, kind: NatKindInfo): Side => {
    const local = p(who).node.local!;
    const base = {
      peer: who,
      nat: kind.kind,
      natLabel: kind.policy ? natLabel(kind.type) : 'no NAT',
      local: `${p(who).host.address}:${local.port}`,
      delayMs: w.delay(who),
      loss: opts.loss,
    };
    return kind.policy ? { ...base, lan: ADDRESSES[who].lan, routerPublic: ADDRESSES[who].public } : base;
  };
  const topology: Topology = {
    rendezvous: `${ADDRESSES.rendezvous.address}:${ADDRESSES.rendezvous.port}`,
    rendezvousDelayMs: w.delay('rendezvous'),
    alice: side('alice', opts.nat[0]),
    bob: side('bob', opts.nat[1]),
  };
  emit({
    t: 0,
    type: 'setup',
    seed: opts.seed,
    nat: [opts.nat[0].kind, opts.nat[1].kind],
    labels: [topology.alice.natLabel, topology.bob.natLabel],
    predictedDirect: outcome.predictedDirect,
    loss: opts.loss,
    ...(opts.delayMs !== undefined ? { delayMs: opts.delayMs } : {}),
  });
  emit({ t: 0, type: 'topology', topology });
  for (const who of PEERS) {
    const id = p(who).node.identity.id;
    emit({ t: 0, type: 'keys', peer: who, id: idText(id), fingerprint: fingerprint(id) });
  }
}

/** The story in three acts; each waits a bounded stretch of virtual time, so the demo always ends. */
async function playActs(w: World, outcome: Outcome, msg: Message, emit: Emit): Promise<void> {
  const { clock, now, deadlineMs } = w;
  const p = (who: Who): Peer => w.peers[who];
  // Act 1: both register; alice sees bob in the room.
  const ready = (): boolean => p('alice').registered && p('bob').registered && p('alice').sees.has('bob');
  if (!(await clock.runUntil(ready, REGISTER_MS))) {
    outcome.error = {
      code: 'SERVER_UNREACHABLE',
      message: `the peers could not register with the rendezvous within ${REGISTER_MS / 1000} s`,
    };
    return;
  }

  // Both have measured their routers and told the server (peer/nat-probe.ts), so the
  // introduction carries both routers' port behaviour: a search can run from the first attempt.
  let measured = false;
  void Promise.all([p('alice').node.natSettled(), p('bob').node.natSettled()]).then(() => (measured = true));
  await clock.runUntil(() => measured, REGISTER_MS);

  // Act 2: alice asks for an introduction; both punch.
  emit({ t: now(), type: 'connect', peer: 'alice', target: 'bob' });
  p('alice')
    .node.connect('bob')
    .catch(() => {
      /* reported through the error event */
    });
  const settled = (q: Peer): boolean => q.connected !== undefined || q.failed !== undefined;
  const punchOver = (q: Peer): boolean => q.punchDone || q.failed !== undefined;
  // Over a relay the message goes at once; otherwise first both sides finish punching...
  await clock.runUntil(
    () => p('alice').connected?.path === 'relay' || (punchOver(p('alice')) && punchOver(p('bob'))),
    deadlineMs + CONNECT_SLACK_MS,
  );
  // ...and the encrypted handshake, racing on the punched addresses and the relay since the
  // introduction, has opened on the path that answered first (or opens now, or gives up).
  await clock.runUntil(() => settled(p('alice')) && settled(p('bob')), SESSION_MS);

  const a = p('alice');
  if (a.connected) {
    // Act 3: an encrypted round trip.
    msg.sentAt = now();
    msg.id = a.node.sendMessage('bob', MESSAGE_TEXT);
    emit({ t: now(), type: 'sent', peer: 'alice', to: 'bob', id: msg.id, text: MESSAGE_TEXT });
    await clock.runUntil(() => msg.rttMs !== undefined, DELIVERY_MS);
    outcome.delivered = msg.rttMs !== undefined;
    if (outcome.delivered && w.transferKiB !== undefined)
      msg.transfer = beginTransfer(w, w.transferKiB, emit);
    if (a.connected.path === 'relay')
      // Punching goes on behind the relay: tell whether it ends in an upgrade or stays relayed.
      await clock.runUntil(() => a.punchDone && p('bob').punchDone, deadlineMs + CONNECT_SLACK_MS);
  }
}

/**
 * The transfer, started once the message's receipt is back: alice's bytes go on the session as
 * it is (on the relay, with a search under way) and keep going when it moves.
 */
function beginTransfer(w: World, kib: number, emit: Emit): TransferRun {
  const p = (who: Who): Peer => w.peers[who];
  const pathOf = (who: Who) => (): string => p(who).connected?.path ?? '?';
  return startTransfer({
    seed: w.seed,
    kib,
    sender: { who: 'alice', node: p('alice').node },
    receiver: { who: 'bob', node: p('bob').node },
    senderPath: pathOf('alice'),
    receiverPath: pathOf('bob'),
    now: w.now,
    emit,
  });
}

/** The outcome, completed from what the peers reported by the end. */
function finish(w: World, outcome: Outcome, msg: Message): Outcome {
  const p = (who: Who): Peer => w.peers[who];
  const a = p('alice');
  if (a.failed) outcome.error = a.failed;
  if (a.connected) {
    // A `path` event may have moved the session (relay -> direct) after it opened.
    outcome.path = a.connected.path === 'relay' ? 'relay' : 'direct';
    outcome.remote = a.connected.remote;
    outcome.sessionMs = a.connected.ms;
  }
  const chosen = PEERS.filter((who) => p(who).chosen);
  if (chosen.length > 0) outcome.punchMs = Object.fromEntries(chosen.map((who) => [who, p(who).chosen!.ms]));
  if (outcome.path === 'direct') outcome.kind = (a.chosen ?? p('bob').chosen)?.kind;
  if (msg.rttMs !== undefined) outcome.rttMs = msg.rttMs;
  if (a.firstPath === 'relay' && outcome.path === 'direct') outcome.relayedFirst = true;
  const searched = PEERS.map((who) => p(who).search).filter((x) => x !== undefined);
  if (searched.length > 0) {
    const hits = searched.map((x) => x.hitMs).filter((x) => x !== undefined);
    outcome.search = {
      sockets: Math.max(...searched.map((x) => x.sockets)),
      portProbes: Math.max(...searched.map((x) => x.portProbes)),
      found: searched.some((x) => x.found),
      ...(hits.length > 0 ? { hitMs: Math.min(...hits) } : {}),
    };
  }
  outcome.probes = { alice: p('alice').probes, bob: p('bob').probes };
  outcome.endMs = w.now();
  return outcome;
}

/** Keep a side's port search figures for the summary (the latest search's). */
function noteSearch(me: Peer, e: SearchTrace): void {
  if (e.type === 'search') me.search = { sockets: 0, portProbes: 0, found: false };
  else if (me.search) {
    me.search.sockets = e.sockets;
    me.search.portProbes = e.portProbes;
    if (e.type === 'search-hit') me.search.hitMs = e.ms;
    else me.search.found = e.found;
  }
}

/** Turn one peer's events into DemoEvent values and keep the state the story's acts wait on. */
function subscribe(me: Peer, emit: Emit, now: () => number, msg: Message): void {
  const who = me.who;
  const peerName = (name: string): Who => (name === 'alice' || name === 'bob' ? name : other(who));
  const n = me.node;
  n.on('registered', (e) => {
    if (me.registered) return;
    me.registered = true;
    const local = n.local ? `${me.host.address}:${n.local.port}` : '?';
    emit({ t: now(), type: 'registered', peer: who, public: e.public, local });
  });
  n.on('presence', (e) => {
    const names = e.peers.map((q) => q.name);
    if (names.every((x) => me.sees.has(x))) return;
    for (const x of names) me.sees.add(x);
    emit({ t: now(), type: 'presence', peer: who, sees: names });
  });
  n.on('trace', (e) => {
    const t = now();
    switch (e.type) {
      case 'probe':
        me.probes++;
        return emit({ t, type: 'probe', peer: who, to: e.to, kind: e.kind, seq: e.seq });
      case 'probe-in':
        return emit({ t, type: 'probe-in', peer: who, from: e.from, known: e.known });
      case 'answer':
        return emit({ t, type: 'answer', peer: who, from: e.from, kind: e.kind, rttMs: e.rttMs });
      case 'chosen':
        me.punchDone = true;
        me.chosen = { remote: e.remote, kind: e.kind, ms: e.ms };
        return emit({ t, type: 'chosen', peer: who, remote: e.remote, kind: e.kind, ms: e.ms });
      case 'failed':
        me.punchDone = true;
        return emit({ t, type: 'punch-failed', peer: who, reason: e.reason });
      case 'search':
      case 'search-hit':
      case 'search-end':
        noteSearch(me, e);
        return emit({ ...e, t, peer: who });
    }
  });
  n.on('connected', (e) => {
    // `path` is 'direct' today; the relay fallback adds 'relay'. Read it as plain text.
    const path: string = e.path;
    me.connected = { path, remote: e.remote, ms: e.ms };
    me.firstPath ??= path;
    emit({ t: now(), type: 'connected', peer: who, path, remote: e.remote, ms: e.ms });
  });
  // Announced by the relay fallback: {peer, path: 'relay' | 'direct', remote}. Read defensively.
  n.on('path', (e: unknown) => {
    if (typeof e !== 'object' || e === null) return;
    const r = e as Record<string, unknown>;
    const path = typeof r.path === 'string' ? r.path : undefined;
    if (!path) return;
    const remote = typeof r.remote === 'string' ? r.remote : '';
    if (me.connected) me.connected = { ...me.connected, path, remote: remote || me.connected.remote };
    if (path === 'direct') me.punchDone = true;
    const transferred = msg.transfer && !msg.transfer.over() ? msg.transfer.received() : undefined;
    emit({
      t: now(),
      type: 'path',
      peer: who,
      path,
      remote,
      ...(transferred !== undefined ? { transferred } : {}),
    });
  });
  n.on('message', (e) => {
    emit({ t: now(), type: 'message', peer: who, from: peerName(e.peer), id: e.messageId, text: e.text });
  });
  n.on('delivered', (e) => {
    if (e.messageId !== msg.id || msg.sentAt === undefined || msg.rttMs !== undefined) return;
    msg.rttMs = Math.round((now() - msg.sentAt) * 10) / 10;
    emit({ t: now(), type: 'delivered', peer: who, to: peerName(e.peer), id: e.messageId, rttMs: msg.rttMs });
  });
  n.on('error', (e) => {
    // An attempt towards the other peer failed (PUNCH_FAILED, ...), and no path carries us yet.
    if (e.peer !== undefined && !me.connected) me.failed ??= { code: e.code, message: e.message };
    emit({ t: now(), type: 'error', peer: who, code: e.code, message: e.message });
  });
}
