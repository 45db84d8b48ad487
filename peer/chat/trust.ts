import { PunchlineError } from '../../common/errors.js';
import { peerIdOf } from '../../common/identity/identity.js';
import { fromHex, toHex } from '../../common/wire/bytes.js';
import { expectShape, hexField, isObject, loadPinFile, savePinFile, sinceField } from '../pin-file.js';

/**
 * Trust on first use: the first peer seen behind a name is pinned, with its two public keys
 * (Ed25519 signing key and X25519 Noise static key, hex) once a session with it has opened. Any
 * change behind a pinned name later (another id, or other keys for the pinned id) is a loud
 * warning, and messages to that name are held until the user says /trust NAME.
 *
 * peers.json, version 2: `{"version":2,"pins":{NAME:{"id","signKey","dhKey","since"}}}`. The keys
 * are absent while the name has only been seen in the room's member list (which carries ids, not
 * keys) and are filled at the first session with that id. An id is a hash of the two keys
 * (common/identity/identity.ts), so keys that do not hash to the pin's id are never pinned, and a file
 * holding such a pin is damaged. Version 1 files (`{id, since}` only, no keys) load as pins
 * without keys and are written back as version 2 at the next change. The file is read and
 * written by peer/pin-file.ts: a damaged or wrong-shape file is an error, never an empty store.
 */
export type TrustVerdict = 'new' | 'known' | 'changed';

export const PEERS_FILE = 'peers.json';
const ID_BYTES = 16;
const KEY_BYTES = 32;

/** A peer's public keys, hex: what is pinned beside its id. */
export interface PeerKeys {
  signKey: string;
  dhKey: string;
}

export interface TrustPin {
  id: string;
  /** Absent until a session with this id has opened (or in a pin migrated from version 1). */
  keys?: PeerKeys;
  since: number;
}

interface StoredPin {
  id: string;
  signKey?: string;
  dhKey?: string;
  since: number;
}

interface Stored {
  version: 2;
  pins: Record<string, StoredPin>;
}

/** Do these keys hash to this id (common/identity/identity.ts peerIdOf)? */
export function keysMatchId(id: string, keys: PeerKeys): boolean {
  const ok = (h: string): boolean => h.length === KEY_BYTES * 2 && /^[0-9a-f]+$/.test(h);
  return (
    ok(keys.signKey) && ok(keys.dhKey) && toHex(peerIdOf(fromHex(keys.signKey), fromHex(keys.dhKey))) === id
  );
}

/** Ids come from the node as 32 hex digits; anything else is a bug, never written to the file. */
function assertId(id: string): void {
  if (!/^[0-9a-f]{32}$/.test(id))
    throw new PunchlineError('INTERNAL', `not a peer id: ${JSON.stringify(id)}`);
}

const sameKeys = (a: PeerKeys, b: PeerKeys): boolean => a.signKey === b.signKey && a.dhKey === b.dhKey;

/** The pins in a peers.json value (version 1 or 2), or a shape error. */
function parsePins(v: unknown): Map<string, TrustPin> {
  expectShape(isObject(v), 'not a JSON object');
  expectShape(
    v.version === 1 || v.version === 2,
    `unsupported version ${JSON.stringify(v.version)}; expected 1 or 2`,
  );
  expectShape(isObject(v.pins), '"pins" is not an object');
  const out = new Map<string, TrustPin>();
  for (const [name, pin] of Object.entries(v.pins)) {
    const what = `the pin for ${JSON.stringify(name)}`;
    expectShape(isObject(pin), `${what} is not an object`);
    const id = hexField(pin.id, ID_BYTES, `${what}: id`);
    const since = sinceField(pin.since, what);
    const hasKeys = pin.signKey !== undefined || pin.dhKey !== undefined;
    if (!hasKeys) {
      out.set(name, { id, since });
      continue;
    }
    expectShape(v.version === 2, `${what} has keys, which version 1 does not hold`);
    const keys = {
      signKey: hexField(pin.signKey, KEY_BYTES, `${what}: signKey`),
      dhKey: hexField(pin.dhKey, KEY_BYTES, `${what}: dhKey`),
    };
    expectShape(keysMatchId(id, keys), `${what}: its keys do not hash to its id`);
    out.set(name, { id, keys, since });
  }
  return out;
}

export class TrustStore {
  private readonly pins: Map<string, TrustPin>;

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    this.pins = loadPinFile(file, parsePins) ?? new Map();
  }

  /**
   * What seeing peer `id` (with `keys`, when a session or an introduction showed them) behind
   * `name` means. A name seen for the first time is pinned; keys are filled into a pin of the
   * same id that has none. Keys that do not hash to `id` are never pinned: they are 'changed'.
   * Throws IO when the pin cannot be written (the verdict stands in memory).
   */
  check(name: string, id: string, keys?: PeerKeys): TrustVerdict {
    assertId(id);
    if (keys && !keysMatchId(id, keys)) return 'changed';
    const pin = this.pins.get(name);
    if (!pin) {
      this.pins.set(name, { id, ...(keys ? { keys } : {}), since: this.now() });
      this.save();
      return 'new';
    }
    if (pin.id !== id) return 'changed';
    if (!keys) return 'known';
    if (pin.keys) return sameKeys(pin.keys, keys) ? 'known' : 'changed';
    pin.keys = keys; // a name seen in the member list, now met: its keys join the pin
    this.save();
    return 'known';
  }

  /** The pin for `name`, if any. */
  pinned(name: string): TrustPin | undefined {
    const p = this.pins.get(name);
    return p && { ...p };
  }

  /**
   * Accept `id` (and its `keys`, when known) as what stands behind `name` from now on. Keys that
   * do not hash to `id` are refused (KEY_MISMATCH) and nothing is pinned.
   */
  trust(name: string, id: string, keys?: PeerKeys): void {
    assertId(id);
    if (keys && !keysMatchId(id, keys))
      throw new PunchlineError(
        'KEY_MISMATCH',
        `the keys shown for ${name} do not hash to its id ${id}: not pinned`,
      );
    this.pins.set(name, { id, ...(keys ? { keys } : {}), since: this.now() });
    this.save();
  }

  private save(): void {
    // fromEntries, not assignment: a peer may call itself "__proto__".
    const pins: Record<string, StoredPin> = Object.fromEntries(
      [...this.pins].map(([name, p]) => [
        name,
        { id: p.id, ...(p.keys ? { signKey: p.keys.signKey, dhKey: p.keys.dhKey } : {}), since: p.since },
      ]),
    );
    const out: Stored = { version: 2, pins };
    savePinFile(this.file, out);
  }
}
