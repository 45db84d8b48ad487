import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, loopbackChat, useProcesses } from '../support/proc.js';
import type { Json, Proc } from '../support/proc.js';

/**
 * The JSON-lines examples in docs/cli.md and the README are a contract: each one is run here
 * against the real CLI (alice as in the example, bob a second real client on loopback) and every
 * event it shows must come out with exactly the fields shown, and the same values where a value
 * is not an id, an address, a time or a count. Commands are sent in the example's order, each
 * once the events before it have been seen. A session may open on either path (a race between
 * the relay and punching), so `connected` is matched without its path, and a `path` event is
 * satisfied by a session that opened on that path. A `message` from bob is bob sending it; bob's
 * `disconnected` ("closed") is bob quitting. Files: a `path` or `dir` in a file command is taken
 * inside this test's directory (a `send_file` source is made there, as large as its `file_sending`
 * line says), a `file` id the example saw in an earlier event is the real id of that event, bob
 * accepts every file alice sends, and a `file_offer` to alice is bob sending a file of that name
 * and size.
 */

const { start, tmpDir, rendezvous } = useProcesses();

interface Example {
  file: string;
  lines: string[];
}

/** Code blocks that run `punchline chat ... --json`, from a markdown file. */
function examples(file: string): Example[] {
  const text = readFileSync(path.join(REPO, file), 'utf8');
  const out: Example[] = [];
  let block: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      if (block === undefined) {
        block = [];
        continue;
      }
      const lines = block.filter((l) => l.trim() !== '');
      if (/^\$ npx punchline chat .*--json/.test(lines[0] ?? '')) out.push({ file, lines: lines.slice(1) });
      block = undefined;
    } else block?.push(line);
  }
  return out;
}

/** Values that are the same in every run; everything else (ids, addresses, times) is matched by key. */
const STABLE = new Set([
  'event',
  'state',
  'transport',
  'path',
  'reason',
  'room',
  'from',
  'peer',
  'text',
  'code',
  'req',
]);

const keys = (o: object): string[] => Object.keys(o).sort();
const names = (v: unknown): string[] =>
  Array.isArray(v) ? v.map((p) => (typeof p === 'string' ? p : String((p as Json).name))).sort() : [];

function matches(want: Json, got: Json): boolean {
  if (JSON.stringify(keys(want)) !== JSON.stringify(keys(got))) return false;
  // Which path a session opens on is a race (the relay, or punching if it wins): either is right.
  const free = want.event === 'connected' ? new Set(['path', 'remote']) : new Set<string>();
  for (const [k, v] of Object.entries(want)) {
    if (free.has(k)) continue;
    if (STABLE.has(k) && got[k] !== v) return false;
    if (k === 'remote' && (v === 'relay') !== (got[k] === 'relay')) return false;
    if (k === 'message' && want.event === 'error' && got[k] !== v) return false;
    if (k === 'peers' && JSON.stringify(names(v)) !== JSON.stringify(names(got[k]))) return false;
    if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object') {
      const g = got[k] as Json[];
      if (!Array.isArray(g) || g.length === 0) return false;
      if (JSON.stringify(keys(v[0] as Json)) !== JSON.stringify(keys(g[0]!))) return false;
    }
  }
  return true;
}

const FILE_COMMANDS = new Set(['send_file', 'accept_file', 'reject_file', 'cancel_file']);

/** The file side of an example run (see the comment at the top). */
class FileRun {
  /** The example's file ids, to the ids of the real events that matched their lines. */
  private readonly ids = new Map<string, string>();
  private bobFiles = 0;

  constructor(
    private readonly dir: string,
    private readonly lines: string[],
    private readonly bob: Proc,
  ) {}

  private inside = (p: string): string => path.join(this.dir, 'files', path.resolve('/', p));

