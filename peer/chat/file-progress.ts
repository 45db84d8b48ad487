import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { PeerNode } from '../peer-node.js';
import type { FileControl } from './file-control.js';
import type { FileBook, FileFs } from './file-store.js';
import type { ChatEvents, FileProgress } from './types.js';

/** At most one file_progress per transfer in this long (plus one at the end). */
export const PROGRESS_EVERY_MS = 250;

/** What both halves of the file transfers use (peer/chat/files.ts, file-send.ts). */
export interface FileContext {
  node: PeerNode;
  clock: Clock;
  logger: Logger;
  fs: FileFs;
  book: FileBook;
  emit<K extends keyof ChatEvents>(name: K, e: ChatEvents[K]): void;
  /** Send a control message to a peer's open session; false without one. */
  tell(peerId: string, m: FileControl): boolean;
  /** Write files.json (errors are reported, the transfer goes on). */
  save(): void;
}

/** The path a peer's session takes now ('relay' when none is open: the next one may be either). */
export const pathTo = (node: PeerNode, peerId: string): 'direct' | 'relay' =>
  node.connection(peerId)?.path ?? 'relay';

/** file_progress for one transfer, at most every PROGRESS_EVERY_MS, the rate over that interval. */
export class ProgressMeter {
  private lastAt: number;
  private lastBytes: number;
  private rate = 0;

  constructor(
    private readonly c: FileContext,
    private readonly file: string,
    private readonly peerId: string,
    private readonly size: number,
    bytes: number,
  ) {
    this.lastAt = c.clock.now();
    this.lastBytes = bytes;
  }

  update(bytes: number, final = false): void {
    const now = this.c.clock.now();
    const dt = now - this.lastAt;
    if (!final && dt < PROGRESS_EVERY_MS) return;
    if (dt > 0) this.rate = Math.round(((bytes - this.lastBytes) * 1000) / dt);
    this.lastAt = now;
    this.lastBytes = bytes;
    const e: FileProgress = {
      file: this.file,
      bytes,
      size: this.size,
      rate: this.rate,
      // The final event says 0 even when its interval carried no bytes (rate 0): the shape a
      // script sees at the end does not depend on how the last interval fell.
      ...(final
        ? { etaMs: 0 }
        : this.rate > 0
          ? { etaMs: Math.round(((this.size - bytes) * 1000) / this.rate) }
          : {}),
      path: pathTo(this.c.node, this.peerId),
    };
    this.c.emit('file_progress', e);
  }
}
