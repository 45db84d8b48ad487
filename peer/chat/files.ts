import path from 'node:path';
import { PunchlineError, badArgument } from '../../common/errors.js';
import type { IncomingBulk } from '../peer-events.js';
import type { PeerNode } from '../peer-node.js';
import { decodeFileControl, encodeFileControl } from './file-control.js';
import type { FileContext } from './file-progress.js';
import { FileReceiver } from './file-receive.js';
import { FileSender } from './file-send.js';
import { FileBook, type FileFs, nodeFileFs } from './file-store.js';
import { ioError } from './journal.js';
import type { ChatEvents, FileView } from './types.js';

/** Default for --max-file-mb: offers above it are refused before anything is stored. */
export const MAX_FILE_MB = 4096;

export interface FileOptions {
  dataDir: string;
  /** Where acceptFile saves without a directory (default: `downloads` in the data directory). */
  downloadDir?: string;
  /** Offers above this many bytes are refused (default MAX_FILE_MB MiB). */
  maxFileBytes?: number;
  /** The file seam under everything transfers touch: sources, received files, files.json (tests: a full disk, a disk in memory). */
  fileFs?: FileFs;
}

/**
 * File transfers, both directions, over a PeerNode (docs/protocol.md, file control records):
 * control messages as control records, data as bulk records with the file id as transfer id.
 * The service (peer/chat/service.ts) only wires this in.
 */
export class FileTransfers {
  private readonly sender: FileSender;
  private readonly receiver: FileReceiver;
  private readonly book: FileBook;
  private readonly offs: (() => void)[] = [];
  private readonly ready: Promise<void>;
  private closed = false;

  constructor(
    private readonly node: PeerNode,
    opts: FileOptions,
    emit: <K extends keyof ChatEvents>(name: K, e: ChatEvents[K]) => void,
  ) {
    const fs = opts.fileFs ?? nodeFileFs;
    this.book = new FileBook(opts.dataDir, fs);
    const c: FileContext = {
      node,
      clock: node.clock,
      logger: node.log,
      fs,
      book: this.book,
      emit: (name, e) => {
        if (!this.closed) emit(name, e);
      },
      tell: (peerId, m) => !this.closed && node.sendControl(peerId, encodeFileControl(m)),
      save: () => this.save(emit),
    };
    this.sender = new FileSender(c);
    this.receiver = new FileReceiver(c, {
      downloadDir: opts.downloadDir ?? path.join(opts.dataDir, 'downloads'),
      maxFileBytes: opts.maxFileBytes ?? MAX_FILE_MB * 1024 * 1024,
    });
    this.ready = this.book.load().then((s) => {
      this.sender.restore(s.send);
      this.receiver.restore(s.receive, s.done);
      for (const p of node.peerList()) if (node.connection(p.id)) this.sender.connected(p.id);
    });
    node.setControlReceiver((peerId, data) => this.control(peerId, data));
    this.offs.push(
      node.on('connected', (e) => void this.ready.then(() => this.sender.connected(e.peerId))),
      // A transfer to resume with a peer that is back (either side restarted): open a session.
      node.on('presence', (e) => void this.ready.then(() => this.reconnect(e.peers.map((p) => p.id)))),
      node.on('disconnected', (e) => void this.ready.then(() => this.reconnect([e.peerId]))),
    );
  }

  private reconnect(peerIds: string[]): void {
    for (const id of peerIds)
      if (!this.closed && (this.sender.pending(id) || this.receiver.pending(id)) && !this.node.connection(id))
        this.node.connect(id).catch(() => {}); // presence tries again
  }

  private save(emit: <K extends keyof ChatEvents>(name: K, e: ChatEvents[K]) => void): void {
    const { receive, done } = this.receiver.records();
    this.book.save({ send: this.sender.records(), receive, done }).catch((e: unknown) => {
      const err = ioError(e, 'cannot write files.json');
      if (!this.closed)
        emit('error', {
          code: err.code,
          message: `${err.message}: transfers resume only while punchline runs`,
        });
    });
  }

  private control(peerId: string, data: Uint8Array): void {
    let m;
    try {
      m = decodeFileControl(data);
    } catch (e) {
      this.node.log.warn('dropped a malformed file control record', { peer: peerId, error: String(e) });
      return;
    }
    void this.ready.then(() => {
      if (this.closed) return;
      this.sender.control(peerId, m);
      this.receiver.control(peerId, m);
    });
  }

  /** A bulk record: ours if its transfer is a file we receive, else the caller's (undefined). */
  take(r: IncomingBulk): Promise<void | 'refused'> | undefined {
    return this.receiver.has(r.transfer) ? this.receiver.take(r) : undefined;
  }

  async send(nameOrId: string, file: string): Promise<FileView> {
    await this.ready;
    return this.sender.send(nameOrId, file);
  }

  async accept(file: string, dir?: string): Promise<void> {
    await this.ready;
    return this.receiver.accept(file, dir);
  }

  reject(file: string): void {
    if (!this.receiver.reject(file)) throw badArgument(`no file offer ${file}`);
  }

  cancel(file: string): void {
    if (!this.sender.cancel(file) && !this.receiver.cancel(file))
      throw new PunchlineError('BAD_ARGUMENT', `no file transfer ${file}`);
  }

  list(): FileView[] {
    return [...this.sender.views(), ...this.receiver.views()];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.offs) off();
    this.sender.close();
    await this.receiver.close();
    const { receive, done } = this.receiver.records();
    await this.book.save({ send: this.sender.records(), receive, done }).catch(() => {});
  }
}
