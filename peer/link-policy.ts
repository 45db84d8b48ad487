import type { Session } from '../common/session/session.js';
import type { SessionPath } from '../common/session/session-path.js';
import type { Introduce } from '../common/wire/messages.js';

/** The numbers and words of a PeerLink's path policy (peer/peer-link.ts). */

/**
 * With a relay to fall back on, a direct path silent this long is abandoned for the relay
 * (Tailscale trusts a direct path for 6.5 s without a heartbeat answer; the session pings every
 * 5 s). Without one, the session's own 15 s dead timeout applies and the peer is re-introduced.
 */
export const DIRECT_TRUST_MS = 7_000;

export type PathMode = 'auto' | 'relay-only' | 'direct-only';

/**
 * After this side moves to a direct path, relayed packets from the other side are taken as if
 * they came on the direct path for this long: the other side's own upgrade lands within a round
 * trip or two. Later, a relayed packet means the other side stopped hearing us directly, and the
 * session follows it to the relay.
 */
export const UPGRADE_GRACE_MS = 2_000;

/** The relay as a link sees it: whether it is up, and how to send a packet to a peer through it. */
export interface RelayPort {
  readonly ready: boolean;
  send(to: Uint8Array, payload: Uint8Array): boolean;
  /** ms until a packet of `payload` bytes keeps within the relay's rate limits (peer/relay-pacer.ts). */
  wait(payload: number): number;
}

/**
 * A session's relay path to peer `id`. The server relays a frame only from the connection that
 * registered this peer's id (its key signed the registration): a handshake on it proving another
 * key is the peer's own (vouched). Its rate is the relay's to limit (wait).
 */
export const relaySessionPath = (id: Uint8Array, relay: RelayPort | undefined): SessionPath => ({
  id: { kind: 'relay' },
  send: (b) => void relay?.send(id, b),
  wait: (n) => relay?.wait(n) ?? 0,
  vouched: true,
});

/** The relay as peer links use it, through whatever `relay()` holds now (none: nothing goes). */
export const relayPortOf = (
  relay: () =>
    { relayReady: boolean; relaySend: RelayPort['send']; relayWait: RelayPort['wait'] } | undefined,
): RelayPort => ({
  get ready() {
    return relay()?.relayReady === true;
  },
  send: (to, b) => relay()?.relaySend(to, b) ?? false,
  wait: (n) => relay()?.relayWait(n) ?? 0,
});

/**
 * A session's side that did not ask for the introduction waits for message 1 from the side that
 * did; a peer still on the older rule (the lower key initiates) that asked while holding the
 * higher key waits too. After this long without message 1, the side the key rule names starts
 * the handshake itself (common/session/session-handshake.ts), so such a pair still connects, one
 * second late. Not for a candidate session (PeerLink.candidate): its asker keeps its open session
 * and never answers, so a fallback there would only send unanswered messages.
 */
export const KEY_RULE_FALLBACK_MS = 1_000;

/** What to do with an introduction (see PeerLink.consider). */
export type IntroVerdict = 'new-session' | 'punch-only' | 'ignore';

/**
 * What an introduction means for a link whose current introduction and session are given:
 * - no session, or a closed or dead one: a fresh session (this is a (re)connect);
 * - an open, healthy session: keep it and only punch (a retry of the direct path while on the
 *   relay, or the other side's crossing introduction);
 * - a session still handshaking: crossing introductions converge on the lower id, so both
 *   sides end in the same session.
 */
export function considerIntro(
  intro: Introduce,
  current: Introduce | undefined,
  s: Session | undefined,
): IntroVerdict {
  if (!current || !s || s.state === 'closed' || s.dead) return 'new-session';
  if (Buffer.compare(intro.introId, current.introId) === 0) return 'ignore';
  if (s.state === 'open') return 'punch-only';
  return Buffer.compare(intro.introId, current.introId) < 0 ? 'new-session' : 'ignore';
}
