/** The view model against the fake service: commands, and announcing and trusting a changed key. */
import { describe, expect, it } from 'vitest';
import { conversationKey } from '../../peer/chat/types.js';
import { PunchlineError } from '../../common/errors.js';
import { lineText } from '../../peer/tui/theme.js';
import { fakeId } from './fake-service.js';
import { bobKey, last, log, setup, status, tabs, text, type } from './helpers.js';

describe('commands', () => {
  it('/clear empties the active conversation only', async () => {
    const { fake, vm } = setup();
    fake.receive('bob', 'in the room');
    fake.receive('bob', 'in private', { direct: true });
    await type(vm, '/clear');
    expect(log(vm)).toEqual([]);
    expect(vm.entries(bobKey)).toHaveLength(1);
  });

  it('/info shows path, candidates, RTT, loss, retransmits and the fingerprint', async () => {
    const { fake, vm } = setup({
      peers: [
        {
          name: 'bob',
          state: 'direct',
          rttMs: 23,
          info: {
            path: 'direct',
            remote: '203.0.113.7:41234',
            candidates: [
              { endpoint: '192.168.1.20:41234', kind: 'host', answered: false },
              { endpoint: '203.0.113.7:41234', kind: 'srflx', answered: true },
            ],
            lossPct: 0.4,
            retransmits: 3,
            connectMs: 184,
          },
        },
      ],
    });
    await type(vm, '/info bob');
    expect(fake.calls).toEqual(['info bob']);
    const out = log(vm).join('\n');
    for (const want of [
      `fingerprint ${fake.info('bob').fingerprint}`,
      'path direct to 203.0.113.7:41234',
      'rtt 23 ms',
      'loss 0.4%',
      'retransmits 3',
      '✗ host 192.168.1.20:41234 no answer',
      '✓ srflx 203.0.113.7:41234 answered',
    ])
      expect(out).toContain(want);
    // Without a name it is about the private conversation's peer, and in the room it says how.
    await type(vm, '/info');
    expect(last(vm)).toBe('09:05 -!- usage: /info NAME (or use it in a private conversation)');
    await type(vm, '/query bob');
    await type(vm, '/info');
    expect(fake.calls.at(-1)).toBe('info bob');
  });

  it('/who lists everyone with state and RTT', async () => {
    const { vm } = setup();
    await type(vm, '/who');
    expect(log(vm)).toEqual([
      '09:05 -!- 4 in lobby: you (alice)',
      `            bob  direct 23 ms  id ${fakeId('bob').slice(0, 8)}`,
      `            carol  relay 142 ms  id ${fakeId('carol').slice(0, 8)}`,
      `            dave  offline  id ${fakeId('dave').slice(0, 8)}`,
    ]);
  });

  it('/nick asks the service and the status bar follows; a refusal is explained', async () => {
    const { fake, vm } = setup();
    await type(vm, '/nick alicia');
    expect(fake.calls).toEqual(['nick alicia']);
    expect(status(vm)).toContain(' alicia ');
    await type(vm, '/nick bob');
    expect(last(vm)).toBe('09:05 -!- the name bob is taken; /nick NEWNAME to pick another');
  });

  it('/connect reports success and failure', async () => {
    const { fake, vm } = setup({ peers: [{ name: 'bob', state: 'online', rttMs: 30 }] });
    await type(vm, '/connect bob');
    expect(fake.calls).toContain('connect bob');
    expect(log(vm).slice(-3)).toEqual([
      '09:05 -!- connecting to bob…',
      '09:05 -!- bob: online -> direct (30 ms)', // the service's notice
      '09:05 -!- connected to bob: direct 30 ms',
    ]);
    fake.failConnect = new PunchlineError('PUNCH_FAILED', 'no direct path to bob (tried 2 candidates)');
    await type(vm, '/connect bob');
    expect(last(vm)).toBe('09:05 -!- no direct path to bob (tried 2 candidates)');
  });

  it('unknown commands and bad arguments get one line, and nothing is sent', async () => {
    const { fake, vm } = setup();
    await type(vm, '/frob');
    await type(vm, '/msg bob');
    expect(log(vm)).toEqual([
      '09:05 -!- unknown command /frob; /help lists the commands',
      '09:05 -!- usage: /msg NAME TEXT',
    ]);
    expect(
      vm
        .render()
        .log.at(-1)!
        .find((s) => s.text.startsWith('usage'))!.role,
    ).toBe('error');
    expect(fake.calls).toEqual([]);
  });

  it('/help and F1 open the overlay, Esc closes it; /quit and Ctrl-C ask to quit', async () => {
    const { vm } = setup();
    let quits = 0;
    vm.on('quit', () => quits++);
    await type(vm, '/help');
    expect(vm.helpVisible).toBe(true);
    expect(text(vm.render().help!).join('\n')).toContain('/trust [NAME]');
    await vm.handleKey('escape');
    expect(vm.helpVisible).toBe(false);
    await vm.handleKey('f1');
    expect(vm.helpVisible).toBe(true);
    await vm.handleKey('C-c');
    await vm.handleKey('escape');
    await type(vm, '/quit');
    expect(quits).toBe(2);
  });
});

