import { PunchlineError } from '../common/errors.js';
import { groupFingerprint, serverFingerprint } from '../common/wire/server-auth.js';

/**
 * The rendezvous server's key, pinned like an SSH host key (docs/security.md): given up front
 * (`--server HOST:PORT#FINGERPRINT`, or the data directory's servers.json), or learnt from the first
 * COOKIE and remembered. A different key later is SERVER_KEY_CHANGED, a loud error that stops the
 * registration; it is never re-pinned silently.
 */

export class ServerKeyPin {
  private fingerprint: string | undefined;

  constructor(
    pinned?: string,
    /** Told once, when a key is first seen and pinned (the CLI writes servers.json). */
    private readonly onFirstUse: (fingerprint: string) => void = () => {},
  ) {
    this.fingerprint = pinned;
  }

  get pinned(): string | undefined {
    return this.fingerprint;
  }

  /** Accept `key` or throw SERVER_KEY_CHANGED. */
  check(key: Uint8Array): void {
    const fp = serverFingerprint(key);
    if (this.fingerprint === undefined) {
      this.fingerprint = fp;
      this.onFirstUse(fp);
      return;
    }
    if (fp !== this.fingerprint)
      throw new PunchlineError(
        'SERVER_KEY_CHANGED',
        `the rendezvous server's key changed: pinned ${groupFingerprint(this.fingerprint)}, now ${groupFingerprint(fp)}. ` +
          `Someone may be impersonating the server, or its operator replaced its key. Ask the operator for the ` +
          `fingerprint; if it is the new one, remove the server's line from servers.json in your data directory ` +
          `(or pass --server HOST:PORT#NEWFINGERPRINT).`,
      );
  }
}
