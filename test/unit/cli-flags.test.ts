import { describe, expect, it } from 'vitest';
import { chatOptionsFromFlags } from '../../peer/cli/chat-options.js';
import { isPunchlineError } from '../../common/errors.js';
import { rendezvousOptionsFromFlags } from '../../rendezvous/main.js';

/**
 * Flag rules as pure functions; one process test (test/loopback/chat.test.ts) shows that a usage
 * error exits 2. The rendezvous's limit and TLS flags: test/relay/cli.test.ts.
 */
describe('chat flags', () => {
  const base = ['--server', '127.0.0.1:7000', '--name', 'alice', '--json'];

  it.each([
    [['--name', 'a', '--json'], /--server HOST:PORT is required/],
    [['--server', 'nope', '--name', 'a', '--json'], /HOST:PORT/],
    [['--server', '127.0.0.1:1', '--json'], /--name is required/],
    [[...base, '--relay-only', '--direct-only'], /exclude each other/],
    [[...base, '--port', '70000'], /--port/],
    [[...base, '--keepalive-ms', '5'], /--keepalive-ms/],
    [[...base, '--relay', 'http://x'], /--relay must be a ws:\/\/ or wss:\/\/ URL/],
    [
      ['--name', 'alice', '--json', '--server', '127.0.0.1:7000,127.0.0.2:7000', '--relay', 'ws://x/'],
      /with several servers each uses its own/,
    ],
    [[...base, '--ca-file', '/nonexistent/ca.pem'], /--ca-file: cannot read/],
    [[...base, '--bogus'], /--bogus/],
  ])('%j is a usage error: %s', async (argv, message) => {
    const err = await chatOptionsFromFlags([...argv]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPunchlineError(err) && err.code).toBe('BAD_ARGUMENT');
    expect((err as Error).message).toMatch(message);
  });

  it('good flags give the options, with the relay on the same port by default', async () => {
    const o = await chatOptionsFromFlags([...base, '--relay-only', '--data-dir', '/tmp/x']);
    expect(o).toMatchObject({
      name: 'alice',
      servers: [
        {
          server: { address: '127.0.0.1', port: 7000 },
          relayUrl: 'ws://127.0.0.1:7000/',
          name: '127.0.0.1:7000',
        },
      ],
      mode: 'relay-only',
      dataDir: '/tmp/x',
      tui: false,
    });
  });
});

describe('rendezvous flags', () => {
  it.each([
    [['--port', '99999'], /--port must be/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('%j is a usage error: %s', (argv, message) => {
    let err: unknown;
    try {
      rendezvousOptionsFromFlags([...argv]);
    } catch (e) {
      err = e;
    }
    expect(isPunchlineError(err) && err.code).toBe('BAD_ARGUMENT');
    expect((err as Error).message).toMatch(message);
  });
});
