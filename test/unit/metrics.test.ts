import { describe, expect, it } from 'vitest';
import { httpRoutes, METRICS_CONTENT_TYPE, renderMetrics } from '../../rendezvous/metrics.js';
import type { MetricsSnapshot } from '../../rendezvous/metrics.js';
import { RendezvousStats } from '../../rendezvous/stats.js';
import { StreamFront } from '../../rendezvous/stream-front.js';

const snapshot = (): MetricsSnapshot => {
  const stats = new RendezvousStats();
  stats.registrations = 3;
  stats.dropped.bad_mac = 2;
  const relay = StreamFront.emptyStats();
  relay.framesRelayed = 11;
  return {
    stats,
    relay,
    streams: { open: 4, authenticated: 3 },
    peers: { udp: 2, ws: 3 },
    uniquePeers: 4,
    pairs: { pairs: 5, relaying: 1 },
    relaySessionsTotal: 6,
    rateKeys: { register: 7, connect: 8, evicted: 9 },
    memory: { rss: 1000, heapUsed: Infinity },
  };
};

describe('/metrics: a snapshot rendered from one table', () => {
  it('every metric has HELP and TYPE once, then its samples; records become labelled lines', () => {
    const text = renderMetrics(snapshot());
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n');
    const helps = lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    const types = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(helps).toEqual(types);
    expect(new Set(helps).size).toBe(helps.length);
    for (const l of lines.filter((x) => !x.startsWith('#'))) expect(helps).toContain(l.split(/[{ ]/)[0]);
    expect(lines).toContain('punchline_peers{transport="udp"} 2');
    expect(lines).toContain('punchline_peers{transport="ws"} 3');
    expect(lines).toContain('punchline_peers_total_unique 4');
    expect(lines).toContain('punchline_registrations_total 3');
    expect(lines).toContain('punchline_rendezvous_dropped_total{reason="bad_mac"} 2');
    expect(lines).toContain('punchline_relay_frames_total 11');
    expect(lines).toContain('punchline_relay_pairs 5');
    expect(lines).toContain('punchline_relay_sessions_active 1');
    expect(lines).toContain('punchline_relay_sessions_total 6');
    // Only the two bucket kinds are a gauge; evictions are their own counter.
    expect(lines.filter((l) => l.startsWith('punchline_rate_keys{'))).toEqual([
      'punchline_rate_keys{limit="register"} 7',
      'punchline_rate_keys{limit="connect"} 8',
    ]);
    expect(lines).toContain('punchline_rate_keys_evicted_total 9');
    expect(lines).toContain('nodejs_heap_used_bytes NaN');
  });

  it('the routes: /healthz reads only the cheap numbers, /metrics the snapshot, others 404 or 405', () => {
    let snapshots = 0;
    const route = httpRoutes({
      health: () => ({ peers: 4, connections: 2 }),
      snapshot: () => (snapshots++, snapshot()),
    });
    expect(route('GET', '/healthz')).toEqual({
      status: 200,
      contentType: 'application/json',
      body: '{"status":"ok","peers":4,"connections":2}\n',
    });
    expect(snapshots).toBe(0);
    expect(route('HEAD', '/metrics')).toMatchObject({ status: 200, contentType: METRICS_CONTENT_TYPE });
    expect(snapshots).toBe(1);
    expect(route('POST', '/metrics')?.status).toBe(405);
    expect(route('GET', '/other')).toBeUndefined();
  });
});
