/**
 * An address and port: the one value the wire codecs, the network seams and the path logic all
 * share. It lives at the root of common/ so the codecs (common/wire) need nothing from the
 * network layer (common/net), which builds on them.
 */
export interface Endpoint {
  readonly address: string; // dotted IPv4 or IPv6 text
  readonly port: number;
}

/** "1.2.3.4:5" or "[2001:db8::1]:5": brackets keep an IPv6 address apart from its port. */
export const endpointKey = (e: Endpoint): string =>
  e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
