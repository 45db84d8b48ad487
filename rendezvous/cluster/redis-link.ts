import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-url.js';

/**
 * The cluster's connection to Redis: one client for commands, one for pub/sub (a subscribed
 * connection takes no other commands). Commands fail at once while Redis is unreachable (no
 * offline queue, one retry), so the node goes on serving its own members instead of waiting; the
 * clients reconnect by themselves (backoff doubling from 50 ms to 2 s).
 */
export interface RedisLink {
  /** Listen on these channels from now on, and again after every reconnection. */
  subscribe(channels: readonly string[]): void;
  /** Up: both connections ready and subscribed. Told once per change. */
  onState(fn: (up: boolean, reason: string) => void): void;
  onMessage(fn: (channel: string, message: Buffer) => void): void;
  readonly up: boolean;
  publish(channel: string, message: string | Buffer): Promise<void>;
  /** All of `keys` set to `id` with expiry `ttlMs`, or none when another id holds one: true when held. */
  claim(keys: readonly string[], id: string, ttlMs: number): Promise<boolean>;
  /** Delete those of `keys` that still hold `id`. */
  release(keys: readonly string[], id: string): Promise<void>;
  setWithExpiry(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Refresh the expiry of every key in one pipeline (the heartbeat). */
  refresh(keys: readonly string[], ttlMs: number): Promise<void>;
  /** The values of every key matching `pattern` (SCAN, then MGET per batch). */
  values(pattern: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Set every key to ARGV[1] unless one is held by another value; expiry ARGV[2] ms. */
const CLAIM = `for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and v ~= ARGV[1] then return 0 end
end
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return 1`;

const RELEASE = `for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 1`;

/** Reconnect after 50 ms, doubling to 2 s, for ever: Redis coming back is always worth taking. */
export const reconnectDelay = (times: number): number => Math.min(50 * 2 ** Math.min(times - 1, 6), 2000);

function redisOptions(t: RedisTarget): RedisOptions {
  return {
    ...(t.path !== undefined ? { path: t.path } : { host: t.host, port: t.port }),
    ...(t.tls ? { tls: {} } : {}),
    db: t.db,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    autoResubscribe: false,
    retryStrategy: reconnectDelay,
  };
}

export class IoRedisLink implements RedisLink {
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private subscribed = false;
  /** Undefined until the first connection succeeds or fails: then up or down is reported. */
  private state: boolean | undefined = undefined;
  private reason = 'connecting';
  private stateFns: ((up: boolean, reason: string) => void)[] = [];
  private closed = false;

  private channels: readonly string[] = [];

  constructor(target: RedisTarget) {
    this.cmd = new Redis(redisOptions(target));
    this.sub = new Redis(redisOptions(target));
    for (const c of [this.cmd, this.sub]) {
      c.on('error', (e: Error) => {
        this.reason = e.message;
        this.update();
      });
      c.on('close', () => {
        if (c === this.sub) this.subscribed = false;
        this.update();
      });
      c.on('ready', () => this.update());
    }
    this.sub.on('ready', () => this.listen());
  }

  subscribe(channels: readonly string[]): void {
    this.channels = channels;
    if (this.sub.status === 'ready') this.listen();
  }

  private listen(): void {
    if (this.channels.length === 0) return;
    this.sub.subscribe(...this.channels).then(
      () => {
        this.subscribed = true;
        this.update();
      },
      (e: Error) => {
        this.reason = e.message;
        this.update();
      },
    );
  }

  get up(): boolean {
    return this.state === true;
  }

  private update(): void {
    const up = !this.closed && this.cmd.status === 'ready' && this.sub.status === 'ready' && this.subscribed;
    if (up === this.state) return;
    // Still connecting for the first time (nothing failed yet): neither up nor down. A Redis
    // that is away at start (refused, a wrong password, an untrusted certificate) is reported
    // down on its first error, as when it goes away later.
    if (!up && this.state === undefined && this.reason === 'connecting') return;
    this.state = up;
    if (!up && this.reason === 'connecting') this.reason = 'connection closed';
    for (const fn of this.stateFns) fn(up, up ? 'ok' : this.reason);
    if (up) this.reason = 'connection closed';
  }

  onState(fn: (up: boolean, reason: string) => void): void {
    this.stateFns.push(fn);
  }

  onMessage(fn: (channel: string, message: Buffer) => void): void {
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => fn(channel.toString(), message));
  }

  async publish(channel: string, message: string | Buffer): Promise<void> {
    await this.cmd.publish(channel, message);
  }

  async claim(keys: readonly string[], id: string, ttlMs: number): Promise<boolean> {
    return (await this.cmd.eval(CLAIM, keys.length, ...keys, id, String(ttlMs))) === 1;
  }

  async release(keys: readonly string[], id: string): Promise<void> {
    if (keys.length > 0) await this.cmd.eval(RELEASE, keys.length, ...keys, id);
  }

  async setWithExpiry(key: string, value: string, ttlMs: number): Promise<void> {
    await this.cmd.set(key, value, 'PX', ttlMs);
  }

  async del(key: string): Promise<void> {
    await this.cmd.del(key);
  }

  async refresh(keys: readonly string[], ttlMs: number): Promise<void> {
    if (keys.length === 0) return;
    const p = this.cmd.pipeline();
    for (const k of keys) p.pexpire(k, ttlMs);
    const results = await p.exec();
    const failed = results?.find(([e]) => e !== null);
    if (failed) throw failed[0]!;
  }

  async values(pattern: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.cmd.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) for (const v of await this.cmd.mget(...found)) if (v !== null) out.push(v);
    } while (cursor !== '0');
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.update();
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}
