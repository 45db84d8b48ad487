/**
 * The fundamental interactive handshake patterns of Noise §7.4 (revision 34) as data. The
 * handshake interpreter in handshake.ts runs any of them; punchline uses XX and IK.
 */

/** Tokens that may appear in a handshake message (no PSK modes). */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

export interface HandshakePattern {
  readonly name: PatternName;
  /** Pre-message of the initiator (`-> s` before `...`): its static key is known to the responder. */
  readonly initiatorPreMessage: readonly 's'[];
  /** Pre-message of the responder (`<- s` before `...`): its static key is known to the initiator. */
  readonly responderPreMessage: readonly 's'[];
  /** Message patterns; even indices go initiator -> responder, odd ones responder -> initiator. */
  readonly messages: readonly (readonly Token[])[];
}

export type PatternName = 'NN' | 'NK' | 'NX' | 'XN' | 'XK' | 'XX' | 'KN' | 'KK' | 'KX' | 'IN' | 'IK' | 'IX';

const p = (
  name: PatternName,
  initiatorPreMessage: readonly 's'[],
  responderPreMessage: readonly 's'[],
  messages: readonly (readonly Token[])[],
): HandshakePattern => ({ name, initiatorPreMessage, responderPreMessage, messages });

export const PATTERNS: Readonly<Record<PatternName, HandshakePattern>> = {
  NN: p('NN', [], [], [['e'], ['e', 'ee']]),
  NK: p(
    'NK',
    [],
    ['s'],
    [
      ['e', 'es'],
      ['e', 'ee'],
    ],
  ),
  NX: p('NX', [], [], [['e'], ['e', 'ee', 's', 'es']]),
  XN: p('XN', [], [], [['e'], ['e', 'ee'], ['s', 'se']]),
  XK: p(
    'XK',
    [],
    ['s'],
    [
      ['e', 'es'],
      ['e', 'ee'],
      ['s', 'se'],
    ],
  ),
  XX: p('XX', [], [], [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']]),
  KN: p('KN', ['s'], [], [['e'], ['e', 'ee', 'se']]),
  KK: p(
    'KK',
    ['s'],
    ['s'],
    [
      ['e', 'es', 'ss'],
      ['e', 'ee', 'se'],
    ],
  ),
  KX: p('KX', ['s'], [], [['e'], ['e', 'ee', 'se', 's', 'es']]),
  IN: p(
    'IN',
    [],
    [],
    [
      ['e', 's'],
      ['e', 'ee', 'se'],
    ],
  ),
  IK: p(
    'IK',
    [],
    ['s'],
    [
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se'],
    ],
  ),
  IX: p(
    'IX',
    [],
    [],
    [
      ['e', 's'],
      ['e', 'ee', 'se', 's', 'es'],
    ],
  ),
};

export const PATTERN_NAMES = Object.keys(PATTERNS) as PatternName[];

export function isPatternName(name: string): name is PatternName {
  return Object.prototype.hasOwnProperty.call(PATTERNS, name);
}

/** Whether the local static key pair is needed by this side. */
export function needsLocalStatic(pattern: HandshakePattern, initiator: boolean): boolean {
  const pre = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
  return pre.length > 0 || sends(pattern, initiator, 's');
}

/** Whether this side must know the peer's static key before the handshake (a pre-message). */
export function needsRemoteStatic(pattern: HandshakePattern, initiator: boolean): boolean {
  return (initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage).length > 0;
}

function sends(pattern: HandshakePattern, initiator: boolean, token: Token): boolean {
  return pattern.messages.some((m, i) => i % 2 === (initiator ? 0 : 1) && m.includes(token));
}
