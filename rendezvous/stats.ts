import { emptyPresenceStats } from './presence.js';
import type { PresenceStats } from './presence.js';

/** Rendezvous messages dropped, by reason (UDP and stream): /metrics `punchline_rendezvous_dropped_total`. */
export type DropReason =
  | 'malformed'
  | 'unexpected'
  | 'bad_cookie'
  | 'bad_signature'
  | 'not_registered'
  | 'bad_mac'
  | 'stale_register'
  | 'draining';

/** Registrations refused after their signature verified, by reason. */
export type RefusedReason = 'ids_per_ip' | 'name_taken' | 'bad_name' | 'room_full';

/** The UDP and signalling side's counters (docs/contributing.md §8); /metrics renders them (metrics.ts). */
export class RendezvousStats {
  datagramsIn = 0;
  datagramsOut = 0;
  stunRequests = 0;
  registrations = 0;
  introductions = 0;
  expired = 0;
  /** Authentic NAT_INFOs taken (a member's port behaviour stored). */
  natInfo = 0;
  /** Ed25519 signature checks made (REGISTER): what --register-rate bounds per source. */
  signatureChecks = 0;
  /** Requests refused by a rate limit, before any work: REGISTER per source, CONNECT per member. */
  rateLimited = { register: 0, connect: 0 };
  refused: Record<RefusedReason, number> = { ids_per_ip: 0, name_taken: 0, bad_name: 0, room_full: 0 };
  presence: PresenceStats = emptyPresenceStats();
  dropped: Record<DropReason, number> = {
    malformed: 0,
    unexpected: 0,
    bad_cookie: 0,
    bad_signature: 0,
    not_registered: 0,
    bad_mac: 0,
    stale_register: 0,
    draining: 0,
  };
}
