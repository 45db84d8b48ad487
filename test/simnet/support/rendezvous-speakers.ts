import { generateIdentity } from '../../../common/identity/identity.js';
import type { Identity } from '../../../common/identity/identity.js';
import { silentLogger } from '../../../common/log.js';
import type { SimHost } from '../../../common/net/sim/host.js';
import type { DatagramSocket, Endpoint } from '../../../common/net/types.js';
import { toHex } from '../../../common/wire/bytes.js';
import { MsgType } from '../../../common/wire/constants.js';
import { decode, encode } from '../../../common/wire/messages.js';
import type { Cookie, Message } from '../../../common/wire/messages.js';
import { RendezvousClient } from '../../../peer/rendezvous-client.js';
import { ServerKeyPin } from '../../../peer/server-pin.js';
import type { RendezvousOptions, RendezvousServer } from '../../../rendezvous/server.js';
import { RENDEZVOUS_DEFAULTS as D } from '../../../rendezvous/server.js';
import { RDV, RelayWorld } from '../../relay/support/sim-relay.js';

/**
 * Speakers for the server cost-bound tests (server-limits.test.ts, presence-fanout.test.ts): raw
 * UDP senders that hold a cookie, RendezvousClients on hosts of their own, and a started world.
 */

export interface Raw {
  host: SimHost;
  sock: DatagramSocket;
  inbox: { m: Message; raw: Uint8Array }[];
  cookie: Cookie;
  local: Endpoint;
}

/** A raw UDP speaker at `address`: its socket, everything it received, and a cookie for it. */
export async function raw(w: RelayWorld, address: string, port = 4000): Promise<Raw> {
  const host = w.sim.addHost(`raw-${address}-${port}`, { internetAddress: address });
  const sock = host.network.createUdpSocket();
  const inbox: Raw['inbox'] = [];
  sock.onMessage((d) => inbox.push({ m: decode(d), raw: d }));
  await sock.bind(port);
  sock.send(encode({ type: MsgType.HELLO, txid: new Uint8Array(8).fill(9) }), RDV);
  await w.run(() => inbox.some((x) => x.m.type === MsgType.COOKIE), 1000);
  const cookie = inbox.find((x) => x.m.type === MsgType.COOKIE)?.m;
  if (cookie?.type !== MsgType.COOKIE) throw new Error('no cookie');
  return { host, sock, inbox, cookie, local: { address, port } };
}

let txids = 0;
export const txid = (): Uint8Array => {
  const t = new Uint8Array(8);
  new DataView(t.buffer).setUint32(4, ++txids);
  return t;
};

/** Answers to `txid` in `inbox`. */
export const answers = (r: Raw, t: Uint8Array): Message[] =>
  r.inbox.filter((x) => 'txid' in x.m && toHex(x.m.txid) === toHex(t)).map((x) => x.m);

export const errorsWith = (r: Raw, code: number): number =>
  r.inbox.filter((x) => x.m.type === MsgType.ERROR && x.m.code === code).length;

/** A RendezvousClient on a simulated host of its own. `drop` may discard a server message first. */
export async function client(
  w: RelayWorld,
  address: string,
  name: string,
  room: string,
  drop: (m: Message) => boolean = () => false,
): Promise<{ c: RendezvousClient; identity: Identity }> {
  const host = w.sim.addHost(`c-${address}`, { internetAddress: address });
  const sock = host.network.createUdpSocket();
  await sock.bind(5000);
  const identity = generateIdentity();
  const rng = w.sim.rng(`client-${address}`);
  const c = new RendezvousClient(
    { server: RDV, room, name, lan: [], keepaliveMs: D.keepaliveMs, transport: 'udp' },
    {
      identity,
      clock: w.sim.clock,
      logger: silentLogger,
      send: (b, to) => sock.send(b, to),
      randomBytes: (n) => rng.fill(new Uint8Array(n)),
      serverPin: new ServerKeyPin(),
    },
  );
  sock.onMessage((d) => {
    const m = decode(d);
    if (!drop(m)) c.onMessage(m, d);
  });
  c.start();
  return { c, identity };
}

/** The ids (hex) the server holds in `room`, sorted. */
export const roomIds = (s: RendezvousServer, room: string): string[] =>
  s.registry
    .members(room)
    .map((r) => r.idHex)
    .sort();
export const listIds = (c: RendezvousClient): string[] => c.members.map((m) => toHex(m.id)).sort();

export async function world(options: RendezvousOptions = {}, seed = 1): Promise<RelayWorld> {
  const w = new RelayWorld(options, seed);
  await w.start();
  return w;
}
