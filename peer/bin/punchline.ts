#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { isPunchlineError } from '../../common/errors.js';
import { RENDEZVOUS_HELP, runRendezvous } from '../../rendezvous/main.js';
import { CHAT_HELP, runChat } from '../cli/chat-main.js';
import { DEMO_HELP, runDemo } from '../demo/main.js';
import { NAT_CHECK_HELP, runNatCheckCommand } from '../nat-check/main.js';

const HELP = `Usage: punchline <command> [options]

Peer-to-peer chat for the terminal that gets through NATs.

Commands:
  demo         watch two peers punch through their NATs, step by step (simulated, instant)
  rendezvous   run a rendezvous server (registration, presence, introductions, STUN)
  chat         join a room and chat peer to peer
  nat-check    what kind of NAT am I behind? direct or relay against each kind of NAT
  help [CMD]   show help for a command

Run "punchline <command> --help" for a command's options.
`;

const commands: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  rendezvous: { run: runRendezvous, help: RENDEZVOUS_HELP },
  chat: { run: runChat, help: CHAT_HELP },
  demo: { run: runDemo, help: DEMO_HELP },
  'nat-check': { run: (argv) => runNatCheckCommand(argv), help: NAT_CHECK_HELP },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`punchline ${version()}\n`);
    return 0;
  }
  if (cmd === 'help') {
    const target = rest[0];
    process.stdout.write(target && commands[target] ? commands[target].help : HELP);
    return target && !commands[target] ? 2 : 0;
  }
  const c = commands[cmd];
  if (!c) {
    process.stderr.write(`punchline: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    if (isPunchlineError(e)) {
      process.stderr.write(`punchline ${cmd}: ${e.message}\n`);
      if (e.code === 'BAD_ARGUMENT') process.stderr.write(`Run "punchline ${cmd} --help" for usage.\n`);
      return e.code === 'BAD_ARGUMENT' ? 2 : 1;
    }
    process.stderr.write(`punchline ${cmd}: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`punchline: ${String(e)}\n`);
    process.exit(1);
  },
);
