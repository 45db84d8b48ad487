import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PunchlineError } from '../common/errors.js';
import { parseFingerprint } from '../common/wire/server-auth.js';

/**
 * servers.json in the data directory: the rendezvous servers' key fingerprints pinned on first
 * use, by the HOST:PORT the user gave (SSH's known_hosts, for punchline). A damaged file is a
 * clear error, never silently emptied: that would re-pin whatever key answers next.
 */
export const KNOWN_SERVERS_FILE = 'servers.json';

interface Stored {
  version: 1;
  servers: Record<string, { fingerprint: string; since: number }>;
}

export class KnownServers {
  private readonly servers = new Map<string, { fingerprint: string; since: number }>();

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new PunchlineError('IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
    if (text === undefined) return;
    try {
      const s = JSON.parse(text) as Stored;
      if (s.version !== 1 || typeof s.servers !== 'object' || s.servers === null)
        throw new Error('not a version 1 servers file');
      for (const [server, pin] of Object.entries(s.servers)) {
        const fp = typeof pin?.fingerprint === 'string' ? parseFingerprint(pin.fingerprint) : undefined;
        if (fp === undefined) throw new Error(`bad fingerprint for ${server}`);
        this.servers.set(server, { fingerprint: fp, since: Number(pin.since) || 0 });
      }
    } catch (e) {
      throw new PunchlineError('IO', `${file} is damaged (${(e as Error).message}); fix or move it away`, {
        cause: e,
      });
    }
  }

  get(server: string): string | undefined {
    return this.servers.get(server)?.fingerprint;
  }

  /** Pin `fingerprint` for `server` and write the file atomically (temp file + rename, 0600). */
  pin(server: string, fingerprint: string): void {
    this.servers.set(server, { fingerprint, since: this.now() });
    const out: Stored = { version: 1, servers: Object.fromEntries(this.servers) };
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(out, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
