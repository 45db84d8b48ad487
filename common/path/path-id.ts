import { type Endpoint, endpointKey } from '../endpoint.js';

/**
 * Which path a session packet travels: straight to the peer's UDP endpoint, or through the
 * rendezvous server's relay. A typed value, never a label parsed back: the session compares
 * paths by pathKey, the peer reads the endpoint off a direct one, and the relay has none.
 */
export type PathId = { readonly kind: 'direct'; readonly remote: Endpoint } | { readonly kind: 'relay' };

export type PathKind = PathId['kind'];

/**
 * One string per path, for maps and equality: IPv6 addresses are bracketed (endpointKey), so
 * '::1' port 5 cannot read as another address, and no endpoint's key equals the relay's.
 */
export const pathKey = (id: PathId): string =>
  id.kind === 'relay' ? 'relay' : `direct ${endpointKey(id.remote)}`;

/** For logs and stats: 'direct 1.2.3.4:5', 'direct [2001:db8::1]:5', 'relay'. */
export const describePath = (id: PathId): string => pathKey(id);
