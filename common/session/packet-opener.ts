import { equalBytes } from '../wire/bytes.js';
import { type Frame, decodeFrames } from './frames.js';
import type { KeySchedule } from './key-schedule.js';
import { type ParsedDataPacket, openPacket, parseDataPacket } from './packet.js';
import type { Reassembler } from './reassembly.js';
import type { ReplayWindow } from './replay-window.js';
import type { DropCounts } from './stats.js';

export interface OpenContext {
  readonly localCid: Uint8Array;
  /** The transport keys, once the session is open (undefined before). */
  readonly keys: KeySchedule | undefined;
  readonly replay: ReplayWindow;
  readonly reasm: Reassembler;
  /** RFC 9001 §6.5: how long the previous key still opens packets after a rotation (3 PTOs). */
  readonly keepPreviousKeyMs: number;
  readonly now: number;
}

export type Opened = { readonly pn: number; readonly frames: Frame[] } | { readonly drop: keyof DropCounts };

/**
 * Authenticate and decode one data packet, or say which drop counter it belongs to. Checks go
 * cheapest first: the connection id, keys, the replay window (which moves only once the packet
 * authenticates, in accept()), the AEAD, the frames. A packet with stream data this side cannot
 * hold is refused whole (left unacknowledged, so the sender sends it again) rather than
 * acknowledged and lost. On success the caller accepts `pn` into the replay window.
 */
export function openDataPacket(datagram: Uint8Array, c: OpenContext): Opened {
  let p: ParsedDataPacket;
  try {
    p = parseDataPacket(datagram);
  } catch {
    return { drop: 'malformed' };
  }
  if (!equalBytes(p.header.dcid, c.localCid)) return { drop: 'unknownCid' };
  if (!c.keys) return { drop: 'early' };
  const pn = p.header.pn;
  if (c.replay.check(pn) !== 'new') return { drop: 'replay' };
  let plaintext: Uint8Array;
  try {
    plaintext = c.keys.opening(p.header.keyPhase, pn, c.now, c.keepPreviousKeyMs, (k) => openPacket(p, k));
  } catch {
    return { drop: 'auth' };
  }
  let frames: Frame[];
  try {
    frames = decodeFrames(plaintext);
  } catch {
    return { drop: 'malformed' };
  }
  for (const f of frames) {
    if (f.type !== 'stream') continue;
    const refusal = c.reasm.refusal(f.offset, f.data.length);
    if (refusal) return { drop: refusal };
  }
  return { pn, frames };
}
