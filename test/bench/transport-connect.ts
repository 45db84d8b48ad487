/**
 * Connect time, per trial: from starting the connect to the first message arriving at the peer.
 * Both ends live in the worker process; what is not counted (registering, bootstrapping a DHT
 * node) happens before the clock starts.
 *
 *  - punchline: two fresh PeerNodes (new identities) registered with the real rendezvous
 *    (`punchline rendezvous`, started by the parent), relay URL set as `punchline chat` sets it
 *    (mode auto: the session may open on the relay first and move to the punched path). The clock
 *    starts at sendMessage() to a peer not yet connected, which connects first (peer/peer-node.ts),
 *    and stops at the peer's 'message'. `path` is the path the 'connected' event named.
 *  - hyperdht: a server announced on the testnet; per trial a fresh client node, bootstrapped,
 *    then connect(publicKey) and one byte written on 'open', the clock stopped at the server's 'data'.
 *  - tcp: connect to 127.0.0.1 and one byte (no lookup, no handshake beyond TCP's).
 */
import net from 'node:net';
import { SystemClock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { nodeNetwork } from '../../common/net/udp-node.js';
import { wsStreamNetwork } from '../../common/net/ws-node.js';
import { PeerNode } from '../../peer/peer-node.js';
import { dhtKeyPair, dhtNode, type WorkerArgs, until } from './transport-systems.js';

export const out = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
/** One clock for every process on the machine: the process's time origin plus its monotonic time. */
export const absNow = (): number => performance.timeOrigin + performance.now();

async function punchlineTrial(port: number, i: number): Promise<{ ms: number; path: string }> {
  const server = { address: '127.0.0.1', port };
  const make = (name: string): PeerNode =>
    new PeerNode(
      { server, name, room: `bench${i}`, bind: '127.0.0.1', relayUrl: `ws://127.0.0.1:${port}/` },
      {
        network: nodeNetwork,
        streams: wsStreamNetwork,
        clock: new SystemClock(),
        identity: generateIdentity(),
      },
    );
  const a = make(`a${i}`);
  const b = make(`b${i}`);
  try {
    let seesB = false;
    a.on('presence', (e) => (seesB ||= e.peers.some((p) => p.name === `b${i}`)));
    await Promise.all([a.start(), b.start()]);
    await until(() => seesB, 10_000, 'presence');
    let path = '?';
    let arrived = NaN;
    a.on('connected', (e) => void (path === '?' && (path = e.path)));
    b.on('message', () => void (Number.isNaN(arrived) && (arrived = performance.now())));
    const t0 = performance.now();
    a.sendMessage(`b${i}`, 'hello');
    await until(() => !Number.isNaN(arrived), 15_000, 'first message');
    return { ms: arrived - t0, path };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function dhtTrials(args: WorkerArgs, trials: number): Promise<void> {
  const serverNode = await dhtNode(args.bootstrap, true);
  let arrived = NaN;
  const server = serverNode.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => (arrived = performance.now()));
  });
  await server.listen(dhtKeyPair());
  try {
    for (let i = 0; i < trials; i++) {
      const client = await dhtNode(args.bootstrap);
      try {
        arrived = NaN;
        const t0 = performance.now();
        const s = client.connect(dhtKeyPair().publicKey);
        s.on('error', () => {});
        s.once('open', () => s.write(Buffer.from([1])));
        await until(() => !Number.isNaN(arrived), 15_000, 'first byte');
        out({ event: 'trial', ms: arrived - t0, path: 'direct' });
        s.destroy();
      } finally {
        await client.destroy();
      }
    }
  } finally {
    await server.close();
    await serverNode.destroy();
  }
}

export async function connectTrials(args: WorkerArgs): Promise<void> {
  const trials = args.trials ?? 10;
  if (args.system === 'hyperdht') return dhtTrials(args, trials);
  if (args.system === 'punchline') {
    for (let i = 0; i < trials; i++)
      out({ event: 'trial', ...(await punchlineTrial(args.rendezvousPort!, i)) });
    return;
  }
  let hit: () => void = () => {};
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => hit());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    for (let i = 0; i < trials; i++) {
      let arrived = NaN;
      hit = () => (arrived = performance.now());
      const t0 = performance.now();
      const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.from([1])));
      s.on('error', () => {});
      await until(() => !Number.isNaN(arrived), 5_000, 'first byte').finally(() => s.destroy());
      out({ event: 'trial', ms: arrived - t0, path: 'direct' });
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}
