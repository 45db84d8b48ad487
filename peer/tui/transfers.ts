/**
 * The file transfers the terminal client follows: each offer is said once in the conversation
 * with its sender, and each transfer has one live line there (file-lines.ts draws it) that the
 * file_* events change in place, so a transfer of a thousand progress events is still one line.
 * The file commands (file-actions.ts) pick the transfer they mean here: an id prefix, else the
 * newest one, with the peer of the conversation typed in first.
 */
import { badArgument } from '../../common/errors.js';
import type { FileDone, FileFailed, FileOffer, FileProgress, FileView } from '../chat/types.js';
import { formatBytes, offerText, shortId } from './file-lines.js';
import type { FileLine } from './file-lines.js';
import type { Entry, NoticeLevel } from './panes.js';

/** Where the transfers' lines go (ChatViewState). */
export interface FileHost {
  /** Add an entry to the private conversation with a peer (opened if needed); `notify` counts it unread. */
  toPeer(peerId: string, name: string, e: Entry, notify: boolean): void;
  /** A line in the active conversation unless it is the one with `peerId` (a pointer to it). */
  elsewhere(peerId: string, text: string): void;
  /** A line in the room: a transfer this client never saw offered (refused as too large). */
  toRoom(text: string, level: NoticeLevel): void;
  /** Change live lines in place (the host keeps a scrolled-up view where it is). */
  edit(change: () => void): void;
  /** The transfers the service lists now (a transfer resumed after a restart had no event yet). */
  files(): FileView[];
  now(): number;
}

export class FileTransfers {
  private readonly lines = new Map<string, FileLine>();
  private readonly offers = new Map<string, FileOffer>();
  /** When each transfer was first seen, for "the newest". */
  private readonly seen = new Map<string, number>();
  private seq = 0;

  constructor(private readonly host: FileHost) {}

  private note(file: string): void {
    if (!this.seen.has(file)) this.seen.set(file, ++this.seq);
  }

  /** A peer offers a file: said in the conversation with them (a tab lights up), and pointed to. */
  offer(o: FileOffer): void {
    this.note(o.file);
    this.offers.set(o.file, o);
    this.host.toPeer(
      o.peerId,
      o.peer,
      { kind: 'system', text: offerText(o), level: 'warn', ts: this.host.now() },
      true,
    );
    this.host.elsewhere(
      o.peerId,
      `${o.peer} offers you ${o.name} (${formatBytes(o.size)}): /accept or /reject`,
    );
  }

  /** Our sendFile() was taken: its line starts as waiting for the peer's answer. */
  sent(v: FileView): void {
    this.place(v.peerId, { ...lineOf(v), phase: 'offered' });
  }

  accepted(file: string): void {
    const l = this.live(file);
    if (l && l.phase === 'offered') this.host.edit(() => (l.phase = 'accepted'));
    this.offers.delete(file);
  }

  rejected(file: string): void {
    const l = this.live(file);
    if (l) this.host.edit(() => (l.phase = 'rejected'));
    this.offers.delete(file);
  }

  progress(p: FileProgress): void {
    const l = this.live(p.file);
    if (!l || l.phase === 'done' || l.phase === 'failed') return;
    const now = { phase: 'active', bytes: p.bytes, size: p.size, rate: p.rate, etaMs: p.etaMs } as const;
    this.host.edit(() => Object.assign(l, now));
  }

  done(d: FileDone): void {
    const l = this.live(d.file);
    this.offers.delete(d.file);
    if (!l) return;
    const now = { phase: 'done', bytes: d.bytes, filePath: d.filePath, sha256: d.sha256, ms: d.ms } as const;
    this.host.edit(() => Object.assign(l, now));
  }

  failed(f: FileFailed): void {
    const l = this.live(f.file);
    this.offers.delete(f.file);
    if (!l) return this.host.toRoom(`file ${shortId(f.file)} failed: ${f.code} ${f.message}`, 'error');
    // Our own /reject comes back as REJECTED: the line already says we declined it.
    if (l.phase === 'rejected' && f.code === 'REJECTED') return;
    this.host.edit(() => Object.assign(l, { phase: 'failed', code: f.code, message: f.message }));
  }

  /**
   * The transfer a command means among `candidates`: the one whose id starts with `prefix`, else
   * the newest, from the peer of the conversation typed in (`peerId`) when there is one of theirs.
   */
  pick(
    candidates: FileView[],
    prefix: string | undefined,
    peerId: string | undefined,
    what: string,
  ): FileView {
    if (prefix !== undefined) {
      const hits = candidates.filter((f) => f.file.startsWith(prefix));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1)
        throw badArgument(`the id ${prefix} matches ${hits.length} transfers; type more of it`);
      throw badArgument(`no ${what} with id ${prefix}`);
    }
    const theirs = candidates.filter((f) => f.peerId === peerId);
    const pool = theirs.length > 0 ? theirs : candidates;
    const newest = pool.reduce<FileView | undefined>(
      (a, f) => (a === undefined || (this.seen.get(f.file) ?? 0) >= (this.seen.get(a.file) ?? 0) ? f : a),
      undefined,
    );
    if (!newest) throw badArgument(`no ${what}`);
    return newest;
  }

  /** The live line of a transfer, created in the conversation with its peer on first need. */
  private live(file: string): FileLine | undefined {
    const known = this.lines.get(file);
    if (known) return known;
    const o = this.offers.get(file);
    if (o) {
      const l: FileLine = {
        file,
        direction: 'receive',
        peer: o.peer,
        name: o.name,
        size: o.size,
        phase: 'offered',
        bytes: 0,
        rate: 0,
      };
      return this.place(o.peerId, l);
    }
    const v = this.host.files().find((f) => f.file === file);
    return v ? this.place(v.peerId, lineOf(v)) : undefined;
  }

  private place(peerId: string, l: FileLine): FileLine {
    this.note(l.file);
    this.lines.set(l.file, l);
    this.host.toPeer(peerId, l.peer, { kind: 'file', line: l, ts: this.host.now() }, false);
    return l;
  }
}

function lineOf(v: FileView): FileLine {
  const phase = v.state === 'offered' ? 'offered' : v.bytes > 0 ? 'active' : 'accepted';
  return {
    file: v.file,
    direction: v.direction,
    peer: v.peer,
    name: v.name,
    size: v.size,
    phase,
    bytes: v.bytes,
    rate: 0,
  };
}