  /** The command line to send for an example's line. */
  async command(line: string): Promise<string> {
    let c: Json;
    try {
      c = JSON.parse(line) as Json;
    } catch {
      return line;
    }
    if (!FILE_COMMANDS.has(c.cmd as string)) return line;
    if (typeof c.file === 'string') c.file = this.ids.get(c.file) ?? c.file;
    if (typeof c.dir === 'string') c.dir = this.inside(c.dir);
    if (c.cmd === 'send_file' && typeof c.path === 'string') {
      const at = this.lines.indexOf(line);
      const answer = this.lines.slice(at + 1).find((l) => l.startsWith('{"event":"file_sending"'));
      const size = answer ? ((JSON.parse(answer) as Json).size as number) : 1024;
      c.path = this.inside(c.path);
      await mkdir(path.dirname(c.path as string), { recursive: true });
      await writeFile(c.path as string, Buffer.alloc(size, 0x61));
      const before = this.bob.events((e) => e.event === 'file_offer').length;
      void this.bob
        .waitFor(() => this.bob.events((e) => e.event === 'file_offer')[before], 20_000, 'an offer to bob')
        .then((o) => this.bob.send({ cmd: 'accept_file', file: o.file, dir: path.join(this.dir, 'bob-in') }))
        .catch(() => {}); // the example's own wait reports what is missing
    }
    return JSON.stringify(c);
  }

  /** Bob offers alice the file an example's `file_offer` shows. */
  async bobSends(want: Json): Promise<void> {
    const file = path.join(this.dir, `bob-out-${++this.bobFiles}`, want.name as string);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.alloc(want.size as number, 0x62));
    this.bob.send({ cmd: 'send_file', peer: 'alice', path: file });
  }

  saw(want: Json, got: Json): void {
    if (typeof want.file === 'string' && typeof got.file === 'string') this.ids.set(want.file, got.file);
  }
}

const all = [...examples('docs/cli.md'), ...examples('README.md')];

describe('every JSON-lines example in the docs runs against the real CLI', () => {
  it('finds the examples (docs/cli.md has three, the README one)', () => {
    expect(all.map((e) => e.file)).toEqual(['docs/cli.md', 'docs/cli.md', 'docs/cli.md', 'README.md']);
  });

  it.each(all.map((e, i) => [`${e.file} example ${i + 1}`, e] as const))('%s', async (_name, ex) => {
    const { port } = await rendezvous();
    const dir = await tmpDir();
    const bob = start(loopbackChat(port, 'bob', path.join(dir, 'b')));
    await bob.event((e) => e.event === 'registered' && e.transport === 'ws', 15_000);
    const alice: Proc = start(loopbackChat(port, 'alice', path.join(dir, 'a')));
    // As a user would: wait until registered on both transports and bob is in the room.
    await alice.event((e) => e.event === 'registered' && e.transport === 'ws', 15_000);
    await alice.event((e) => e.event === 'presence' && names(e.peers).includes('bob'), 15_000);
    const used = new Set<Json>();
    const files = new FileRun(dir, ex.lines, bob);
    for (const line of ex.lines) {
      if (!line.startsWith('{"event"')) {
        alice.child.stdin!.write((await files.command(line)) + '\n');
        continue;
      }
      const want = JSON.parse(line) as Json;
      if (want.event === 'file_offer') await files.bobSends(want);
      if (want.event === 'message' && want.from === 'bob')
        bob.send(
          want.room
            ? { cmd: 'send_room', text: want.text as string }
            : { cmd: 'send', peer: 'alice', text: want.text as string },
        );
      if (want.event === 'disconnected' && want.reason === 'closed') bob.send({ cmd: 'quit' });
      // A session that opened on the path a `path` event shows needs no move to get there.
      const already = (): Json | undefined =>
        want.event === 'path'
          ? alice.json.find((e) => e.event === 'connected' && e.peer === want.peer && e.path === want.path)
          : undefined;
      const got = await alice.waitFor(
        () => alice.json.find((e) => !used.has(e) && matches(want, e)) ?? already(),
        20_000,
        `an event like ${line}`,
      );
      used.add(got);
      files.saw(want, got);
    }
  });
});
