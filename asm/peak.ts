// The machine's WebAssembly SIMD arithmetic peak: a throughput loop of f32x4 multiply-adds on independent
// accumulators, which the bench reads every matmul against (issue 16: "each kernel's fraction of the physical
// limit"). Built into both modules by scripts/build-wasm.mjs: a multiply and an add in the plain-SIMD
// build and one `f32x4.relaxed_madd` in the relaxed one, as in asm/matmul.ts.
//
// Twelve accumulators: a fused multiply-add has a latency of 4 cycles and x64 cores retire two per cycle, so 8 or
// more independent chains keep both ports busy; twelve plus the two operands fit V8's 15 allocatable xmm registers
// without spills. With the relaxed build's operands (0.999, 1e-3) every chain converges (acc -> 1), so no value
// overflows or goes denormal whatever the iteration count. The lanes' sum is returned, so neither Binaryen nor V8
// can drop the loop.

/**
 * Runs `iterations` rounds and returns the sum of every accumulator's lanes. A round is the loop body four times
 * over (so the loop's counter, branch and V8's interrupt check, which share ports with vector arithmetic, weigh
 * little). Relaxed build: 12 independent f32x4 fused multiply-adds per body (acc <- acc * scale + offset; 384 flops
 * a round). Plain build: what a matmul without fused multiply-add issues, independent multiplies and adds in equal
 * numbers: 6 multiply chains (x <- x * scale) and 6 add chains (y <- y + offset), 192 flops a round; with scale 1 and offset 0 nothing drifts. Chains rather
 * than one multiply-add chain, because a dependent multiply-then-add has twice the latency and measured 25% under
 * what the matmul's micro-kernel (independent multiplies feeding add chains) reaches. `scale` and `offset` come
 * from the caller so nothing is a compile-time constant.
 */
