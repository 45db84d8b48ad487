import type { FileOptions } from './files.js';
import type { JournalFs } from './journal.js';

/** File transfer options (peer/chat/files.ts): downloadDir, maxFileBytes (--max-file-mb), fileFs. */
export interface ChatServiceOptions extends Omit<FileOptions, 'dataDir'> {
  dataDir: string;
  /** fsync every journal batch (default true; tests may turn it off for speed). */
  durable?: boolean;
  now?: () => number;
  /** Storage limits (STORAGE_DEFAULTS, flags in peer/cli/chat-options.ts). */
  quota?: Partial<StorageLimits>;
  /** Pause before a message whose store failed is offered to the store again (peer/peer-link.ts STORE_RETRY_MS). */
  storeRetryMs?: number;
  /** The file seam under outbox.jsonl and history.jsonl (tests: a full disk, a crash between writes). */
  fs?: JournalFs;
}

export interface StorageLimits {
  /** Text bytes stored per sending peer per UTC day; more is refused with QUOTA until the next day. */
  peerBytesPerDay: number;
  /** history.jsonl rotates at this size (history.1.jsonl is kept): disk use is at most about twice it. */
  historyMaxBytes: number;
  /** The end of history.jsonl read at start. */
  historyTailBytes: number;
}

export const STORAGE_DEFAULTS: StorageLimits = {
  peerBytesPerDay: 32 * 1024 * 1024,
  historyMaxBytes: 64 * 1024 * 1024,
  historyTailBytes: 8 * 1024 * 1024,
};
