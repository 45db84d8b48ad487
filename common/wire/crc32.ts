/**
 * CRC-32 (ISO-HDLC / IEEE 802.3: reflected polynomial 0xEDB88320, init and final XOR
 * 0xFFFFFFFF), the CRC that STUN's FINGERPRINT uses (RFC 8489 §14.7, citing ITU-T V.42).
 * Written out rather than taken from node:zlib, whose `crc32` exists only from Node 20.15 /
 * 22.2 on. Check value: crc32("123456789") = 0xCBF43926.
 */
const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data` as an unsigned 32-bit number. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
