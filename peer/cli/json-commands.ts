import { PunchlineError } from '../../common/errors.js';

/**
 * The headless JSON-lines contract (docs/cli.md): commands on stdin, events on stdout, one JSON
 * object per line. It is public and stable: fields are added, not renamed (docs/cli.md tells
 * the one renaming, of the ids).
 */
export type Command = (
  | { cmd: 'connect'; peer: string }
  | { cmd: 'send'; peer: string; text: string; action?: boolean }
  | { cmd: 'send_room'; text: string }
  | { cmd: 'peers' }
  | { cmd: 'stats'; peer: string }
  | { cmd: 'trust'; peer: string }
  | { cmd: 'quit' }
  | { cmd: 'send_file'; peer: string; path: string }
  | { cmd: 'accept_file'; file: string; dir?: string }
  | { cmd: 'reject_file'; file: string }
  | { cmd: 'cancel_file'; file: string }
) & { req?: Req };

/** A caller's tag for a command, echoed in its answer and in any error it causes. */
export type Req = string | number;

/** A command line may carry a 1 MB text, JSON-escaped (up to 6 bytes a character in the worst case). */
const MAX_COMMAND_LINE = 8 * 1024 * 1024;
/** `req` is a tag, not a payload: a string of at most 64 characters or a finite number. */
export const MAX_REQ_CHARS = 64;

const COMMANDS =
  'connect, send, send_room, peers, stats, trust, send_file, accept_file, reject_file, cancel_file or quit';

/**
 * The `req` of a command line that may not parse as a command, so that even its error carries
 * it (a caller matching answers by `req` must never be left waiting).
 */
function reqOf(o: Record<string, unknown>): Req | undefined {
  const r = o.req;
  if (r === undefined) return undefined;
  if (typeof r === 'string' && r.length <= MAX_REQ_CHARS) return r;
  if (typeof r === 'number' && Number.isFinite(r)) return r;
  return undefined;
}

export function parseCommand(line: string): Command {
  if (line.length > MAX_COMMAND_LINE)
    throw new PunchlineError('BAD_ARGUMENT', `command line longer than ${MAX_COMMAND_LINE} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new PunchlineError('BAD_ARGUMENT', 'not a JSON object');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new PunchlineError('BAD_ARGUMENT', 'not a JSON object');
  const o = v as Record<string, unknown>;
  const req = reqOf(o);
  if (o.req !== undefined && req === undefined)
    throw new PunchlineError(
      'BAD_ARGUMENT',
      `"req" must be a string of at most ${MAX_REQ_CHARS} characters or a finite number`,
    );
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0)
      throw new PunchlineError('BAD_ARGUMENT', `"${String(o.cmd)}" needs a non-empty string "${k}"`);
    return o[k] as string;
  };
  const tag = req === undefined ? {} : { req };
  switch (o.cmd) {
    case 'connect':
      return { cmd: 'connect', peer: str('peer'), ...tag };
    case 'send':
      if (o.action !== undefined && typeof o.action !== 'boolean')
        throw new PunchlineError('BAD_ARGUMENT', '"send": "action" must be true or false');
      return {
        cmd: 'send',
        peer: str('peer'),
        text: str('text'),
        ...(o.action === true ? { action: true } : {}),
        ...tag,
      };
    case 'send_room':
      return { cmd: 'send_room', text: str('text'), ...tag };
    case 'peers':
      return { cmd: 'peers', ...tag };
    case 'stats':
      return { cmd: 'stats', peer: str('peer'), ...tag };
    case 'trust':
      return { cmd: 'trust', peer: str('peer'), ...tag };
    case 'quit':
      return { cmd: 'quit', ...tag };
    case 'send_file':
      return { cmd: 'send_file', peer: str('peer'), path: str('path'), ...tag };
    case 'accept_file':
      return {
        cmd: 'accept_file',
        file: str('file'),
        ...(o.dir !== undefined ? { dir: str('dir') } : {}),
        ...tag,
      };
    case 'reject_file':
    case 'cancel_file':
      return { cmd: o.cmd, file: str('file'), ...tag };
    case undefined:
      throw new PunchlineError('BAD_ARGUMENT', `missing "cmd"; expected ${COMMANDS}`);
    default:
      throw new PunchlineError('BAD_ARGUMENT', `unknown cmd ${JSON.stringify(o.cmd)}; expected ${COMMANDS}`);
  }
}

/** What a bad command line still tells us: its `req` and `peer`, so that its error carries them. */
export function salvage(line: string): { req?: Req; peer?: string } {
  if (line.length > MAX_COMMAND_LINE) return {};
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const o = v as Record<string, unknown>;
    const req = reqOf(o);
    const peer = typeof o.peer === 'string' && o.peer.length > 0 && o.peer.length <= 256 ? o.peer : undefined;
    return { ...(req === undefined ? {} : { req }), ...(peer === undefined ? {} : { peer }) };
  } catch {
    return {};
  }
}
