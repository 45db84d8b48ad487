import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import type { PeerChatService } from '../chat/service.js';
import type { PeerNode } from '../peer-node.js';
import {
  connectedJson,
  disconnectedJson,
  messageJson,
  messageStateJson,
  pathJson,
  registeredJson,
  statsJson,
} from './json-views.js';

/**
 * The headless JSON-lines contract (docs/cli.md): commands on stdin, events on stdout, one JSON
 * object per line. It is public and stable: fields are only ever added.
 */
export type Command = (
  | { cmd: 'connect'; peer: string }
  | { cmd: 'send'; peer: string; text: string; action?: boolean }
  | { cmd: 'send_room'; text: string }
  | { cmd: 'peers' }
  | { cmd: 'stats'; peer: string }
  | { cmd: 'trust'; peer: string }
  | { cmd: 'quit' }
) & { req?: Req };

/** A caller's tag for a command, echoed in its answer and in any error it causes. */
export type Req = string | number;

/** A command line may carry a 1 MB text, JSON-escaped (up to 6 bytes a character in the worst case). */
export const MAX_COMMAND_LINE = 8 * 1024 * 1024;
/** `req` is a tag, not a payload: a string of at most 64 characters or a finite number. */
export const MAX_REQ_CHARS = 64;

const COMMANDS = 'connect, send, send_room, peers, stats, trust or quit';

/**
 * The `req` of a command line that may not parse as a command, so that even its error carries
 * it (a caller matching answers by `req` must never be left waiting).
 */
function reqOf(o: Record<string, unknown>): Req | undefined {
  const r = o.req;
  if (r === undefined) return undefined;
  if (typeof r === 'string' && r.length <= MAX_REQ_CHARS) return r;
  if (typeof r === 'number' && Number.isFinite(r)) return r;
  return undefined;
}

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
  const req = reqOf(o);
  if (o.req !== undefined && req === undefined)
    throw new PunchlineError(
      'BAD_ARGUMENT',
      `"req" must be a string of at most ${MAX_REQ_CHARS} characters or a finite number`,
    );
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0)
      throw new PunchlineError('BAD_ARGUMENT', `"${String(o.cmd)}" needs a non-empty string "${k}"`);
    return o[k] as string;
  };
  const tag = req === undefined ? {} : { req };
  switch (o.cmd) {
    case 'connect':
      return { cmd: 'connect', peer: str('peer'), ...tag };
    case 'send':
      if (o.action !== undefined && typeof o.action !== 'boolean')
        throw new PunchlineError('BAD_ARGUMENT', '"send": "action" must be true or false');
      return {
        cmd: 'send',
        peer: str('peer'),
        text: str('text'),
        ...(o.action === true ? { action: true } : {}),
        ...tag,
      };
    case 'send_room':
      return { cmd: 'send_room', text: str('text'), ...tag };
    case 'peers':
      return { cmd: 'peers', ...tag };
    case 'stats':
      return { cmd: 'stats', peer: str('peer'), ...tag };
    case 'trust':
      return { cmd: 'trust', peer: str('peer'), ...tag };
    case 'quit':
      return { cmd: 'quit', ...tag };
    case undefined:
      throw new PunchlineError('BAD_ARGUMENT', `missing "cmd"; expected ${COMMANDS}`);
    default:
      throw new PunchlineError('BAD_ARGUMENT', `unknown cmd ${JSON.stringify(o.cmd)}; expected ${COMMANDS}`);
  }
}

/** What a bad command line still tells us: its `req` and `peer`, so that its error carries them. */
function salvage(line: string): { req?: Req; peer?: string } {
  if (line.length > MAX_COMMAND_LINE) return {};
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const o = v as Record<string, unknown>;
    const req = reqOf(o);
    const peer = typeof o.peer === 'string' && o.peer.length > 0 && o.peer.length <= 256 ? o.peer : undefined;
    return { ...(req === undefined ? {} : { req }), ...(peer === undefined ? {} : { peer }) };
  } catch {
    return {};
  }
}

/**
 * Wire a PeerNode to JSON lines. With a chat service, sends go through its outbox (they survive
 * a restart) and incoming messages are reported once across restarts (its history). Resolves
 * when the user quits or stdin ends.
 *
 * Every command is answered (docs/cli.md): by its own event (`sent`, `peers`, `stats`,
 * `trusted`, `connected`) or by an `error`. A command's `req` comes back in its answer and in
 * any error it causes; an error about a peer names it in `peer`.
 */
