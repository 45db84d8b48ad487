import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import type { Identity } from '../common/identity/identity.js';
import type { Logger } from '../common/log.js';
import { backoffDelay, unitDraw } from '../common/path/backoff.js';
import type { MessageStream, StreamConnectOptions, StreamNetwork } from '../common/net/stream.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import type { RelayPolicy } from '../common/wire/constants.js';
import { decode, encodeRelayFrame, isPunchline } from '../common/wire/messages.js';
import { RelayPacer } from './relay-pacer.js';
import type { ServerKeyPin } from './server-pin.js';
import { RendezvousClient } from './rendezvous-client.js';
import { decodeOrDrop } from '../common/wire/decode-or-drop.js';

/**
 * Reconnecting to the server's stream: 1 s doubling to 30 s with jitter, so a restarted server
 * is not met by every peer at the same instant.
 */
export const RELAY_RECONNECT = { initialMs: 1_000, maxMs: 30_000, factor: 2, jitter: 0.3 };

/** Close and reconnect when nothing (not even the server's 30 s ping) arrived for this long. */
export const RELAY_IDLE_TIMEOUT_MS = 75_000;

export interface RelayChannelOptions {
  /** ws://host:port/ or wss://host:port/ */
  url: string;
  room: string;
  name: () => string;
  connect?: StreamConnectOptions;
}

export interface RelayChannelComponents {
  streams: StreamNetwork;
  identity: Identity;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  serverPin: ServerKeyPin;
}

export interface RelayChannelEvents extends Record<string, unknown> {
  /** A new rendezvous client runs over a fresh connection: the owner subscribes to it. */
  client: RendezvousClient;
  /** Registered over the stream: relaying works. */
  up: Record<string, never>;
  down: { reason: string };
  /** A session packet relayed from `from`. */
  relayed: { from: Uint8Array; payload: Uint8Array };
  /** A connection attempt failed (another follows on the backoff). */
  failed: RelayFailure;
}

/**
 * Why the relay could not be reached. `tls` (its certificate is not trusted) and `http` (what
 * answered is not a WebSocket relay) are set-up mistakes that retrying cannot fix: the user is
 * told. `network` (refused, unreachable, timed out) and `busy` (the server is full: 429/503) may
 * pass by themselves.
 */
export interface RelayFailure {
  kind: 'tls' | 'http' | 'busy' | 'network';
  message: string;
}

/** TLS verification failures as Node reports them (err.code of the socket error). */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Sort a failed connection attempt into a RelayFailure, with a message that says what to do. */
export function relayFailure(url: string, e: unknown): RelayFailure {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const code = err.cause?.code;
  const http = /server answered HTTP (\d+)/.exec(err.message ?? '');
  if (code !== undefined && TLS_TRUST_CODES.has(code))
    return {
      kind: 'tls',
      message:
        `the relay ${url} has a certificate this client does not trust (${err.cause?.message ?? code}); ` +
        'if it is yours (self-signed), pass its CA with --ca-file FILE',
    };
  if (http) {
    const status = Number(http[1]);
    if (status === 429 || status === 503)
      return { kind: 'busy', message: `the relay ${url} is full (HTTP ${status})` };
    return {
      kind: 'http',
      message:
        `${url} answered HTTP ${status}, not a WebSocket upgrade: is it a punchline rendezvous, at its ` +
        'main port (the one its "listening on tcp" line shows)?',
    };
  }
  const why = (err.message ?? String(e)).startsWith(`${url}: `)
    ? err.message.slice(url.length + 2)
    : (err.message ?? String(e));
  return { kind: 'network', message: `the relay ${url}: ${why}` };
}

const ANY = { address: 'relay', port: 0 };

/**
 * The peer's one WebSocket to the rendezvous (the TCP fallback): the same rendezvous messages as
 * over UDP, so it registers, sees presence and gets introductions even where UDP is blocked; and
 * RELAY frames that carry already-encrypted session packets to introduced peers by id.
 */
export class RelayChannel extends Emitter<RelayChannelEvents> {
  private stream: MessageStream | undefined;
  private client: RendezvousClient | undefined;
  private retryTimer: TimerHandle | undefined;
  private tries = 0;
  private closed = false;
  private connecting = false;
  ready = false;
  readonly stats = { relayedIn: 0, relayedOut: 0, dropped: 0, connects: 0, policies: 0 };
  /** Keeps what this peer sends within the server's relay limits (peer/relay-pacer.ts). */
  private pacer: RelayPacer;

