import type { HttpAnswer } from '../common/net/stream.js';
import type { ClusterStats } from './cluster/shared.js';
import type { Transport } from './registry.js';
import type { RendezvousStats } from './stats.js';
import type { RelayStats } from './stream-front.js';

/**
 * /healthz and /metrics on the TCP port. Metrics are the Prometheus text exposition format
 * (version 0.0.4): `# HELP`, `# TYPE`, then `name{label="value"} number` lines. docs/self-hosting.md
 * lists every metric; keep the two in step.
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What /metrics reports, read at once from the server (RendezvousServer.snapshot). */
export interface MetricsSnapshot {
  readonly stats: Readonly<RendezvousStats>;
  readonly relay: Readonly<RelayStats>;
  /** Stream connections open, and those of them registered as a peer. */
  readonly streams: { open: number; authenticated: number };
  /** Registered peers by transport binding (a peer on both counts in both), and each once. */
  readonly peers: Record<Transport, number>;
  readonly uniquePeers: number;
  /** Introduced pairs live now, those of them that have relayed, and relayed pairs ever. */
  readonly pairs: { pairs: number; relaying: number };
  readonly relaySessionsTotal: number;
  readonly rateKeys: { register: number; connect: number; evicted: number };
  readonly memory: { rss: number; heapUsed: number };
  /** In a cluster only: this node's counters, members cluster-wide (mirrored ones too), live nodes. */
  readonly cluster?: {
    readonly stats: Readonly<ClusterStats>;
    readonly members: number;
    readonly mirrored: number;
    readonly liveNodes: number;
    readonly up: boolean;
  };
}

/** What the HTTP routes read: /healthz its two numbers (cheap), /metrics a whole snapshot. */
export interface MetricsSource {
  /** `status` undefined: ok; degraded (with `reason`) on a cluster node that cannot reach Redis. */
  health(): { status?: 'ok' | 'degraded'; reason?: string; peers: number; connections: number };
  snapshot(): MetricsSnapshot;
}

type Kind = 'counter' | 'gauge';

/** One metric: a number, or one line per key of a record (under `label`). */
interface Metric {
  name: string;
  kind: Kind;
  help: string;
  value: (s: MetricsSnapshot) => number | Readonly<Record<string, number>>;
  label?: string;
  /** Listed only when this holds (the cluster's metrics, on a cluster node). */
  when?: (s: MetricsSnapshot) => boolean;
}

const inCluster = (s: MetricsSnapshot): boolean => s.cluster !== undefined;
/** The cluster's part of a snapshot; only read when inCluster holds. */
const cl = (s: MetricsSnapshot): NonNullable<MetricsSnapshot['cluster']> => s.cluster!;