export function runJsonLines(
  node: PeerNode,
  input: Readable,
  output: Writable,
  chat?: PeerChatService,
): Promise<void> {
  const write = (e: Record<string, unknown>): void => {
    output.write(JSON.stringify(e) + '\n');
  };
  /** The command being handled, while its synchronous work runs: what its events answer. */
  let current: { req?: Req; peer?: string } | undefined;
  /** Connects still waiting for their `connected` or `error`, by peer id (and name, for errors). */
  const pendingConnects: { id: string; name: string; req: Req }[] = [];
  const takeConnect = (pred: (p: { id: string; name: string }) => boolean): Req | undefined => {
    const i = pendingConnects.findIndex(pred);
    return i < 0 ? undefined : pendingConnects.splice(i, 1)[0]!.req;
  };
  const withReq = (e: Record<string, unknown>, req: Req | undefined): Record<string, unknown> =>
    req === undefined ? e : { ...e, req };

  node.on('registered', (e) => write(registeredJson(e)));
  node.on('presence', (e) => write({ event: 'presence', ...e }));
  node.on('connected', (e) =>
    write(
      withReq(
        connectedJson(e),
        takeConnect((p) => p.id === e.peerId),
      ),
    ),
  );
  node.on('path', (e) => write(pathJson(e)));
  if (chat)
    chat.on('message', (m) => {
      if (m.outgoing) return;
      write({
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
  else node.on('message', (e) => write(messageJson(e)));
  // With the chat service, `sent` answers once the outbox record is on disk (below); without it,
  // the node says when a message is queued.
  if (!chat) node.on('sent', (e) => write(withReq(messageStateJson('sent', e), current?.req)));
  node.on('delivered', (e) => write(messageStateJson('delivered', e)));
  node.on('disconnected', (e) => write(disconnectedJson(e)));
  const onError = (e: { code: string; message: string; peer?: string }): void => {
    // An error raised while a command runs is that command's answer; a late one may end a connect.
    const peer = e.peer ?? current?.peer;
    const req =
      current !== undefined
        ? current.req
        : e.peer !== undefined
          ? takeConnect((p) => p.name === e.peer || p.id === e.peer)
          : undefined;
    write(withReq({ event: 'error', ...e, ...(peer === undefined ? {} : { peer }) }, req));
  };
  // The chat service passes the node's errors on, and adds its own (KEY_CHANGED).
  if (chat) chat.on('error', onError);
  else node.on('error', onError);
  // The server state as it is now (registration is in flight when this starts), then every change.
  let lastServer = node.serverState;
  write({ event: 'server', state: lastServer });
  node.on('server', (e) => {
    if (e.state === lastServer) return;
    lastServer = e.state;
    write({ event: 'server', ...e });
  });

  const fail = (e: unknown, ctx: { req?: Req; peer?: string }): void => {
    const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
    write(
      withReq(
        {
          event: 'error',
          code: err.code,
          message: err.message,
          ...(ctx.peer === undefined ? {} : { peer: ctx.peer }),
        },
        ctx.req,
      ),
    );
  };

  const handle = (c: Command): boolean => {
    switch (c.cmd) {
      case 'connect': {
        const now = node.connection(c.peer);
        if (now) {
          write(withReq(connectedJson(now), c.req));
          return false;
        }
        const peer = node.lookup(c.peer);
        if (c.req !== undefined) pendingConnects.push({ id: peer.id, name: peer.name, req: c.req });
        node.connect(c.peer).catch(() => {
          /* failures arrive as error events */
        });
        return false;
      }
      case 'send': {
        if (!chat) {
          node.sendMessage(c.peer, c.text, { action: c.action === true });
          return false;
        }
        const peer = node.lookup(c.peer);
        const { message, stored } = chat.sendStored({ kind: 'peer', peerId: peer.id }, c.text, {
          action: c.action === true,
        });
        const ctx = { ...(c.req === undefined ? {} : { req: c.req }), peer: c.peer };
        stored.then(
          () => {
            // A key in question (KEY_CHANGED): queued, but held until `trust`.
            const held = message.delivery?.[peer.id] === 'held' ? { held: true } : {};
            write(withReq({ event: 'sent', peer: peer.name, id: message.id, ...held }, c.req));
          },
          (e: unknown) => fail(e, ctx),
        );
        return false;
      }
      case 'send_room': {
        if (!chat) throw new PunchlineError('BAD_ARGUMENT', 'send_room needs the chat service');
        const { message, stored } = chat.sendStored({ kind: 'room' }, c.text);
        const names = new Map(node.peerList().map((p) => [p.id, p.name]));
        const to = Object.keys(message.delivery ?? {}).map((id) => names.get(id) ?? id);
        stored.then(
          () => write(withReq({ event: 'sent', room: true, id: message.id, peers: to }, c.req)),
          (e: unknown) => fail(e, c.req === undefined ? {} : { req: c.req }),
        );
        return false;
      }
      case 'peers':
        write(withReq({ event: 'peers', peers: node.peerList() }, c.req));
        return false;
      case 'stats':
        write(withReq(statsJson(node.peerStats(c.peer)), c.req));
        return false;
      case 'trust':
        if (!chat) throw new PunchlineError('BAD_ARGUMENT', 'trust needs the chat service');
        chat.trust(c.peer);
        write(withReq({ event: 'trusted', peer: c.peer, id: node.lookup(c.peer).id }, c.req));
        return false;
      case 'quit':
        return true;
    }
  };

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
        fail(e, salvage(line));
        return;
      }
      const ctx = {
        ...(c.req === undefined ? {} : { req: c.req }),
        ...('peer' in c ? { peer: c.peer } : {}),
      };
      current = ctx;
      try {
        if (handle(c)) finish();
      } catch (e) {
        fail(e, ctx);
      } finally {
        current = undefined;
      }
    });
    rl.on('close', finish);
  });
}
