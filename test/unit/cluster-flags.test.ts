import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { reconnectDelay } from '../../rendezvous/cluster/redis-link.js';
import { describeTarget, parseRedisUrl } from '../../rendezvous/cluster/redis-url.js';
import { decodeClusterMessage } from '../../rendezvous/cluster/shared.js';
import { readClusterFlags, RENDEZVOUS_HELP } from '../../rendezvous/main.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const badArg = (fn: () => unknown, text: RegExp): void => {
  try {
    fn();
  } catch (e) {
    expect(isPunchlineError(e, 'BAD_ARGUMENT')).toBe(true);
    expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error('no error');
};

describe('--redis URLs', () => {
  it.each([
    ['redis://127.0.0.1:6380', { host: '127.0.0.1', port: 6380, tls: false, db: 0 }],
    ['redis://cache.example:6379/3', { host: 'cache.example', port: 6379, tls: false, db: 3 }],
    [
      'rediss://ops@cache.example:6380/1',
      { host: 'cache.example', port: 6380, tls: true, db: 1, username: 'ops' },
    ],
    ['redis://[::1]:7001', { host: '::1', port: 7001, tls: false, db: 0 }],
    ['redis://h', { host: 'h', port: 6379, tls: false, db: 0 }],
    ['unix:///run/redis/redis.sock', { path: '/run/redis/redis.sock', tls: false, db: 0 }],
  ])('%s', (url, want) => {
    expect(parseRedisUrl(url)).toEqual(want);
  });

  it('refuses a password in the URL, other schemes, a database that is not a number', () => {
    badArg(() => parseRedisUrl('redis://u:secret@h:6379'), /PUNCHLINE_REDIS_PASSWORD/);
    badArg(() => parseRedisUrl('http://h:6379'), /redis:\/\//);
    badArg(() => parseRedisUrl('redis://h:6379/x'), /database/);
    badArg(() => parseRedisUrl('unix://'), /path|URL/);
    badArg(() => parseRedisUrl('not a url'), /not a URL/);
  });

  it('the password comes from the environment or a file, and never shows in the description', () => {
    const env = { PUNCHLINE_REDIS_PASSWORD: 'from-env' };
    const fromEnv = readClusterFlags({ redis: 'redis://h:1' }, env)!;
    expect(fromEnv.target.password).toBe('from-env');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'punchline-redis-pw-'));
    dirs.push(dir);
    const file = path.join(dir, 'pw');
    writeFileSync(file, 'from-file\nignored\n');
    const fromFile = readClusterFlags({ redis: 'redis://u@h:1', 'redis-password-file': file }, env)!;
    expect(fromFile.target.password).toBe('from-file');
    expect(describeTarget(fromFile.target)).toBe('redis://u@h:1/0');
    expect(describeTarget(fromFile.target)).not.toContain('from-file');
    badArg(
      () => readClusterFlags({ redis: 'redis://h:1', 'redis-password-file': path.join(dir, 'none') }, {}),
      /cannot read/,
    );
  });

  it('--node-id and --redis-password-file need --redis; no --redis: no cluster', () => {
    expect(readClusterFlags({}, {})).toBeUndefined();
    badArg(() => readClusterFlags({ 'node-id': 'a' }, {}), /go with --redis/);
    badArg(() => readClusterFlags({ redis: 'redis://h', 'node-id': 'a b' }, {}), /node-id/);
    expect(readClusterFlags({ redis: 'redis://h', 'node-id': 'eu-1' }, {})!.nodeId).toBe('eu-1');
  });

  it('--help says the password never goes on the command line', () => {
    expect(RENDEZVOUS_HELP).toMatch(/--redis URL/);
    expect(RENDEZVOUS_HELP).toMatch(/Never put the password in the URL/);
    expect(RENDEZVOUS_HELP).toMatch(/PUNCHLINE_REDIS_PASSWORD/);
  });

  it('reconnects after 50 ms, doubling, capped at 2 s, for ever', () => {
    expect([1, 2, 3, 6, 7, 100].map(reconnectDelay)).toEqual([50, 100, 200, 1600, 2000, 2000]);
  });
});

describe('cluster messages are hostile input', () => {
  const id = 'ab'.repeat(16);
  const member = {
    id,
    node: 'n',
    room: 'r',
    name: 'x',
    signKey: '01'.repeat(32),
    dhKey: '02'.repeat(32),
    lan: [],
    ws: { regTxid: '00', regTime: 1 },
  };
  it.each([
    ['not JSON', 'nope'],
    ['no node', JSON.stringify({ t: 'beat' })],
    ['unknown kind', JSON.stringify({ t: 'x', node: 'n' })],
    ['a member of another node', JSON.stringify({ t: 'up', node: 'm', member })],
    [
      'a member with no binding',
      JSON.stringify({ t: 'up', node: 'n', member: { ...member, ws: undefined } }),
    ],
    ['a short id', JSON.stringify({ t: 'down', node: 'n', id: 'ab' })],
    [
      'a bad port',
      JSON.stringify({ t: 'up', node: 'n', member: { ...member, lan: [{ address: 'a', port: 70000 }] } }),
    ],
    [
      'a short intro id',
      JSON.stringify({ t: 'intro', node: 'n', intro: { from: id, target: id, introId: '00' } }),
    ],
  ])('%s is dropped', (_, text) => {
    expect(decodeClusterMessage(text)).toBeUndefined();
  });
  it('a sound one decodes', () => {
    expect(decodeClusterMessage(JSON.stringify({ t: 'up', node: 'n', member }))).toMatchObject({ t: 'up' });
  });
});