export function simdPeak(iterations: i32, scale: f32, offset: f32): f32 {
  const a = f32x4.splat(scale);
  const b = f32x4.splat(offset);
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0.1);
  let c2 = f32x4.splat(0.2);
  let c3 = f32x4.splat(0.3);
  let c4 = f32x4.splat(0.4);
  let c5 = f32x4.splat(0.5);
  let c6 = f32x4.splat(0.6);
  let c7 = f32x4.splat(0.7);
  let c8 = f32x4.splat(0.8);
  let c9 = f32x4.splat(0.9);
  let c10 = f32x4.splat(1.0);
  let c11 = f32x4.splat(1.1);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let i = 0; i < iterations; i++) {
      c0 = f32x4.relaxed_madd(c0, a, b);
      c1 = f32x4.relaxed_madd(c1, a, b);
      c2 = f32x4.relaxed_madd(c2, a, b);
      c3 = f32x4.relaxed_madd(c3, a, b);
      c4 = f32x4.relaxed_madd(c4, a, b);
      c5 = f32x4.relaxed_madd(c5, a, b);
      c6 = f32x4.relaxed_madd(c6, a, b);
      c7 = f32x4.relaxed_madd(c7, a, b);
      c8 = f32x4.relaxed_madd(c8, a, b);
      c9 = f32x4.relaxed_madd(c9, a, b);
      c10 = f32x4.relaxed_madd(c10, a, b);
      c11 = f32x4.relaxed_madd(c11, a, b);
      c0 = f32x4.relaxed_madd(c0, a, b);
      c1 = f32x4.relaxed_madd(c1, a, b);
      c2 = f32x4.relaxed_madd(c2, a, b);
      c3 = f32x4.relaxed_madd(c3, a, b);
      c4 = f32x4.relaxed_madd(c4, a, b);
      c5 = f32x4.relaxed_madd(c5, a, b);
      c6 = f32x4.relaxed_madd(c6, a, b);
      c7 = f32x4.relaxed_madd(c7, a, b);
      c8 = f32x4.relaxed_madd(c8, a, b);
      c9 = f32x4.relaxed_madd(c9, a, b);
      c10 = f32x4.relaxed_madd(c10, a, b);
      c11 = f32x4.relaxed_madd(c11, a, b);
      c0 = f32x4.relaxed_madd(c0, a, b);
      c1 = f32x4.relaxed_madd(c1, a, b);
      c2 = f32x4.relaxed_madd(c2, a, b);
      c3 = f32x4.relaxed_madd(c3, a, b);
      c4 = f32x4.relaxed_madd(c4, a, b);
      c5 = f32x4.relaxed_madd(c5, a, b);
      c6 = f32x4.relaxed_madd(c6, a, b);
      c7 = f32x4.relaxed_madd(c7, a, b);
      c8 = f32x4.relaxed_madd(c8, a, b);
      c9 = f32x4.relaxed_madd(c9, a, b);
      c10 = f32x4.relaxed_madd(c10, a, b);
      c11 = f32x4.relaxed_madd(c11, a, b);
      c0 = f32x4.relaxed_madd(c0, a, b);
      c1 = f32x4.relaxed_madd(c1, a, b);
      c2 = f32x4.relaxed_madd(c2, a, b);
      c3 = f32x4.relaxed_madd(c3, a, b);
      c4 = f32x4.relaxed_madd(c4, a, b);
      c5 = f32x4.relaxed_madd(c5, a, b);
      c6 = f32x4.relaxed_madd(c6, a, b);
      c7 = f32x4.relaxed_madd(c7, a, b);
      c8 = f32x4.relaxed_madd(c8, a, b);
      c9 = f32x4.relaxed_madd(c9, a, b);
      c10 = f32x4.relaxed_madd(c10, a, b);
      c11 = f32x4.relaxed_madd(c11, a, b);
    }
  } else {
    for (let i = 0; i < iterations; i++) {
      c0 = f32x4.mul(c0, a);
      c1 = f32x4.add(c1, b);
      c2 = f32x4.mul(c2, a);
      c3 = f32x4.add(c3, b);
      c4 = f32x4.mul(c4, a);
      c5 = f32x4.add(c5, b);
      c6 = f32x4.mul(c6, a);
      c7 = f32x4.add(c7, b);
      c8 = f32x4.mul(c8, a);
      c9 = f32x4.add(c9, b);
      c10 = f32x4.mul(c10, a);
      c11 = f32x4.add(c11, b);
      c0 = f32x4.mul(c0, a);
      c1 = f32x4.add(c1, b);
      c2 = f32x4.mul(c2, a);
      c3 = f32x4.add(c3, b);
      c4 = f32x4.mul(c4, a);
      c5 = f32x4.add(c5, b);
      c6 = f32x4.mul(c6, a);
      c7 = f32x4.add(c7, b);
      c8 = f32x4.mul(c8, a);
      c9 = f32x4.add(c9, b);
      c10 = f32x4.mul(c10, a);
      c11 = f32x4.add(c11, b);
      c0 = f32x4.mul(c0, a);
      c1 = f32x4.add(c1, b);
      c2 = f32x4.mul(c2, a);
      c3 = f32x4.add(c3, b);
      c4 = f32x4.mul(c4, a);
      c5 = f32x4.add(c5, b);
      c6 = f32x4.mul(c6, a);
      c7 = f32x4.add(c7, b);
      c8 = f32x4.mul(c8, a);
      c9 = f32x4.add(c9, b);
      c10 = f32x4.mul(c10, a);
      c11 = f32x4.add(c11, b);
      c0 = f32x4.mul(c0, a);
      c1 = f32x4.add(c1, b);
      c2 = f32x4.mul(c2, a);
      c3 = f32x4.add(c3, b);
      c4 = f32x4.mul(c4, a);
      c5 = f32x4.add(c5, b);
      c6 = f32x4.mul(c6, a);
      c7 = f32x4.add(c7, b);
      c8 = f32x4.mul(c8, a);
      c9 = f32x4.add(c9, b);
      c10 = f32x4.mul(c10, a);
      c11 = f32x4.add(c11, b);
    }
  }
  let s = f32x4.add(
    f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)),
    f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)),
  );
  s = f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)));
  return (
    f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)
  );
}

/** Flops one `simdPeak` round does: 4 x 12 vectors x 4 lanes x 2 (fused) or x 1 (plain). */
export function simdPeakFlopsPerIteration(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 384 : 192;
}
