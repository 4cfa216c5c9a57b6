// Passes over whole parameter and gradient vectors (the guard's and clipping's global norm, the learning-rate
// scaling, p += u), in WebAssembly SIMD. Measured on W1 (530k parameters), the same loops in JavaScript cost
// 2.5-4 ns per value each and together 28% of a step; here they run at memory speed.
//
// Each is bit-identical to the JavaScript loop it replaces (src/optim: clip.ts `sumOfSquares`, learning-rate.ts,
// transform.ts `applyUpdates`), so a seed trains to the same bits on either: float32 values are promoted to float64
// where JavaScript computes in float64 (a number), in the same order.
//
// Exact lengths, scalar tails: these arrays come from the caller's parameters, not from a padded arena.

/**
 * Sum of x[j]^2 in float64 with four partial sums by j mod 4, then s0 + s1 + (s2 + s3), the tail added to s0:
 * the order of clip.ts's `sumOfSquares`, so the result is the same double.
 */
export function sumOfSquares(x: usize, n: i32): f64 {
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const v = v128.load(x + ((<usize>j) << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    s01 = f64x2.add(s01, f64x2.mul(lo, lo));
    s23 = f64x2.add(s23, f64x2.mul(hi, hi));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; j < n; j++) {
    const v = <f64>load<f32>(x + ((<usize>j) << 2));
    s0 += v * v;
  }
  return s0 + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
}

/** x[j] = float32(float64(x[j]) * alpha): JavaScript's `u[j] *= scale` on a Float32Array with a double scale. */
export function scaleInPlace(x: usize, n: i32, alpha: f64): void {
  const a = f64x2.splat(alpha);
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const at = x + ((<usize>j) << 2);
    const v = v128.load(at);
    const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v), a));
    const hi = f32x4.demote_f64x2_zero(
      f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), a),
    );
    v128.store(at, v128.shuffle<f32>(lo, hi, 0, 1, 4, 5));
  }
  for (; j < n; j++) {
    const at = x + ((<usize>j) << 2);
    store<f32>(at, <f32>(<f64>load<f32>(at) * alpha));
  }
}

/**
 * y[j] += x[j]. A float32 sum rounded once equals JavaScript's float64 sum rounded to float32 (a double holds the
 * exact sum of two floats' 24-bit significands closely enough that the second rounding never differs).
 */
export function addInPlace(y: usize, x: usize, n: i32): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const o = (<usize>j) << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
  }
  for (; j < n; j++) {
    const o = (<usize>j) << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}
