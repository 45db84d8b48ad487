import type { ChatService } from '../chat/types.js';
import type { Command } from './json-commands.js';
import type { Json } from './json-events.js';

type FileCommand = Extract<Command, { cmd: 'send_file' | 'accept_file' | 'reject_file' | 'cancel_file' }>;

/**
 * The file commands of the JSON-lines mode (docs/cli.md, files). send_file is answered by
 * `file_sending` once the file is hashed and offered (its `file` is the id the other commands
 * and the file_* events use); accept_file by `file_accepted` once the temporary file exists;
 * reject_file and cancel_file at once. Errors are the command's `error` answer.
 */
export function fileCommand(
  chat: ChatService,
  c: FileCommand,
  answer: (e: Json) => void,
  fail: (e: unknown) => void,
): void {
  switch (c.cmd) {
    case 'send_file':
      chat.sendFile(c.peer, c.path).then(
        (v) =>
          answer({
            event: 'file_sending',
            file: v.file,
            peer: v.peer,
            name: v.name,
            size: v.size,
            sha256: v.sha256,
          }),
        fail,
      );
      return;
    case 'accept_file':
      chat.acceptFile(c.file, c.dir).then(() => answer({ event: 'file_accepted', file: c.file }), fail);
      return;
    case 'reject_file':
      chat.rejectFile(c.file);
      answer({ event: 'file_rejected', file: c.file });
      return;
    case 'cancel_file':
      chat.cancelFile(c.file);
      answer({ event: 'file_cancelled', file: c.file });
  }
}

/** file_offer, file_progress, file_done and file_failed as lines (snake_case, as every line: docs/cli.md). */
export function followFiles(chat: ChatService, write: (e: Json) => void): void {
  chat.on('file_offer', ({ peerId, ...e }) => write({ event: 'file_offer', ...e, peer_id: peerId }));
  chat.on('file_progress', ({ etaMs, ...e }) =>
    write({ event: 'file_progress', ...e, ...(etaMs !== undefined ? { eta_ms: etaMs } : {}) }),
  );
  chat.on('file_done', ({ filePath, ...e }) => write({ event: 'file_done', ...e, file_path: filePath }));
  chat.on('file_failed', (e) => write({ event: 'file_failed', ...e }));
}
