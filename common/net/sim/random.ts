/**
 * A small seeded PRNG for the simulated network: xoshiro128** (Blackman & Vigna, 2018), seeded
 * through splitmix32 from a (seed, label) pair. The same seed gives the same losses, jitter and
 * port choices, so every simulated run is reproducible. Not for cryptography.
 */
export class Rng {
  readonly seed: number;
  readonly label: string;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, label = '') {
    this.seed = seed >>> 0;
    this.label = label;
    const mix = splitmix32((this.seed ^ fnv1a(label)) >>> 0);
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one state xoshiro cannot leave
  }

  /**
   * An independent stream named by `label`. It depends only on this stream's seed and label, not on
   * how much has been drawn, so adding a host or a link never perturbs the others' randomness.
   */
  fork(label: string): Rng {
    return new Rng(this.seed, this.label === '' ? label : `${this.label}/${label}`);
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.uint32() / 0x1_0000_0000;
  }

  /** A uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. Always draws exactly one number, whatever `p` is. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Fill `bytes` with random bytes (for ids and keys in simulated tests only). */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      let v = this.uint32();
      for (let j = i; j < Math.min(i + 4, bytes.length); j++) {
        bytes[j] = v & 0xff;
        v >>>= 8;
      }
    }
    return bytes;
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

function splitmix32(state: number): () => number {
  let a = state | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/** FNV-1a, 32 bits: turns a label into seed material. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
