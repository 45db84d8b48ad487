import path from 'node:path';
import { PunchlineError, badArgument, isPunchlineError } from '../../common/errors.js';
import type { FileControl } from './file-control.js';
import { ProgressMeter, pathTo, type FileContext } from './file-progress.js';
import { type FileFs, type SendRecord, hashPrefix } from './file-store.js';
import { ioError } from './journal.js';
import type { FileView } from './types.js';

/** Bytes read from the source at a time (the bulk lane cuts them into records). */
const READ_BYTES = 256 * 1024;

interface Outgoing extends SendRecord {
  /** Bytes handed to the session so far (from the resume offset). */
  bytes: number;
  /** A bulk send is under way. */
  running: boolean;
  /** Ended here (cancelled, failed, done): the source stops at its next read. */
  ended: boolean;
  startedAt: number | undefined;
  meter: ProgressMeter | undefined;
  /** The receiver's PREFIX before its ACCEPT: the SHA-256 of the bytes it kept. */
  prefix: { offset: number; sha256: string } | undefined;
}

/**
 * The sending half of file transfers: offer, wait for ACCEPT (its offset), stream the file from
 * there as bulk records, and finish on the receiver's DONE. A session that ends leaves the
 * transfer waiting; the next one (or the next run: files.json) asks the receiver to RESUME.
 */
export class FileSender {
  private readonly out = new Map<string, Outgoing>();

  constructor(private readonly c: FileContext) {}

  records(): SendRecord[] {
    return [...this.out.values()].map(
      ({ file, peerId, peer, path, name, size, mtimeMs, sha256, accepted }) => ({
        file,
        peerId,
        peer,
        path,
        name,
        size,
        mtimeMs,
        sha256,
        accepted,
      }),
    );
  }

  restore(records: SendRecord[]): void {
    for (const r of records) this.out.set(r.file, fresh(r));
  }

  /** Transfers to this peer wait to be offered or resumed. */
  pending(peerId: string): boolean {
    return [...this.out.values()].some((o) => o.peerId === peerId);
  }

  has(file: string): boolean {
    return this.out.has(file);
  }

  views(): FileView[] {
    return [...this.out.values()].map((o) => ({
      file: o.file,
      direction: 'send',
      peer: o.peer,
      peerId: o.peerId,
      name: o.name,
      size: o.size,
      bytes: o.bytes,
      sha256: o.sha256,
      state: !o.accepted ? 'offered' : o.running ? 'active' : 'waiting',
      filePath: o.path,
    }));
  }

  async send(nameOrId: string, file: string): Promise<FileView> {
    const peer = this.c.node.lookup(nameOrId);
    const full = path.resolve(file);
    const { size, mtimeMs, sha256 } = await inspect(this.c.fs, full);
    const o = fresh({
      file: this.c.node.newMessageId(),
      peerId: peer.id,
      peer: peer.name,
      path: full,
      name: path.basename(full),
      size,
      mtimeMs,
      sha256,
      accepted: false,
    });
    this.out.set(o.file, o);
    this.c.save();
    if (!this.offer(o)) this.c.node.connect(peer.id).catch(() => {}); // 'connected' offers it
    return this.views().find((v) => v.file === o.file)!;
  }

  /** A session with the peer opened: offer again what it has not answered, resume what it accepted. */
  connected(peerId: string): void {
    for (const o of this.out.values()) {
      if (o.peerId !== peerId || o.running) continue;
      if (!o.accepted) this.offer(o);
      else void this.resume(o);
    }
  }

  /** A control message from `peerId` about one of our transfers (another peer's ids are ignored). */
  control(peerId: string, m: FileControl): void {
    const o = this.out.get(m.file);
    if (!o || o.peerId !== peerId) return;
    if (m.kind === 'prefix') o.prefix = { offset: m.offset, sha256: m.sha256 };
    else if (m.kind === 'accept') void this.accepted(o, m.offset);
    else if (m.kind === 'cancel') this.end(o, m.code, `${o.peer}: ${m.text}`, false);
    else if (m.kind === 'done') this.done(o);
  }

  cancel(file: string): boolean {
    const o = this.out.get(file);
    if (!o) return false;
    this.end(o, 'CANCELLED', `cancelled sending ${o.name}`, true);
    return true;
  }

  close(): void {
    for (const o of this.out.values()) o.ended = true;
  }

  private offer(o: Outgoing): boolean {
    const { file, size, sha256, name } = o;
    return this.c.tell(o.peerId, { kind: 'offer', file, size, sha256, name });
  }

  /** Ask where the receiver stands, unless the source changed since it was offered. */
  private async resume(o: Outgoing): Promise<void> {
    if (!(await this.unchanged(o))) return;
    this.c.tell(o.peerId, { kind: 'resume', file: o.file, size: o.size, sha256: o.sha256 });
  }

  private async unchanged(o: Outgoing): Promise<boolean> {
    const st = await this.c.fs.stat(o.path).catch(() => undefined);
    if (st && st.isFile && st.size === o.size && st.mtimeMs === o.mtimeMs) return true;
    this.end(o, 'SOURCE_CHANGED', `${o.path} changed or vanished since it was offered`, true);
    return false;
  }

