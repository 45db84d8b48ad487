import type { PunchlineError } from '../../common/errors.js';
import { ioError } from './journal.js';
import type { PeerKeys, TrustStore, TrustVerdict } from './trust.js';

export interface KeyWatchHooks {
  /** The name the node knows a peer id by, if any. */
  peerName(peerId: string): string | undefined;
  /** A peer was just flagged: `message` says which pin it breaks. */
  flagged(peerId: string, name: string, message: string): void;
  /** peers.json could not be written (the verdict stands in memory for this run). */
  storageError(name: string, err: PunchlineError): void;
}

/**
 * The pins (peer/chat/trust.ts) as the chat service applies them: a peer whose name is pinned to
 * another id or other keys is flagged, and stays flagged until trust(). Nothing goes to a flagged
 * peer.
 */
export class KeyWatch {
  /** Peers (by id) shown behind a name pinned to another id or other keys -> that name. */
  private readonly changed = new Map<string, string>();

  constructor(
    private readonly store: TrustStore,
    private readonly hooks: KeyWatchHooks,
  ) {}

  isFlagged(peerId: string): boolean {
    return this.changed.has(peerId);
  }

  /**
   * Check `id` (and its `keys`, when a session showed them) behind `name` against the pins; a
   * mismatch flags the peer (once). True when the peer may be sent to.
   */
  check(name: string, id: string, keys?: PeerKeys): boolean {
    if (this.changed.has(id)) return false;
    let verdict: TrustVerdict;
    try {
      verdict = this.store.check(name, id, keys);
    } catch (e) {
      // peers.json cannot be written: say so (once), and let presence and everything after it go
      // on; the verdict stands in memory for this run.
      this.hooks.storageError(name, ioError(e, 'cannot write peers.json'));
      verdict = this.store.check(name, id, keys);
    }
    if (verdict !== 'changed') return true;
    this.changed.set(id, name);
    this.hooks.flagged(id, name, this.warning(name, id));
    return false;
  }

  private warning(name: string, id: string): string {
    const pin = this.store.pinned(name);
    const was = pin ? fingerprintOfHex(pin.id) : 'nothing';
    return pin && pin.id === id
      ? `the keys shown for "${name}" are not the pinned ones (id ${was}): messages to ${name} are held until /trust ${name}`
      : `the key behind "${name}" changed (pinned ${was}, now ${fingerprintOfHex(id)}): messages to ${name} are held until /trust ${name}`;
  }

  /** Is this peer's key in question (flagged, or not matching the pin of the name the node knows)? */
  heldNow(peerId: string): boolean {
    if (this.changed.has(peerId)) return true;
    const name = this.hooks.peerName(peerId);
    return name !== undefined && !this.check(name, peerId);
  }

  /** May messages go to this peer (checked against the pins under the name the node knows it by)? */
  mayDeliver(peerId: string, keys?: PeerKeys): boolean {
    if (this.changed.has(peerId)) return false;
    const name = this.hooks.peerName(peerId);
    return name !== undefined && this.check(name, peerId, keys);
  }

  /** Pin this id (and keys) for the name, and lift the flag. */
  trust(name: string, peerId: string, keys?: PeerKeys): void {
    this.store.trust(name, peerId, keys);
    this.changed.delete(peerId);
  }
}

/** The first 8 bytes of a hex id, grouped as common/identity/identity.ts fingerprint() groups them. */
export function fingerprintOfHex(idHex: string): string {
  return (idHex.slice(0, 16).match(/.{4}/g) ?? []).join(':');
}