/** Every metric, in the order /metrics lists them (docs/self-hosting.md, "Health and metrics"). */
const METRICS: readonly Metric[] = [
  {
    name: 'punchline_peers',
    kind: 'gauge',
    help: 'Registered peers by transport binding (a peer on both UDP and WebSocket counts in both).',
    value: (s) => s.peers,
    label: 'transport',
  },
  {
    name: 'punchline_peers_total_unique',
    kind: 'gauge',
    help: 'Registered peers (each once).',
    value: (s) => s.uniquePeers,
  },
  {
    name: 'punchline_stream_connections',
    kind: 'gauge',
    help: 'Open WebSocket connections.',
    value: (s) => s.streams.open,
  },
  {
    name: 'punchline_stream_connections_authenticated',
    kind: 'gauge',
    help: 'Open WebSocket connections registered as a peer.',
    value: (s) => s.streams.authenticated,
  },
  {
    name: 'punchline_stream_sockets',
    kind: 'gauge',
    help: 'TCP connections held on the WebSocket port, in any phase (what the per-IP and total limits count).',
    value: (s) => s.relay.sockets,
  },
  {
    name: 'punchline_stream_sockets_upgrading',
    kind: 'gauge',
    help: 'TCP connections accepted and not (yet) upgraded to a WebSocket, plain HTTP included.',
    value: (s) => s.relay.upgrading,
  },
  {
    name: 'punchline_stream_sockets_closing',
    kind: 'gauge',
    help: 'Closed WebSocket connections whose TCP connection is not destroyed yet.',
    value: (s) => s.relay.closing,
  },
  {
    name: 'punchline_stream_timeouts_total',
    kind: 'counter',
    help: 'TCP connections destroyed by a timeout: not upgraded in time, or closing handshake not finished.',
    value: (s) => s.relay.timeouts,
    label: 'reason',
  },
  {
    name: 'punchline_stream_accepted_total',
    kind: 'counter',
    help: 'WebSocket connections accepted.',
    value: (s) => s.relay.accepted,
  },
  {
    name: 'punchline_stream_refused_total',
    kind: 'counter',
    help: 'Connections refused, by limit (at TCP accept, or the upgrade answered 429).',
    value: (s) => s.relay.refused,
    label: 'reason',
  },
  {
    name: 'punchline_stream_closed_total',
    kind: 'counter',
    help: 'WebSocket connections closed, by reason.',
    value: (s) => s.relay.closed,
    label: 'reason',
  },
  {
    name: 'punchline_stream_messages_received_total',
    kind: 'counter',
    help: 'Messages received on WebSocket connections (every type).',
    value: (s) => s.relay.messagesIn,
  },
  {
    name: 'punchline_relay_frames_received_total',
    kind: 'counter',
    help: 'RELAY frames received.',
    value: (s) => s.relay.framesIn,
  },
  {
    name: 'punchline_relay_frames_total',
    kind: 'counter',
    help: 'Frames relayed (sent on as RELAYED).',
    value: (s) => s.relay.framesRelayed,
  },
  {
    name: 'punchline_relay_bytes_total',
    kind: 'counter',
    help: 'Payload bytes relayed.',
    value: (s) => s.relay.bytesRelayed,
  },
  {
    name: 'punchline_relay_dropped_total',
    kind: 'counter',
    help: 'Messages the relay dropped, by reason (rate_limited counts every message type).',
    value: (s) => s.relay.dropped,
    label: 'reason',
  },
  {
    name: 'punchline_relay_sessions_total',
    kind: 'counter',
    help: 'Introduced pairs that relayed at least one frame.',
    value: (s) => s.relaySessionsTotal,
  },
  {
    name: 'punchline_relay_sessions_active',
    kind: 'gauge',
    help: 'Introduced pairs, still live, that have relayed.',
    value: (s) => s.pairs.relaying,
  },
  {
    name: 'punchline_relay_pairs',
    kind: 'gauge',
    help: 'Introduced pairs allowed to relay now.',
    value: (s) => s.pairs.pairs,
  },
  {
    name: 'punchline_relay_queue_high_water_bytes',
    kind: 'gauge',
    help: 'Largest receiver queue (WebSocket bufferedAmount) left after a relayed frame.',
    value: (s) => s.relay.queueHighWater,
  },
  {
    name: 'punchline_udp_datagrams_received_total',
    kind: 'counter',
    help: 'UDP datagrams received.',
    value: (s) => s.stats.datagramsIn,
  },
  {
    name: 'punchline_udp_datagrams_sent_total',
    kind: 'counter',
    help: 'UDP datagrams sent.',
    value: (s) => s.stats.datagramsOut,
  },
  {
    name: 'punchline_stun_requests_total',
    kind: 'counter',
    help: 'STUN requests received.',
    value: (s) => s.stats.stunRequests,
  },
  {
    name: 'punchline_registrations_total',
    kind: 'counter',
    help: 'Successful registrations (UDP and WebSocket).',
    value: (s) => s.stats.registrations,
  },
  {
    name: 'punchline_introductions_total',
    kind: 'counter',
    help: 'Introductions made.',
    value: (s) => s.stats.introductions,
  },
  {
    name: 'punchline_signature_checks_total',
    kind: 'counter',
    help: 'REGISTER signatures verified (valid or not): what --register-rate bounds per source.',
    value: (s) => s.stats.signatureChecks,
  },
  {
    name: 'punchline_rate_limited_total',
    kind: 'counter',
    help: 'Requests refused by a rate limit before any work: register (per source IP), connect (per member).',
    value: (s) => s.stats.rateLimited,
    label: 'limit',
  },
  {
    name: 'punchline_rate_keys',
    kind: 'gauge',
    help: 'Rate-limit buckets held: register (per source IP or IPv6 /64), connect (per member).',
    value: (s) => ({ register: s.rateKeys.register, connect: s.rateKeys.connect }),
    label: 'limit',
  },
  {
    name: 'punchline_rate_keys_evicted_total',
    kind: 'counter',
    help: 'Rate-limit buckets forgotten to stay within --max-rate-keys.',
    value: (s) => s.rateKeys.evicted,
  },
  {
    name: 'punchline_registrations_refused_total',
    kind: 'counter',
    help: 'Registrations refused after their signature verified, by reason.',
    value: (s) => s.stats.refused,
    label: 'reason',
  },
  {
    name: 'punchline_presence_datagrams_total',
    kind: 'counter',
    help: 'Presence datagrams sent: full lists (joins, resyncs) and deltas.',
    value: (s) => s.stats.presence.datagrams,
    label: 'kind',
  },
  {
    name: 'punchline_presence_bytes_total',
    kind: 'counter',
    help: 'Presence bytes sent (whole datagrams), by kind.',
    value: (s) => s.stats.presence.bytes,
    label: 'kind',
  },
  {
    name: 'punchline_presence_resyncs_total',
    kind: 'counter',
    help: 'Full member lists sent because a member asked (a gap, a stale KEEPALIVE).',
    value: (s) => s.stats.presence.resyncs,
  },
  {
    name: 'punchline_presence_deferred_total',
    kind: 'counter',
    help: 'Presence held back by a limit: burst (a delta waited for --presence-interval-ms), resync (--presence-resync-ms).',
    value: (s) => s.stats.presence.deferred,
    label: 'reason',
  },
  {
    name: 'punchline_expired_total',
    kind: 'counter',
    help: 'Peers expired for missing keepalives.',
    value: (s) => s.stats.expired,
  },
  {
    name: 'punchline_rendezvous_dropped_total',
    kind: 'counter',
    help: 'Rendezvous messages dropped, by reason (UDP and WebSocket).',
    value: (s) => s.stats.dropped,
    label: 'reason',
  },
  {
    name: 'punchline_cluster_messages_total',
    kind: 'counter',
    help: 'Cluster messages this node received from other nodes (in) and published (out), relay frames included.',
    value: (s) => ({ in: cl(s).stats.messagesIn, out: cl(s).stats.messagesOut }),
    label: 'direction',
    when: inCluster,
  },
  {
    name: 'punchline_cluster_relay_frames_total',
    kind: 'counter',
    help: 'Relay frames forwarded to the node holding their target (out), and received from other nodes (in).',
    value: (s) => ({ in: cl(s).stats.framesFromNodes, out: cl(s).stats.framesForwarded }),
    label: 'direction',
    when: inCluster,
  },
  {
    name: 'punchline_cluster_redis_errors_total',
    kind: 'counter',
    help: 'Redis commands that failed (Redis unreachable, a timeout), and relay frames not forwarded for it.',
    value: (s) => cl(s).stats.redisErrors,
    when: inCluster,
  },
  {
    name: 'punchline_cluster_malformed_total',
    kind: 'counter',
    help: 'Cluster messages and member records that did not decode (dropped).',
    value: (s) => cl(s).stats.malformed,
    when: inCluster,
  },
  {
    name: 'punchline_cluster_name_conflicts_total',
    kind: 'counter',
    help: 'Names found held by another member when claimed again after a Redis outage, or mirrored records refused.',
    value: (s) => cl(s).stats.nameConflicts,
    when: inCluster,
  },
  {
    name: 'punchline_cluster_members',
    kind: 'gauge',
    help: 'Members cluster-wide as this node sees them: held here (local) and mirrored from other nodes.',
    value: (s) => ({ local: cl(s).members - cl(s).mirrored, mirrored: cl(s).mirrored }),
    label: 'held',
    when: inCluster,
  },
  {
    name: 'punchline_cluster_nodes',
    kind: 'gauge',
    help: 'Nodes heard within the grace, this one included.',
    value: (s) => cl(s).liveNodes,
    when: inCluster,
  },
  {
    name: 'punchline_cluster_redis_up',
    kind: 'gauge',
    help: '1 while this node reaches Redis, 0 while it does not (then /healthz says degraded).',
    value: (s) => (cl(s).up ? 1 : 0),
    when: inCluster,
  },
  {
    name: 'process_resident_memory_bytes',
    kind: 'gauge',
    help: 'Resident memory size in bytes.',
    value: (s) => s.memory.rss,
  },
  {
    name: 'nodejs_heap_used_bytes',
    kind: 'gauge',
    help: 'V8 heap in use, bytes.',
    value: (s) => s.memory.heapUsed,
  },
];

