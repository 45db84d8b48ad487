/**
 * The file commands of the terminal client: `/send NAME PATH`, `/accept [ID] [DIR]`,
 * `/reject [ID]`, `/cancel [ID]`. The path is checked here first so that a typo reads as what it
 * is ("no such file"), not as the engine's I/O error; the engine (peer/chat/files.ts) checks again.
 */
import { badArgument } from '../../common/errors.js';
import type { ChatService, FileView, PeerView } from '../chat/types.js';
import type { Conversation } from './conversation.js';
import { formatBytes } from './file-lines.js';
import { absolutePath } from './paths.js';
import type { PathContext } from './paths.js';
import type { FileTransfers } from './transfers.js';

/** What the file commands may see and do (command-actions.ts's CommandTarget has all of it). */
export interface FileCommandTarget {
  readonly service: ChatService;
  readonly files: FileTransfers;
  readonly paths: PathContext;
  /** The conversation the command was typed in. */
  readonly here: Conversation;
  activePeerId(): string | undefined;
  say(text: string): void;
  openPrivate(p: PeerView, name?: string): Conversation;
}

export async function sendFile(t: FileCommandTarget, peer: string, typed: string): Promise<void> {
  const p = t.service.resolvePeer(peer);
  const full = absolutePath(t.paths, typed);
  const kind = t.paths.fs.kind(full);
  if (kind === 'missing') throw badArgument(`no such file: ${full}`);
  if (kind === 'dir') throw badArgument(`${full} is a directory; /send offers one file`);
  if (kind === 'other') throw badArgument(`${full} is not a regular file`);
  const v = await t.service.sendFile(p.id, full);
  t.openPrivate(p, p.name);
  t.files.sent(v);
}

const offers = (t: FileCommandTarget): FileView[] =>
  t.service.files().filter((f) => f.direction === 'receive' && f.state === 'offered');

/** A line where the command was typed when the transfer's own line is in another conversation. */
function pointTo(t: FileCommandTarget, f: FileView, text: string): void {
  if (t.activePeerId() !== f.peerId) t.say(`${text}; its line is in the conversation with ${f.peer}`);
}

/**
 * `/accept`, `/accept DIR`, `/accept ID`, `/accept ID DIR`: one argument is an id when an
 * offer's id starts with it, else the directory (an id never holds "/", "." or "~").
 */
export async function acceptFile(t: FileCommandTarget, first?: string, dir?: string): Promise<void> {
  const list = offers(t);
  const isId = first !== undefined && (dir !== undefined || list.some((f) => f.file.startsWith(first)));
  const f = t.files.pick(list, isId ? first : undefined, t.activePeerId(), 'file offer to accept');
  const into = isId ? dir : first;
  const where = into !== undefined ? absolutePath(t.paths, into) : undefined;
  if (where !== undefined && t.paths.fs.kind(where) !== 'dir' && t.paths.fs.kind(where) !== 'missing')
    throw badArgument(`${where} is not a directory`);
  await t.service.acceptFile(f.file, where);
  t.files.accepted(f.file);
  pointTo(t, f, `accepted ${f.name} from ${f.peer} (${formatBytes(f.size)})`);
}

export function rejectFile(t: FileCommandTarget, id?: string): void {
  const f = t.files.pick(offers(t), id, t.activePeerId(), 'file offer to reject');
  t.service.rejectFile(f.file);
  t.files.rejected(f.file);
  pointTo(t, f, `declined ${f.name} from ${f.peer}`);
}

export function cancelFile(t: FileCommandTarget, id?: string): void {
  const f = t.files.pick(t.service.files(), id, t.activePeerId(), 'file transfer to cancel');
  t.service.cancelFile(f.file);
  pointTo(t, f, `cancelling ${f.name} ${f.direction === 'send' ? 'to' : 'from'} ${f.peer}`);
}
