import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { PunchlineError, badArgument } from '../../common/errors.js';
import { fingerprint } from '../../common/identity/identity.js';
import { fromHex } from '../../common/wire/bytes.js';
import type { BulkRecord } from '../bulk-record.js';
import type { FileControl } from './file-control.js';
import { partName, sanitizeName } from './file-names.js';
import { ProgressMeter, pathTo, type FileContext } from './file-progress.js';
import { type ReceiveRecord, hashPrefix, placeFile, type FileHandle } from './file-store.js';
import { WriteBehind } from './file-write-behind.js';
import { ioError } from './journal.js';
import type { FileView } from './types.js';

interface Incoming extends ReceiveRecord {
  accepted: boolean;
  /** Bytes taken (hashed, and written or buffered to be) so far, in this run; `offset` is the synced part. */
  written: number;
  hash: Hash | undefined;
  handle: FileHandle | undefined;
  /** The writes to `handle`, gathered and synced behind the network (peer/chat/file-write-behind.ts). */
  out: WriteBehind | undefined;
  /** Disk work for this transfer, one step at a time (records, resumes, the end). */
  chain: Promise<unknown>;
  startedAt: number;
  meter: ProgressMeter | undefined;
  /** A PREFIX went with this session's ACCEPT and no data came yet: the sender may RESTART. */
  restartable: boolean;
}

export interface ReceiverOptions {
  downloadDir: string;
  maxFileBytes: number;
}

/** Unanswered offers kept per peer; more are refused (RATE_LIMITED) until the user answers some. */
export const MAX_PENDING_OFFERS = 16;

/**
 * The receiving half of file transfers: an offer waits for acceptFile (nothing is written before);
 * accepted data goes to a hidden temporary file in the target directory in writes of up to
 * FLUSH_BYTES (a record is acknowledged once buffered; at most two buffers per transfer, so
 * memory stays bounded and a slow disk holds the session's window), and the whole is checked
 * against the announced SHA-256 before it is linked into place under a free name. Any failure
 * removes the temporary file.
 */
export class FileReceiver {
  private readonly inc = new Map<string, Incoming>();
  private done: { file: string; peerId: string }[] = [];

  constructor(
    private readonly c: FileContext,
    private readonly o: ReceiverOptions,
  ) {}

  records(): { receive: ReceiveRecord[]; done: { file: string; peerId: string }[] } {
    const receive = [...this.inc.values()]
      .filter((i) => i.accepted)
      .map(({ file, peerId, peer, name, size, sha256, dir, temp, offset }) => ({
        file,
        peerId,
        peer,
        name,
        size,
        sha256,
        dir,
        temp,
        offset,
      }));
    return { receive, done: this.done };
  }

  restore(receive: ReceiveRecord[], done: { file: string; peerId: string }[]): void {
    for (const r of receive) this.inc.set(r.file, this.fresh(r, true));
    this.done = done;
  }

  /** Accepted transfers from this peer wait to resume. */
  pending(peerId: string): boolean {
    return [...this.inc.values()].some((i) => i.peerId === peerId && i.accepted);
  }

  has(file: string): boolean {
    return this.inc.has(file) || this.done.some((d) => d.file === file);
  }

  views(): FileView[] {
    return [...this.inc.values()].map((i) => ({
      file: i.file,
      direction: 'receive',
      peer: i.peer,
      peerId: i.peerId,
      name: i.name,
      size: i.size,
      bytes: i.written,
      sha256: i.sha256,
      state: !i.accepted ? 'offered' : i.handle ? 'active' : 'waiting',
      ...(i.accepted ? { filePath: i.dir } : {}),
    }));
  }

