import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import type { ChatService } from '../chat/types.js';
import { parseCommand, salvage } from './json-commands.js';
import type { Command, Req } from './json-commands.js';
import { fileCommand, followFiles } from './json-files.js';
import {
  connectedJson,
  deliveredJson,
  disconnectedJson,
  messageJson,
  pathJson,
  peersJson,
  presenceJson,
  registeredJson,
  sentJson,
  sentRoomJson,
  serverChangedJson,
  serverJson,
  statsJson,
  trustedJson,
} from './json-events.js';
import type { Json } from './json-events.js';

/** What a command's answer and errors carry: its `req`, and the peer it named. */
type Ctx = { req?: Req; peer?: string };

/**
 * Wire a chat service to JSON lines (docs/cli.md): sends go through its outbox (they survive a
 * restart) and incoming messages are reported once across restarts (its history). Resolves
 * when the user quits or stdin ends.
 *
 * Every command is answered: by its own event (`sent`, `peers`, `stats`, `trusted`,
 * `connected`) or by an `error`. A command's `req` comes back in its answer and in any error it
 * causes; an error about a peer names it in `peer`.
 */
export function runJsonLines(chat: ChatService, input: Readable, output: Writable): Promise<void> {
  const run = new JsonLines(chat, output);
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
      if (run.line(line)) finish();
    });
    rl.on('close', finish);
  });
}

/** One run of the JSON-lines mode: the service's events out, commands in. */
class JsonLines {
  /** The command being handled, while its synchronous work runs: what its events answer. */
  private current: Ctx | undefined;
  /** Connects still waiting for their `connected` or `error`, by peer id (and name, for errors). */
  private readonly pendingConnects: { id: string; name: string; req: Req }[] = [];
  private lastServer: string;

  constructor(
    private readonly chat: ChatService,
    private readonly output: Writable,
  ) {
    // The server state as it is now (registration is in flight when this starts), then every change.
    this.lastServer = chat.self.server;
    this.write(serverJson(this.lastServer));
    this.subscribe();
  }

  private write(e: Json): void {
    this.output.write(JSON.stringify(e) + '\n');
  }

  private writeAnswer(e: Json, req: Req | undefined): void {
    this.write(req === undefined ? e : { ...e, req });
  }

  private subscribe(): void {
    const { chat } = this;
    chat.on('registered', (e) => this.write(registeredJson(e)));
    chat.on('presence', (e) => this.write(presenceJson(e)));
    chat.on('connected', (c) =>
      this.writeAnswer(
        connectedJson(c),
        this.takeConnect((p) => p.id === c.peerId),
      ),
    );
    chat.on('path', (p) => this.write(pathJson(p)));
    chat.on('message', (m) => {
      if (!m.outgoing) this.write(messageJson(m));
    });
    chat.on('delivery', (d) => {
      if (d.state === 'delivered') this.write(deliveredJson(d.id, this.peerNamed(d.peerId)));
    });
    chat.on('disconnected', (d) => this.write(disconnectedJson(d)));
    chat.on('error', (e) => this.onError(e));
    followFiles(chat, (e) => this.write(e));
    chat.on('server-changed', (e) => this.write(serverChangedJson(e)));
    chat.on('server', (e) => {
      if (e.state === this.lastServer) return;
      this.lastServer = e.state;
      this.write(serverJson(e.state));
    });
  }

  /** A peer by id as the service lists it (its id stands in for a name it no longer has). */
  private peerNamed(peerId: string): { id: string; name: string } {
    return this.chat.peers().find((p) => p.id === peerId) ?? { id: peerId, name: peerId };
  }

  private takeConnect(pred: (p: { id: string; name: string }) => boolean): Req | undefined {
    const i = this.pendingConnects.findIndex(pred);
    return i < 0 ? undefined : this.pendingConnects.splice(i, 1)[0]!.req;
  }