describe('keys and trust', () => {
  it('a key change is announced loudly, once, everywhere it matters', () => {
    const { fake, vm } = setup();
    fake.keyChange('carol');
    fake.keyChange('carol'); // a second report does not repeat the warning
    const room = vm.render().log.filter((l) => lineText(l).includes('!!!'));
    expect(room).toHaveLength(1);
    expect(lineText(room[0]!)).toContain('WARNING: the key of carol has CHANGED');
    expect(room[0]!.some((s) => s.role === 'alert')).toBe(true);
    const carolKey = conversationKey({ kind: 'peer', peerId: fakeId('carol') });
    expect(vm.entries(carolKey).some((e) => e.kind === 'system' && e.level === 'alert')).toBe(true);
    expect(status(vm)).toContain('KEY CHANGED: carol (/trust)');
    expect(vm.render().status[0]!.role).toBe('bar-alert');
    expect(
      text(vm.render().peers)
        .find((l) => l.includes('carol'))!
        .startsWith('!carol'),
    ).toBe(true);
    expect(vm.render().tabs.find((s) => s.text.includes('carol'))!.role).toBe('bar-alert');
  });

  it('another key under a name with an open tab: the warning goes to that tab and the room, no second tab', async () => {
    const { fake, vm } = setup();
    await type(vm, '/msg carol hello');
    expect(tabs(vm).match(/carol/g)).toHaveLength(1);
    fake.impostor('carol');
    expect(tabs(vm).match(/carol/g)).toHaveLength(1);
    const carolKey = conversationKey({ kind: 'peer', peerId: fakeId('carol') });
    const warnings = (key: string): number =>
      vm.entries(key).filter((e) => e.kind === 'system' && e.level === 'alert').length;
    expect(warnings(carolKey)).toBe(1);
    expect(warnings(conversationKey({ kind: 'room' }))).toBe(1);
  });

  it('messages to a changed key are held; /trust calls the service and releases them', async () => {
    const { fake, vm } = setup();
    fake.keyChange('carol');
    await type(vm, '/msg carol are you really you?');
    expect(last(vm)).toBe('09:05 <alice> are you really you? ⚠ held');
    await type(vm, '/trust');
    expect(fake.calls).toContain('trust carol');
    expect(last(vm)).toBe('09:05 -!- trusted the new key of carol; held messages are released');
    expect(status(vm)).not.toContain('KEY CHANGED');
    fake.advance();
    fake.advance();
    expect(log(vm).find((l) => l.includes('really'))).toBe('09:05 <alice> are you really you? ✓✓');
  });
});
