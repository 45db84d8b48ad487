import { parseFingerprint } from '../common/wire/server-auth.js';
import { expectShape, isObject, loadPinFile, savePinFile, sinceField } from './pin-file.js';

/**
 * servers.json in the data directory: the rendezvous servers' key fingerprints pinned on first
 * use, by the HOST:PORT the user gave (SSH's known_hosts, for punchline). Read and written by
 * peer/pin-file.ts: a damaged or wrong-shape file is a clear error, never silently emptied (that
 * would re-pin whatever key answers next).
 */
export const KNOWN_SERVERS_FILE = 'servers.json';

interface ServerPin {
  fingerprint: string;
  since: number;
}

interface Stored {
  version: 1;
  servers: Record<string, ServerPin>;
}

/** The pins in a servers.json value, or a shape error. */
function parseServers(v: unknown): Map<string, ServerPin> {
  expectShape(isObject(v), 'not a JSON object');
  expectShape(v.version === 1, `unsupported version ${JSON.stringify(v.version)}; expected 1`);
  expectShape(isObject(v.servers), '"servers" is not an object');
  const out = new Map<string, ServerPin>();
  for (const [server, pin] of Object.entries(v.servers)) {
    expectShape(isObject(pin), `the pin for ${server} is not an object`);
    const fingerprint = typeof pin.fingerprint === 'string' ? parseFingerprint(pin.fingerprint) : undefined;
    expectShape(fingerprint !== undefined, `bad fingerprint for ${server}`);
    out.set(server, { fingerprint, since: sinceField(pin.since, server) });
  }
  return out;
}

export class KnownServers {
  private readonly servers: Map<string, ServerPin>;

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    this.servers = loadPinFile(file, parseServers) ?? new Map();
  }

  get(server: string): string | undefined {
    return this.servers.get(server)?.fingerprint;
  }

  /** Pin `fingerprint` for `server` and write the file (atomically, 0600). */
  pin(server: string, fingerprint: string): void {
    this.servers.set(server, { fingerprint, since: this.now() });
    const out: Stored = { version: 1, servers: Object.fromEntries(this.servers) };
    savePinFile(this.file, out);
  }
}
