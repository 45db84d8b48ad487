import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isPunchlineError } from '../../common/errors.js';
import { Reader, Writer, fromHex, toHex } from '../../common/wire/bytes.js';
import { Limits, MsgType, VERSION_BYTE } from '../../common/wire/constants.js';
import { writeEndpoint } from '../../common/wire/endpoint-codec.js';
import { decode, encode } from '../../common/wire/messages.js';
import type { Message } from '../../common/wire/messages.js';
import { AUTH_TRAILER_BYTES } from '../../common/wire/server-auth.js';
import { seeded } from '../support/random.js';
import { SAMPLES } from './samples.js';

const FIXTURES = JSON.parse(
  readFileSync(new URL('../fixtures/messages.json', import.meta.url), 'utf8'),
) as Record<string, string>;

describe('wire messages', () => {
  // Session packets (0x30-0x3F) have their own codec and fixtures (common/session/packet.ts,
  // test/session/packet.test.ts); every other type is encoded here.
  const CODEC_TYPES = Object.keys(MsgType)
    .filter((k) => !k.startsWith('SESSION_'))
    .sort();
  it('has a sample and a fixture for every message type', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(CODEC_TYPES);
    expect(Object.keys(FIXTURES).sort()).toEqual(CODEC_TYPES);
  });

  for (const [name, sample] of Object.entries(SAMPLES)) {
    it(`${name}: encodes byte-exact to its fixture and round-trips`, () => {
      const bytes = encode(sample);
      expect(toHex(bytes)).toBe(FIXTURES[name]);
      expect(bytes[0]).toBe(VERSION_BYTE);
      expect(bytes[1]).toBe(MsgType[name as keyof typeof MsgType]);
      expect(decode(bytes)).toEqual(sample);
      expect(decode(fromHex(FIXTURES[name]!))).toEqual(sample);
    });

    it(`${name}: every truncation and one extra byte are rejected as MALFORMED`, () => {
      const bytes = encode(sample);
      for (let n = 0; n < bytes.length; n++) {
        // HELLO's padding is part of its fixed size, so every shorter form is malformed too.
        expect(() => decode(bytes.subarray(0, n)), `${name} cut to ${n}`).toThrow(
          /truncated|unknown|exceeds|padding/,
        );
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expect(() => decode(longer)).toThrow(/trailing/);
    });
  }

  it('HELLO is exactly Limits.HELLO_BYTES and larger than the COOKIE answer (no amplification)', () => {
    expect(encode(SAMPLES.HELLO!).length).toBe(Limits.HELLO_BYTES);
    expect(encode(SAMPLES.COOKIE!).length).toBeLessThanOrEqual(Limits.HELLO_BYTES);
  });

  it('PROBE is exactly Limits.PROBE_BYTES and no PROBE_ACK is larger, with an IPv4 or an IPv6 seen (no amplification)', () => {
    const probe = encode(SAMPLES.PROBE!);
    const ack = encode(SAMPLES.PROBE_ACK!); // seen: IPv4, 7 bytes
    expect(probe.length).toBe(Limits.PROBE_BYTES);
    expect(ack.length).toBe(121);
    expect(ack.length).toBeLessThanOrEqual(probe.length);
    // The wire carries IPv4 only today; an IPv6 seen would be family, 16 address bytes and port.
    const ipv6Ack = ack.length - 7 + (1 + 16 + 2);
    expect(ipv6Ack).toBe(133);
    expect(ipv6Ack).toBeLessThanOrEqual(probe.length);
  });

  it('PROBE padding must be zero', () => {
    const bytes = encode(SAMPLES.PROBE!);
    expect(decode(bytes)).toEqual(SAMPLES.PROBE);
    bytes[bytes.length - 1] = 1;
    expect(() => decode(bytes)).toThrow(/padding/);
  });

  it('rejects a wrong version byte and unknown types', () => {
    const bytes = encode(SAMPLES.KEEPALIVE!);
    const v = Uint8Array.from(bytes);
    v[0] = 0x52;
    expect(() => decode(v)).toThrow(/version/);
    const t = Uint8Array.from(bytes);
    t[1] = 0x7f;
    expect(() => decode(t)).toThrow(/unknown message type/);
  });

  it('bounds length fields before reading: an oversized name is refused without allocation', () => {
    const w = new Writer().u8(VERSION_BYTE).u8(MsgType.ERROR).bytes(new Uint8Array(8)).u16(1).u8(255);
    expect(() => decode(w.finish())).toThrow(/exceeds/);
  });

  it('refuses invalid UTF-8 in strings', () => {
    const bytes = Uint8Array.from(encode(SAMPLES.ERROR!)); // its message string, then the auth trailer
    bytes[bytes.length - 1 - AUTH_TRAILER_BYTES] = 0xff;
    expect(() => decode(bytes)).toThrow(/UTF-8/);
  });

  it('never throws anything but MALFORMED on random or mutated input', () => {
    const rand = seeded(42);
    const samples = Object.values(SAMPLES).map((m) => encode(m));
    let malformed = 0;
    for (let i = 0; i < 20_000; i++) {
      let buf: Uint8Array;
      if (i % 2 === 0) {
        buf = Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
        if (buf.length > 1 && i % 4 === 0) buf[0] = VERSION_BYTE; // get past the version check
      } else {
        buf = Uint8Array.from(samples[i % samples.length]!);
        const flips = 1 + Math.floor(rand() * 3);
        for (let k = 0; k < flips; k++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      }
      try {
        decode(buf);
      } catch (e) {
        if (!isPunchlineError(e, 'MALFORMED')) throw e;
        malformed++;
      }
    }
    expect(malformed).toBeGreaterThan(10_000);
  });

  it('Reader reads 48-bit values exactly', () => {
    const w = new Writer()
      .u48(2 ** 48 - 1)
      .u48(0)
      .u48(123456789012);
    const r = new Reader(w.finish());
    expect([r.u48(), r.u48(), r.u48()]).toEqual([2 ** 48 - 1, 0, 123456789012]);
  });

  it('a port or number outside its field is a RangeError, never wrapped into another value (found by test/fuzz)', () => {
    const w = new Writer();
    expect(() => writeEndpoint(w, { address: '10.0.0.1', port: 65536 })).toThrow(RangeError);
    expect(() => writeEndpoint(w, { address: '10.0.0.1', port: 70000 })).toThrow(RangeError);
    expect(() => writeEndpoint(w, { address: '10.0.0.1', port: -1 })).toThrow(RangeError);
    expect(() => encode({ ...SAMPLES.REGISTERED!, expiryMs: -1 } as Message)).toThrow(RangeError);
    expect(() => encode({ ...SAMPLES.KEEPALIVE!, presenceVersion: 2 ** 32 } as Message)).toThrow(RangeError);
    expect(() => encode({ ...SAMPLES.ERROR!, code: 1.5 } as Message)).toThrow(RangeError);
    expect(() => new Writer().u8(256)).toThrow(RangeError);
    expect(
      new Writer()
        .u8(255)
        .u16(65535)
        .u32(2 ** 32 - 1)
        .finish(),
    ).toEqual(new Uint8Array(7).fill(255));
  });
});
