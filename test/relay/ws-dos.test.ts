import { afterEach, describe, expect, it } from 'vitest';
import type { RendezvousServer } from '../../rendezvous/server.js';
import { clientCloseFrame, getFrom, RawClients, within } from './support/raw-tcp.js';
import type { RawSocket } from './support/raw-tcp.js';
import type { StreamPeer } from './support/stream-peer.js';
import { startServer, until, wsPeer } from './support/ws-server.js';

/**
 * Attacks on the TCP side of the rendezvous (docs/self-hosting.md, "Limits"): sockets that never upgrade, and WebSockets that never register and never
 * answer the close frame. Real sockets on loopback (127/8: Linux routes all of it to lo, so
 * 127.0.0.2 is "another IP"). Every wait is bounded and waits on an event or a counter.
 */

const servers: RendezvousServer[] = [];
const peers: StreamPeer[] = [];
const raw = new RawClients();
afterEach(async () => {
  raw.destroyAll();
  for (const p of peers.splice(0)) p.stream.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  servers.push(s.server);
  return s;
}

async function peer(url: string, opts: Parameters<typeof wsPeer>[1] = {}): Promise<StreamPeer> {
  const p = await wsPeer(url, opts);
  peers.push(p);
  return p;
}

/** Settles once at least `n` of `socks` are closed. */
function closedAtLeast(socks: RawSocket[], n: number): Promise<void> {
  let done = 0;
  return new Promise((resolve) => {
    if (n <= 0) return resolve();
    for (const s of socks)
      void s.closed.then(() => {
        if (++done === n) resolve();
      });
  });
}

/** One sample of /metrics, fetched from `from` (not an address under attack). */
async function gauge(port: number, name: string, from = '127.0.0.3'): Promise<number> {
  const { body } = await getFrom(port, '/metrics', from);
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/**
 * Try WebSocket upgrades from `ip` until one is answered 101 (true), for at most `ms` (false).
 * The server's side of a destroyed socket is not visible to a client that keeps its own side
 * open, so a slot given back is seen this way.
 */
async function upgradesWithin(port: number, ip: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await within(raw.wsIgnoringClose(port, ip).status, 5000, 'an upgrade attempt')) === 101) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('the WebSocket port under attack (real sockets on loopback)', () => {
  it('silent TCP sockets from one IP: at most --max-conns-per-ip are held; another IP still upgrades and /healthz answers', async () => {
    const LIMIT = 4;
    const N = 40;
    const {
      server: srv,
      port,
      url,
    } = await server({
      maxConnsPerIp: LIMIT,
      maxConnections: 8,
      upgradeTimeoutMs: 60_000, // only the per-IP limit is under test here
    });
    const socks = Array.from({ length: N }, () => raw.silent(port, '127.0.0.1'));
    await within(Promise.all(socks.map((s) => s.connected)), 10_000, 'the TCP handshakes');
    // The server refuses (destroys) every socket over the limit at once.
    await within(closedAtLeast(socks, N - LIMIT), 10_000, `${N - LIMIT} sockets refused`);
    const held = socks.filter((s) => !s.sock.closed).length;
    console.log(`silent sockets held from one IP: ${held} of ${N} (limit ${LIMIT})`);
    expect(held).toBe(LIMIT);
    expect(srv.relayStats.refused.ip_limit).toBe(N - LIMIT);
    expect(srv.relayStats.sockets).toBe(LIMIT);
    expect(srv.relayStats.upgrading).toBe(LIMIT);

    // Another IP is served: it upgrades and registers; /healthz and /metrics answer.
    const other = await peer(url, { localAddress: '127.0.0.2' });
    await other.register('lobby', 'other');
    expect((await getFrom(port, '/healthz', '127.0.0.3')).status).toBe(200);
    // The scrape's own connection counts too while it is served (plain HTTP is counted per IP,
    // and answered with Connection: close so it gives its slot back at once).
    expect(await gauge(port, 'punchline_stream_sockets_upgrading')).toBe(LIMIT + 1);
    // The IP at its limit gets nothing more, not even /healthz (the documented choice).
    expect([0, 429]).toContain((await getFrom(port, '/healthz', '127.0.0.1')).status);

    // A slot given back is usable again.
    socks.find((s) => !s.sock.closed)!.sock.destroy();
    await until(() => srv.relayStats.sockets === LIMIT, 5000, 'the freed slot');
    const again = await peer(url, { localAddress: '127.0.0.1' });
    await again.register('lobby', 'again');
  });

  it('sockets that never finish an upgrade are cut at --upgrade-timeout-ms; upgraded ones are not', async () => {
    const { server: srv, port, url } = await server({ upgradeTimeoutMs: 300 });
    const good = await peer(url); // its upgrade timer, had it one left, would fire first
    const silent = Array.from({ length: 5 }, () => raw.silent(port, '127.0.0.1'));
    const slow = raw.silent(port, '127.0.0.1');
    slow.sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // headers that never end (slowloris)
    const all = [...silent, slow];
    await within(Promise.all(all.map((s) => s.closed)), 5000, 'the upgrade timeout');
    // (The server's side of a socket may report its close a moment after the client's.)
    await until(() => srv.relayStats.upgrading === 0, 5000, 'the gauge');
    expect(srv.relayStats.timeouts.upgrade).toBe(all.length);
    expect(good.closedReason).toBeUndefined();
    await good.register('lobby', 'good');
    expect(srv.relayStats.sockets).toBe(1);
  });

  it('a WebSocket that never registers and ignores the close frame is destroyed at --close-timeout-ms, counted until then', async () => {
    const { server: srv, port } = await server({
      authTimeoutMs: 200,
      closeTimeoutMs: 2000,
      maxConnsPerIp: 1,
    });
    const ws = raw.wsIgnoringClose(port, '127.0.0.1');
    expect(await within(ws.status, 5000, 'the upgrade')).toBe(101);
    await within(ws.closeFrame, 5000, 'the close frame at the auth timeout');
    // The client has not answered: its socket is open and still holds this IP's one slot.
    const second = raw.wsIgnoringClose(port, '127.0.0.1');
    const secondStatus = await within(second.status, 5000, 'the second attempt');
    expect(ws.sock.readableEnded).toBe(false); // (the close timeout has not fired yet: the slot was taken)
    console.log(`second connection from the IP while the first is closing: status ${secondStatus}`);
    expect([0, 429]).toContain(secondStatus); // refused at accept (a 429 or just the close)
    expect(srv.relayStats.refused.ip_limit).toBe(1);
    expect(srv.relayStats.closed.auth_timeout).toBe(1);
    expect(srv.relayStats.closing).toBe(1);
    // The server does not wait for the answer that never comes.
    await within(ws.ended, 10_000, 'the close timeout');
    await until(() => srv.relayStats.sockets === 0, 5000, 'the slot given back');
    expect(srv.relayStats.timeouts.close).toBe(1);
    expect(srv.relayStats.closing).toBe(0);
    expect(ws.closeFrames).toBe(1);
    const third = raw.wsIgnoringClose(port, '127.0.0.1');
    expect(await within(third.status, 5000, 'the third attempt')).toBe(101);
  });

  it('a client that starts the closing handshake and then goes silent is destroyed at --close-timeout-ms, counted until then', async () => {
    // (A long auth timeout: only the closing handshake may free the slot here.)
    const { server: srv, port } = await server({
      closeTimeoutMs: 2000,
      maxConnsPerIp: 1,
      authTimeoutMs: 60_000,
    });
    const ws = raw.wsIgnoringClose(port, '127.0.0.1');
    expect(await within(ws.status, 5000, 'the upgrade')).toBe(101);
    ws.sock.write(clientCloseFrame()); // then never closes its side of TCP
    await within(ws.closeFrame, 5000, "the server's answering close frame");
    // Its socket is not destroyed until the client finishes or the timeout: the slot is taken.
    const second = raw.wsIgnoringClose(port, '127.0.0.1');
    expect([0, 429]).toContain(await within(second.status, 5000, 'the second attempt'));
    // The slot comes back when the server destroys the socket (ws alone waited 30 s for it).
    expect(await upgradesWithin(port, '127.0.0.1', 10_000)).toBe(true);
    expect(srv.relayStats.timeouts.close).toBe(1);
    expect(srv.relayStats.closed.remote).toBe(1);
    expect(srv.relayStats.closing).toBe(0);
  });

  it('a server full of WebSockets still answers /healthz (HTTP headroom); the next upgrade gets 429', async () => {
    const { server: srv, port, url } = await server({ maxConnections: 2 });
    await peer(url, { localAddress: '127.0.0.4' });
    await peer(url, { localAddress: '127.0.0.5' });
    await expect(wsPeer(url, { localAddress: '127.0.0.6' })).rejects.toThrow(/429/);
    expect(srv.relayStats.refused.max_connections).toBe(1);
    const health = await getFrom(port, '/healthz', '127.0.0.6');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', connections: 2 });
  });
});