  /** An error raised while a command runs is that command's answer; a late one may end a connect. */
  private onError(e: { code: string; message: string; peer?: string }): void {
    const peer = e.peer ?? this.current?.peer;
    const req =
      this.current !== undefined
        ? this.current.req
        : e.peer !== undefined
          ? this.takeConnect((p) => p.name === e.peer || p.id === e.peer)
          : undefined;
    this.writeAnswer({ event: 'error', ...e, ...(peer === undefined ? {} : { peer }) }, req);
  }

  private fail(e: unknown, ctx: Ctx): void {
    const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
    this.writeAnswer(
      {
        event: 'error',
        code: err.code,
        message: err.message,
        ...(ctx.peer === undefined ? {} : { peer: ctx.peer }),
      },
      ctx.req,
    );
  }

  /** Handle one command line; true when it was `quit`. */
  line(line: string): boolean {
    let c: Command;
    try {
      c = parseCommand(line);
    } catch (e) {
      this.fail(e, salvage(line));
      return false;
    }
    const ctx = {
      ...(c.req === undefined ? {} : { req: c.req }),
      ...('peer' in c ? { peer: c.peer } : {}),
    };
    this.current = ctx;
    try {
      return this.handle(c);
    } catch (e) {
      this.fail(e, ctx);
      return false;
    } finally {
      this.current = undefined;
    }
  }

  private handle(c: Command): boolean {
    switch (c.cmd) {
      case 'connect':
        this.connect(c.peer, c.req);
        return false;
      case 'send':
        this.send(c.peer, c.text, c.action === true, c.req);
        return false;
      case 'send_room':
        this.sendRoom(c.text, c.req);
        return false;
      case 'peers':
        this.writeAnswer(peersJson(this.chat.peers()), c.req);
        return false;
      case 'stats':
        this.writeAnswer(statsJson(this.chat.info(c.peer)), c.req);
        return false;
      case 'trust':
        this.chat.trust(c.peer);
        this.writeAnswer(trustedJson(c.peer, this.chat.resolvePeer(c.peer).id), c.req);
        return false;
      case 'send_file':
      case 'accept_file':
      case 'reject_file':
      case 'cancel_file':
        // Its errors come later (send_file hashes first): they carry the peer it named, as a
        // synchronous error would (docs/cli.md, error).
        fileCommand(
          this.chat,
          c,
          (e) => this.writeAnswer(e, c.req),
          (e) =>
            this.fail(e, {
              ...(c.req === undefined ? {} : { req: c.req }),
              ...(c.cmd === 'send_file' ? { peer: c.peer } : {}),
            }),
        );
        return false;
      case 'quit':
        return true;
    }
  }

  /** Connected already: answered at once; else `connected` or an `error` answers it later. */
  private connect(named: string, req: Req | undefined): void {
    const now = this.chat.connection(named);
    if (now) {
      this.writeAnswer(connectedJson(now), req);
      return;
    }
    const p = this.chat.resolvePeer(named);
    if (req !== undefined) this.pendingConnects.push({ id: p.id, name: p.name, req });
    this.chat.connect(named).catch(() => {
      /* failures arrive as error events */
    });
  }

  /** Answered by `sent` once the outbox record is on disk, or by the error that kept it off. */
  private send(named: string, text: string, action: boolean, req: Req | undefined): void {
    const p = this.chat.resolvePeer(named);
    const { message, stored } = this.chat.sendStored({ kind: 'peer', peerId: p.id }, text, { action });
    const ctx = { ...(req === undefined ? {} : { req }), peer: named };
    stored.then(
      () => this.writeAnswer(sentJson(p, message.id, message.delivery?.[p.id] === 'held'), req),
      (e: unknown) => this.fail(e, ctx),
    );
  }

  private sendRoom(text: string, req: Req | undefined): void {
    const { message, stored } = this.chat.sendStored({ kind: 'room' }, text);
    const names = new Map(this.chat.peers().map((p) => [p.id, p.name]));
    const to = Object.keys(message.delivery ?? {}).map((id) => names.get(id) ?? id);
    stored.then(
      () => this.writeAnswer(sentRoomJson(message.id, to), req),
      (e: unknown) => this.fail(e, req === undefined ? {} : { req }),
    );
  }
}
