import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PunchlineError } from '../../common/errors.js';

/**
 * Trust on first use: the first key (peer id) seen for a name is pinned. A different key for a
 * pinned name later is a loud warning, and messages to that name are held until the user says
 * /trust NAME. Stored in peers.json, rewritten atomically (temp file + rename).
 */
export type TrustVerdict = 'new' | 'known' | 'changed';

interface Stored {
  version: 1;
  pins: Record<string, { id: string; since: number }>;
}

export class TrustStore {
  private pins = new Map<string, { id: string; since: number }>();

  constructor(
    private readonly file: string,
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
      // Wrong shapes ({"pins":5}, [], a pin without an id) are damage too, not an empty store.
      if (typeof s?.pins !== 'object' || s.pins === null || Array.isArray(s.pins)) throw new Error('no pins');
      for (const [name, pin] of Object.entries(s.pins)) {
        if (typeof pin?.id !== 'string') throw new Error(`no id pinned for ${name}`);
        this.pins.set(name, { id: pin.id, since: Number(pin.since) || 0 });
      }
    } catch (e) {
      throw new PunchlineError('IO', `${file} is damaged (${(e as Error).message}); fix or move it away`, {
        cause: e,
      });
    }
  }

  /** What seeing `id` behind `name` means; a new name is pinned at once. */
  check(name: string, id: string): TrustVerdict {
    const pin = this.pins.get(name);
    if (!pin) {
      this.pins.set(name, { id, since: this.now() });
      this.save();
      return 'new';
    }
    return pin.id === id ? 'known' : 'changed';
  }

  pinned(name: string): string | undefined {
    return this.pins.get(name)?.id;
  }

  /** Accept `id` as the key behind `name` from now on. */
  trust(name: string, id: string): void {
    this.pins.set(name, { id, since: this.now() });
    this.save();
  }

  private save(): void {
    const out: Stored = { version: 1, pins: Object.fromEntries(this.pins) };
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(out, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
