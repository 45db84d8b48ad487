import type { HttpAnswer } from '../common/net/stream.js';
import type { RendezvousServer } from './server.js';

/**
 * /healthz and /metrics on the TCP port. Metrics are the Prometheus text exposition format
 * (version 0.0.4): `# HELP`, `# TYPE`, then `name{label="value"} number` lines. docs/self-hosting.md
 * lists every metric; keep the two in step.
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge';

class Exposition {
  private readonly lines: string[] = [];
  metric(name: string, kind: Kind, help: string, values: number | Record<string, number>, label = ''): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    if (typeof values === 'number') this.lines.push(`${name} ${fmt(values)}`);
    else for (const [k, v] of Object.entries(values)) this.lines.push(`${name}{${label}="${k}"} ${fmt(v)}`);
    return this;
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const fmt = (v: number): string => (Number.isFinite(v) ? String(v) : 'NaN');

export function renderMetrics(server: RendezvousServer): string {
  const s = server.stats;
  const r = server.relayStats;
  const streams = server.streamConnections;
  const pairs = server.introduced.counts(server.now());
  const mem = process.memoryUsage();
  return new Exposition()
    .metric(
      'punchline_peers',
      'gauge',
      'Registered peers by transport binding (a peer on both UDP and WebSocket counts in both).',
      { ...server.registry.countByTransport() },
      'transport',
    )
    .metric('punchline_peers_total_unique', 'gauge', 'Registered peers (each once).', server.registry.size)
    .metric('punchline_stream_connections', 'gauge', 'Open WebSocket connections.', streams.open)
    .metric(
      'punchline_stream_connections_authenticated',
      'gauge',
      'Open WebSocket connections registered as a peer.',
      streams.authenticated,
    )
    .metric(
      'punchline_stream_sockets',
      'gauge',
      'TCP connections held on the WebSocket port, in any phase (what the per-IP and total limits count).',
      r.sockets,
    )
    .metric(
      'punchline_stream_sockets_upgrading',
      'gauge',
      'TCP connections accepted and not (yet) upgraded to a WebSocket, plain HTTP included.',
      r.upgrading,
    )
    .metric(
      'punchline_stream_sockets_closing',
      'gauge',
      'Closed WebSocket connections whose TCP connection is not destroyed yet.',
      r.closing,
    )
    .metric(
      'punchline_stream_timeouts_total',
      'counter',
      'TCP connections destroyed by a timeout: not upgraded in time, or closing handshake not finished.',
      { ...r.timeouts },
      'reason',
    )
    .metric('punchline_stream_accepted_total', 'counter', 'WebSocket connections accepted.', r.accepted)
    .metric(
      'punchline_stream_refused_total',
      'counter',
      'Connections refused, by limit (at TCP accept, or the upgrade answered 429).',
      { ...r.refused },
      'reason',
    )
    .metric(
      'punchline_stream_closed_total',
      'counter',
      'WebSocket connections closed, by reason.',
      { ...r.closed },
      'reason',
    )
    .metric(
      'punchline_stream_messages_received_total',
      'counter',
      'Messages received on WebSocket connections (every type).',
      r.messagesIn,
    )
    .metric('punchline_relay_frames_received_total', 'counter', 'RELAY frames received.', r.framesIn)
    .metric(
      'punchline_relay_frames_total',
      'counter',
      'Frames relayed (sent on as RELAYED).',
      r.framesRelayed,
    )
    .metric('punchline_relay_bytes_total', 'counter', 'Payload bytes relayed.', r.bytesRelayed)
    .metric(
      'punchline_relay_dropped_total',
      'counter',
      'Messages the relay dropped, by reason (rate_limited counts every message type).',
      { ...r.dropped },
      'reason',
    )
    .metric(
      'punchline_relay_sessions_total',
      'counter',
      'Introduced pairs that relayed at least one frame.',
      server.introduced.sessionsTotal,
    )
    .metric(
      'punchline_relay_sessions_active',
      'gauge',
      'Introduced pairs, still live, that have relayed.',
      pairs.relaying,
    )
    .metric('punchline_relay_pairs', 'gauge', 'Introduced pairs allowed to relay now.', pairs.pairs)
    .metric(
      'punchline_relay_queue_high_water_bytes',
      'gauge',
      'Largest receiver queue (WebSocket bufferedAmount) left after a relayed frame.',
      r.queueHighWater,
    )
    .metric('punchline_udp_datagrams_received_total', 'counter', 'UDP datagrams received.', s.datagramsIn)
    .metric('punchline_udp_datagrams_sent_total', 'counter', 'UDP datagrams sent.', s.datagramsOut)
    .metric('punchline_stun_requests_total', 'counter', 'STUN requests received.', s.stunRequests)
    .metric(
      'punchline_registrations_total',
      'counter',
      'Successful registrations (UDP and WebSocket).',
      s.registrations,
    )
    .metric('punchline_introductions_total', 'counter', 'Introductions made.', s.introductions)
    .metric(
      'punchline_signature_checks_total',
      'counter',
      'REGISTER signatures verified (valid or not): what --register-rate bounds per source.',
      s.signatureChecks,
    )
    .metric(
      'punchline_rate_limited_total',
      'counter',
      'Requests refused by a rate limit before any work: register (per source IP), connect (per member).',
      { ...s.rateLimited },
      'limit',
    )
    .metric(
      'punchline_rate_keys',
      'gauge',
      'Rate-limit buckets held: register (per source IP or IPv6 /64), connect (per member).',
      { register: server.rateKeys.register, connect: server.rateKeys.connect },
      'limit',
    )
    .metric(
      'punchline_rate_keys_evicted_total',
      'counter',
      'Rate-limit buckets forgotten to stay within --max-rate-keys.',
      server.rateKeys.evicted,
    )
    .metric(
      'punchline_registrations_refused_total',
      'counter',
      'Registrations refused after their signature verified, by reason.',
      { ...s.refused },
      'reason',
    )
    .metric(
      'punchline_presence_datagrams_total',
      'counter',
      'Presence datagrams sent: full lists (joins, resyncs) and deltas.',
      { ...s.presence.datagrams },
      'kind',
    )
    .metric(
      'punchline_presence_bytes_total',
      'counter',
      'Presence bytes sent (whole datagrams), by kind.',
      { ...s.presence.bytes },
      'kind',
    )
    .metric(
      'punchline_presence_resyncs_total',
      'counter',
      'Full member lists sent because a member asked (a gap, a stale KEEPALIVE).',
      s.presence.resyncs,
    )
    .metric(
      'punchline_presence_deferred_total',
      'counter',
      'Presence held back by a limit: burst (a delta waited for --presence-interval-ms), resync (--presence-resync-ms).',
      { ...s.presence.deferred },
      'reason',
    )
    .metric('punchline_expired_total', 'counter', 'Peers expired for missing keepalives.', s.expired)
    .metric(
      'punchline_rendezvous_dropped_total',
      'counter',
      'Rendezvous messages dropped, by reason (UDP and WebSocket).',
      { ...s.dropped },
      'reason',
    )
    .metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss)
    .metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, bytes.', mem.heapUsed)
    .text();
}

/** The HTTP routes on the stream port: GET/HEAD /healthz and /metrics; anything else 404. */
export function httpRoutes(
  server: RendezvousServer,
): (method: string, path: string) => HttpAnswer | undefined {
  return (method, path) => {
    if (method !== 'GET' && method !== 'HEAD')
      return { status: 405, contentType: 'text/plain', body: 'GET only\n' };
    if (path === '/healthz') {
      const streams = server.streamConnections;
      return {
        status: 200,
        contentType: 'application/json',
        body:
          JSON.stringify({
            status: 'ok',
            peers: server.registry.size,
            connections: streams.open,
          }) + '\n',
      };
    }
    if (path === '/metrics')
      return { status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(server) };
    return undefined;
  };
}
