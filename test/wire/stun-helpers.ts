import { expect } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { shortTermKey } from '../../common/wire/stun.js';
import { PASSWORD } from './stun-vectors.js';

/** Shared by the STUN codec tests (stun.test.ts) and the decoder and server tests (stun-receive.test.ts). */
export const KEY = shortTermKey(PASSWORD);
export const FROM4 = { address: '203.0.113.7', port: 40000 };
export const FROM6 = { address: '2001:db8::7', port: 40001 };

export function expectMalformed(f: () => unknown): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(isPunchlineError(thrown, 'MALFORMED'), String(thrown)).toBe(true);
}

export const flip = (b: Uint8Array, i: number, mask: number): void => {
  b[i] = b[i]! ^ mask;
};
