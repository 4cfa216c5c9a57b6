/**
 * A seeded pseudo-random generator, passed explicitly to everything random so that the same seed gives a
 * bit-identical run. Core: xoshiro128** (Blackman & Vigna 2018), seeded through splitmix32.
 *
 * @example
 * const rng = new Rng(42);
 * rng.normal(); // a standard normal sample
 * const child = rng.fork('data'); // an independent stream, stable whatever else draws from `rng`
 */
/** What `Rng.getState` returns: the four xoshiro128** words and the cached second normal sample. */
export interface RngState {
  words: readonly number[];
  spareNormal: number | null;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Rng seed must be a finite number, got ${seed}; pass an integer such as 0.`);
    }
    let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
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

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** Normal sample by the Box-Muller transform (Box & Muller 1958); the second value is cached. */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n))
      throw new RangeError(`Rng.int needs a positive integer bound, got ${n}.`);
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i] as number;
      p[i] = p[j] as number;
      p[j] = tmp;
    }
    return p;
  }

  /** Fill with uniform samples in [low, high). */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
  }

  /** Fill with normal samples. */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
  }

  /** The whole generator state (for checkpoints): `setState` with it continues the same stream, bit for bit. */
  getState(): RngState {
    return { words: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spareNormal };
  }

  /** Continue the stream a `getState` captured. */
  setState(state: RngState): void {
    const [s0, s1, s2, s3] = state.words;
    if ([s0, s1, s2, s3].some((w) => !Number.isInteger(w)))
      throw new RangeError(
        `Rng.setState needs four integer words from getState(), got ${JSON.stringify(state.words)}.`,
      );
    this.s0 = s0 as number;
    this.s1 = s1 as number;
    this.s2 = s2 as number;
    this.s3 = s3 as number;
    this.spareNormal = state.spareNormal;
  }

  /**
   * An independent generator derived from this one's seed material and a label, without advancing this one,
   * so adding a draw in one subsystem never shifts another's stream.
   */
  fork(label: string | number): Rng {
    let h = 2166136261 >>> 0;
    const text = `${label}`;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
    return new Rng((this.s0 ^ h ^ Math.imul(this.s2, 31)) >>> 0);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
