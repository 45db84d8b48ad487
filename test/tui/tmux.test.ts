/**
 * The terminal tier: the real TUI (blessed, a real pty) in tmux against the fake service. Keys go
 * in with send-keys, the screen comes back with capture-pane. Each test runs its own tmux server
 * (-L, no user config) and kills it afterwards; every wait is bounded.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO } from '../support/proc.js';
import { HAVE_TMUX, TmuxServer } from '../support/tmux.js';

const FIXTURE = path.join(REPO, 'dist/test/tui/fixtures/fake-tui.js');

/** Why the tier cannot run here, or null. A stale build would test old code, so it fails instead. */
function missing(): string | null {
  if (!HAVE_TMUX) return 'tmux is not installed (apt-get install tmux): skipping the terminal tier';
  if (!existsSync(FIXTURE)) return `${FIXTURE} is missing: run "npx tsc -p ." first`;
  return null;
}

function newestSource(): number {
  let newest = 0;
  for (const dir of ['peer/tui', 'test/tui', 'test/tui/fixtures'])
    for (const f of readdirSync(path.join(REPO, dir)))
      if (f.endsWith('.ts')) newest = Math.max(newest, statSync(path.join(REPO, dir, f)).mtimeMs);
  return newest;
}

/** The fake-service fixture in a private tmux server (one session, 'tui'). */
class Tmux extends TmuxServer {
  readonly pidFile = path.join(this.dir, 'pid');

  startFake(env: Record<string, string> = {}, cols = 80, rows = 24): void {
    const vars = { LANG: 'C.UTF-8', FAKE_STEP: 'signal', FAKE_PID_FILE: this.pidFile, ...env };
    const assign = Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    super.start('tui', `env ${assign} '${process.execPath}' '${FIXTURE}'`, cols, rows);
  }

