import { dh, keyPairFromPrivate } from '../../common/crypto/x25519.js';
import type { Identity } from '../../common/identity.js';
import type { Endpoint } from '../../common/net/types.js';
import { MsgType } from '../../common/wire/constants.js';
import { encode, registerSigningBytes } from '../../common/wire/messages.js';
import type { Cookie, Message } from '../../common/wire/messages.js';
import { AuthChannel, deriveServerAuthKeys } from '../../common/wire/server-auth.js';
import type { AuthTransport } from '../../common/wire/server-auth.js';

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
