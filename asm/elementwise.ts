// Element-wise transcendental kernels in WebAssembly SIMD: Math.tanh and Math.exp cost 13-17 ns per element in V8,
// which made activations and LSTM gates as slow as the matmuls around them.
//
// exp follows Cephes' expf (S. L. Moshier): Cody-Waite reduction x = n ln2 + r with ln2 split in two, a degree-6
// polynomial for e^r on |r| <= ln2/2, and 2^n built in the exponent bits. tanh follows Cephes' tanhf: an odd
// polynomial for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1) above. Errors stay within a few float32 ulp of the exact values
// (tested against Math.tanh / Math.exp). NaN propagates: the clamps use pmin/pmax, which keep a NaN first operand.
//
// Constants come from a table in memory with broadcast loads (one load each): V8 builds a v128.const from
// immediates with three instructions, two on the same port, which made the first version 4x slower.
//
// Lengths are rounded up to whole vectors: the JavaScript side pads every array it lays out to 64 bytes, so the extra
// lanes read and write only padding.

// The indices into CONSTANTS.
const ONE = 0;
const TWO = 1;
const EXP_HI = 2;
const EXP_LO = 3;
const LOG2E = 4;
const ROUNDER = 5; // adding 1.5 * 2^23 rounds a float below 2^22 in magnitude to an integer in the low mantissa bits
const LN2_HI = 6;
const LN2_LO = 7;
const EXP_P0 = 8; // 8..13: the e^r polynomial, highest degree first
const TANH_P0 = 14; // 14..18: the small-|x| tanh polynomial, highest degree first
const TANH_SMALL = 19;
const SIGN = 20;

const CONSTANTS = memory.data<f32>([
  1.0,
  2.0,
  88.0, // e^88 ~ 1.7e38 is finite
  -87.0, // e^-87 ~ 1.6e-38 is still a normal float
  1.44269504088896341,
  12582912.0,
  0.693359375,
  -2.12194440e-4,
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
  -5.70498872745e-3,
  2.06390887954e-2,
  -5.37397155531e-2,
  1.33314422036e-1,
  -3.33332819422e-1,
  0.625,
  -0.0,
]);

// @ts-ignore: decorator
@inline
function k(index: i32): v128 {
  return v128.load32_splat(CONSTANTS + <usize>index * 4);
}

/** e^x per lane, for x clamped to [-87, 88] (so the result is a finite normal float). */
// @ts-ignore: decorator
@inline
export function expV(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, k(EXP_HI)), k(EXP_LO));
  const t = f32x4.add(f32x4.mul(xc, k(LOG2E)), k(ROUNDER));
  const n = f32x4.sub(t, k(ROUNDER));
  let r = f32x4.sub(xc, f32x4.mul(n, k(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, k(LN2_LO)));
  let p = k(EXP_P0);
  p = f32x4.add(f32x4.mul(p, r), k(EXP_P0 + 1));
  p = f32x4.add(f32x4.mul(p, r), k(EXP_P0 + 2));
  p = f32x4.add(f32x4.mul(p, r), k(EXP_P0 + 3));
  p = f32x4.add(f32x4.mul(p, r), k(EXP_P0 + 4));
  p = f32x4.add(f32x4.mul(p, r), k(EXP_P0 + 5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), k(ONE));
  // t's bits are ROUNDER's plus n: shift n + 127 into the exponent field to get 2^n.
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127 - 0x4b400000)), 23);
  return f32x4.mul(p, scale);
}

/** 1 / (1 + e^-x) per lane. */
// @ts-ignore: decorator
@inline
export function sigmoidV(x: v128): v128 {
  const one = k(ONE);
  return f32x4.div(one, f32x4.add(one, expV(f32x4.neg(x))));
}

/** tanh per lane, with the sign of x (tanh(-0) = -0). */
// @ts-ignore: decorator
@inline
export function tanhV(x: v128): v128 {
  const sign = k(SIGN);
  const ax = v128.andnot(x, sign);
  // |x| < 0.625: |x| + |x|^3 P(x^2), no cancellation.
  const z = f32x4.mul(ax, ax);
  let p = k(TANH_P0);
  p = f32x4.add(f32x4.mul(p, z), k(TANH_P0 + 1));
  p = f32x4.add(f32x4.mul(p, z), k(TANH_P0 + 2));
  p = f32x4.add(f32x4.mul(p, z), k(TANH_P0 + 3));
  p = f32x4.add(f32x4.mul(p, z), k(TANH_P0 + 4));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), ax), ax);
  // Above: 1 - 2 / (e^{2|x|} + 1).
  const one = k(ONE);
  const large = f32x4.sub(one, f32x4.div(k(TWO), f32x4.add(expV(f32x4.add(ax, ax)), one)));
  // NaN compares false and takes the small branch, where it propagates.
  const magnitude = v128.bitselect(large, small, f32x4.ge(ax, k(TANH_SMALL)));
  return v128.or(magnitude, v128.and(x, sign));
}

/** y[i] = tanh(x[i]) for i < n (rounded up to a multiple of 4); x and y may be the same array. */
export function tanhForward(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i * 4;
    v128.store(y + at, tanhV(v128.load(x + at)));
  }
}

/** y[i] = 1 / (1 + e^-x[i]) for i < n (rounded up to a multiple of 4); x and y may be the same array. */
export function sigmoidForward(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i * 4;
    v128.store(y + at, sigmoidV(v128.load(x + at)));
  }
}
