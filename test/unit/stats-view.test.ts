/**
 * The node's raw figures as the `stats` answer prints them: rounded in the chat layer
 * (peer/chat/presentation.ts), named and ordered by the JSON-lines mode (peer/cli/json-events.ts).
 */
import { describe, expect, it } from 'vitest';
import { peerInfoOf } from '../../peer/chat/presentation.js';
import { statsJson as statsView } from '../../peer/cli/json-events.js';
import type { PeerFigures } from '../../peer/peer-events.js';

const statsJson = (f: PeerFigures) => statsView(peerInfoOf(f));

const text = (o: unknown): string => JSON.stringify(o);

describe('JSON-lines views (docs/cli.md)', () => {
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
      '{"event":"stats","peer":"bob","peer_id":"b0","fingerprint":"b0b0","state":"direct","path":"direct","remote":"192.0.2.1:5","rtt_ms":32.6,"min_rtt_ms":30.1,"loss":0.012,"cwnd":12000,"bytes_in_flight":0,"retransmits":1,"packets_sent":2,"packets_received":3,"pending":0,"connect_ms":25,"candidates":[]}',
    );
    const { rttMs: _r, minRttMs: _m, ...unmeasured } = f.session!;
    expect(statsJson({ ...f, session: unmeasured })).not.toHaveProperty('rtt_ms');
    expect(
      text(statsJson({ peer: 'bob', peerId: 'b0', fingerprint: 'b0b0', state: 'offline', pending: 2 })),
    ).toBe(
      '{"event":"stats","peer":"bob","peer_id":"b0","fingerprint":"b0b0","state":"offline","pending":2}',
    );
  });
});
