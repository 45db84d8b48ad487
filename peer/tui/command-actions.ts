/**
 * What each command of the terminal client does once parsed (commands.ts): against the chat
 * service, and on the conversations through a narrow CommandTarget that ChatViewModel
 * (view-model.ts) provides. A command that cannot be done throws; the view model prints the
 * error as one line.
 */
import { badArgument, isPunchlineError } from '../../common/errors.js';
import type { ChatService, PeerView, SelfView } from '../chat/types.js';
import type { Command } from './commands.js';
import type { Conversation } from './conversation.js';
import { acceptFile, cancelFile, rejectFile, sendFile } from './file-actions.js';
import type { FileCommandTarget } from './file-actions.js';
import { fileReport } from './file-lines.js';
import { formatInfo } from './format.js';
import type { Glyphs } from './format.js';
import { describeState } from './panes.js';
import type { ServerStatus } from './server-status.js';

/** What a command may see and do in the view model. */
export interface CommandTarget extends FileCommandTarget {
  readonly service: ChatService;
  readonly glyphs: Glyphs;
  readonly self: SelfView;
  readonly server: ServerStatus;
  /** The conversation the command was typed in. */
  readonly here: Conversation;
  /** The peer of the active conversation, if it is a private one. */
  activePeerId(): string | undefined;
  /** Peers by state (direct first, offline last), then name. */
  sortedPeers(): PeerView[];
  knownPeer(id: string): PeerView | undefined;
  /** The new key of `p` is trusted: no longer flagged. */
  trusted(p: PeerView): void;
  /** An info line in `here`. */
  say(text: string): void;
  quit(): void;
  showHelp(): void;
  clear(c: Conversation): void;
  close(c: Conversation): void;
  /** Open (creating it if needed) the private conversation with `p` and switch to it. */
  openPrivate(p: PeerView, name?: string): Conversation;
  send(c: Conversation, text: string, action?: boolean): void;
}

export async function runCommand(t: CommandTarget, cmd: Command): Promise<void> {
  switch (cmd.name) {
    case 'quit':
      return t.quit();
    case 'help':
      return t.showHelp();
    case 'clear':
      return t.clear(t.here);
    case 'msg': {
      const p = t.service.resolvePeer(cmd.peer);
      return t.send(t.openPrivate(p, p.name), cmd.text);
    }
    case 'query':
      t.openPrivate(t.service.resolvePeer(cmd.peer));
      return;
    case 'close':
      if (t.here.id.kind === 'room')
        throw badArgument('the room conversation cannot be closed; /quit leaves');
      return t.close(t.here);
    case 'who':
      return who(t);
    case 'names':
      return names(t);
    case 'info':
      return info(t, cmd.peer);
    case 'trust':
      return trust(t, cmd.peer);
    case 'nick':
      return nick(t, cmd.nick);
    case 'me':
      return t.send(t.here, cmd.text, true);
    case 'connect':
      return connect(t, cmd.peer);
    case 'send':
      return sendFile(t, cmd.peer, cmd.path);
    case 'accept':
      return acceptFile(t, cmd.first, cmd.dir);
    case 'reject':
      return rejectFile(t, cmd.file);
    case 'cancel':
      return cancelFile(t, cmd.file);
  }
}

/** One system entry per report: its lines hang under a single "-!-". */
function who(t: CommandTarget): void {
  const peers = t.sortedPeers();
  const lines = [`${peers.length + 1} in ${t.self.room}: you (${t.self.name})`];
  for (const p of peers) lines.push(`  ${p.name}  ${describeState(p)}  id ${p.id.slice(0, 8)}`);
  t.say(lines.join('\n'));
}

function names(t: CommandTarget): void {
  const peers = t.sortedPeers();
  const on = peers.filter((p) => p.state !== 'offline').map((p) => p.name);
  const off = peers.filter((p) => p.state === 'offline').map((p) => p.name);
  const lines = [`${on.length + 1} online in #${t.self.room}: ${[`${t.self.name} (you)`, ...on].join(', ')}`];
  if (off.length > 0) lines.push(`offline: ${off.join(', ')}`);
  t.say(lines.join('\n'));
}

/** The peer's path and counters, and its file transfers; in the room, every transfer. */
function info(t: CommandTarget, peer: string | undefined): void {
  const target = peer ?? t.activePeerId();
  const files = t.service.files();
  if (target === undefined) {
    if (files.length > 0) return t.say(fileReport(files).join('\n'));
    throw badArgument('usage: /info NAME (or use it in a private conversation)');
  }
  const i = t.service.info(target);
  const theirs = files.filter((f) => f.peerId === i.id);
  const lines = formatInfo(i, t.glyphs);
  if (theirs.length > 0) lines.push(...fileReport(theirs).map((l) => `  ${l}`));
  t.say(lines.join('\n'));
}

function trust(t: CommandTarget, peer: string | undefined): void {
  const target = peer ?? t.activePeerId();
  if (target === undefined) throw badArgument('usage: /trust NAME (or use it in a private conversation)');
  const p = t.service.resolvePeer(target);
  if (!p.keyChanged && t.knownPeer(p.id)?.keyChanged !== true)
    return t.say(`the key of ${p.name} has not changed; nothing is held`);
  t.service.trust(target);
  t.trusted(p);
  t.say(`trusted the new key of ${p.name}; held messages are released`);
}

async function nick(t: CommandTarget, name: string): Promise<void> {
  t.server.renaming = true;
  try {
    await t.service.nick(name);
  } catch (e) {
    if (isPunchlineError(e, 'NAME_TAKEN')) throw badArgument(`${e.message}; /nick NEWNAME to pick another`);
    throw e;
  } finally {
    t.server.renaming = false;
  }
  t.say(`you are now ${name}`);
}

async function connect(t: CommandTarget, peer: string): Promise<void> {
  const p = t.service.resolvePeer(peer);
  t.say(`connecting to ${p.name}${t.glyphs.ellipsis}`);
  await t.service.connect(peer);
  const now = t.knownPeer(p.id) ?? t.service.resolvePeer(p.id);
  t.say(`connected to ${p.name}: ${describeState(now)}`);
}