  constructor(
    private readonly opts: RelayChannelOptions,
    private readonly c: RelayChannelComponents,
  ) {
    super();
    this.pacer = new RelayPacer(c.clock);
  }

  /** The relay limits this channel paces under: the server's RELAY_POLICY, or the defaults. */
  get policy(): RelayPolicy {
    return this.pacer.policy;
  }

  get rendezvous(): RendezvousClient | undefined {
    return this.ready ? this.client : undefined;
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed || this.connecting || this.stream) return;
    this.connecting = true;
    let stream: MessageStream;
    try {
      stream = await this.c.streams.connectStream(this.opts.url, {
        maxMessageBytes: Limits.MAX_RELAY_PAYLOAD + Limits.RELAY_HEADER_BYTES + 64,
        // The server pings every 30 s; two and a half missed pings mean the connection is dead.
        idleTimeoutMs: RELAY_IDLE_TIMEOUT_MS,
        ...this.opts.connect,
      });
    } catch (e) {
      this.connecting = false;
      this.c.logger.debug('relay connect failed', { url: this.opts.url, error: String(e) });
      this.emit('failed', relayFailure(this.opts.url, e));
      this.retry();
      return;
    }
    this.connecting = false;
    if (this.closed) {
      stream.close('closing');
      return;
    }
    this.stats.connects++;
    this.stream = stream;
    // Fresh buckets at the server: the defaults until this one announces its own.
    this.pacer = new RelayPacer(this.c.clock);
    const client = new RendezvousClient(
      { server: ANY, room: this.opts.room, name: this.opts.name(), lan: [], keepaliveMs: 0, transport: 'ws' },
      {
        identity: this.c.identity,
        clock: this.c.clock,
        logger: this.c.logger,
        send: (b) => void this.put(stream, b),
        randomBytes: this.c.randomBytes,
        serverPin: this.c.serverPin,
      },
    );
    this.client = client;
    client.on('registered', () => {
      this.tries = 0;
      this.ready = true;
      this.emit('up', {});
    });
    stream.onMessage((data) => this.onData(data));
    stream.onClose((reason) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.client = undefined;
      client.close(false);
      const wasReady = this.ready;
      this.ready = false;
      if (wasReady) this.emit('down', { reason });
      this.retry();
    });
    this.emit('client', client);
    client.start();
  }

  private retry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = backoffDelay(this.tries++, RELAY_RECONNECT, unitDraw(this.c.randomBytes));
    this.retryTimer = this.c.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private onData(data: Uint8Array): void {
    if (!isPunchline(data)) {
      this.stats.dropped++;
      return;
    }
    const m = decodeOrDrop(decode, data, () => this.stats.dropped++);
    if (!m) return;
    if (m.type === MsgType.RELAYED) {
      this.stats.relayedIn++;
      this.emit('relayed', { from: m.peer, payload: m.payload });
      return;
    }
    if (m.type === MsgType.RELAY_POLICY) {
      this.stats.policies++;
      this.pacer.setPolicy(m);
      return;
    }
    this.client?.onMessage(m, data);
  }

  /** Relay a session packet to an introduced peer; false when the channel is not up. */
  send(to: Uint8Array, payload: Uint8Array): boolean {
    if (!this.ready || !this.stream) return false;
    this.stats.relayedOut++;
    return this.put(this.stream, encodeRelayFrame(MsgType.RELAY, to, payload));
  }

  /**
   * ms until a session packet of `payload` bytes may be relayed without going over the server's
   * limits (0: now, or the channel is down and the packet goes nowhere anyway).
   */
  wait(payload: number): number {
    return this.ready ? this.pacer.wait(payload) : 0;
  }

  /** Every message on the stream costs the server's tokens: charge it to the pacer. */
  private put(stream: MessageStream, bytes: Uint8Array): boolean {
    this.pacer.onSent(bytes.byteLength);
    return stream.send(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.c.clock.clearTimeout(this.retryTimer);
    this.client?.close(); // LEAVE over the stream too (the only way out when UDP is blocked)
    this.stream?.close('closing', 1000);
    this.stream = undefined;
    this.ready = false;
  }
}