  control(peerId: string, m: FileControl): void {
    const i = this.inc.get(m.file);
    if (m.kind === 'offer') return this.offered(peerId, m);
    if (m.kind === 'resume') return this.resume(peerId, m.file, m.size, m.sha256);
    if (m.kind === 'restart' && i && i.peerId === peerId) return this.restart(i, m.size, m.sha256);
    if (m.kind === 'cancel' && i && i.peerId === peerId)
      void this.end(i, m.code, `${i.peer}: ${m.text}`, false);
  }

  private offered(peerId: string, m: Extract<FileControl, { kind: 'offer' }>): void {
    const known = this.inc.get(m.file);
    if (known) {
      // Offered again after a new session: no new prompt; accepted already: the ACCEPT went missing.
      if (known.peerId === peerId && known.accepted) this.resume(peerId, m.file, m.size, m.sha256);
      return;
    }
    if (this.done.some((d) => d.file === m.file))
      return void this.c.tell(peerId, { kind: 'done', file: m.file });
    const peer = this.c.node.peerName(peerId) ?? peerId;
    // Offers wait in memory for the user: a peer gets MAX_PENDING_OFFERS unanswered ones, and
    // the next is refused at once (it must not grow this map, or the screen, without end).
    const waiting = [...this.inc.values()].filter((x) => x.peerId === peerId && !x.accepted).length;
    if (waiting >= MAX_PENDING_OFFERS) {
      const text = `${MAX_PENDING_OFFERS} offers from ${peer} are waiting for an answer already`;
      return void this.c.tell(peerId, { kind: 'cancel', file: m.file, code: 'RATE_LIMITED', text });
    }
    const name = sanitizeName(m.name);
    if (m.size > this.o.maxFileBytes) {
      // Refused before anything is stored: both sides hear why.
      const text = `${name} is ${m.size} bytes; this side takes at most ${this.o.maxFileBytes} (--max-file-mb)`;
      this.c.tell(peerId, { kind: 'cancel', file: m.file, code: 'TOO_LARGE', text });
      return this.c.emit('file_failed', { file: m.file, code: 'TOO_LARGE', message: `${peer}: ${text}` });
    }
    const i = this.fresh(
      { file: m.file, peerId, peer, name, size: m.size, sha256: m.sha256, dir: '', temp: '', offset: 0 },
      false,
    );
    this.inc.set(m.file, i);
    const fp = fingerprint(fromHex(peerId));
    this.c.emit('file_offer', {
      file: m.file,
      peer,
      peerId,
      fingerprint: fp,
      name,
      size: m.size,
      sha256: m.sha256,
    });
  }

  async accept(file: string, dir?: string): Promise<void> {
    const i = this.inc.get(file);
    if (!i || i.accepted) throw badArgument(`no file offer ${file}`);
    i.dir = path.resolve(dir ?? this.o.downloadDir);
    i.temp = path.join(i.dir, partName(i.name, i.file));
    try {
      await this.c.fs.mkdir(i.dir);
      i.handle = await this.c.fs.open(i.temp, 'w+');
      i.out = this.writer(i, i.handle, 0);
    } catch (e) {
      const err = ioError(e, `cannot write in ${i.dir}`);
      await this.end(i, err.code, err.message, true);
      throw err;
    }
    i.accepted = true;
    i.hash = createHash('sha256');
    i.startedAt = this.c.clock.now();
    i.meter = new ProgressMeter(this.c, i.file, i.peerId, i.size, 0);
    this.c.save();
    this.c.tell(i.peerId, { kind: 'accept', file, offset: 0 });
  }

  reject(file: string): boolean {
    const i = this.inc.get(file);
    if (!i || i.accepted) return false;
    void this.end(i, 'REJECTED', `declined ${i.name}`, true);
    return true;
  }

  cancel(file: string): boolean {
    const i = this.inc.get(file);
    if (!i) return false;
    void this.end(i, 'CANCELLED', `cancelled receiving ${i.name}`, true);
    return true;
  }

