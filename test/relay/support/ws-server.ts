import { SystemClock } from '../../../common/clock.js';
import type { Clock } from '../../../common/clock.js';
import { generateIdentity } from '../../../common/identity/identity.js';
import type { Identity } from '../../../common/identity/identity.js';
import type { StreamConnectOptions } from '../../../common/net/stream.js';
import { nodeNetwork } from '../../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../../common/net/ws-node.js';
import { RendezvousServer } from '../../../rendezvous/server.js';
import type { RendezvousOptions } from '../../../rendezvous/server.js';
import { StreamPeer } from './stream-peer.js';

/**
 * The real server on 127.0.0.1 (UDP and TCP on one port number), in this process. `clock` drives
 * the server's timers and token buckets (the sockets' own ping timers stay on the system clock).
 */
export async function startServer(
  options: RendezvousOptions = {},
  clock: Clock = new SystemClock(),
): Promise<{ server: RendezvousServer; url: string; http: string; port: number }> {
  const server = new RendezvousServer(
    { host: '127.0.0.1', port: 0, ...options },
    { network: nodeNetwork, streamNetwork: wsStreamNetwork, clock },
  );
  const udp = await server.start();
  const tcp = server.tcpEndpoint!;
  if (tcp.port !== udp.port) throw new Error('tcp and udp ports differ');
  const scheme = options.tls ? 'wss' : 'ws';
  return {
    server,
    url: `${scheme}://127.0.0.1:${tcp.port}/`,
    http: `${options.tls ? 'https' : 'http'}://127.0.0.1:${tcp.port}`,
    port: tcp.port,
  };
}

export async function wsPeer(
  url: string,
  opts: StreamConnectOptions = {},
  identity: Identity = generateIdentity(),
): Promise<StreamPeer> {
  return new StreamPeer(await wsStreamNetwork.connectStream(url, opts), identity);
}

/** Poll (real time) until `done`, or throw after `ms`. For counters that change without a message to us. */
export async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
