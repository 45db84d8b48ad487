import { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import { SystemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { PunchlineError } from '../errors.js';
import { connectAttempt } from './connect-attempt.js';
import type { MessageStream, StreamConnectOptions, StreamNetwork } from './stream.js';
import { listenWs } from './ws-listen.js';
import { WsMessageStream } from './ws-stream.js';

/**
 * The stream seam over WebSocket (RFC 6455, package `ws`) on node:http / node:https: the
 * production transport of the TCP fallback. One event loop serves every connection (no thread
 * or process per connection). Binary frames only: a text frame is a protocol error (close 1003).
 * No permessage-deflate: the payloads are encrypted (incompressible), and compression state
 * would cost ~300 KiB per connection.
 *
 * This file opens the client's connections; ws-stream.ts wraps a connection as a MessageStream,
 * ws-listen.ts is the server side.
 */

export interface WsNetworkComponents {
  /** Drives the ping sweep and client idle checks; default the system clock. */
  clock?: Clock;
}

/** A StreamNetwork on `ws`: `connectStream('ws://…' | 'wss://…')` and `listenStream` (HTTP or TLS). */
export function createWsStreamNetwork(components: WsNetworkComponents = {}): StreamNetwork {
  const clock = components.clock ?? new SystemClock();
  return {
    connectStream: (url, opts) => connectWs(url, opts ?? {}, clock),
    listenStream: (host, port, onStream, opts) => listenWs(host, port, onStream, opts ?? {}, clock),
  };
}

/** The default production instance. */
export const wsStreamNetwork: StreamNetwork = createWsStreamNetwork();

function connectWs(url: string, opts: StreamConnectOptions, clock: Clock): Promise<MessageStream> {
  return connectAttempt<MessageStream>(opts.signal, (a) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
      if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new Error('scheme');
    } catch {
      return a.fail(new PunchlineError('BAD_ARGUMENT', `not a ws:// or wss:// URL: ${url}`));
    }
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
      ...(opts.maxMessageBytes ? { maxPayload: opts.maxMessageBytes } : {}),
      ...(opts.ca ? { ca: typeof opts.ca === 'string' ? opts.ca : Buffer.from(opts.ca) } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    a.onFail(() => ws.terminate());
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      a.fail(new PunchlineError('IO', `${url}: server answered HTTP ${String(res.statusCode)}`));
    });
    ws.once('error', (err) => a.fail(new PunchlineError('IO', `${url}: ${err.message}`, { cause: err })));
    let socket: Duplex | undefined;
    ws.once('upgrade', (res) => (socket = res.socket));
    ws.once('open', () => {
      if (a.settled) return;
      const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'wss:' ? 443 : 80;
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      a.open(
        new WsMessageStream(
          ws,
          { address: host, port },
          { clock, idleTimeoutMs: opts.idleTimeoutMs ?? 0, ...(socket ? { socket } : {}) },
        ),
      );
    });
  });
}
