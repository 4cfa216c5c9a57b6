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

/**
 * The monitor's pass over one gradient: out[0] = sum of x[j]^2 (float64, `sumOfSquares`'s order, so the same
 * double), out[1] = max |x[j]| (NaN when any entry is NaN, else +Infinity when any is infinite), out[2] = the count
 * of non-finite entries (x - x is NaN exactly for NaN and ±Infinity). The loop uses pmax, one instruction where
 * f32x4.max costs V8 several (it orders NaN); pmax skips NaN lanes, so a NaN is looked for only when some entry
 * was not finite.
 */
export function moments(x: usize, n: i32, out: usize): void {
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let largest = f32x4.splat(0);
  let bad = i32x4.splat(0);
  const zero = f32x4.splat(0);
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const v = v128.load(x + ((<usize>j) << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    s01 = f64x2.add(s01, f64x2.mul(lo, lo));
    s23 = f64x2.add(s23, f64x2.mul(hi, hi));
    largest = f32x4.pmax(largest, f32x4.abs(v));
    // A true lane is -1: subtracting the mask counts it.
    bad = i32x4.sub(bad, f32x4.ne(f32x4.sub(v, v), zero));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  let m = max<f32>(
    max<f32>(f32x4.extract_lane(largest, 0), f32x4.extract_lane(largest, 1)),
    max<f32>(f32x4.extract_lane(largest, 2), f32x4.extract_lane(largest, 3)),
  );
  let count =
    i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3);
  for (; j < n; j++) {
    const f = load<f32>(x + ((<usize>j) << 2));
    const v = <f64>f;
    s0 += v * v;
    const a = abs<f32>(f);
    if (a > m) m = a;
    if (f - f != 0) count++;
  }
  if (count > 0) {
    for (let i = 0; i < n; i++) {
      const f = load<f32>(x + ((<usize>i) << 2));
      if (f != f) {
        m = NaN;
        break;
      }
    }
  }
  store<f64>(out, s0 + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1)));
  store<f64>(out, <f64>m, 8);
  store<f64>(out, <f64>count, 16);
}

/** Bucket slots per lane in `histogram`'s scratch: the buckets plus one that catches non-finite lanes. */
// @ts-ignore: decorator
@inline
function laneStride(buckets: i32): i32 {
  return buckets + 1;
}

/** Bytes of scratch `histogram` needs after its counts: four lanes' private buckets. */
export function histogramScratchBytes(buckets: i32): i32 {
  return 4 * laneStride(buckets) * 4;
}

/**
 * An equal-width histogram of x[0..n) (src/monitor/histogram.ts; `histogramReference` in src/kernels/ts.ts is the
 * contract): out[0..4] (f64) = min and max of the finite entries, the NaN, +Infinity and -Infinity counts; `counts`
 * (i32 x buckets) the finite entries per bucket, bucket = min(floor((x - min) * (buckets / (max - min))), buckets - 1)
 * computed in float64 as JavaScript does, so every entry lands in the same bucket as in the reference.
 * `scratch` holds `histogramScratchBytes(buckets)`: each lane counts into its own buckets (consecutive increments
 * of one counter would wait on each other's store), summed at the end.
 */