  /**
   * The sender asks where a transfer stands (a new session, or our restart): the bytes on disk
   * that were synced (or written, in this run), hashed again to continue the SHA-256. Unknown
   * here: CANCEL; finished: DONE again.
   */
  private resume(peerId: string, file: string, size: number, sha256: string): void {
    const i = this.inc.get(file);
    if (!i || i.peerId !== peerId || !i.accepted || i.size !== size || i.sha256 !== sha256) {
      if (this.done.some((d) => d.file === file && d.peerId === peerId))
        return void this.c.tell(peerId, { kind: 'done', file });
      if (i && i.peerId === peerId && !i.accepted) return; // still waiting for the user
      const text = 'no such transfer here';
      return void this.c.tell(peerId, { kind: 'cancel', file, code: 'CANCELLED', text });
    }
    this.step(i, async () => {
      await i.out?.drain(); // what this run took is on disk before it is measured
      await i.out?.settle();
      i.out = undefined;
      await i.handle?.close();
      i.handle = undefined;
      const onDisk = await this.c.fs.stat(i.temp).then(
        (st) => st.size,
        () => 0,
      );
      const keep = Math.min(Math.max(i.offset, i.written), onDisk, i.size);
      i.hash = await hashPrefix(this.c.fs, i.temp, keep);
      i.handle = await this.c.fs.open(i.temp, onDisk > 0 ? 'r+' : 'w+');
      await i.handle.truncate(keep);
      i.out = this.writer(i, i.handle, keep);
      i.written = keep;
      i.meter = new ProgressMeter(this.c, i.file, i.peerId, i.size, keep);
      // What we kept, for the sender to check against its source (file-send.ts samePrefix).
      i.restartable = keep > 0;
      if (keep > 0)
        this.c.tell(peerId, { kind: 'prefix', file, offset: keep, sha256: i.hash.copy().digest('hex') });
      this.c.tell(peerId, { kind: 'accept', file, offset: keep });
    });
  }

  /**
   * The sender's source changed under the prefix we kept (it answered our PREFIX): drop those
   * bytes and take the file again from 0 under its new SHA-256, at the size that was accepted.
   * Only right after our PREFIX, before any data: not a way to change a transfer at will.
   */
  private restart(i: Incoming, size: number, sha256: string): void {
    if (!i.restartable) return;
    i.restartable = false;
    if (size !== i.size)
      return void this.end(i, 'SOURCE_CHANGED', `${i.name} changed size at the source`, true);
    this.step(i, async () => {
      if (!i.handle) return;
      await i.out?.settle();
      await i.handle.truncate(0);
      i.out = this.writer(i, i.handle, 0); // the kept prefix's writer would go on at its end
      Object.assign(i, { sha256, written: 0, offset: 0, hash: createHash('sha256') });
      i.meter = new ProgressMeter(this.c, i.file, i.peerId, i.size, 0);
      this.c.save();
      const text = `${i.peer} sends ${i.name} again from the start: it changed at the source`;
      this.c.emit('notice', {
        conversation: { kind: 'peer', peerId: i.peerId },
        text,
        level: 'warn',
        ts: this.c.clock.wallNow(),
      });
      this.c.tell(i.peerId, { kind: 'accept', file: i.file, offset: 0 });
    });
  }

  /** A bulk record of one of our transfers; 'refused' when it is none of ours (or over). */
  take(r: BulkRecord & { peerId: string }): Promise<void | 'refused'> {
    const i = this.inc.get(r.transfer);
    if (!i || i.peerId !== r.peerId || !i.accepted) return Promise.resolve('refused');
    return this.step(i, async () => {
      if (!this.inc.has(i.file) || !i.out || !i.hash) return 'refused';
      i.restartable = false;
      if (r.offset + r.data.length <= i.written && !r.last) return; // already have it
      if (r.offset !== i.written)
        throw new PunchlineError('CHECKSUM', `data at ${r.offset}, expected ${i.written}`);
      if (r.offset + r.data.length > i.size)
        throw new PunchlineError('CHECKSUM', `more than the ${i.size} bytes offered`);
      await i.out.put(r.data);
      i.hash.update(r.data);
      i.written += r.data.length;
      if (r.last) return this.finish(i);
      i.meter?.update(i.written);
    });
  }

