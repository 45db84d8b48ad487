import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PunchlineError, isPunchlineError } from '../../common/errors.js';
import type { PeerNode } from '../peer-node.js';

/**
 * The headless JSON-lines contract (docs/cli.md): commands on stdin, events on stdout, one JSON
 * object per line. It is public and stable: fields are only ever added.
 */
export type Command =
  | { cmd: 'connect'; peer: string }
  | { cmd: 'send'; peer: string; text: string }
  | { cmd: 'peers' }
  | { cmd: 'quit' };

export const MAX_COMMAND_LINE = 64 * 1024;

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
  const str = (k: string): string => {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0)
      throw new PunchlineError('BAD_ARGUMENT', `"${String(o.cmd)}" needs a non-empty string "${k}"`);
    return o[k] as string;
  };
  switch (o.cmd) {
    case 'connect':
      return { cmd: 'connect', peer: str('peer') };
    case 'send':
      return { cmd: 'send', peer: str('peer'), text: str('text') };
    case 'peers':
      return { cmd: 'peers' };
    case 'quit':
      return { cmd: 'quit' };
    default:
      throw new PunchlineError(
        'BAD_ARGUMENT',
        `unknown cmd ${JSON.stringify(o.cmd)}; expected connect, send, peers or quit`,
      );
  }
}

/** Wire a PeerNode to JSON lines. Resolves when the user quits or stdin ends. */
export function runJsonLines(node: PeerNode, input: Readable, output: Writable): Promise<void> {
  const out = (e: Record<string, unknown>): void => {
    output.write(JSON.stringify(e) + '\n');
  };
  node.on('registered', (e) => out({ event: 'registered', ...e }));
  node.on('presence', (e) => out({ event: 'presence', ...e }));
  node.on('connected', (e) => out({ event: 'connected', ...e }));
  node.on('message', (e) => out({ event: 'message', ...e }));
  node.on('error', (e) => out({ event: 'error', ...e }));
  node.on('server', (e) => out({ event: 'server', ...e }));

  return new Promise<void>((resolve) => {
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      rl.close();
      resolve();
    };
    rl.on('line', (line) => {
      if (done || line.trim() === '') return;
      let c: Command;
      try {
        c = parseCommand(line);
      } catch (e) {
        const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
        out({ event: 'error', code: err.code, message: err.message });
        return;
      }
      try {
        switch (c.cmd) {
          case 'connect':
            node.connect(c.peer).catch(() => {
              /* failures arrive as error events */
            });
            break;
          case 'send':
            node.sendMessage(c.peer, c.text);
            break;
          case 'peers':
            out({ event: 'peers', peers: node.peerList().map(({ punch: _p, ...rest }) => rest) });
            break;
          case 'quit':
            finish();
            break;
        }
      } catch (e) {
        const err = isPunchlineError(e) ? e : new PunchlineError('INTERNAL', String(e));
        out({ event: 'error', code: err.code, message: err.message });
      }
    });
    rl.on('close', finish);
  });
}
