/**
 * Seeded pseudo-random numbers: xoshiro128** (32-bit state words, exact in JS integer arithmetic).
 * Every random choice in the engine (init, dropout, data order, sampling) draws from one of these,
 * and the state can be saved and restored so an interrupted run resumes bit-identically.
 */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number | bigint = 0) {
    // splitmix32 expands the seed into four non-zero state words.
    let x = Number(BigInt.asUintN(32, BigInt(seed))) >>> 0;
    let hi = Number(BigInt.asUintN(32, BigInt(seed) >> 32n)) >>> 0;
    this.s = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9 + hi) >>> 0;
      hi = 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller; one value per call, deterministic). */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = xs[i];
      xs[i] = xs[j];
      xs[j] = tmp;
    }
    return xs;
  }

  getState(): number[] {
    return [...this.s];
  }

  setState(state: readonly number[]): this {
    if (state.length !== 4) throw new RangeError(`Rng state must have 4 words, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
    return this;
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(0).setState(state);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seed for an independent stream (`label`, `index`) of a run seeded with `seed` (FNV-1a 64-bit). */
export function deriveSeed(seed: number, label: string, index = 0): bigint {
  let h = 0xcbf29ce484222325n;
  const mix = (byte: number) => {
    h ^= BigInt(byte & 0xff);
    h = BigInt.asUintN(64, h * 0x100000001b3n);
  };
  for (const ch of `${seed}/${label}/${index}`) mix(ch.charCodeAt(0));
  return h;
}
