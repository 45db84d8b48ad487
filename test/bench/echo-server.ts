/**
 * The benchmark's baseline: a bare `ws` echo server (no protocol, no state), the same options the
 * relay uses (no compression, no client tracking). Run as a child process by run.ts:
 *   node dist/test/bench/echo-server.js PORT
 * Prints "listening PORT" when ready.
 */
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 0);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 4096,
  backlog: 4096,
});
wss.on('connection', (ws) => {
  ws.on('message', (data) => ws.send(data as Buffer));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  const a = wss.address();
  process.stdout.write(`listening ${typeof a === 'string' || a === null ? String(a) : a.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
