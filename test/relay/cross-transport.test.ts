import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateIdentity } from '../../common/identity/identity.js';
import { NodeUdpSocket } from '../../common/net/udp-node.js';
import { Limits, MsgType, WireError } from '../../common/wire/constants.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Cookie, Message } from '../../common/wire/messages.js';
import type { RendezvousServer } from '../../rendezvous/server.js';
import { rawRegister } from '../support/raw-register.js';
import { startServer, until } from './support/ws-server.js';

/**
 * A captured registration replayed on the other transport from the same address and port
 * (docs/security.md, "Registration replay across transports"). The cookie binds the transport,
 * so a UDP REGISTER sent again over a WebSocket (or the reverse) is refused as stale and takes
 * nothing over. Real sockets on loopback: UDP and TCP may share a local port number, which is
 * exactly what the attacker needs.
 */

const servers: RendezvousServer[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A UDP socket on 127.0.0.1 that records every decoded datagram it gets. */
async function udpClient(port = 0): Promise<{ sock: NodeUdpSocket; inbox: Message[]; port: number }> {
  const sock = new NodeUdpSocket();
  closers.push(() => sock.close());
  const inbox: Message[] = [];
  sock.onMessage((d) => inbox.push(decode(d)));
  const local = await sock.bind(port, '127.0.0.1');
  return { sock, inbox, port: local.port };
}

/** A WebSocket from 127.0.0.1:`localPort` that records every decoded message it gets. */
async function wsClient(
  url: string,
  localPort?: number,
): Promise<{ ws: WebSocket; inbox: Message[]; port: number }> {
  const ws = new WebSocket(url, { localAddress: '127.0.0.1', ...(localPort ? { localPort } : {}) });
  closers.push(() => ws.terminate());
  const inbox: Message[] = [];
  ws.on('message', (d: Buffer) => inbox.push(decode(new Uint8Array(d))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const port = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
  return { ws, inbox, port };
}

const txid = (): Uint8Array => new Uint8Array(randomBytes(Limits.TXID_BYTES));
const answerTo = (inbox: Message[], id: Uint8Array): Message | undefined =>
  inbox.find((m) => 'txid' in m && Buffer.compare(m.txid, id) === 0);

describe('a REGISTER replayed on the other transport from the same address and port', () => {
  it('UDP -> WebSocket: refused as stale; the victim keeps its UDP registration and gets no relay binding', async () => {
    const { server, url, port } = await startServer();
    servers.push(server);
    const victim = await udpClient();
    const to = { address: '127.0.0.1', port };
    const hello = txid();
    victim.sock.send(encode({ type: MsgType.HELLO, txid: hello }), to);
    await until(() => answerTo(victim.inbox, hello) !== undefined, 10_000, 'COOKIE');
    const cookie = answerTo(victim.inbox, hello) as Cookie;
    const regTx = txid();
    const captured = rawRegister(generateIdentity(), cookie, regTx, { room: 'r', name: 'victim' }).bytes;
    victim.sock.send(captured, to);
    await until(() => answerTo(victim.inbox, regTx)?.type === MsgType.REGISTERED, 10_000, 'REGISTERED');

    // The attacker connects from the victim's address and port number, over TCP.
    const attacker = await wsClient(url, victim.port);
    expect(attacker.port).toBe(victim.port);
    const before = server.stats.dropped.bad_cookie;
    attacker.ws.send(captured);
    await until(() => answerTo(attacker.inbox, regTx) !== undefined, 10_000, 'an answer to the replay');
    const answer = answerTo(attacker.inbox, regTx)!;
    expect(answer.type).toBe(MsgType.ERROR);
    expect(answer.type === MsgType.ERROR && answer.code).toBe(WireError.STALE);
    expect(server.stats.dropped.bad_cookie).toBe(before + 1);
    expect(server.registry.countByTransport()).toEqual({ udp: 1, ws: 0 });
  });

  it('WebSocket -> UDP: refused as stale; the attacker gets no REGISTERED, presence or id', async () => {
    const { server, url, port } = await startServer();
    servers.push(server);
    const victim = await wsClient(url);
    const hello = txid();
    victim.ws.send(encode({ type: MsgType.HELLO, txid: hello }));
    await until(() => answerTo(victim.inbox, hello) !== undefined, 10_000, 'COOKIE');
    const cookie = answerTo(victim.inbox, hello) as Cookie;
    const regTx = txid();
    const captured = rawRegister(generateIdentity(), cookie, regTx, {
      room: 'r',
      name: 'victim',
      transport: 'ws',
    }).bytes;
    victim.ws.send(captured);
    await until(() => answerTo(victim.inbox, regTx)?.type === MsgType.REGISTERED, 10_000, 'REGISTERED');

    const attacker = await udpClient(victim.port);
    const before = server.stats.dropped.bad_cookie;
    attacker.sock.send(captured, { address: '127.0.0.1', port });
    await until(() => answerTo(attacker.inbox, regTx) !== undefined, 10_000, 'an answer to the replay');
    const answer = answerTo(attacker.inbox, regTx)!;
    expect(answer.type === MsgType.ERROR && answer.code).toBe(WireError.STALE);
    expect(server.stats.dropped.bad_cookie).toBe(before + 1);
    expect(attacker.inbox.every((m) => m.type === MsgType.ERROR)).toBe(true);
    expect(server.registry.countByTransport()).toEqual({ udp: 0, ws: 1 });
  });
});
