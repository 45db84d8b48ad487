/** The JSON-lines views of the node's events and figures (peer/cli/json-views.ts): names, order, rounding. */
import { describe, expect, it } from 'vitest';
import {
  connectedJson,
  messageJson,
  messageStateJson,
  registeredJson,
  statsJson,
} from '../../peer/cli/json-views.js';
import type { PeerFigures } from '../../peer/peer-events.js';

const text = (o: unknown): string => JSON.stringify(o);

describe('JSON-lines views (docs/cli.md)', () => {
  it('events carry `id` for the id they are about, in the documented field order', () => {
    expect(text(registeredJson({ selfId: 'ab', public: '192.0.2.1:5', transport: 'udp' }))).toBe(
      '{"event":"registered","id":"ab","public":"192.0.2.1:5","transport":"udp"}',
    );
    expect(
      text(
        connectedJson({
          peer: 'bob',
          peerId: 'b0',
          path: 'relay',
          remote: 'relay',
          ms: 31,
          fingerprint: 'b0b0',
          signKey: 's',
          dhKey: 'd',
        }),
      ),
    ).toBe(
      '{"event":"connected","peer":"bob","id":"b0","path":"relay","remote":"relay","ms":31,"fingerprint":"b0b0","sign_key":"s","dh_key":"d"}',
    );
    expect(text(messageStateJson('delivered', { peer: 'bob', peerId: 'b0', messageId: 'm1' }))).toBe(
      '{"event":"delivered","peer":"bob","id":"m1"}',
    );
    const m = { peer: 'bob', peerId: 'b0', messageId: 'm2', text: 'hi', ts: 5, room: false };
    expect(text(messageJson(m))).toBe(
      '{"event":"message","from":"bob","from_id":"b0","id":"m2","text":"hi","ts":5,"room":false}',
    );
    expect(messageJson({ ...m, action: true })).toMatchObject({ action: true });
  });

  it('stats: rounded for reading (0.1 ms, loss to 0.001), without the figures not measured', () => {
    const f: PeerFigures = {
      peer: 'bob',
      peerId: 'b0',
      fingerprint: 'b0b0',
      state: 'direct',
      path: 'direct',
      remote: '192.0.2.1:5',
      session: {
        rttMs: 32.64,
        minRttMs: 30.05,
        loss: 0.01234,
        cwnd: 12000,
        bytesInFlight: 0,
        retransmits: 1,
        packetsSent: 2,
        packetsReceived: 3,
      },
      pending: 0,
      punch: {
        remote: { address: '192.0.2.1', port: 5 },
        kind: 'public',
        ms: 25,
        rttMs: 1,
        probesSent: 2,
        candidates: [],
      },
    };
    expect(text(statsJson(f))).toBe(
      '{"event":"stats","peer":"bob","id":"b0","fingerprint":"b0b0","state":"direct","path":"direct","remote":"192.0.2.1:5","rtt_ms":32.6,"min_rtt_ms":30.1,"loss":0.012,"cwnd":12000,"bytes_in_flight":0,"retransmits":1,"packets_sent":2,"packets_received":3,"pending":0,"connect_ms":25,"candidates":[]}',
    );
    const { rttMs: _r, minRttMs: _m, ...unmeasured } = f.session!;
    expect(statsJson({ ...f, session: unmeasured })).not.toHaveProperty('rtt_ms');
    expect(
      text(statsJson({ peer: 'bob', peerId: 'b0', fingerprint: 'b0b0', state: 'offline', pending: 2 })),
    ).toBe('{"event":"stats","peer":"bob","id":"b0","fingerprint":"b0b0","state":"offline","pending":2}');
  });
});
