import { SystemClock } from '../../common/clock.js';
import type { Clock } from '../../common/clock.js';
import { createLogger } from '../../common/log.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { toHex } from '../../common/wire/bytes.js';
import { MsgType } from '../../common/wire/constants.js';
import { IoRedisLink } from '../../rendezvous/cluster/redis-link.js';
import { parseRedisUrl } from '../../rendezvous/cluster/redis-url.js';
import { RendezvousServer } from '../../rendezvous/server.js';
import type { RendezvousOptions } from '../../rendezvous/server.js';
import { StreamPeer } from '../relay/support/stream-peer.js';
import { until, wsPeer } from '../relay/support/ws-server.js';
import type { RedisProcess } from '../support/redis.js';

/**
 * Faster beats for tests (production: 2 s and 10 s). Every node of a test shares one event loop:
 * on a loaded machine a turn can take hundreds of ms, and a 400 ms grace judged live nodes dead
 * (a mirrored member dropped mid-test). 2.5 s is five times any stall seen under load 14.
 */
export const HEARTBEAT_MS = 250;
export const GRACE_MS = 2500;

export interface Node {
  server: RendezvousServer;
  url: string;
  http: string;
  /** Log lines (JSON), for "said once" checks. */
  logs: { msg: string; [k: string]: unknown }[];
}

/** A rendezvous node on 127.0.0.1 (UDP and TCP), a member of the cluster on `redis`. */
export async function startNode(
  redis: RedisProcess,
  nodeId: string,
  options: RendezvousOptions = {},
  clock: Clock = new SystemClock(),
): Promise<Node> {
  const logs: Node['logs'] = [];
  const logger = createLogger('info', {}, (line) => void logs.push(JSON.parse(line) as Node['logs'][0]));
  const server = new RendezvousServer(
    { host: '127.0.0.1', port: 0, ...options },
    {
      network: nodeNetwork,
      streamNetwork: wsStreamNetwork,
      clock,
      logger,
      cluster: {
        link: new IoRedisLink(parseRedisUrl(redis.url)),
        nodeId,
        heartbeatMs: HEARTBEAT_MS,
        graceMs: GRACE_MS,
      },
    },
  );
  await server.start();
  const port = server.tcpEndpoint!.port;
  await until(() => server.clusterNode!.health().up, 10_000, `${nodeId} reaching redis`);
  return { server, url: `ws://127.0.0.1:${port}/`, http: `http://127.0.0.1:${port}`, logs };
}

/** A registered stream peer on `node`. */
export async function member(
  node: Node,
  room: string,
  name: string,
  peers: StreamPeer[],
): Promise<StreamPeer> {
  const p = await wsPeer(node.url);
  peers.push(p);
  await p.register(room, name);
  return p;
}

/** Whether `node`'s registry holds `peer` mirrored from another node. */
export const mirrors = (node: Node, peer: StreamPeer): boolean =>
  node.server.registry.get(peer.idHex)?.node !== undefined;

/** Ids `peer` has been told joined (full lists and deltas), minus those told gone since. */
export function seen(peer: StreamPeer): Set<string> {
  const ids = new Set<string>();
  for (const m of peer.inbox) {
    if (m.type === MsgType.PRESENCE) for (const x of m.members) ids.add(toHex(x.id));
    if (m.type === MsgType.PRESENCE_DELTA)
      for (const e of m.entries)
        if (e.name === undefined) ids.delete(toHex(e.id));
        else ids.add(toHex(e.id));
  }
  return ids;
}

export { until };
