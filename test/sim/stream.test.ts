import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { SIM_STREAM_WINDOW_BYTES } from '../../common/net/sim/stream.js';
import { SIM_CONNECT_TIMEOUT_MS } from '../../common/net/sim/stream-connect.js';
import type { SimStream } from '../../common/net/sim/stream.js';
import { Simulator } from '../../common/net/sim/simulator.js';
import { PING_TIMEOUT, TOO_BIG } from '../../common/net/stream.js';
import type { MessageStream } from '../../common/net/stream.js';
import { dec, enc } from './helpers.js';

const SERVER = '203.0.113.10';

/** A server host on the internet with an echo-less recorder listener, and a client behind a NAT. */
async function world(opts: { blockUdp?: boolean; ping?: number; maxMessageBytes?: number } = {}) {
  const sim = new Simulator({ seed: 3 });
  const srv = sim.addHost('srv', { internetAddress: SERVER });
  const nat = sim.addNat('nat', { publicAddress: '203.0.113.20', blockUdp: opts.blockUdp ?? false });
  const cli = sim.addHost('cli', { behind: nat });
  const accepted: { s: MessageStream; got: string[]; at: number[]; closed?: string }[] = [];
  const listener = await srv.network.listenStream(
    '0.0.0.0',
    443,
    (s) => {
      const rec: (typeof accepted)[number] = { s, got: [], at: [] };
      s.onMessage((d) => {
        rec.got.push(dec(d));
        rec.at.push(sim.clock.now());
      });
      s.onClose((r) => (rec.closed = r));
      accepted.push(rec);
    },
    {
      ...(opts.ping ? { pingIntervalMs: opts.ping } : {}),
      ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
    },
  );
  const connect = async (extra: Parameters<typeof cli.network.connectStream>[1] = {}) => {
    const p = cli.network.connectStream(`ws://${SERVER}:443/`, extra);
    let out: MessageStream | undefined;
    let err: unknown;
    p.then(
      (s) => (out = s),
      (e: unknown) => (err = e),
    );
    await sim.runUntil(() => out !== undefined || err !== undefined, 60_000);
    if (err) throw err;
    return out!;
  };
  return { sim, srv, nat, cli, accepted, listener, connect };
}

