import { malformed } from '../errors.js';
import { MAX_SEQUENTIAL_STEP } from '../nat-behaviour.js';
import type { PortBehaviour } from '../nat-behaviour.js';
import type { Reader, Writer } from './bytes.js';

/*
 * A PortBehaviour on the wire (NAT_INFO, and INTRODUCE's optional last field; docs/protocol.md):
 * a kind byte, then what that kind carries. 1 to 4 bytes.
 *   0 unknown     -
 *   1 consistent  preserved u8 (0 or 1)
 *   2 sequential  step i8 (two's complement, 1 <= |step| <= MAX_SEQUENTIAL_STEP), last u16 (1-65535)
 *   3 random      -
 */

export const PortKind = { unknown: 0, consistent: 1, sequential: 2, random: 3 } as const;

export function writePortBehaviour(w: Writer, b: PortBehaviour): void {
  w.u8(PortKind[b.kind]);
  if (b.kind === 'consistent') w.u8(b.preserved ? 1 : 0);
  if (b.kind === 'sequential') {
    if (!validStep(b.step)) throw new RangeError(`port step ${b.step} out of range`);
    if (!Number.isInteger(b.last) || b.last < 1 || b.last > 0xffff)
      throw new RangeError(`port ${b.last} out of range`);
    w.u8(b.step & 0xff).u16(b.last);
  }
}

const validStep = (s: number): boolean =>
  Number.isInteger(s) && s !== 0 && Math.abs(s) <= MAX_SEQUENTIAL_STEP;

/** Read one behaviour; MALFORMED on an unknown kind, a flag other than 0/1, a step or port out of range. */
export function readPortBehaviour(r: Reader): PortBehaviour {
  const kind = r.u8();
  switch (kind) {
    case PortKind.unknown:
      return { kind: 'unknown' };
    case PortKind.consistent: {
      const flag = r.u8();
      if (flag > 1) throw malformed('port behaviour preserved flag');
      return { kind: 'consistent', preserved: flag === 1 };
    }
    case PortKind.sequential: {
      const byte = r.u8();
      const step = byte >= 0x80 ? byte - 0x100 : byte;
      const last = r.u16();
      if (!validStep(step)) throw malformed(`port behaviour step ${step}`);
      if (last === 0) throw malformed('port behaviour last port 0');
      return { kind: 'sequential', step, last };
    }
    case PortKind.random:
      return { kind: 'random' };
    default:
      throw malformed(`port behaviour kind ${kind}`);
  }
}
