import { ChatViewModel } from '../../peer/tui/view-model.js';
import type { ViewModelOptions } from '../../peer/tui/view-model.js';
import { lineText } from '../../peer/tui/theme.js';
import type { Line } from '../../peer/tui/theme.js';
import { conversationKey } from '../../peer/chat/types.js';
import { FakeChatService, fakeId } from './fake-service.js';
import type { FakeOptions } from './fake-service.js';

/** 2025-01-02 09:05 local time: every timestamp in these tests reads 09:05. */
export const T0 = new Date(2025, 0, 2, 9, 5, 0).getTime();

export const ROOM_PEERS: FakeOptions['peers'] = [
  { name: 'bob', state: 'direct', rttMs: 23 },
  { name: 'carol', state: 'relay', rttMs: 142 },
  { name: 'dave', state: 'offline' },
];

export function setup(
  fakeOpts: FakeOptions = {},
  vmOpts: ViewModelOptions = {},
): { fake: FakeChatService; vm: ChatViewModel } {
  const fake = new FakeChatService({ peers: ROOM_PEERS, now: () => T0, ...fakeOpts });
  // 120 columns keep most lines on one row; the layout tests choose their own sizes.
  const vm = new ChatViewModel(fake, { now: () => T0, cols: 120, rows: 24, ...vmOpts });
  return { fake, vm };
}

export const text = (lines: Line[]): string[] => lines.map((l) => lineText(l).trimEnd());

/** The conversation pane as plain text, without the blank rows above the first line. */
export function log(vm: ChatViewModel): string[] {
  const rows = text(vm.render().log);
  const first = rows.findIndex((r) => r !== '');
  return first < 0 ? [] : rows.slice(first);
}

/** Type a line and press Enter. */
export async function type(vm: ChatViewModel, line: string): Promise<void> {
  for (const ch of line) await vm.handleKey(ch === ' ' ? 'space' : ch, ch);
  await vm.handleKey('enter', '\r');
}

/** The key of the private conversation with bob. */
export const bobKey = conversationKey({ kind: 'peer', peerId: fakeId('bob') });

/** The conversation pane's last line. */
export const last = (vm: ChatViewModel): string => log(vm).at(-1) ?? '';

/** The tab bar as plain text. */
export const tabs = (vm: ChatViewModel): string => lineText(vm.render().tabs).trimEnd();

/** The status bar as plain text. */
export const status = (vm: ChatViewModel): string => lineText(vm.render().status);
