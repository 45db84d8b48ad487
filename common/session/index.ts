/** The secure reliable session (docs/session.md): one import for the peer. */
export {
  Session,
  initiatorByKeys,
  initialConnectionId,
  type CloseReason,
  type SessionComponents,
  type SessionEvents,
  type SessionOptions,
  type SessionPath,
  type SessionState,
} from './session.js';
export { SESSION_DEFAULTS, type SessionTuning } from './options.js';
export { connectionIdOf, isSessionPacket, MAX_DATAGRAM } from './packet.js';
export type { DropCounts, SessionStats } from './stats.js';
