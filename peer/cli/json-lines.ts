import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import type { PeerChatService } from '../chat/service.js';
import type { PeerNode } from '../peer-node.js';

/**
 * The headless JSON-lines contract (docs/cli.md): commands on stdin, events on stdout, one JSON
 * object per line. It is public and stable: fields are only ever added.
 */
export type Command =
  | { cmd: 'connect'; peer: string }
  | { cmd: 'send'; peer: string; text: string; action?: boolean }
  | { cmd: 'peers' }
  | { cmd: 'stats'; peer: string }
  | { cmd: 'trust'; peer: string }
  | { cmd: 'quit' };

/** A command line may carry a 1 MB text, JSON-escaped (up to 6 bytes a character in the worst case). */
export const MAX_COMMAND_LINE = 8 * 1024 * 1024;

export function parseCommand(line: string): Command {
  if (line.length > MAX_COMMAND_LINE)
    throw new PunchlineError('BAD_ARGUMENT', `command line longer than ${MAX_COMMAND_LINE} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new PunchlineError('BAD_ARGUMENT', 'not a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new PunchlineError('BAD_ARGUMENT', 'not a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0)
      throw new PunchlineError('BAD_ARGUMENT', `"${String(o.cmd)}" needs a non-empty string "${k}"`);
    return o[k] as string;
  };
  switch (o.cmd) {
    case 'connect':
      return { cmd: 'connect', peer: str('peer') };
    case 'send': {
      if (o.action !== undefined && typeof o.action !== 'boolean')
        throw new PunchlineError('BAD_ARGUMENT', '"send": "action" must be true or false');
      return {
        cmd: 'send',
        peer: str('peer'),
        text: str('text'),
        ...(o.action === true ? { action: true } : {}),
      };
    }
    case 'peers':
      return { cmd: 'peers' };
    case 'stats':
      return { cmd: 'stats', peer: str('peer') };
    case 'trust':
      return { cmd: 'trust', peer: str('peer') };
    case 'quit':
      return { cmd: 'quit' };
    default:
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `unknown cmd ${JSON.stringify(o.cmd)}; expected connect, send, peers, stats, trust or quit`,
      );
  }
}

/**
 * Wire a PeerNode to JSON lines. With a chat service, sends go through its outbox (they survive
 * a restart) and incoming messages are reported once across restarts (its history). Resolves
 * when the user quits or stdin ends.
 */
export function runJsonLines(
  node: PeerNode,
  input: Readable,
  output: Writable,
  chat?: PeerChatService,
): Promise<void> {
  const out = (e: Record<string, unknown>): void => {
    output.write(JSON.stringify(e) + '\n');
  };
  node.on('registered', (e) => out({ event: 'registered', ...e }));
  node.on('presence', (e) => out({ event: 'presence', ...e }));
  node.on('connected', (e) => out({ event: 'connected', ...e }));
  node.on('path', (e) => out({ event: 'path', ...e }));
  if (chat)
    chat.on('message', (m) => {
      if (m.outgoing) return;
      out({
        event: 'message',
        from: m.fromName,
        from_id: m.fromId,
        id: m.id,
        text: m.text,
        ts: m.ts,
        room: m.conversation.kind === 'room',
        ...(m.action ? { action: true } : {}),
      });
    });
  else node.on('message', (e) => out({ event: 'message', ...e }));
  node.on('sent', (e) => out({ event: 'sent', ...e }));
  node.on('delivered', (e) => out({ event: 'delivered', ...e }));
  node.on('disconnected', (e) => out({ event: 'disconnected', ...e }));
  // The chat service passes the node's errors on, and adds its own (KEY_CHANGED).
  if (chat) chat.on('error', (e) => out({ event: 'error', ...e }));
  else node.on('error', (e) => out({ event: 'error', ...e }));
  node.on('server', (e) => out({ event: 'server', ...e }));

  return new Promise<void>((resolve) => {
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      rl.close();
      resolve();
    };
    rl.on('line', (line) => {
      if (done || line.trim() === '') return;
      let c: Command;
      try {
        c = parseCommand(line);
      } catch (e) {
        const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
        out({ event: 'error', code: err.code, message: err.message });
        return;
      }
      try {
        switch (c.cmd) {
          case 'connect':
            node.connect(c.peer).catch(() => {
              /* failures arrive as error events */
            });
            break;
          case 'send':
            if (chat)
              chat.send({ kind: 'peer', peerId: node.resolve(c.peer).link.idHex }, c.text, {
                action: c.action === true,
              });
            else node.sendMessage(c.peer, c.text, { action: c.action === true });
            break;
          case 'peers':
            out({ event: 'peers', peers: node.peerList() });
            break;
          case 'stats': {
            const { punch, ...rest } = node.peerStats(c.peer);
            out({
              event: 'stats',
              ...rest,
              ...(punch ? { connect_ms: punch.ms, candidates: punch.candidates } : {}),
            });
            break;
          }
          case 'trust':
            if (!chat) throw new PunchlineError('BAD_ARGUMENT', 'trust needs the chat service');
            chat.trust(c.peer);
            out({ event: 'trusted', peer: c.peer, id: node.resolve(c.peer).link.idHex });
            break;
          case 'quit':
            finish();
            break;
        }
      } catch (e) {
        const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
        out({ event: 'error', code: err.code, message: err.message });
      }
    });
    rl.on('close', finish);
  });
}