const fmt = (v: number): string => (Number.isFinite(v) ? String(v) : 'NaN');

export function renderMetrics(s: MetricsSnapshot): string {
  const lines: string[] = [];
  for (const { name, kind, help, value, label = '', when } of METRICS) {
    if (when && !when(s)) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    const v = value(s);
    if (typeof v === 'number') lines.push(`${name} ${fmt(v)}`);
    else for (const [k, n] of Object.entries(v)) lines.push(`${name}{${label}="${k}"} ${fmt(n)}`);
  }
  return lines.join('\n') + '\n';
}

/** The HTTP routes on the stream port: GET/HEAD /healthz and /metrics; anything else 404. */
export function httpRoutes(source: MetricsSource): (method: string, path: string) => HttpAnswer | undefined {
  return (method, path) => {
    if (method !== 'GET' && method !== 'HEAD')
      return { status: 405, contentType: 'text/plain', body: 'GET only\n' };
    if (path === '/healthz') {
      const { status = 'ok', reason, peers, connections } = source.health();
      // Degraded is still 200: the node serves its own members (docs/self-hosting.md).
      const body = { status, ...(reason !== undefined ? { reason } : {}), peers, connections };
      return { status: 200, contentType: 'application/json', body: JSON.stringify(body) + '\n' };
    }
    if (path === '/metrics')
      return { status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(source.snapshot()) };
    return undefined;
  };
}
