/**
 * The real product in a real terminal: `punchline rendezvous` and two `punchline chat` terminal
 * clients (no --json) in tmux, on loopback. Keys go in with send-keys, screens come back with
 * capture-pane.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, freeUdpPort, punchline } from '../support/proc.js';
import type { Proc } from '../support/proc.js';
import { HAVE_TMUX, TmuxServer } from '../support/tmux.js';

let tmux: TmuxServer | undefined;
let rdv: Proc | undefined;
let dir: string | undefined;
afterEach(async () => {
  tmux?.kill();
  tmux = undefined;
  await rdv?.kill();
  rdv = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const chatCmd = (port: number, name: string, d: string, udpPort?: number): string =>
  `LANG=C.UTF-8 '${process.execPath}' '${CLI}' chat --server 127.0.0.1:${port} --bind 127.0.0.1 --name ${name} --data-dir '${d}'${udpPort !== undefined ? ` --port ${udpPort}` : ''}`;

const suite = HAVE_TMUX ? describe : describe.skip;
if (!HAVE_TMUX) console.warn('terminal tier skipped: tmux is not installed (apt-get install tmux)');

suite('terminal tier: two real terminal clients against a real rendezvous', () => {
  it('they see each other, chat with delivered marks and /me, the bars show the UDP endpoint and RTT, /info, a rename, resize, Ctrl-C restores the terminal', async () => {
    const port = await freeUdpPort();
    rdv = punchline(['rendezvous', '--host', '127.0.0.1', '--port', String(port)]);
    await rdv.line(/listening/);
    dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-tui-real-'));
    const t = (tmux = new TmuxServer());
    // alice's UDP port is known: on loopback it is her public UDP mapping, which the status bar shows.
    const aliceUdp = await freeUdpPort();
    t.start('alice', chatCmd(port, 'alice', path.join(dir, 'a'), aliceUdp));
    t.start('bob', chatCmd(port, 'bob', path.join(dir, 'b')));

    // Each sees the other in the peer list, and its own registration in the status bar.
    await t.until(
      'alice',
      (s) => /\bbob\b/.test(s) && /server ok/.test(s),
      'bob in alice’s peer list',
      15_000,
    );
    await t.until('bob', (s) => /\balice\b/.test(s), 'alice in bob’s peer list', 15_000);

    // A room message: typed, shown with its mark, delivered to bob, the mark turns delivered.
    t.type('alice', 'hello from a real terminal');
    t.keys('alice', 'Enter');
    await t.until(
      'bob',
      (s) => s.includes('<alice> hello from a real terminal'),
      'the message at bob',
      15_000,
    );
    const a1 = await t.until(
      'alice',
      (s) => /hello from a real terminal ✓✓/.test(s),
      'the delivered mark',
      15_000,
    );
    expect(a1).toMatch(/bob\s+direct/);
    // The round trip the sessions measure shows in the peer list, as in /info.
    await t.until(
      'alice',
      (s) => /bob +direct [\d.]+m?s│/.test(s),
      'an RTT for bob in the peer list',
      15_000,
    );

    // /me: bob sees an action, not a message.
    t.type('alice', '/me waves from a real terminal');
    t.keys('alice', 'Enter');
    await t.until('bob', (s) => s.includes('* alice waves from a real terminal'), '/me at bob', 15_000);
    // The endpoint in the status bar is the UDP mapping, not the relay stream's TCP port (the
    // relay registers after UDP; by now both have, bob having answered over a session).
    const bar = t.lines('alice').find((l) => /server ok/.test(l)) ?? '';
    expect(bar).toContain(`│ 127.0.0.1:${aliceUdp} │`);

    // A private reply from bob.
    t.type('bob', '/msg alice hi alice, privately');
    t.keys('bob', 'Enter');
    await t.until(
      'alice',
      (s) => /2:bob|bob\(1\)|bob \(1\)|\(1\)/.test(s),
      'an unread marker for bob',
      15_000,
    );

    // /info shows the path.
    t.type('alice', '/info bob');
    t.keys('alice', 'Enter');
    const info = await t.until(
      'alice',
      (s) => /path direct to 127\.0\.0\.1:\d+/.test(s),
      '/info output',
      10_000,
    );
    expect(info).toMatch(/fingerprint [0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}:[0-9a-f]{4}/);
    expect(info).toMatch(/rtt \d/);

    // Resize: the layout follows.
    t.run('resize-window', '-t', 'alice', '-x', '100', '-y', '30');
    await t.until('alice', (s) => s.split('\n').length >= 30, 'a 30-row screen', 5000);
    expect(t.format('alice', '#{window_width}x#{window_height}')).toBe('100x30');
    expect(t.lines('alice').some((l) => /server ok/.test(l))).toBe(true);

    // bob renames himself: alice is told, in the room.
    t.type('bob', '/nick robert');
    t.keys('bob', 'Enter');
    await t.until('bob', (s) => s.includes('you are now robert'), 'the rename at bob', 15_000);
    t.keys('alice', 'M-1');
    await t.until(
      'alice',
      (s) => s.includes('-!- bob is now known as robert'),
      'the rename at alice',
      15_000,
    );

    // Ctrl-C: a clean exit that leaves the alternate screen.
    expect(t.format('alice', '#{alternate_on}')).toBe('1');
    t.keys('alice', 'C-c');
    expect(await t.exited('alice', 10_000)).toBe(0);
    expect(t.format('alice', '#{alternate_on}')).toBe('0');
    expect(t.format('alice', '#{cursor_flag}')).toBe('1');
    // bob sees alice leave: offline in his peer list, and a notice that she closed the session.
    await t.until(
      'bob',
      (s) => /alice\s+offline/.test(s) && /alice closed the session/.test(s),
      'alice offline',
      10_000,
    );
  });
});