describe('simulated streams (TCP through the topology)', () => {
  it('a client behind a UDP-blocking NAT gets out over TCP; the server sees the NAT mapping', async () => {
    const w = await world({ blockUdp: true });
    const c = await w.connect();
    expect(w.accepted).toHaveLength(1);
    const server = w.accepted[0]!;
    expect(server.s.remote.address).toBe('203.0.113.20');
    expect(w.nat.streamMappings).toBe(1);
    expect(c.remote).toEqual({ address: SERVER, port: 443 });
    const back: string[] = [];
    c.onMessage((d) => back.push(dec(d)));
    for (let i = 0; i < 5; i++) c.send(enc(`m${i}`));
    server.s.send(enc('hello'));
    await w.sim.run(100);
    expect(server.got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(back).toEqual(['hello']);
    // UDP from the same host still goes nowhere.
    const u = w.cli.network.createUdpSocket();
    u.send(enc('x'), { address: SERVER, port: 7000 });
    await w.sim.run(10);
    expect(w.sim.stats.dropped.blocked).toBe(1);
    expect(w.sim.streams).toMatchObject({ connects: 1, messages: 6, lost: 0 });
  });

  it('takes the links delay (two round trips to open), ignores their loss and keeps order under jitter', async () => {
    const w = await world();
    w.sim.setLink(w.cli, { delayMs: 20, jitterMs: 15, loss: 0.5, duplicate: 0.3, reorder: 0.3 });
    w.sim.setLink(w.srv, { delayMs: 5 });
    const t0 = w.sim.clock.now();
    const c = await w.connect();
    // client 20 + nat 1 + server 5 each way = 26 one way (plus jitter) -> open at >= 2 RTT = 104 ms
    expect(w.sim.clock.now() - t0).toBeGreaterThanOrEqual(104);
    const sentAt = w.sim.clock.now();
    for (let i = 0; i < 300; i++) c.send(enc(String(i)));
    await w.sim.run(2000);
    const s = w.accepted[0]!;
    expect(s.got).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
    expect(s.at[0]! - sentAt).toBeGreaterThanOrEqual(26);
    expect(s.at[0]! - sentAt).toBeLessThan(26 + 15);
    for (let i = 1; i < s.at.length; i++) expect(s.at[i]!).toBeGreaterThanOrEqual(s.at[i - 1]!);
    expect(w.sim.streams.lost).toBe(0);
  });

  it('a receiver that stops reading fills the window, then the sender queue (bufferedAmount); resuming drains it', async () => {
    const w = await world();
    const c = await w.connect();
    const server = w.accepted[0]!.s as SimStream;
    const got: number[] = [];
    c.onMessage((d) => got.push(d.length));
    (c as SimStream).pauseReading();
    const chunk = new Uint8Array(1000);
    for (let i = 0; i < 200; i++) server.send(chunk);
    await w.sim.run(500);
    expect(got).toHaveLength(0);
    // What fits the window left; the rest waits in the sender's queue.
    const windowed = Math.floor(SIM_STREAM_WINDOW_BYTES / 1000);
    expect(server.bufferedAmount).toBe((200 - windowed) * 1000);
    (c as SimStream).resumeReading();
    await w.sim.run(500);
    expect(got).toHaveLength(200);
    expect(server.bufferedAmount).toBe(0);
  });

  it('close propagates after the path delay, releases the NAT mapping, and sends nothing more', async () => {
    const w = await world();
    w.sim.setLink(w.cli, { delayMs: 30 });
    const c = await w.connect();
    let clientClosed: string | undefined;
    c.onClose((r) => (clientClosed = r));
    c.send(enc('last words'));
    c.close('bye');
    expect(c.send(enc('too late'))).toBe(false);
    await w.sim.run(20);
    expect(w.accepted[0]!.closed).toBeUndefined();
    await w.sim.run(50);
    expect(w.accepted[0]!.got).toEqual(['last words']);
    expect(w.accepted[0]!.closed).toBe('closed by remote (1000 bye)');
    expect(clientClosed).toBe('bye');
    expect(w.nat.streamMappings).toBe(0);
    // The listener closing reaches open clients as a 1001.
    const c2 = await w.connect();
    let r2: string | undefined;
    c2.onClose((r) => (r2 = r));
    await w.listener.close();
    await w.sim.run(100);
    expect(r2).toBe('closed by remote (1001 server shutting down)');
  });

  it('refused, unreachable, aborted and admission-refused connects fail with typed errors', async () => {
    const w = await world();
    const attempt = async (url: string, opts: Parameters<typeof w.cli.network.connectStream>[1] = {}) => {
      let err: unknown;
      w.cli.network.connectStream(url, opts).catch((e: unknown) => (err = e));
      await w.sim.runUntil(() => err !== undefined, SIM_CONNECT_TIMEOUT_MS + 1000);
      return err;
    };
    expect(await attempt(`ws://${SERVER}:444/`)).toSatisfy(
      (e) => isPunchlineError(e, 'IO') && /ECONNREFUSED/.test(e.message),
    );
    const t = w.sim.clock.now();
    expect(await attempt('ws://198.51.100.1:443/')).toSatisfy((e) => isPunchlineError(e, 'TIMEOUT'));
    expect(w.sim.clock.now() - t).toBe(SIM_CONNECT_TIMEOUT_MS);
    const ac = new AbortController();
    const p = attempt(`ws://${SERVER}:443/`, { signal: ac.signal });
    ac.abort();
    expect(await p).toSatisfy((e) => isPunchlineError(e, 'ABORTED'));
    await expect(w.cli.network.connectStream('ws://example.org:443/')).rejects.toSatisfy((e) =>
      isPunchlineError(e, 'BAD_ARGUMENT'),
    );
    // An admission hook that says no: the client sees HTTP 429.
    await w.srv.network.listenStream('0.0.0.0', 8443, () => {}, { admit: () => false });
    expect(await attempt(`ws://${SERVER}:8443/`)).toSatisfy(
      (e) => isPunchlineError(e, 'IO') && /429/.test(e.message),
    );
    expect(w.sim.streams).toMatchObject({ refused: 2, timeouts: 1 });
    expect(w.nat.streamMappings).toBe(0);
  });

  it('a dead path (the client moved) is found by the server ping and the client idle timeout', async () => {
    const w = await world({ ping: 1000 });
    const c = await w.connect({ idleTimeoutMs: 3000 });
    let clientClosed: string | undefined;
    c.onClose((r) => (clientClosed = r));
    // Healthy: pings are answered, nothing closes.
    await w.sim.run(5000);
    expect(w.accepted[0]!.closed).toBeUndefined();
    expect(clientClosed).toBeUndefined();
    w.sim.moveHost(w.cli, { internetAddress: '203.0.113.99' });
    c.send(enc('into the void'));
    await w.sim.run(2100);
    expect(w.accepted[0]!.closed).toBe(PING_TIMEOUT);
    expect(w.accepted[0]!.got).toEqual([]);
    await w.sim.run(3000);
    expect(clientClosed).toBe(PING_TIMEOUT);
    expect(w.sim.streams.lost).toBeGreaterThan(0);
  });

  it('a message over the listener maxMessageBytes closes the connection (like ws 1009)', async () => {
    const w = await world({ maxMessageBytes: 100 });
    const c = await w.connect();
    let closed: string | undefined;
    c.onClose((r) => (closed = r));
    c.send(new Uint8Array(100));
    c.send(new Uint8Array(101));
    await w.sim.run(100);
    expect(w.accepted[0]!.got).toHaveLength(1);
    expect(w.accepted[0]!.closed).toBe(TOO_BIG);
    expect(closed).toBe(`closed by remote (1009 ${TOO_BIG})`);
  });

  it('listens on its own or any address only, one listener per port; loopback connects work', async () => {
    const w = await world();
    await expect(w.srv.network.listenStream('0.0.0.0', 443, () => {})).rejects.toThrow(/EADDRINUSE/);
    await expect(w.srv.network.listenStream('10.9.9.9', 80, () => {})).rejects.toThrow(/EADDRNOTAVAIL/);
    const l = await w.srv.network.listenStream('127.0.0.1', 0, () => {});
    expect(l.local.port).toBeGreaterThan(0);
    let got: MessageStream | undefined;
    void w.srv.network.connectStream(`ws://127.0.0.1:443/`).then((s) => (got = s));
    await w.sim.runUntil(() => got !== undefined, 100);
    expect(w.accepted.at(-1)!.s.remote.address).toBe('127.0.0.1');
  });
});