  /** Deliveries the fake has advanced (the fixture counts SIGUSR1s in a file). */
  async steps(n: number, ms = 5000): Promise<void> {
    const file = `${this.pidFile}.steps`;
    const deadline = Date.now() + ms;
    while (!existsSync(file) || Number(readFileSync(file, 'utf8')) < n) {
      if (Date.now() > deadline) throw new Error(`the fake did not advance ${n} times`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Signal the fixture process (SIGUSR1: the fake advances every delivery one step). */
  signal(sig: NodeJS.Signals): void {
    process.kill(Number(readFileSync(this.pidFile, 'utf8')), sig);
  }
}

/** The emoji conversation at 80x24, as tmux captures it (text typed, then bob's message, then erin). */
const EMOJI_SCREEN = [
  ' 1:#lobby',
  'lobby (4)          │',
  ' alice (you)       │',
  ' bob    direct 23ms│',
  ' carol  relay 142ms│',
  ' erin    connecting│',
  ' dave       offline│',
  '                   │ 09:00 <bob> morning! punched through from the café wifi',
  '                   │ 09:01 <carol> symmetric NAT here, so I am on the relay',
  '                   │ 09:02 <alice> welcome! this one reached everyone ✓✓ 3/3',
  '                   │ 09:03 <alice> sent to all three, two confirmed ✓ 2/3',
  '                   │ 09:05 <alice> dave is away, this one waits for him … 1/3',
  '                   │ ───────────── end of history, Thu 2 Jan 2025 ──────────────',
  '                   │ 09:06 -!- dave: direct -> offline (no answer for 15 s)',
  '                   │ 09:06 <bob> alice: are you seeing my messages?',
  '                   │ 09:06 <alice> thumbs 👍 up … 0/3',
  '                   │ 09:06 <alice> flag 🇫🇷 ok … 0/3',
  '                   │ 09:06 <alice> family 👨‍👩‍👧 here … 0/3',
  '                   │ 09:06 <alice> cafe\u0301 au lait … 0/3',
  '                   │ 09:06 <alice> 漢字 kanji … 0/3',
  '                   │ 09:06 <bob> nice 👍 merci 🇫🇷 漢字',
  '                   │ 09:06 -!- erin joined',
  ' alice 2bd8:06c9:7f0e:00af │ 203.0.113.5:40000 │ server ok            4 in room',
  '[#lobby]',
  '',
].join('\n');

const why = missing();
if (why) {
  describe('terminal tier (tmux)', () => {
    it.skip(why, () => {});
  });
} else {
  describe('terminal tier: the real TUI in tmux against the fake service', () => {
    let t: Tmux;
    afterEach(() => t?.kill());

    async function started(env: Record<string, string> = {}, cols = 80, rows = 24): Promise<string> {
      t = new Tmux();
      t.startFake(env, cols, rows);
      return t.until(
        'tui',
        (s) => s.includes('[#lobby]') && s.includes('are you seeing my messages?'),
        'the first paint',
      );
    }

    it('the build under test is current', () => {
      const built = statSync(FIXTURE).mtimeMs;
      expect(built, 'dist is older than peer/tui or test/tui: run "npx tsc -p ."').toBeGreaterThanOrEqual(
        newestSource(),
      );
    });

    it('80x24: tabs, peer list with paths and RTTs, conversation with marks, status bar, input', async () => {
      await started();
      const lines = t.lines('tui');
      expect(lines).toHaveLength(24);
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(80);
      expect(lines[0]).toMatch(/^ 1:#lobby/);
      expect(lines.slice(1, 6)).toEqual([
        'lobby (3)          │',
        ' alice (you)       │',
        ' bob    direct 23ms│',
        ' carol  relay 142ms│',
        ' dave       offline│',
      ]);
      const screen = lines.join('\n');
      expect(screen).toContain('│ 09:02 <alice> welcome! this one reached everyone ✓✓ 3/3');
      expect(screen).toContain('│ 09:03 <alice> sent to all three, two confirmed ✓ 2/3');
      expect(screen).toContain('│ 09:05 <alice> dave is away, this one waits for him … 1/3');
      expect(screen).toContain('-!- dave: direct -> offline');
      expect(lines[22]).toMatch(/^ alice [0-9a-f:]{19} │ 203\.0\.113\.5:40000 │ server ok +3 in room$/);
      expect(lines[23]).toMatch(/^\[#lobby\] *$/);
      expect(t.format('tui', '#{alternate_on}')).toBe('1');
      // The cursor sits on the input line, after the prompt.
      expect(t.format('tui', '#{cursor_y} #{cursor_x}')).toBe('23 9');
    });

    it('a typed message shows pending, then sent, then delivered as the service reports', async () => {
      await started();
      t.type('tui', '/msg bob hello from tmux');
      t.keys('tui', 'Enter');
      await t.until('tui', (s) => /<alice> hello from tmux …$/m.test(s), 'the pending mark');
      expect(t.lines('tui')[0]).toMatch(/^ 1:#lobby {2}2:bob/);
      t.signal('SIGUSR1');
      await t.until('tui', (s) => /<alice> hello from tmux ✓$/m.test(s), 'the sent mark');
      await t.steps(1);
      t.signal('SIGUSR1');
      await t.until('tui', (s) => /<alice> hello from tmux ✓✓$/m.test(s), 'the delivered mark');
      await t.steps(2);
      // Back to the room (Alt-1) and a message to everyone: dave is offline, so 2 of 3 at best.
      t.keys('tui', 'M-1');
      await t.until('tui', (s) => s.includes('reached everyone'), 'the room');
      t.type('tui', 'hi all');
      t.keys('tui', 'Enter');
      await t.until('tui', (s) => /<alice> hi all … 0\/3$/m.test(s), 'the room message, pending');
      t.signal('SIGUSR1'); // bob and carol: sent; dave is offline, still pending
      await t.steps(3);
      expect(t.screen('tui')).toMatch(/<alice> hi all … 0\/3$/m);
      t.signal('SIGUSR1');
      await t.until('tui', (s) => /<alice> hi all … 2\/3$/m.test(s), 'two of three delivered');
    });

    it('wide and combining characters: the whole screen is exactly what was sent, no stray character', async () => {
      await started({ FAKE_USR2: 'emoji', FAKE_FROZEN_CLOCK: '1' });
      const sent = ['thumbs 👍 up', 'flag 🇫🇷 ok', 'family 👨‍👩‍👧 here', 'cafe\u0301 au lait', '漢字 kanji'];
      for (const line of sent) {
        t.type('tui', line);
        t.keys('tui', 'Enter');
        await t.until('tui', (s) => s.includes(`<alice> ${line} … 0/3`), `"${line}" on screen`);
      }
      // A received message and a join move every row of the conversation up one at a time.
      t.signal('SIGUSR2');
      await t.until('tui', (s) => s.includes('-!- erin joined'), 'erin joining');
      const screen = await t.until('tui', (s) => s.includes('erin    connecting'), 'erin in the peer list');
      expect(screen).toBe(EMOJI_SCREEN);
      // Ctrl-L repaints from nothing: the same screen, so nothing was left over before it either.
      t.keys('tui', 'C-l');
      await t.until('tui', (s) => s === EMOJI_SCREEN, 'the same screen after Ctrl-L');
    });

    it('a paste of seven lines asks before sending seven messages; y sends them in order', async () => {
      await started();
      const lines = Array.from({ length: 7 }, (_, i) => `pasted line ${i + 1}`);
      t.run('set-buffer', `${lines.join('\n')}\n`);
      t.run('paste-buffer', '-p', '-t', 'tui'); // bracketed, as the client asked the terminal
      await t.until('tui', (s) => s.includes('-!- paste 7 lines as 7 messages? y/n'), 'the question');
      expect(t.screen('tui')).not.toContain('<alice> pasted line');
      t.keys('tui', 'y');
      const s = await t.until('tui', (x) => x.includes('<alice> pasted line 7'), 'the seven messages');
      const sent = s.split('\n').filter((l) => l.includes('<alice> pasted line'));
      expect(sent.map((l) => /pasted line \d/.exec(l)![0])).toEqual(lines);
      expect(t.lines('tui')[23]).toMatch(/^\[#lobby\] *$/);
    });

    it('/info bob shows path, candidates, RTT, loss, retransmits and the fingerprint', async () => {
      await started();
      t.type('tui', '/info bob');
      t.keys('tui', 'Enter');
      const s = await t.until('tui', (x) => x.includes('rdv.example.org:7000 answered'), 'the /info output');
      for (const want of [
        /-!- bob {2}fingerprint [0-9a-f]{4}(:[0-9a-f]{4}){3}/,
        /state direct, path direct to 203\.0\.113\.7:41234$/m,
        /connected in 184 ms/,
        /rtt 23 ms {2}loss 0\.4% {2}retransmits 3/,
        /candidates tried \(3\):/,
        /✗ host 192\.168\.1\.20:41234 no answer/,
        /✓ srflx 203\.0\.113\.7:41234 answered/,
      ])
        expect(s).toMatch(want);
    });

    it('resize re-lays out: a wider peer list at 100x30, none at 50x20', async () => {
      await started();
      t.run('resize-window', '-t', 'tui', '-x', '100', '-y', '30');
      let lines = (
        await t.until('tui', (s) => s.split('\n')[28]?.includes('server ok') === true, 'the 100x30 layout')
      ).split('\n');
      expect(lines[1]).toBe(`lobby (3)${' '.repeat(15)}│`);
      expect(lines[3]).toBe(` bob${' '.repeat(9)}direct 23ms│`);
      expect(lines[29]).toMatch(/^\[#lobby\]/);
      t.run('resize-window', '-t', 'tui', '-x', '50', '-y', '20');
      lines = (
        await t.until(
          'tui',
          (s) => s.split('\n')[18]?.startsWith(' alice server ok') === true,
          'the 50x20 layout',
        )
      ).split('\n');
      expect(lines.join('\n')).not.toContain('lobby (3)');
      for (const l of lines) expect([...l].length).toBeLessThanOrEqual(50);
      expect(lines.join('\n')).toContain('<bob> alice: are you seeing my messages?');
    });

    it('F1 opens the help overlay, Esc closes it', async () => {
      await started();
      t.keys('tui', 'F1');
      await t.until(
        'tui',
        (s) => s.includes('help: Esc closes') && s.includes('/trust [NAME]'),
        'the help overlay',
      );
      t.keys('tui', 'Escape');
      await t.until('tui', (s) => !s.includes('help: Esc closes'), 'the overlay to close');
    });

    it('Ctrl-C exits 0 and gives the terminal back: normal screen, cursor shown', async () => {
      await started();
      t.keys('tui', 'C-c');
      expect(await t.exited('tui')).toBe(0);
      expect(t.format('tui', '#{alternate_on} #{cursor_flag}')).toBe('0 1');
      const normal = t.history('tui');
      expect(normal).toContain('fake-tui: terminal restored, bye');
      expect(normal).not.toContain('server ok');
    });

    it('/quit and SIGTERM restore the terminal too', async () => {
      await started();
      t.type('tui', '/quit');
      t.keys('tui', 'Enter');
      expect(await t.exited('tui')).toBe(0);
      expect(t.format('tui', '#{alternate_on} #{cursor_flag}')).toBe('0 1');
      // Written after runTui returned: on the normal screen only if that was restored first.
      expect(t.history('tui')).toContain('fake-tui: terminal restored, bye');
      t.kill();
      await started();
      t.signal('SIGTERM');
      expect(await t.exited('tui')).toBe(0);
      expect(t.format('tui', '#{alternate_on} #{cursor_flag}')).toBe('0 1');
      expect(t.history('tui')).toContain('fake-tui: terminal restored, bye');
    });

    it('an uncaught error restores the terminal before it is reported', async () => {
      await started({ FAKE_CRASH_ON_USR2: '1' });
      t.signal('SIGUSR2');
      expect(await t.exited('tui')).toBe(1);
      expect(t.format('tui', '#{alternate_on} #{cursor_flag}')).toBe('0 1');
      expect(t.history('tui')).toContain('fake-tui: Error: boom (a deliberate crash)');
    });

    it('monochrome paints no colours', async () => {
      await started({ FAKE_MONO: '1' });
      const ansi = t.run('capture-pane', '-p', '-e', '-t', 'tui');
      // SGR colour parameters: 30-37, 38;5;n, 40-47, 48;5;n, 90-97, 100-107.
      // eslint-disable-next-line no-control-regex
      const colours = [...ansi.matchAll(/\x1b\[([0-9;]*)m/g)]
        .flatMap((m) => m[1]!.split(';'))
        .filter((p) => /^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$/.test(p));
      expect(colours).toEqual([]);
      expect(ansi).toContain('\x1b[1m'); // bold does the work instead
    });
  });
}
