import type { Clock, TimerHandle } from '../common/clock.js';
import { Emitter } from '../common/emitter.js';
import type { Identity } from '../common/identity.js';
import type { Logger } from '../common/log.js';
import { backoffDelay } from '../common/path/backoff.js';
import type { MessageStream, StreamConnectOptions, StreamNetwork } from '../common/net/stream.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { decode, encodeRelayFrame, isPunchline } from '../common/wire/messages.js';
import type { Message } from '../common/wire/messages.js';
import type { ServerKeyPin } from './server-pin.js';
import { RendezvousClient } from './rendezvous-client.js';

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
  readonly stats = { relayedIn: 0, relayedOut: 0, dropped: 0, connects: 0 };

  constructor(
    private readonly opts: RelayChannelOptions,
    private readonly c: RelayChannelComponents,
  ) {
    super();
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
    const client = new RendezvousClient(
      { server: ANY, room: this.opts.room, name: this.opts.name(), lan: [], keepaliveMs: 0, transport: 'ws' },
      {
        identity: this.c.identity,
        clock: this.c.clock,
        logger: this.c.logger,
        send: (b) => void stream.send(b),
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
    const delay = backoffDelay(this.tries++, RELAY_RECONNECT, Math.random());
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
    let m: Message;
    try {
      m = decode(data);
    } catch {
      this.stats.dropped++;
      return;
    }
    if (m.type === MsgType.RELAYED) {
      this.stats.relayedIn++;
      this.emit('relayed', { from: m.peer, payload: m.payload });
      return;
    }
    this.client?.onMessage(m, data);
  }

  /** Relay a session packet to an introduced peer; false when the channel is not up. */
  send(to: Uint8Array, payload: Uint8Array): boolean {
    if (!this.ready || !this.stream) return false;
    this.stats.relayedOut++;
    return this.stream.send(encodeRelayFrame(MsgType.RELAY, to, payload));
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
