import { noiseHash } from '../common/crypto/hash.js';
import { equalBytes } from '../common/wire/bytes.js';
import { Limits, MsgType } from '../common/wire/constants.js';
import { encode } from '../common/wire/messages.js';
import type { PortProbe } from '../common/wire/messages.js';

const sha256 = noiseHash('SHA256');
const LABEL = new TextEncoder().encode('punchline/port-probe/v1');

/**
 * A PORT_PROBE's tag: SHA-256 over a label, the introduction's id, the sender's id and the seq,
 * truncated to 8 bytes. The peer, who knows all three, checks it; whoever else the probed port
 * belongs to learns neither id nor the introduction from it.
 */
export function portProbeTag(introId: Uint8Array, sender: Uint8Array, seq: number): Uint8Array {
  const s = Uint8Array.of(seq >>> 8, seq & 0xff);
  return sha256.hash(LABEL, introId, sender, s).subarray(0, Limits.PORT_PROBE_TAG_BYTES);
}

/** A PORT_PROBE from `sender` for this introduction (12 bytes). */
export function portProbe(introId: Uint8Array, sender: Uint8Array, seq: number): Uint8Array {
  return encode({
    type: MsgType.PORT_PROBE,
    tag: portProbeTag(introId, sender, seq & 0xffff),
    seq: seq & 0xffff,
  });
}

/** Did `sender` make this PORT_PROBE for this introduction? */
export const validPortProbe = (m: PortProbe, introId: Uint8Array, sender: Uint8Array): boolean =>
  equalBytes(m.tag, portProbeTag(introId, sender, m.seq));
