import { dh, keyPairFromPrivate } from '../../common/crypto/x25519.js';
import type { Identity } from '../../common/identity/identity.js';
import type { Endpoint } from '../../common/net/types.js';
import { MsgType } from '../../common/wire/constants.js';
import { encode, registerSigningBytes } from '../../common/wire/messages.js';
import type { Cookie, Introduce, Message } from '../../common/wire/messages.js';
import { AuthChannel, deriveServerAuthKeys } from '../../common/wire/server-auth.js';
import type { AuthTransport } from '../../common/wire/server-auth.js';
import type { MemberRecord } from '../../rendezvous/registry.js';
import type { RendezvousServer } from '../../rendezvous/server.js';

/**
 * A registration made by hand, for tests that speak the rendezvous protocol without a
 * RendezvousClient (attackers, stream peers): the signed REGISTER for a COOKIE, and the peer side
 * of that registration's authenticated channel, to seal what follows and open what the server says.
 */
export interface RawRegistration {
  bytes: Uint8Array;
  auth: AuthChannel;
}

export function rawRegister(
  identity: Identity,
  cookie: Cookie,
  txid: Uint8Array,
  opts: { room: string; name: string; lan?: Endpoint[]; time?: number; transport?: AuthTransport },
): RawRegistration {
  const body = {
    txid,
    cookie: cookie.cookie,
    time: opts.time ?? 1,
    room: opts.room,
    name: opts.name,
    signKey: identity.signPublic,
    dhKey: identity.dhPublic,
    lan: opts.lan ?? [],
  };
  const bytes = encode({
    type: MsgType.REGISTER,
    ...body,
    signature: identity.sign(registerSigningBytes(body)),
  });
  const shared = dh(keyPairFromPrivate(identity.dhPrivate), cookie.serverKey);
  const auth = new AuthChannel(
    deriveServerAuthKeys(shared, opts.transport ?? 'udp', txid, cookie.cookie, 'peer'),
  );
  return { bytes, auth };
}

/** `m` encoded and sealed under `auth`. */
export const sealed = (auth: AuthChannel, m: Message): Uint8Array => auth.seal(encode(m));

/**
 * Make `server` a liar: every INTRODUCE of the member `target()` (an id in hex, read when the
 * introduction is made) carries `keys` (or a `name`) instead of that member's own. Returns a
 * counter of the lies.
 */
export function lieAboutKeys(
  server: RendezvousServer,
  target: () => string,
  keys: Partial<Pick<Introduce, 'signKey' | 'dhKey' | 'observed' | 'name'>>,
): { lies: number } {
  const srv = (
    server as unknown as {
      introducer: {
        introduction: (
          txid: Uint8Array,
          introId: Uint8Array,
          initiator: boolean,
          other: MemberRecord,
          to: MemberRecord,
        ) => Message;
      };
    }
  ).introducer;
  const honest = srv.introduction.bind(srv);
  const out = { lies: 0 };
  srv.introduction = (txid, introId, initiator, other, to) => {
    const m = honest(txid, introId, initiator, other, to);
    if (m.type !== MsgType.INTRODUCE || other.idHex !== target()) return m;
    out.lies++;
    return { ...m, ...keys };
  };
  return out;
}

/**
 * Make `server` leave the members `hidden` picks out of every member list it sends (a predicate,
 * so a member can be hidden from its very first registration, before its id is known).
 */
export function hideFromPresence(server: RendezvousServer, hidden: (m: MemberRecord) => boolean): void {
  const fan = (
    server as unknown as {
      presence: { list: (room: string) => Uint8Array[]; changed: (room: string, rec: MemberRecord) => void };
    }
  ).presence;
  const registry = server.registry;
  const honestMembers = registry.members.bind(registry);
  const honestList = fan.list.bind(fan);
  const honestChanged = fan.changed.bind(fan);
  // A full list is read inside list(): filter the members there, and only there.
  fan.list = (room) => {
    registry.members = (r) => honestMembers(r).filter((m) => !hidden(m));
    try {
      return honestList(room);
    } finally {
      registry.members = honestMembers;
    }
  };
  // No delta names a hidden member (the others then see a version gap and get the filtered list).
  fan.changed = (room, rec) => {
    if (!hidden(rec)) honestChanged(room, rec);
  };
}