  private async accepted(o: Outgoing, offset: number): Promise<void> {
    if (o.running || o.ended) return;
    if (offset > o.size) return this.end(o, 'CANCELLED', `the peer asked for offset ${offset}`, true);
    o.running = true;
    if (!(await this.unchanged(o))) return;
    if (offset > 0 && !(await this.samePrefix(o, offset))) return void (o.running = false);
    if (!o.accepted) {
      o.accepted = true;
      this.c.save();
    }
    o.bytes = offset;
    o.startedAt ??= this.c.clock.now();
    o.meter = new ProgressMeter(this.c, o.file, o.peerId, o.size, offset);
    this.c.node.sendBulk(o.peerId, this.read(o, offset), o.file, offset).then(
      () => {
        o.running = false; // every byte taken: DONE (or CANCEL CHECKSUM) follows
      },
      (e: unknown) => {
        o.running = false;
        if (o.ended) return;
        if (isPunchlineError(e, 'SOURCE_CHANGED') || isPunchlineError(e, 'IO'))
          return this.end(o, e.code, e.message, true);
        // The session ended (or the peer refused): resume on this session if one is open, else the next.
        if (this.c.node.connection(o.peerId)) void this.resume(o);
      },
    );
  }

  /**
   * Size and modification time can stay the same when a file is rewritten: before sending from a
   * resume's offset, the receiver's PREFIX (the SHA-256 of the bytes it kept) is checked against
   * the source's. When they differ, the source is hashed again and the receiver told to RESTART
   * from 0 with the new SHA-256 (it answers ACCEPT 0); false then. A receiver that sends no
   * PREFIX (an older one) is trusted on size and time alone, as before.
   */
  private async samePrefix(o: Outgoing, offset: number): Promise<boolean> {
    const theirs = o.prefix;
    o.prefix = undefined;
    if (!theirs || theirs.offset !== offset) return true;
    try {
      if ((await hashPrefix(this.c.fs, o.path, offset)).digest('hex') === theirs.sha256) return true;
      const now = await inspect(this.c.fs, o.path);
      Object.assign(o, { size: now.size, mtimeMs: now.mtimeMs, sha256: now.sha256 });
    } catch (e) {
      this.end(o, 'SOURCE_CHANGED', `cannot read ${o.path}: ${String(e)}`, true);
      return false;
    }
    this.c.save();
    const text = `${o.name}: the source changed under the ${offset} bytes ${o.peer} kept; sending it again from the start`;
    this.c.logger.warn('file source changed under the resumed prefix', { file: o.file, offset });
    this.c.emit('notice', {
      conversation: { kind: 'peer', peerId: o.peerId },
      text,
      level: 'warn',
      ts: this.c.clock.wallNow(),
    });
    this.c.tell(o.peerId, { kind: 'restart', file: o.file, size: o.size, sha256: o.sha256 });
    return false;
  }

  /** The source from `offset`, a piece at a time; it stops once the transfer ended here. */
  private async *read(o: Outgoing, offset: number): AsyncGenerator<Uint8Array> {
    const fh = await this.c.fs.open(o.path, 'r').catch((e: unknown) => {
      throw new PunchlineError('SOURCE_CHANGED', `cannot read ${o.path}: ${ioError(e, 'open').message}`);
    });
    // One buffer for the whole file: the bulk lane copies each piece into its record before it
    // asks for the next (peer/bulk-lane.ts), and a fresh 256 KiB buffer per read was garbage for
    // the major collector (large objects) 400 times per 100 MiB.
    const buf = new Uint8Array(Math.max(1, Math.min(READ_BYTES, o.size - offset)));
    try {
      for (let at = offset; at < o.size;) {
        if (o.ended) throw new PunchlineError('CANCELLED', `${o.file} ended`);
        const want = Math.min(buf.length, o.size - at);
        const { bytesRead } = await fh.read(buf, 0, want, at).catch((e: unknown) => {
          throw ioError(e, `cannot read ${o.path}`);
        });
        if (bytesRead === 0) throw new PunchlineError('SOURCE_CHANGED', `${o.path} shrank while being sent`);
        at += bytesRead;
        o.bytes = at;
        yield buf.subarray(0, bytesRead);
        o.meter?.update(o.bytes);
      }
    } finally {
      await fh.close();
    }
  }

  private done(o: Outgoing): void {
    o.ended = true;
    this.out.delete(o.file);
    this.c.save();
    o.meter?.update(o.size, true);
    this.c.emit('file_done', {
      file: o.file,
      filePath: o.path,
      bytes: o.size,
      sha256: o.sha256,
      ms: Math.round(this.c.clock.now() - (o.startedAt ?? this.c.clock.now())),
      path: pathTo(this.c.node, o.peerId),
    });
  }

  /** The transfer ends here without the file; `tellPeer` sends CANCEL with the reason. */
  private end(o: Outgoing, code: PunchlineError['code'], message: string, tellPeer: boolean): void {
    if (!this.out.has(o.file)) return;
    o.ended = true;
    this.out.delete(o.file);
    this.c.save();
    if (tellPeer) this.c.tell(o.peerId, { kind: 'cancel', file: o.file, code, text: message });
    this.c.emit('file_failed', { file: o.file, code, message });
  }
}

const fresh = (r: SendRecord): Outgoing => ({
  ...r,
  bytes: 0,
  running: false,
  ended: false,
  startedAt: undefined,
  meter: undefined,
  prefix: undefined,
});

/** Size, modification time and SHA-256 of a regular file; BAD_ARGUMENT when it is not one or cannot be read. */
async function inspect(fs: FileFs, file: string): Promise<{ size: number; mtimeMs: number; sha256: string }> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile) throw badArgument(`${file} is not a regular file`);
    const h = await hashPrefix(fs, file, st.size);
    return { size: st.size, mtimeMs: st.mtimeMs, sha256: h.digest('hex') };
  } catch (e) {
    if (isPunchlineError(e)) throw e;
    throw badArgument(`cannot read ${file}: ${ioError(e, 'read').message}`);
  }
}
