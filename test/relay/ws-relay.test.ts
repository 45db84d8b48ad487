import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { VirtualClock } from '../../common/clock.js';
import type { Clock } from '../../common/clock.js';
import { generateIdentity } from '../../common/identity/identity.js';
import { isPunchlineError } from '../../common/errors.js';
import type { WsMessageStream } from '../../common/net/ws-stream.js';
import { MsgType } from '../../common/wire/constants.js';
import { encode } from '../../common/wire/messages.js';
import type { RendezvousServer } from '../../rendezvous/server.js';
import { HAVE_OPENSSL } from '../support/proc.js';
import { StreamPeer } from './support/stream-peer.js';
import { startServer, until, wsPeer } from './support/ws-server.js';

const servers: RendezvousServer[] = [];
const peers: StreamPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.stream.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Parameters<typeof startServer>[0] = {}, clock?: Clock) {
  const s = await startServer(options, clock);
  servers.push(s.server);
  return s;
}

async function peer(url: string, opts: Parameters<typeof wsPeer>[1] = {}): Promise<StreamPeer> {
  const p = await wsPeer(url, opts);
  peers.push(p);
  return p;
}

const bytes = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);

/** Source addresses on 127/8, `perIp` connections each (Linux routes all of 127/8 to loopback). */
const sourceIp = (i: number, perIp: number): string => {
  const k = Math.floor(i / perIp);
  return `127.1.${Math.floor(k / 254)}.${(k % 254) + 1}`;
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict-enough parser of the Prometheus text format (0.0.4) for the test. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) {
      helps.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      expect(types.has(m[1]!), `TYPE ${m[1]} twice`).toBe(false);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (-?[0-9.e+]+|NaN)$/.exec(line);
    expect(m, `bad metrics line: ${line}`).not.toBeNull();
    const name = m![1]!;
    expect(types.has(name) && helps.has(name), `${name} has no TYPE/HELP before it`).toBe(true);
    const labels: Record<string, string> = {};
    for (const kv of (m![2] ?? '').split(',').filter(Boolean)) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"$/.exec(kv);
      expect(l, `bad label ${kv}`).not.toBeNull();
      labels[l![1]!] = l![2]!;
    }
    samples.push({ name, labels, value: Number(m![3]) });
  }
  for (const [name, type] of types) if (type === 'counter') expect(name).toMatch(/_total$/);
  return { types, samples };
}