export function histogram(x: usize, n: i32, buckets: i32, counts: usize, out: usize, scratch: usize): void {
  const zero = f32x4.splat(0);
  const inf = f32x4.splat(Infinity);
  const negInf = f32x4.splat(-Infinity);
  let low = inf;
  let high = negInf;
  let nans = i32x4.splat(0);
  let pos = i32x4.splat(0);
  let neg = i32x4.splat(0);
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const v = v128.load(x + ((<usize>j) << 2));
    const finite = f32x4.eq(f32x4.sub(v, v), zero);
    // Non-finite lanes become ±Infinity, so pmin/pmax (one instruction each) see no NaN.
    low = f32x4.pmin(low, v128.bitselect(v, inf, finite));
    high = f32x4.pmax(high, v128.bitselect(v, negInf, finite));
    nans = i32x4.sub(nans, f32x4.ne(v, v));
    pos = i32x4.sub(pos, f32x4.eq(v, inf));
    neg = i32x4.sub(neg, f32x4.eq(v, negInf));
  }
  let mn = min<f32>(
    min<f32>(f32x4.extract_lane(low, 0), f32x4.extract_lane(low, 1)),
    min<f32>(f32x4.extract_lane(low, 2), f32x4.extract_lane(low, 3)),
  );
  let mx = max<f32>(
    max<f32>(f32x4.extract_lane(high, 0), f32x4.extract_lane(high, 1)),
    max<f32>(f32x4.extract_lane(high, 2), f32x4.extract_lane(high, 3)),
  );
  let nan = i32x4.extract_lane(nans, 0) + i32x4.extract_lane(nans, 1) + i32x4.extract_lane(nans, 2) + i32x4.extract_lane(nans, 3);
  let posInf = i32x4.extract_lane(pos, 0) + i32x4.extract_lane(pos, 1) + i32x4.extract_lane(pos, 2) + i32x4.extract_lane(pos, 3);
  let negInfs = i32x4.extract_lane(neg, 0) + i32x4.extract_lane(neg, 1) + i32x4.extract_lane(neg, 2) + i32x4.extract_lane(neg, 3);
  const tail = j;
  for (; j < n; j++) {
    const v = load<f32>(x + ((<usize>j) << 2));
    if (v - v != 0) {
      if (v != v) nan++;
      else if (v > 0) posInf++;
      else negInfs++;
      continue;
    }
    mn = min<f32>(mn, v);
    mx = max<f32>(mx, v);
  }
  for (let b = 0; b < buckets; b++) store<i32>(counts + ((<usize>b) << 2), 0);
  store<f64>(out, <f64>nan, 16);
  store<f64>(out, <f64>posInf, 24);
  store<f64>(out, <f64>negInfs, 32);
  if (mn > mx) {
    store<f64>(out, 0, 0);
    store<f64>(out, 0, 8);
    return;
  }
  store<f64>(out, <f64>mn, 0);
  store<f64>(out, <f64>mx, 8);
  const last = buckets - 1;
  const lowest = <f64>mn;
  const width = <f64>mx - lowest;
  if (width == 0) {
    store<i32>(counts + ((<usize>last) << 2), n - nan - posInf - negInfs);
    return;
  }
  const scale = <f64>buckets / width;
  const stride = laneStride(buckets);
  for (let b = 0; b < 4 * stride; b++) store<i32>(scratch + ((<usize>b) << 2), 0);
  // t = (x - min) * scale >= 0 or NaN (0 times an overflowed scale); trunc_sat sends NaN to 0 (the reference's
  // bucket 0) and equals floor for t >= 0; the unsigned min caps it at the last bucket. Non-finite lanes count into
  // the extra slot.
  const lowV = f64x2.splat(lowest);
  const scaleV = f64x2.splat(scale);
  const lastV = i32x4.splat(last);
  const trash = i32x4.splat(buckets);
  const offsets = i32x4(0, stride, 2 * stride, 3 * stride);
  for (let i = 0; i < tail; i += 4) {
    const v = v128.load(x + ((<usize>i) << 2));
    const finite = f32x4.eq(f32x4.sub(v, v), zero);
    const lo = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), lowV), scaleV);
    const hi = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), lowV), scaleV);
    const index = v128.shuffle<i32>(i32x4.trunc_sat_f64x2_s_zero(lo), i32x4.trunc_sat_f64x2_s_zero(hi), 0, 1, 4, 5);
    const slot = i32x4.add(v128.bitselect(i32x4.min_u(index, lastV), trash, finite), offsets);
    const a0 = scratch + ((<usize>i32x4.extract_lane(slot, 0)) << 2);
    store<i32>(a0, load<i32>(a0) + 1);
    const a1 = scratch + ((<usize>i32x4.extract_lane(slot, 1)) << 2);
    store<i32>(a1, load<i32>(a1) + 1);
    const a2 = scratch + ((<usize>i32x4.extract_lane(slot, 2)) << 2);
    store<i32>(a2, load<i32>(a2) + 1);
    const a3 = scratch + ((<usize>i32x4.extract_lane(slot, 3)) << 2);
    store<i32>(a3, load<i32>(a3) + 1);
  }
  for (let b = 0; b < buckets; b++) {
    const at = scratch + ((<usize>b) << 2);
    const sum =
      load<i32>(at) +
      load<i32>(at + ((<usize>stride) << 2)) +
      load<i32>(at + ((<usize>(2 * stride)) << 2)) +
      load<i32>(at + ((<usize>(3 * stride)) << 2));
    store<i32>(counts + ((<usize>b) << 2), sum);
  }
  for (let i = tail; i < n; i++) {
    const v = load<f32>(x + ((<usize>i) << 2));
    if (v - v != 0) continue;
    const t = (<f64>v - lowest) * scale;
    const b = t >= <f64>last ? last : t > 0 ? <i32>Math.floor(t) : 0;
    const at = counts + ((<usize>b) << 2);
    store<i32>(at, load<i32>(at) + 1);
  }
}

