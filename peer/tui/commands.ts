/**
 * The input line's grammar: a plain line is a message to the active conversation, `/cmd args` is
 * a command, `//text` sends a line that starts with "/". Parsing is pure; every mistake becomes a
 * one-line explanation the view-model prints as a system line.
 */

export type Command =
  | { name: 'connect'; peer: string }
  | { name: 'msg'; peer: string; text: string }
  | { name: 'query'; peer: string }
  | { name: 'close' }
  | { name: 'who' }
  | { name: 'names' }
  | { name: 'me'; text: string }
  | { name: 'info'; peer?: string }
  | { name: 'nick'; nick: string }
  | { name: 'trust'; peer?: string }
  | { name: 'clear' }
  | { name: 'send'; peer: string; path: string }
  /** `first` is a file id prefix, or the directory when no offer's id starts with it (command-actions.ts). */
  | { name: 'accept'; first?: string; dir?: string }
  | { name: 'reject'; file?: string }
  | { name: 'cancel'; file?: string }
  | { name: 'help' }
  | { name: 'quit' };

export type CommandName = Command['name'];

export type Parsed =
  | { kind: 'empty' }
  | { kind: 'text'; text: string }
  | { kind: 'command'; command: Command }
  | { kind: 'error'; message: string };

/** Every command with its usage and a one-line description: help, errors and completion use it. */
export const COMMANDS: readonly { name: CommandName; usage: string; about: string }[] = [
  { name: 'msg', usage: '/msg NAME TEXT', about: 'send TEXT to NAME in your private conversation' },
  { name: 'query', usage: '/query NAME', about: 'open the private conversation with NAME' },
  { name: 'connect', usage: '/connect NAME', about: 'punch a path to NAME now' },
  { name: 'me', usage: '/me ACTION', about: 'say what you do: "* alice waves"' },
  { name: 'names', usage: '/names', about: 'who is in the room, online and offline' },
  { name: 'who', usage: '/who', about: 'list the room: state, path, round trip' },
  { name: 'info', usage: '/info [NAME]', about: 'path, candidates, RTT, loss, key fingerprint' },
  { name: 'trust', usage: '/trust [NAME]', about: "accept NAME's new key, release held messages" },
  { name: 'nick', usage: '/nick NAME', about: 'change your name in the room' },
  { name: 'send', usage: '/send NAME PATH', about: 'offer the file at PATH to NAME (Tab completes PATH)' },
  { name: 'accept', usage: '/accept [ID] [DIR]', about: 'save the newest offer (or ID) in DIR' },
  { name: 'reject', usage: '/reject [ID]', about: 'decline the newest file offer (or ID)' },
  { name: 'cancel', usage: '/cancel [ID]', about: 'stop the newest file transfer here (or ID)' },
  { name: 'close', usage: '/close', about: 'close this private conversation' },
  { name: 'clear', usage: '/clear', about: 'clear this conversation from the screen' },
  { name: 'help', usage: '/help', about: 'show keys and commands (F1)' },
  { name: 'quit', usage: '/quit', about: 'leave the room and exit (Ctrl-C)' },
];

const ALIASES: Record<string, CommandName> = { exit: 'quit', q: 'query', m: 'msg', whois: 'info' };

/** The first argument (a word, or a "quoted name") and the raw rest of the line. */
function firstArg(s: string): { arg: string; rest: string } | { error: string } | null {
  const t = s.trimStart();
  if (t === '') return null;
  if (t.startsWith('"')) {
    const end = t.indexOf('"', 1);
    if (end < 0) return { error: 'missing closing quote' };
    return { arg: t.slice(1, end), rest: t.slice(end + 1).trimStart() };
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(t)!;
  return { arg: m[1]!, rest: m[2]! };
}

function usage(name: CommandName): string {
  return `usage: ${COMMANDS.find((c) => c.name === name)!.usage}`;
}

export function parseInput(line: string): Parsed {
  if (line.trim() === '') return { kind: 'empty' };
  if (line.startsWith('//')) return { kind: 'text', text: line.slice(1) };
  if (!line.startsWith('/')) return { kind: 'text', text: line };

  const m = /^\/(\S*)\s*([\s\S]*)$/.exec(line)!;
  const word = m[1]!.toLowerCase();
  const args = m[2]!.trimEnd();
  if (word === '')
    return { kind: 'error', message: 'empty command; type //text to send a line starting with /' };
  const name = ALIASES[word] ?? COMMANDS.find((c) => c.name === word)?.name;
  if (!name) return { kind: 'error', message: `unknown command /${word}; /help lists the commands` };

  // The action is the rest of the line as typed, quotes and all (not parsed as a name).
  if (name === 'me')
    return args.trim() === ''
      ? { kind: 'error', message: usage(name) }
      : { kind: 'command', command: { name, text: args.trim() } };

  const first = firstArg(args);
  if (first && 'error' in first) return { kind: 'error', message: `${usage(name)} (${first.error})` };
  const cmd = (c: Command): Parsed => ({ kind: 'command', command: c });
  const err = (): Parsed => ({ kind: 'error', message: usage(name) });
  if (first && first.arg === '') return err();

  switch (name) {
    case 'who':
    case 'names':
    case 'clear':
    case 'help':
    case 'quit':
    case 'close':
      return first ? err() : cmd({ name });
    case 'connect':
    case 'query':
      return first && first.rest === '' ? cmd({ name, peer: first.arg }) : err();
    case 'msg':
      return first && first.rest !== '' ? cmd({ name, peer: first.arg, text: first.rest }) : err();
    case 'info':
    case 'trust':
      if (!first) return cmd({ name });
      return first.rest === '' ? cmd({ name, peer: first.arg }) : err();
    case 'nick':
      return first && first.rest === '' && first.arg !== '' ? cmd({ name, nick: first.arg }) : err();
    case 'send': {
      const p = first ? pathArg(first.rest) : '';
      return first && p !== '' ? cmd({ name, peer: first.arg, path: p }) : err();
    }
    case 'accept':
      if (!first) return cmd({ name });
      // "my\ dir" alone: one escaped directory, not an id and a directory.
      if (first.rest === '' || first.arg.endsWith('\\')) return cmd({ name, first: pathArg(args) });
      return cmd({ name, first: first.arg, dir: pathArg(first.rest) });
    case 'reject':
    case 'cancel':
      if (!first) return cmd({ name });
      return first.rest === '' ? cmd({ name, file: first.arg }) : err();
  }
}

/**
 * A path as typed: the rest of the line, in double quotes or with spaces escaped as "\\ " (what
 * Tab completion inserts, as a shell does).
 */
export function pathArg(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1);
  return t.replace(/\\(.)/g, '$1');
}

/** A path as Tab completion inserts it: spaces and backslashes escaped, as a shell does. */
export const escapePath = (p: string): string => p.replace(/([\\ ])/g, '\\$1');

/** Command names starting with `prefix` (without the slash), for Tab completion. */
export function completeCommand(prefix: string): string[] {
  const p = prefix.toLowerCase();
  return COMMANDS.map((c) => c.name).filter((n) => n.startsWith(p));
}
