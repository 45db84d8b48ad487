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
}

/** What to do with an introduction (see PeerLink.consider). */
export type IntroVerdict = 'new-session' | 'punch-only' | 'ignore';