  /** The last record came: check size and hash, then put the file in place and say DONE. */
  private async finish(i: Incoming): Promise<void> {
    const sha = i.hash!.digest('hex');
    if (i.written !== i.size || sha !== i.sha256)
      throw new PunchlineError(
        'CHECKSUM',
        `${i.name}: got ${i.written} bytes hashing to ${sha}, announced ${i.size} bytes, ${i.sha256}`,
      );
    await i.out!.sync();
    await i.out!.settle();
    i.out = undefined;
    await i.handle!.close();
    i.handle = undefined;
    const saved = await placeFile(this.c.fs, i.temp, i.dir, i.name);
    this.inc.delete(i.file);
    this.done.push({ file: i.file, peerId: i.peerId });
    this.c.save();
    i.meter?.update(i.size, true);
    this.c.tell(i.peerId, { kind: 'done', file: i.file });
    this.c.emit('file_done', {
      file: i.file,
      filePath: saved,
      bytes: i.size,
      sha256: sha,
      ms: Math.round(this.c.clock.now() - i.startedAt),
      path: pathTo(this.c.node, i.peerId),
    });
  }

  /** The writer for `h` from `at`; a sync moves the offset files.json resumes from. */
  private writer(i: Incoming, h: FileHandle, at: number): WriteBehind {
    const w: WriteBehind = new WriteBehind(h, at, {
      onSynced: (offset) => {
        if (this.inc.get(i.file) !== i || i.out !== w) return;
        i.offset = Math.max(i.offset, offset);
        this.c.save();
      },
    });
    return w;
  }

  /** Run disk work for a transfer after its earlier steps; a failure ends the transfer (both sides hear). */
  private step<T>(i: Incoming, work: () => Promise<T>): Promise<T | undefined> {
    const run = i.chain.then(work).catch(async (e: unknown) => {
      const err = e instanceof PunchlineError ? e : ioError(e, `cannot write ${i.temp}`);
      await this.end(i, err.code, err.message, true);
      return undefined;
    });
    i.chain = run;
    return run;
  }

  /** The transfer ends without the file: the temporary file goes, `tellPeer` sends CANCEL. */
  private async end(
    i: Incoming,
    code: PunchlineError['code'],
    message: string,
    tellPeer: boolean,
  ): Promise<void> {
    if (this.inc.get(i.file) !== i) return;
    this.inc.delete(i.file);
    const h = i.handle;
    i.handle = undefined;
    await i.out?.settle();
    i.out = undefined;
    await h?.close().catch(() => {});
    if (i.temp) await this.c.fs.unlink(i.temp).catch(() => {});
    if (i.accepted) this.c.save();
    if (tellPeer) this.c.tell(i.peerId, { kind: 'cancel', file: i.file, code, text: message });
    this.c.emit('file_failed', { file: i.file, code, message });
  }

  async close(): Promise<void> {
    for (const i of this.inc.values()) {
      await i.chain.catch(() => {});
      const h = i.handle;
      const out = i.out;
      i.handle = i.out = undefined;
      // What was taken is kept for the next run: written, synced, and its offset saved (files.ts close).
      if (out) i.offset = await out.sync().catch(() => i.offset);
      await out?.settle();
      await h?.close().catch(() => {});
    }
  }

  private fresh(r: ReceiveRecord, accepted: boolean): Incoming {
    return {
      ...r,
      accepted,
      written: r.offset,
      hash: undefined,
      handle: undefined,
      out: undefined,
      chain: Promise.resolve(),
      startedAt: this.c.clock.now(),
      meter: undefined,
      restartable: false,
    };
  }
}
