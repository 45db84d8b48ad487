import { describe, expect, it } from 'vitest';
import { CipherState } from '../../common/crypto/cipher-state.js';
import { type Frame, encodeFrames } from '../../common/session/frames.js';
import { KeySchedule } from '../../common/session/key-schedule.js';
import { type OpenContext, openDataPacket } from '../../common/session/packet-opener.js';
import { sealPacket } from '../../common/session/packet.js';
import { Reassembler } from '../../common/session/reassembly.js';
import { ReplayWindow } from '../../common/session/replay-window.js';

const KEY = new Uint8Array(32).fill(3);
const CID = new Uint8Array(8).fill(0x11);

const seal = (pn: number, frames: Frame[], key = KEY, dcid = CID): Uint8Array =>
  sealPacket({ dcid, keyPhase: 0, pn }, encodeFrames(frames), new CipherState(key));

function context(o: Partial<OpenContext> = {}): OpenContext {
  return {
    localCid: CID,
    keys: new KeySchedule(new CipherState(new Uint8Array(32)), new CipherState(KEY), 1 << 20),
    replay: new ReplayWindow(64),
    reasm: new Reassembler(1000, 500, 16),
    keepPreviousKeyMs: 1000,
    now: 0,
    ...o,
  };
}

describe('openDataPacket', () => {
  it('opens an authentic packet: its number and frames; the replay window moves only when the caller accepts', () => {
    const c = context();
    const d = seal(7, [{ type: 'ping' }]);
    expect(openDataPacket(d, c)).toEqual({ pn: 7, frames: [{ type: 'ping' }] });
    expect(openDataPacket(d, c)).toEqual({ pn: 7, frames: [{ type: 'ping' }] }); // not accepted yet
    c.replay.accept(7);
    expect(openDataPacket(d, c)).toEqual({ drop: 'replay' });
  });

  it.each<[string, string, Uint8Array, Partial<OpenContext>]>([
    ['not a data packet', 'malformed', new Uint8Array([0x51, 0x33, 1]), {}],
    ['another connection id', 'unknownCid', seal(1, [{ type: 'ping' }], KEY, new Uint8Array(8).fill(9)), {}],
    ['no keys yet (before open)', 'early', seal(1, [{ type: 'ping' }]), { keys: undefined }],
    ['sealed with another key', 'auth', seal(1, [{ type: 'ping' }], new Uint8Array(32).fill(4)), {}],
    [
      'stream data beyond the receive window',
      'flowControl',
      seal(1, [{ type: 'stream', offset: 5000, data: new Uint8Array(10) }]),
      {},
    ],
  ])('%s: dropped as %s', (_name, drop, datagram, o) => {
    expect(openDataPacket(datagram, context(o))).toEqual({ drop });
  });

  it('a tampered byte fails authentication', () => {
    const d = seal(2, [{ type: 'ping' }]);
    d[d.length - 1]! ^= 1;
    expect(openDataPacket(d, context())).toEqual({ drop: 'auth' });
  });
});
