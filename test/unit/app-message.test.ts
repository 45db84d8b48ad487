import { describe, expect, it } from 'vitest';
import { MAX_TIMESTAMP_MS, decodeApp, encodeApp } from '../../peer/app-message.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('app messages (peer/app-message.ts)', () => {
  it('a ts that is no date (1e308, beyond ±8.64e15 ms) is MALFORMED (found by test/fuzz)', () => {
    for (const ts of ['1e308', '-1e308', '8640000000000001', '1e999'])
      expect(() => decodeApp(bytes(`{"v":1,"id":"m1","ts":${ts},"room":false,"text":"x"}`))).toThrow(
        expect.objectContaining({ code: 'MALFORMED', message: 'app message: bad ts' }),
      );
    for (const ts of [0, -MAX_TIMESTAMP_MS, MAX_TIMESTAMP_MS, 1_764_700_000_123])
      expect(decodeApp(encodeApp({ id: 'm1', ts, room: false, text: 'x' })).ts).toBe(ts);
  });
});
