import { describe, expect, it } from 'vitest';
import { parseServer } from '../../peer/cli/server-flag.js';

describe('--server (peer/cli/server-flag.ts parseServer)', () => {
  it('a ws:// or wss:// URL with port 0 is BAD_ARGUMENT, like HOST:0 (found by test/fuzz)', () => {
    for (const t of ['ws://relay.example:0', 'wss://[::1]:0/x', 'ws://a:00', '127.0.0.1:0'])
      expect(() => parseServer(t)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(parseServer('ws://relay.example:1/')).toMatchObject({ host: 'relay.example', port: 1 });
    expect(parseServer('wss://relay.example/')).toMatchObject({
      port: 443,
      relayUrl: 'wss://relay.example/',
    });
  });
});
