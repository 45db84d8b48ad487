import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runJsonLines } from '../../peer/cli/json-lines.js';
import type { ChatEvents } from '../../peer/chat/types.js';
import { FakeChatService, fakeId } from '../tui/fake-service.js';

/** The fake, able to tell the session events the JSON-lines mode passes on. */
class Fake extends FakeChatService {
  say<K extends keyof ChatEvents>(name: K, e: ChatEvents[K]): void {
    this.emit(name, e);
  }
}

/**
 * The JSON-lines mode (peer/cli/json-lines.ts) driven by the TUI's fake chat service: it needs
 * nothing but ChatService, and every event names ids by one rule (docs/cli.md): `id` a message
 * id, `peer_id` a peer's id.
 */
function run(fake: Fake): {
  out: Record<string, unknown>[];
  send: (o: unknown) => Promise<void>;
  done: Promise<void>;
  input: PassThrough;
} {
  const input = new PassThrough();
  const output = new PassThrough();
  const out: Record<string, unknown>[] = [];
  let buf = '';
  output.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      out.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  const done = runJsonLines(fake, input, output);
  const send = async (o: unknown): Promise<void> => {
    input.write(typeof o === 'string' ? o + '\n' : JSON.stringify(o) + '\n');
    // readline hands the line over on a later turn; the answer is written by then.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { out, send, done, input };
}

const bobId = fakeId('bob');

describe('JSON lines over any ChatService (the fake one here)', () => {
  it('tells a move to another server (--server A,B) as a server-changed event', async () => {
    const fake = new Fake({ server: 'registered', peers: [] });
    const { out, send } = run(fake);
    fake.say('server-changed', { server: 'b.example:7000', previous: 'a.example:7000', reason: 'draining' });
    await send({ cmd: 'quit' });
    expect(out).toEqual([
      { event: 'server', state: 'registered' },
      { event: 'server-changed', server: 'b.example:7000', previous: 'a.example:7000', reason: 'draining' },
    ]);
  });

  it('starts with the server state, then tells each change once', async () => {
    const fake = new Fake({ server: 'connecting', peers: [{ name: 'bob' }] });
    const { out, send } = run(fake);
    fake.say('server', { state: 'connecting' });
    fake.say('server', { state: 'registered' });
    fake.say('registered', { peerId: fake.self.id, publicEndpoint: '203.0.113.5:1', transport: 'udp' });
    fake.say('presence', { members: [{ peerId: bobId, name: 'bob' }] });
    await send({ cmd: 'quit' });
    expect(out).toEqual([
      { event: 'server', state: 'connecting' },
      { event: 'server', state: 'registered' },
      { event: 'registered', peer_id: fake.self.id, public: '203.0.113.5:1', transport: 'udp' },
      { event: 'presence', peers: [{ peer_id: bobId, name: 'bob' }] },
    ]);
  });

  it('send is answered by sent (with req), and the receipt by delivered: id the message, peer_id the peer', async () => {
    const fake = new Fake({ peers: [{ name: 'bob', state: 'direct' }] });
    const { out, send } = run(fake);
    await send({ cmd: 'send', peer: 'bob', text: 'hi', req: 7 });
    const sent = out.find((e) => e.event === 'sent')!;
    expect(sent).toEqual({ event: 'sent', peer: 'bob', peer_id: bobId, id: expect.any(String), req: 7 });
    fake.deliver(sent.id as string, 'bob', 'sent');
    fake.deliver(sent.id as string, 'bob', 'delivered');
    expect(out.filter((e) => e.event === 'delivered')).toEqual([
      { event: 'delivered', peer: 'bob', peer_id: bobId, id: sent.id },
    ]);
    expect(fake.calls).toContain('send peer:' + bobId + ' hi');
  });

  it('an incoming message names its sender by peer_id; outgoing ones are not echoed', async () => {
    const fake = new Fake({ peers: [{ name: 'bob' }] });
    const { out } = run(fake);
    const m = fake.receive('bob', 'hello', { direct: true, ts: 5 });
    fake.send({ kind: 'room' }, 'mine');
    expect(out.filter((e) => e.event === 'message')).toEqual([
      { event: 'message', from: 'bob', peer_id: bobId, id: m.id, text: 'hello', ts: 5, room: false },
    ]);
  });

  it('a send_file error, which comes after the command (the real service hashes first), names the peer and the req', async () => {
    const fake = new (class extends Fake {
      override async sendFile(nameOrId: string, filePath: string): ReturnType<Fake['sendFile']> {
        await Promise.resolve();
        return super.sendFile(nameOrId, filePath);
      }
    })({ peers: [{ name: 'bob' }] });
    const { out, send } = run(fake);
    await send({ cmd: 'send_file', peer: 'carol', path: '/tmp/x', req: 'f1' });
    expect(out.at(-1)).toEqual({
      event: 'error',
      code: 'UNKNOWN_PEER',
      message: 'no peer "carol" in the room',
      peer: 'carol',
      req: 'f1',
    });
  });

  it('errors carry the command req and the peer named, also a connect error that comes later', async () => {
    const fake = new Fake({ peers: [{ name: 'bob' }] });
    const { out, send } = run(fake);
    await send({ cmd: 'send', peer: 'carol', text: 'x', req: 'r1' });
    expect(out.at(-1)).toEqual({
      event: 'error',
      code: 'UNKNOWN_PEER',
      message: 'no peer "carol" in the room',
      peer: 'carol',
      req: 'r1',
    });
    await send('{"cmd":"stats","req":2}');
    expect(out.at(-1)).toMatchObject({ event: 'error', code: 'BAD_ARGUMENT', req: 2 });
    await send({ cmd: 'connect', peer: 'bob', req: 'c1' });
    expect(fake.calls).toContain('connect bob');
    fake.fail('PUNCH_FAILED', 'no path', 'bob');
    expect(out.at(-1)).toEqual({
      event: 'error',
      code: 'PUNCH_FAILED',
      message: 'no path',
      peer: 'bob',
      req: 'c1',
    });
  });

  it('connect: a later connected answers it with its req; stats and trust name the peer by peer_id', async () => {
    const fake = new Fake({
      peers: [{ name: 'bob', state: 'relay', info: { pending: 0, connectMs: 12 } }],
    });
    const { out, send } = run(fake);
    await send({ cmd: 'connect', peer: 'bob', req: 1 });
    const c = {
      peerId: bobId,
      name: 'bob',
      path: 'relay' as const,
      remote: 'relay',
      ms: 12,
      fingerprint: 'f',
      signKey: 's',
      dhKey: 'd',
    };
    fake.say('connected', c);
    fake.say('connected', c);
    expect(out.filter((e) => e.event === 'connected')).toEqual([
      {
        event: 'connected',
        peer: 'bob',
        peer_id: bobId,
        path: 'relay',
        remote: 'relay',
        ms: 12,
        fingerprint: 'f',
        sign_key: 's',
        dh_key: 'd',
        req: 1,
      },
      {
        event: 'connected',
        peer: 'bob',
        peer_id: bobId,
        path: 'relay',
        remote: 'relay',
        ms: 12,
        fingerprint: 'f',
        sign_key: 's',
        dh_key: 'd',
      },
    ]);
    await send({ cmd: 'stats', peer: 'bob' });
    expect(out.at(-1)).toEqual({
      event: 'stats',
      peer: 'bob',
      peer_id: bobId,
      fingerprint: expect.any(String),
      state: 'relay',
      path: 'relay',
      remote: 'relay',
      pending: 0,
      connect_ms: 12,
    });
    await send({ cmd: 'trust', peer: 'bob', req: 't' });
    expect(out.at(-1)).toEqual({ event: 'trusted', peer: 'bob', peer_id: bobId, req: 't' });
    await send({ cmd: 'peers' });
    expect(out.at(-1)).toEqual({ event: 'peers', peers: [{ peer_id: bobId, name: 'bob', state: 'relay' }] });
  });

  it('ends on quit and on the end of input', async () => {
    const fake = new Fake();
    const a = run(fake);
    await a.send({ cmd: 'quit' });
    await a.done;
    const b = run(fake);
    b.input.end();
    await b.done;
    expect(a.out).toEqual([{ event: 'server', state: 'registered' }]);
  });
});