/**
 * The monitor's pass over a layer's output y [rows, units] (src/monitor/stats.ts `activationStats`;
 * `activationMomentsReference` in src/kernels/ts.ts is the contract, bit for bit). Over the finite entries, row by
 * row: units in groups of four feed four float64 partial sums (the group's k-th unit into sum k), the rest of a row
 * into sum 0; out (f64) = [sum, sum of squares, non-finite count, units saturated in every row, units dead in every
 * row]. Saturated: y < below or y > above; dead: y <= dead (float32 thresholds the caller rounded so that these
 * compare as JavaScript's float64 ones do; NaN: never). `flags` holds 2 x units i32.
 */
export function activationMoments(
  y: usize,
  rows: i32,
  units: i32,
  below: f32,
  above: f32,
  dead: f32,
  flags: usize,
  out: usize,
): void {
  const zero = f32x4.splat(0);
  const belowV = f32x4.splat(below);
  const aboveV = f32x4.splat(above);
  const deadV = f32x4.splat(dead);
  const saturatedAt = flags;
  const deadAt = flags + ((<usize>units) << 2);
  for (let u = 0; u < 2 * units; u++) store<i32>(flags + ((<usize>u) << 2), -1);
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let q01 = f64x2.splat(0);
  let q23 = f64x2.splat(0);
  let bad = i32x4.splat(0);
  let s0: f64 = 0;
  let q0: f64 = 0;
  let badTail = 0;
  for (let r = 0; r < rows; r++) {
    const row = y + ((<usize>r * <usize>units) << 2);
    let j = 0;
    for (; j + 3 < units; j += 4) {
      const v = v128.load(row + ((<usize>j) << 2));
      const finite = f32x4.eq(f32x4.sub(v, v), zero);
      const kept = v128.and(v, finite);
      const lo = f64x2.promote_low_f32x4(kept);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(kept, kept, 2, 3, 0, 1));
      s01 = f64x2.add(s01, lo);
      s23 = f64x2.add(s23, hi);
      q01 = f64x2.add(q01, f64x2.mul(lo, lo));
      q23 = f64x2.add(q23, f64x2.mul(hi, hi));
      bad = i32x4.sub(bad, v128.not(finite));
      const sat = saturatedAt + ((<usize>j) << 2);
      v128.store(sat, v128.and(v128.load(sat), v128.or(f32x4.lt(v, belowV), f32x4.gt(v, aboveV))));
      const dd = deadAt + ((<usize>j) << 2);
      v128.store(dd, v128.and(v128.load(dd), f32x4.le(v, deadV)));
    }
    for (; j < units; j++) {
      const f = load<f32>(row + ((<usize>j) << 2));
      if (f - f == 0) {
        const v = <f64>f;
        s0 += v;
        q0 += v * v;
      } else badTail++;
      if (!(f < below || f > above)) store<i32>(saturatedAt + ((<usize>j) << 2), 0);
      if (!(f <= dead)) store<i32>(deadAt + ((<usize>j) << 2), 0);
    }
  }
  let saturated = 0;
  let deadUnits = 0;
  if (rows > 0) {
    for (let u = 0; u < units; u++) {
      if (load<i32>(saturatedAt + ((<usize>u) << 2)) != 0) saturated++;
      if (load<i32>(deadAt + ((<usize>u) << 2)) != 0) deadUnits++;
    }
  }
  const count =
    i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3) + badTail;
  // The order of the reference: tail + p0 + p1 + (p2 + p3), the masked lanes having added +0 (which changes no sum).
  store<f64>(out, s0 + f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1)));
  store<f64>(out, q0 + f64x2.extract_lane(q01, 0) + f64x2.extract_lane(q01, 1) + (f64x2.extract_lane(q23, 0) + f64x2.extract_lane(q23, 1)), 8);
  store<f64>(out, <f64>count, 16);
  store<f64>(out, <f64>saturated, 24);
  store<f64>(out, <f64>deadUnits, 32);
}