const metric = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('the WebSocket relay on loopback (real ws)', () => {
  it('1,000 concurrent peers register over WebSocket and relay to their partners', async () => {
    // Every wait below ends on its event (an answer, the frames, or the stream's close); the
    // bound is a hang guard only, and so is the registration deadline: on a loaded machine 1,000
    // handshakes can outlast the default 10 s, which is not what this test measures.
    const HANG_GUARD_MS = 240_000;
    const { server: srv, url } = await server({ authTimeoutMs: HANG_GUARD_MS });
    const N = 1000;
    const ps: StreamPeer[] = [];
    const t0 = Date.now();
    // Connect in waves (the listen backlog), 8 per source address (per-IP limit 16 stays on).
    for (let i = 0; i < N; i += 200) {
      const wave = await Promise.all(
        Array.from({ length: Math.min(200, N - i) }, (_, k) =>
          wsPeer(url, { localAddress: sourceIp(i + k, 8) }),
        ),
      );
      ps.push(...wave);
    }
    peers.push(...ps);
    await Promise.all(ps.map((p, i) => p.register(`room${i >> 1}`, `p${i}`, HANG_GUARD_MS)));
    expect(srv.registry.countByTransport()).toEqual({ udp: 0, ws: N });
    expect(srv.streamConnections).toEqual({ open: N, authenticated: N });
    await Promise.all(
      ps.filter((_, i) => i % 2 === 0).map((p, i) => p.connect(ps[2 * i + 1]!.id, HANG_GUARD_MS)),
    );
    const tConnected = Date.now() - t0;

    const FRAMES = 20;
    const t1 = Date.now();
    for (let f = 0; f < FRAMES; f++) for (let i = 0; i < N; i++) ps[i]!.relay(ps[i ^ 1]!.id, bytes(200, f));
    await Promise.all(ps.map((p) => p.waitFor(() => p.relayedIn === FRAMES, HANG_GUARD_MS)));
    const tRelay = Date.now() - t1;
    const s = srv.relayStats;
    expect(s.framesRelayed).toBe(N * FRAMES);
    expect(s.bytesRelayed).toBe(N * FRAMES * 200);
    expect(Object.values(s.dropped).every((n) => n === 0)).toBe(true);
    expect(srv.introduced.sessionsTotal).toBe(N / 2);
    console.log(
      `1000 peers: connected+registered+introduced in ${tConnected} ms; ${N * FRAMES} frames relayed in ${tRelay} ms`,
    );
  }, 300_000);

  it('rate and frame-size limits drop and count while other peers are served', async () => {
    // The server's token buckets run on a clock of the test's: nothing accrues unless it says so,
    // however long the flood takes to arrive on a loaded machine.
    const clock = new VirtualClock();
    const { server: srv, url } = await server({ relayRateFrames: 100, relayBurstFrames: 50 }, clock);
    const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => peer(url)));
    await Promise.all([a!, b!, c!, d!].map((p, i) => p.register('lobby', `n${i}`)));
    await a!.connect(b!.id);
    await c!.connect(d!.id);
    // HELLO, REGISTER and CONNECT or INTRODUCE_ACK from each: all in before time moves, so no
    // INTRODUCE is retransmitted (and acknowledged again) during the flood.
    await until(() => srv.relayStats.messagesIn === 12, 5000, 'the signalling');
    clock.advance(500); // the signalling's tokens come back
    const before = srv.relayStats.messagesIn;
    for (let i = 0; i < 300; i++) a!.relay(b!.id, bytes(10));
    for (let i = 0; i < 20; i++) c!.relay(d!.id, bytes(10));
    c!.relay(d!.id, bytes(1401)); // over the default 1400
    await d!.waitFor(() => d!.relayedIn === 20, 5000);
    await until(() => srv.relayStats.messagesIn - before === 321, 5000, 'all frames in');
    expect(b!.relayedIn).toBeGreaterThanOrEqual(50);
    expect(b!.relayedIn).toBeLessThan(70); // the burst, plus what accrued during the flood
    expect(srv.relayStats.dropped.rate_limited).toBe(300 - b!.relayedIn);
    expect(srv.relayStats.dropped.too_big).toBe(1);
    expect(d!.relayedIn).toBe(20);
  });

  it('refuses unauthenticated and unintroduced relaying', async () => {
    const { server: srv, url } = await server();
    const [a, b, m] = await Promise.all([0, 1, 2].map(() => peer(url)));
    await a!.register('lobby', 'a');
    await b!.register('lobby', 'b');
    m!.relay(b!.id, bytes(10));
    a!.relay(b!.id, bytes(10));
    await until(() => srv.relayStats.framesIn === 2, 2000, 'frames in');
    expect(srv.relayStats.dropped).toMatchObject({ unauthenticated: 1, not_introduced: 1 });
    await a!.connect(b!.id);
    a!.relay(b!.id, bytes(10));
    await b!.waitFor(() => b!.relayedIn === 1, 2000);
    expect(b!.relayedIn).toBe(1);
  });

  it('a slow consumer: the server-side queue stays bounded, overflow is dropped and counted', async () => {
    const cap = 65_536;
    const { server: srv, url } = await server({
      relayQueueBytes: cap,
      relayRateBytes: 1e9,
      relayBurstBytes: 1e9,
      relayRateFrames: 1e7,
      relayBurstFrames: 1e7,
    });
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => peer(url)));
    await Promise.all([a!, b!, c!].map((p, i) => p.register('lobby', `s${i}`)));
    await a!.connect(b!.id);
    await a!.connect(c!.id);
    (b!.stream as WsMessageStream).ws.pause(); // b stops reading its socket
    const heapBefore = process.memoryUsage().heapUsed;
    const N = 20_000;
    const frame = bytes(1000);
    for (let i = 0; i < N; i++) {
      a!.relay(b!.id, frame);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await until(() => srv.relayStats.framesIn === N, 20_000, 'the flood to arrive');
    const s = srv.relayStats;
    expect(s.dropped.slow_consumer).toBeGreaterThan(N / 2);
    expect(s.queueHighWater).toBeLessThanOrEqual(cap);
    // 20 MB went at b; what the server holds for b is bounded (kernel buffers + 64 KiB).
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(heapGrowth).toBeLessThan(16 * 1024 * 1024);
    // Other receivers are served meanwhile.
    a!.relay(c!.id, frame);
    await c!.waitFor(() => c!.relayedIn === 1, 2000);
    // b resumes and gets everything not dropped.
    (b!.stream as WsMessageStream).ws.resume();
    await b!.waitFor(() => b!.relayedIn === N - s.dropped.slow_consumer, 10_000);
    expect(b!.relayedIn + s.dropped.slow_consumer).toBe(N);
    console.log(
      `slow consumer: ${s.dropped.slow_consumer}/${N} dropped, queue high water ${s.queueHighWater} B (cap ${cap}), heap +${(heapGrowth / 1048576).toFixed(1)} MiB`,
    );
  }, 60_000);

  it('/metrics is Prometheus text that matches the counters; /healthz answers JSON', async () => {
    const { server: srv, url, http } = await server();
    const [a, b] = await Promise.all([0, 1].map(() => peer(url)));
    await a!.register('lobby', 'a');
    await b!.register('lobby', 'b');
    await a!.connect(b!.id);
    for (let i = 0; i < 5; i++) a!.relay(b!.id, bytes(100));
    b!.relay(a!.id, bytes(2000)); // too big
    await b!.waitFor(() => b!.relayedIn === 5, 2000);
    await until(() => srv.relayStats.dropped.too_big === 1, 2000, 'the big frame');
    const res = await fetch(`${http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseMetrics(await res.text());
    expect(metric(samples, 'punchline_peers', { transport: 'ws' })).toBe(2);
    expect(metric(samples, 'punchline_peers', { transport: 'udp' })).toBe(0);
    expect(metric(samples, 'punchline_relay_frames_total')).toBe(5);
    expect(metric(samples, 'punchline_relay_bytes_total')).toBe(500);
    expect(metric(samples, 'punchline_relay_dropped_total', { reason: 'too_big' })).toBe(1);
    expect(metric(samples, 'punchline_relay_dropped_total', { reason: 'slow_consumer' })).toBe(0);
    expect(metric(samples, 'punchline_relay_sessions_total')).toBe(1);
    expect(metric(samples, 'punchline_relay_sessions_active')).toBe(1);
    expect(metric(samples, 'punchline_stream_connections')).toBe(2);
    expect(metric(samples, 'punchline_registrations_total')).toBe(2);
    expect(metric(samples, 'process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(types.get('punchline_peers')).toBe('gauge');
    expect(types.get('punchline_relay_dropped_total')).toBe('counter');
    const health = await fetch(`${http}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', peers: 2, connections: 2 });
    expect((await fetch(`${http}/nope`)).status).toBe(404);
    expect((await fetch(`${http}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it.skipIf(!HAVE_OPENSSL)(
    'TLS: wss with a self-signed certificate (trusted through ca), https /healthz; untrusted fails',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tls-'));
      try {
        execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ], { stdio: 'ignore' }); // prettier-ignore
        const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
        const key = readFileSync(path.join(dir, 'key.pem'), 'utf8');
        const { server: srv, url, http } = await server({ tls: { cert, key } });
        expect(url.startsWith('wss://')).toBe(true);
        const a = await peer(url, { ca: cert });
        const b = await peer(url, { ca: cert });
        await a.register('lobby', 'a');
        await b.register('lobby', 'b');
        await a.connect(b.id);
        a.relay(b.id, bytes(64));
        await b.waitFor(() => b.relayedIn === 1, 2000);
        expect(srv.relayStats.framesRelayed).toBe(1);
        const body = await new Promise<string>((resolve, reject) => {
          https
            .get(`${http}/healthz`, { ca: cert }, (res) => {
              let t = '';
              res.on('data', (d: Buffer) => (t += d.toString()));
              res.on('end', () => resolve(t));
            })
            .on('error', reject);
        });
        expect(JSON.parse(body)).toMatchObject({ status: 'ok', peers: 2 });
        await expect(wsPeer(url)).rejects.toSatisfy(
          (e) => isPunchlineError(e, 'IO') && /self.signed/i.test(e.message),
        );
        await expect(wsPeer(url.replace('wss:', 'ws:'))).rejects.toSatisfy((e) => isPunchlineError(e, 'IO'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('text frames close with 1003, oversized messages with 1009, the 17th connection per IP is refused', async () => {
    const { server: srv, url } = await server();
    const closeOf = (ws: WebSocket): Promise<number> => new Promise((r) => ws.on('close', (code) => r(code)));
    const t = new WebSocket(url);
    await new Promise((r) => t.once('open', r));
    const tClosed = closeOf(t);
    t.send('hello');
    expect(await tClosed).toBe(1003);
    const big = new WebSocket(url);
    await new Promise((r) => big.once('open', r));
    const bigClosed = closeOf(big);
    big.on('error', () => {});
    big.send(new Uint8Array(5000));
    expect(await bigClosed).toBe(1009);
    await until(
      () => srv.relayStats.closed.protocol === 1 && srv.relayStats.closed.too_big === 1,
      2000,
      'closes',
    );

    const same = await Promise.all(
      Array.from({ length: 16 }, () => peer(url, { localAddress: '127.0.0.9' })),
    );
    // Refused at TCP accept: a 429 is written, but the socket goes at once and the client may see
    // the reset before the answer (common/net/ws-node.ts).
    await expect(wsPeer(url, { localAddress: '127.0.0.9' })).rejects.toThrow(/429|socket hang up|ECONNRESET/);
    expect(srv.relayStats.refused.ip_limit).toBe(1);
    await peer(url, { localAddress: '127.0.0.10' }); // another address is fine
    same[0]!.stream.close();
    await until(() => srv.streamConnections.open === 16, 2000, 'the close');
    await peer(url, { localAddress: '127.0.0.9' });
  });

  it('ping/pong: a peer that stops answering is dropped after one missed pong', async () => {
    const { server: srv, url } = await server({ pingMs: 200 });
    const a = await peer(url);
    const b = await peer(url);
    await a.register('lobby', 'a');
    await b.register('lobby', 'b');
    // The server pings every connection in one sweep per interval (common/net/ws-node.ts): count
    // the sweeps each client has seen instead of sleeping through them.
    const pings = (p: StreamPeer): { n: number } => {
      const seen = { n: 0 };
      (p.stream as WsMessageStream).ws.on('ping', () => seen.n++);
      return seen;
    };
    const pingsA = pings(a);
    const pingsB = pings(b);
    // Three sweeps answered (each checks the pong to the one before): both still there.
    await until(() => pingsA.n >= 3 && pingsB.n >= 3, 10_000, 'three pings answered');
    expect(srv.registry.size).toBe(2);
    (b.stream as WsMessageStream).ws.pause(); // b's process hangs: nothing read, no pongs
    const atPause = pingsA.n;
    await until(() => srv.relayStats.closed.ping_timeout === 1, 10_000, 'the ping timeout');
    // One missed pong is enough: the sweep after b's last answered ping finds it dead, at most
    // two sweeps after the pause (a sees each sweep's ping; one more may have been in flight).
    expect(pingsA.n - atPause).toBeLessThanOrEqual(3);
    expect(srv.registry.size).toBe(1);
    await a.waitFor(() => a.inbox.some((m) => m.type === MsgType.PRESENCE && m.total === 1), 2000);
  });

  it('a client idle timeout finds a server that went silent', async () => {
    const { url } = await server({ pingMs: 0 });
    const s = await peer(url, { idleTimeoutMs: 300 });
    await s.waitFor(() => s.closedReason !== undefined, 2000);
    expect(s.closedReason).toBe('ping timeout');
  });

  it('signalling works over the stream alone: HELLO, REGISTER with a bad signature is refused', async () => {
    const { server: srv, url } = await server();
    const p = await peer(url);
    const other = generateIdentity();
    const forged = new StreamPeer(p.stream, { ...other, sign: generateIdentity().sign });
    await expect(forged.register('lobby', 'x')).rejects.toThrow(/signature/);
    expect(srv.stats.dropped.bad_signature).toBe(1);
    p.send(encode({ type: MsgType.KEEPALIVE, txid: bytes(8), id: other.id, presenceVersion: 0 }));
    await until(() => srv.stats.dropped.not_registered === 1, 2000, 'the refusal');
  });
});
