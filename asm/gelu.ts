// GELU (Hendrycks & Gimpel 2016) in WebAssembly SIMD: y = x Phi(x), with the standard normal CDF from the
// Chebyshev erfc fit of Press et al. 1992 ("Numerical Recipes in C", 2nd ed., sec. 6.2), as the float32 loops of
// src/kernels/activations.ts compute it (the TypeScript reference): erfc(z) = t exp(P(t) - z^2), t = 1 / (1 + z/2),
// fractional error below 1.2e-7; evaluated in float32 here, so within (1e-6 + 1e-7 x^2) relative of the reference
// (tested): the exponent's argument, about -x^2 / 2, carries a few float32 ulps.
// Phi(x) = 0.5 erfc(|x| / sqrt 2) for x < 0, else 1 minus it: the small tail is the one computed, on both sides.
//
// Lengths are rounded up to whole vectors (the JavaScript side pads every array to 64 bytes), as in elementwise.ts.
import { expV } from './elementwise';

const HALF = 0;
const ONE = 1;
const SQRT1_2 = 2;
const INV_SQRT_2PI = 3;
const SIGN = 4;
const P0 = 5; // 5..14: the erfc polynomial in t, highest degree first

const CONSTANTS = memory.data<f32>([
  0.5,
  1.0,
  0.70710678118654752,
  0.39894228040143268,
  -0.0,
  0.17087277,
  -0.82215223,
  1.48851587,
  -1.13520398,
  0.27886807,
  -0.18628806,
  0.09678418,
  0.37409196,
  1.00002368,
  -1.26551223,
]);

// @ts-ignore: decorator
@inline
function k(index: i32): v128 {
  return v128.load32_splat(CONSTANTS + <usize>index * 4);
}

/** Phi(x) per lane; NaN propagates (the clamps in expV keep a NaN first operand). */
// @ts-ignore: decorator
@inline
function normalCdfV(x: v128): v128 {
  const half = k(HALF);
  const one = k(ONE);
  const z = f32x4.mul(v128.andnot(x, k(SIGN)), k(SQRT1_2));
  const t = f32x4.div(one, f32x4.add(one, f32x4.mul(half, z)));
  let p = k(P0);
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 1));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 2));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 3));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 4));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 5));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 6));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 7));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 8));
  p = f32x4.add(f32x4.mul(p, t), k(P0 + 9));
  const tail = f32x4.mul(half, f32x4.mul(t, expV(f32x4.sub(p, f32x4.mul(z, z)))));
  return v128.bitselect(tail, f32x4.sub(one, tail), f32x4.lt(x, f32x4.splat(0)));
}

/** y[i] = x[i] Phi(x[i]) for i < n (rounded up to a multiple of 4); x and y may be the same array. */
export function geluForward(x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i * 4;
    const v = v128.load(x + at);
    v128.store(y + at, f32x4.mul(v, normalCdfV(v)));
  }
}

/** gx[i] += gy[i] (Phi(x[i]) + x[i] phi(x[i])) for i < n (rounded up to a multiple of 4): GELU's backward. */
export function geluBackward(x: usize, gy: usize, gx: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const at = <usize>i * 4;
    const v = v128.load(x + at);
    const density = f32x4.mul(k(INV_SQRT_2PI), expV(f32x4.mul(f32x4.neg(k(HALF)), f32x4.mul(v, v))));
    const slope = f32x4.add(normalCdfV(v), f32x4.mul(v, density));
    v128.store(gx + at, f32x4.add(v128.load(gx + at), f32x4.mul(v128.load(gy + at), slope)));
  }
}
