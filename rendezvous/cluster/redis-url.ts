import { badArgument } from '../../common/errors.js';

/** Where Redis is: TCP (optionally TLS) or a unix socket, the database and the user. */
export interface RedisTarget {
  readonly host?: string;
  readonly port?: number;
  /** A unix socket path (unix:///path). */
  readonly path?: string;
  readonly tls: boolean;
  readonly db: number;
  readonly username?: string;
  /** From PUNCHLINE_REDIS_PASSWORD or --redis-password-file, never from the URL. */
  readonly password?: string;
}

/**
 * `redis://[user@]HOST:PORT[/DB]`, `rediss://` (TLS) or `unix:///path/to/sock`. A password in the
 * URL is refused: a command line is visible to every user of the machine (ps), so the password
 * comes from the environment or a file (rendezvous/main.ts).
 */
export function parseRedisUrl(text: string, password?: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw badArgument(`--redis: not a URL: ${text}`);
  }
  if (u.password !== '')
    throw badArgument(
      '--redis: no password in the URL (it would show in ps); use PUNCHLINE_REDIS_PASSWORD or --redis-password-file',
    );
  const pw = password !== undefined && password.length > 0 ? { password } : {};
  if (u.protocol === 'unix:') {
    if (u.pathname === '' || u.pathname === '/') throw badArgument('--redis unix:///PATH needs a path');
    return { path: decodeURIComponent(u.pathname), tls: false, db: 0, ...pw };
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw badArgument(`--redis: redis://, rediss:// or unix:// (not ${u.protocol}//)`);
  if (u.hostname === '') throw badArgument('--redis: no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 1_000_000 || !/^\d*$/.test(dbText))
    throw badArgument(`--redis: the database is a number (not "${dbText}")`);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    tls: u.protocol === 'rediss:',
    db,
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...pw,
  };
}

/** The target for logs: never the password. */
export function describeTarget(t: RedisTarget): string {
  if (t.path !== undefined) return `unix://${t.path}`;
  const user = t.username !== undefined ? `${t.username}@` : '';
  return `${t.tls ? 'rediss' : 'redis'}://${user}${t.host ?? ''}:${t.port ?? 6379}/${t.db}`;
}
