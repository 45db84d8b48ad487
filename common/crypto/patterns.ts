/**
 * The Noise handshake pattern punchline's sessions use, XX (Noise §7.5, revision 34), as data:
 * both sides send their static key, encrypted, so neither needs the other's beforehand (a peer
 * learns its partner's key from the rendezvous introduction and checks it as an expectation,
 * common/session/handshake-driver.ts). The interpreter in handshake.ts runs the table.
 *
 *     XX:
 *       -> e
 *       <- e, ee, s, es
 *       -> s, se
 */

/** The tokens XX's messages use. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se';

export interface HandshakePattern {
  readonly name: PatternName;
  /** Message patterns; even indices go initiator -> responder, odd ones responder -> initiator. */
  readonly messages: readonly (readonly Token[])[];
}

export type PatternName = 'XX';

export const PATTERNS: Readonly<Record<PatternName, HandshakePattern>> = {
  XX: { name: 'XX', messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
};

export const PATTERN_NAMES = Object.keys(PATTERNS) as PatternName[];

export function isPatternName(name: string): name is PatternName {
  return Object.prototype.hasOwnProperty.call(PATTERNS, name);
}

/** Whether this side sends its static key (then it must have one). */
export function needsLocalStatic(pattern: HandshakePattern, initiator: boolean): boolean {
  return pattern.messages.some((m, i) => i % 2 === (initiator ? 0 : 1) && m.includes('s'));
}
