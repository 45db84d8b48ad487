import type { Clock } from '../clock.js';
import type { KeyPair, RandomBytes } from '../crypto/x25519.js';
import type { PunchlineError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PathId } from '../path/path-id.js';
import type { SessionTuning } from './options.js';
import type { TimerCoalescer } from './timer-coalescer.js';
import type { SessionStats } from './stats.js';

/** What the owner of a Session (common/session/session.ts) passes to it and hears from it. */

export type { SessionPath } from './session-path.js';

export interface SessionOptions extends Partial<SessionTuning> {
  /**
   * Force the role. Left undefined (recommended), the side with the lower static public key
   * (bytewise) initiates: both peers are introduced at the same moment and know both keys, so
   * they agree without a message. If both initiate anyway, the same rule resolves it.
   */
  initiator?: boolean;
  /** This side's X25519 static key pair (Identity.dhPublic / dhPrivate). */
  staticKey: KeyPair;
  /** The X25519 key the rendezvous introduced; the handshake fails with KEY_MISMATCH otherwise. */
  expectedRemoteStatic: Uint8Array;
  /** Bytes both sides know, bound into the handshake (the introduction id). */
  prologue?: Uint8Array;
  /**
   * RECEIPTs (and the receive window) count only messages the owner released with release(id),
   * not every message delivered: an owner that must store a message before the peer may call it
   * delivered releases it once stored. Unreleased messages hold the window: the peer stops
   * after one window's worth.
   */
  releaseByOwner?: boolean;
  /**
   * With `initiator: false` given by the owner while the key rule would make this side the
   * initiator: start the handshake anyway after this many ms without a message 1 (a peer on the
   * older rule waits for us). Unset: never.
   */
  keyRuleFallbackMs?: number;
}

export interface SessionComponents {
  clock: Clock;
  randomBytes?: RandomBytes;
  logger?: Logger;
  /** One timer for the heartbeats of all of an owner's sessions (a node's); default one each. */
  heartbeats?: TimerCoalescer;
}

export type SessionState = SessionStats['state'];
export type CloseReason = 'local' | 'remote' | 'error';

export interface SessionEvents extends Record<string, unknown> {
  /** The handshake finished; messages flow. */
  open: { remoteStatic: Uint8Array; path: PathId | undefined };
  /** A message from the peer, in order, exactly once. Ids count 1, 2, 3... per direction. */
  message: { id: number; data: Uint8Array };
  /** The peer's application has message `id` (RECEIPT). */
  delivered: { id: number };
  /** send() returned false earlier; there is room again. */
  writable: Record<string, never>;
  /** Nothing authenticated arrived for deadAfterMs. Messages wait; give a new path with setPath(). */
  dead: { reason: 'timeout'; silentMs: number; path: PathId | undefined };
  /** An authenticated packet arrived after 'dead'. */
  alive: { path: PathId | undefined };
  /** Packets now go out on this path: set by the owner, or validated after the peer moved. */
  path: { id: PathId; via: 'set' | 'validated' | 'adopted' };
  /** An authenticated packet came from a new path; a PATH_CHALLENGE went there. */
  pathChallenge: { id: PathId };
  closed: { reason: CloseReason; error?: PunchlineError };
}
