import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

/**
 * Raw TCP clients for the attacker tests (test/relay/ws-dos.test.ts): sockets that say nothing,
 * and a hand-made WebSocket client (RFC 6455 §4.1) that never answers a close frame. Every
 * socket made here is remembered so the test can destroy it whatever happens.
 */
export class RawClients {
  private readonly sockets = new Set<net.Socket>();

  /** Destroy every socket still open (afterEach). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /**
   * A TCP connection that sends nothing. `connected` settles when the handshake is done (or the
   * connection failed), `closed` when the socket is gone (the server closed, reset or refused it).
   */
  silent(port: number, localAddress: string, ignoreFin = false): RawSocket {
    // Without allowHalfOpen, Node ends our side when the server's FIN arrives (a polite client).
    const sock = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: ignoreFin });
    this.sockets.add(sock);
    sock.on('error', () => {});
    // It reads (and drops) what it is sent, or it would never see the server's FIN after a 429.
    sock.resume();
    const raw: RawSocket = {
      sock,
      connected: new Promise<void>((resolve) => {
        sock.once('connect', () => resolve());
        sock.once('close', () => resolve());
      }),
      ended: new Promise<void>((resolve) => {
        sock.once('end', () => resolve());
        sock.once('close', () => resolve());
      }),
      closed: new Promise<void>((resolve) =>
        sock.once('close', () => {
          this.sockets.delete(sock);
          resolve();
        }),
      ),
    };
    return raw;
  }

  /**
   * Connect and ask for a WebSocket upgrade by hand. Resolves with the status code of the answer
   * (101, 429...), or 0 when the server closed the connection without one. After a 101 the client
   * reads frames but never answers them: it ignores pings, the server's close frame and its FIN,
   * and never closes its side, like a peer whose process hangs.
   */
  wsIgnoringClose(port: number, localAddress: string): RawWs {
    const raw = this.silent(port, localAddress, true);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let sawCloseFrame = (): void => {};
    const closeFrame = new Promise<void>((resolve) => (sawCloseFrame = resolve));
    const ws: RawWs = {
      ...raw,
      closeFrames: 0,
      closeFrame,
      status: new Promise<number>((resolve) => {
        raw.sock.once('connect', () => {
          raw.sock.write(
            'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        });
        void raw.closed.then(() => resolve(0));
        raw.sock.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (!upgraded) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const m = /^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, end).toString('latin1'));
            const code = m ? Number(m[1]) : 0;
            buf = buf.subarray(end + 4);
            upgraded = code === 101;
            resolve(code);
            if (!upgraded) return;
          }
          // Server frames are unmasked (RFC 6455 §5.1); count close frames (opcode 0x8, §5.5.1).
          while (buf.length >= 2) {
            const len7 = buf[1]! & 0x7f;
            const header = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
            if (buf.length < header) return;
            const len =
              len7 === 126 ? buf.readUInt16BE(2) : len7 === 127 ? Number(buf.readBigUInt64BE(2)) : len7;
            if (buf.length < header + len) return;
            if ((buf[0]! & 0x0f) === 0x8) {
              ws.closeFrames++;
              sawCloseFrame();
            }
            buf = buf.subarray(header + len);
          }
        });
      }),
    };
    return ws;
  }
}

export interface RawSocket {
  readonly sock: net.Socket;
  readonly connected: Promise<void>;
  /** Settles when the server's side is gone (its FIN or a reset), even if ours stays open. */
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
}

/** A client's close frame (RFC 6455 §5.5.1), masked as §5.3 requires of a client: code 1000. */
export function clientCloseFrame(): Buffer {
  const mask = randomBytes(4);
  const payload = Buffer.from([0x03, 0xe8]);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, payload]);
}

export interface RawWs extends RawSocket {
  /** The HTTP status of the upgrade answer; 0 if the connection closed without one. */
  readonly status: Promise<number>;
  /** Settles when the first close frame from the server arrives. */
  readonly closeFrame: Promise<void>;
  closeFrames: number;
}

/** Reject after `ms` if `p` has not settled: every wait in the attacker tests is bounded. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET a path from a chosen source address: status and body, or status 0 if the connection failed. */
export function getFrom(
  port: number,
  path: string,
  localAddress: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const failed = (): void => resolve({ status: 0, body: '' });
    const req = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', failed);
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', failed);
  });
}
