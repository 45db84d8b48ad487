import { encode } from '../common/wire/messages.js';
import type { Member } from '../common/wire/messages.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { AUTH_TRAILER_BYTES } from '../common/wire/server-auth.js';

/**
 * A room's member list, split into PRESENCE datagrams that each fit Limits.MAX_DATAGRAM.
 * Worst case a member takes 16 (id) + 1 + 32 (name) bytes, so 23 fit beside the 11-byte header
 * and the 20-byte auth trailer.
 */
export const MEMBERS_PER_PART = Math.floor(
  (Limits.MAX_DATAGRAM - 11 - AUTH_TRAILER_BYTES) / (Limits.ID_BYTES + 1 + Limits.MAX_NAME_BYTES),
);

export function presencePackets(version: number, members: readonly Member[]): Uint8Array[] {
  const parts = Math.max(1, Math.ceil(members.length / MEMBERS_PER_PART));
  const out: Uint8Array[] = [];
  for (let part = 0; part < parts; part++) {
    const slice = members.slice(part * MEMBERS_PER_PART, (part + 1) * MEMBERS_PER_PART);
    out.push(encode({ type: MsgType.PRESENCE, version, part, parts, total: members.length, members: slice }));
  }
  return out;
}
