// Single-precision GEMM with WebAssembly SIMD (f32x4), compiled by scripts/build-wasm.mjs.
//
// The structure follows Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication" (ACM TOMS 2008):
// a KC x NC block of op(B) is packed into NR-wide panels (kept in L2), an MC x KC block of op(A) into MR-high panels,
// and an MR x NR micro-kernel keeps C's tile in registers while it streams one panel of each. Packing is also where
// the transposes happen, so all four variants share one micro-kernel.
//
// Why 4 x 8: eight f32x4 accumulators, two B vectors, one broadcast A value and one product temporary take 12 of
// the 15 xmm registers V8 allocates on x64, so the loop runs without spills. The arithmetic is the bound, not the
// loads: WebAssembly SIMD has no fused multiply-add, so each step is 8 multiplies and 8 adds, which measured
// ~38 GFLOPS on one core of the Xeon we develop on (about 12 flops per cycle: the limit of its multiply and add
// ports). Where relaxed SIMD is compiled in (see `madd`), one fused multiply-add per pair measured ~48. Unrolling
// the k loop by two measured slower (33 and 31 GFLOPS), so the loop stays simple.
//
// All pointers are byte offsets into this module's memory; the JavaScript side owns the layout (see wasm.ts).

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128; // multiple of MR
const NC: i32 = 1024; // multiple of NR

const PACK_A_BYTES: usize = <usize>(MC * KC * 4);
const PACK_B_BYTES: usize = <usize>(KC * NC * 4);
const TILE_BYTES: usize = <usize>(MR * NR * 4);

/** Bytes of scratch memory `matmul` needs at `work` (packed panels and one edge tile). */
export function workBytes(): i32 {
  return <i32>(PACK_A_BYTES + PACK_B_BYTES + TILE_BYTES);
}

/** First byte the JavaScript side may use. */
export function heapBase(): i32 {
  return <i32>__heap_base;
}

/**
 * C (m x n) = op(A) op(B), or C += op(A) op(B) when `accumulate` != 0. A is [m, k] or [k, m] (transA),
 * B is [k, n] or [n, k] (transB), C is [m, n]; all row-major float32.
 */
export function matmul(
  a: usize,
  b: usize,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  transA: i32,
  transB: i32,
  accumulate: i32,
  work: usize,
): void {
  gemm(a, b, c, m, k, n, transA, transB, accumulate, work, 0, m, 0, n);
}

/**
 * `matmul` restricted to the block of C in rows [rowStart, rowEnd) and columns [colStart, colEnd): what one
 * thread of src/kernels/threads.ts computes. The k loop is blocked the same whatever the block, and each element
 * of C is one lane of the micro-kernel, so every element gets exactly the instructions `matmul` gives it: a product
 * split into blocks is bit-identical to the whole. Each thread passes its own `work` (packed panels).
 */
export function matmulBlock(
  a: usize,
  b: usize,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  transA: i32,
  transB: i32,
  accumulate: i32,
  work: usize,
  rowStart: i32,
  rowEnd: i32,
  colStart: i32,
  colEnd: i32,
): void {
  gemm(
    a, b, c, m, k, n, transA, transB, accumulate, work,
    max(rowStart, 0), min(rowEnd, m), max(colStart, 0), min(colEnd, n),
  );
}

// @ts-ignore: decorator
@inline
function gemm(
  a: usize,
  b: usize,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  transA: i32,
  transB: i32,
  accumulate: i32,
  work: usize,
  rowStart: i32,
  rowEnd: i32,
  colStart: i32,
  colEnd: i32,
): void {
  if (rowEnd <= rowStart || colEnd <= colStart) return;
  if (k <= 0) {
    if (accumulate == 0 && colStart == 0 && colEnd == n) {
      memory.fill(c + <usize>rowStart * <usize>n * 4, 0, <usize>(rowEnd - rowStart) * <usize>n * 4);
    } else if (accumulate == 0) {
      for (let i = rowStart; i < rowEnd; i++) {
        memory.fill(c + (<usize>i * <usize>n + <usize>colStart) * 4, 0, <usize>(colEnd - colStart) * 4);
      }
    }
    return;
  }
  const packA = work;
  const packB = work + PACK_A_BYTES;
  const tile = packB + PACK_B_BYTES;
  const ldc = <usize>n * 4;
  for (let jc = colStart; jc < colEnd; jc += NC) {
    const nc = min(NC, colEnd - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const add = accumulate != 0 || pc > 0;
      if (transB != 0) packBTransposed(b, packB, k, pc, kc, jc, nc);
      else packBRows(b, packB, n, pc, kc, jc, nc);
      for (let ic = rowStart; ic < rowEnd; ic += MC) {
        const mc = min(MC, rowEnd - ic);
        if (transA != 0) packATransposed(a, packA, m, ic, mc, pc, kc);
        else packARows(a, packA, k, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bPanel = packB + <usize>jr * <usize>kc * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const aPanel = packA + <usize>ir * <usize>kc * 4;
            const cTile = c + (<usize>(ic + ir) * <usize>n + <usize>(jc + jr)) * 4;
            if (mr == MR && nr == NR) {
              microKernel(aPanel, bPanel, kc, cTile, ldc, add);
            } else {
              microKernel(aPanel, bPanel, kc, tile, <usize>NR * 4, false);
              writeEdge(tile, cTile, ldc, mr, nr, add);
            }
          }
        }
      }
    }
  }
}

/** acc + a * b: one fused multiply-add where relaxed SIMD is compiled in, else a multiply and an add. */
// @ts-ignore: decorator
@inline
function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline
function microKernel(aPanel: usize, bPanel: usize, kc: i32, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let ap = aPanel;
  let bp = bPanel;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let av = v128.load32_splat(ap);
    c00 = madd(c00, av, b0);
    c01 = madd(c01, av, b1);
    av = v128.load32_splat(ap, 4);
    c10 = madd(c10, av, b0);
    c11 = madd(c11, av, b1);
    av = v128.load32_splat(ap, 8);
    c20 = madd(c20, av, b0);
    c21 = madd(c21, av, b1);
    av = v128.load32_splat(ap, 12);
    c30 = madd(c30, av, b0);
    c31 = madd(c31, av, b1);
    ap += 16;
    bp += 32;
  }
  let r = c;
  if (add) {
    v128.store(r, f32x4.add(v128.load(r), c00));
    v128.store(r, f32x4.add(v128.load(r, 16), c01), 16);
    r += ldc;
    v128.store(r, f32x4.add(v128.load(r), c10));
    v128.store(r, f32x4.add(v128.load(r, 16), c11), 16);
    r += ldc;
    v128.store(r, f32x4.add(v128.load(r), c20));
    v128.store(r, f32x4.add(v128.load(r, 16), c21), 16);
    r += ldc;
    v128.store(r, f32x4.add(v128.load(r), c30));
    v128.store(r, f32x4.add(v128.load(r, 16), c31), 16);
  } else {
    v128.store(r, c00);
    v128.store(r, c01, 16);
    r += ldc;
    v128.store(r, c10);
    v128.store(r, c11, 16);
    r += ldc;
    v128.store(r, c20);
    v128.store(r, c21, 16);
    r += ldc;
    v128.store(r, c30);
    v128.store(r, c31, 16);
  }
}

/** Copies the valid mr x nr corner of a full MR x NR tile into C (tails of m and n). */
function writeEdge(tile: usize, c: usize, ldc: usize, mr: i32, nr: i32, add: bool): void {
  for (let i = 0; i < mr; i++) {
    const src = tile + <usize>(i * NR) * 4;
    const dst = c + <usize>i * ldc;
    for (let j = 0; j < nr; j++) {
      const at = dst + <usize>j * 4;
      const v = load<f32>(src + <usize>j * 4);
      store<f32>(at, add ? load<f32>(at) + v : v);
    }
  }
}

// Packed layouts: A panel = [kc][MR] (the MR values of one column of op(A) side by side);
// B panel = [kc][NR] (one row of op(B)). Rows/columns past the matrix are zero.

/** op(A) = A, A row-major [m, k]: each panel is a 4 x kc slab transposed, 4 x 4 at a time. */
function packARows(a: usize, dst: usize, k: i32, ic: i32, mc: i32, pc: i32, kc: i32): void {
  const lda = <usize>k * 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const out = dst + <usize>ir * <usize>kc * 4;
    const row0 = a + <usize>(ic + ir) * lda + <usize>pc * 4;
    if (mr == MR) {
      const row1 = row0 + lda;
      const row2 = row1 + lda;
      const row3 = row2 + lda;
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const off = <usize>p * 4;
        const r0 = v128.load(row0 + off);
        const r1 = v128.load(row1 + off);
        const r2 = v128.load(row2 + off);
        const r3 = v128.load(row3 + off);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const o = out + <usize>p * 16;
        v128.store(o, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(o, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
        v128.store(o, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
        v128.store(o, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
      }
      for (; p < kc; p++) {
        const off = <usize>p * 4;
        const o = out + <usize>p * 16;
        store<f32>(o, load<f32>(row0 + off));
        store<f32>(o, load<f32>(row1 + off), 4);
        store<f32>(o, load<f32>(row2 + off), 8);
        store<f32>(o, load<f32>(row3 + off), 12);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const o = out + <usize>p * 16;
        for (let i = 0; i < MR; i++) {
          store<f32>(o + <usize>i * 4, i < mr ? load<f32>(row0 + <usize>i * lda + <usize>p * 4) : 0);
        }
      }
    }
  }
}

/** op(A) = A^T, A row-major [k, m]: the MR values of one column of op(A) are already adjacent. */
function packATransposed(a: usize, dst: usize, m: i32, ic: i32, mc: i32, pc: i32, kc: i32): void {
  const lda = <usize>m * 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const out = dst + <usize>ir * <usize>kc * 4;
    let src = a + <usize>pc * lda + <usize>(ic + ir) * 4;
    if (mr == MR) {
      for (let p = 0; p < kc; p++) {
        v128.store(out + <usize>p * 16, v128.load(src));
        src += lda;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const o = out + <usize>p * 16;
        for (let i = 0; i < MR; i++) store<f32>(o + <usize>i * 4, i < mr ? load<f32>(src + <usize>i * 4) : 0);
        src += lda;
      }
    }
  }
}

/** op(B) = B, B row-major [k, n]: each panel row is NR adjacent values of one row of B. */
function packBRows(b: usize, dst: usize, n: i32, pc: i32, kc: i32, jc: i32, nc: i32): void {
  const ldb = <usize>n * 4;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    let out = dst + <usize>jr * <usize>kc * 4;
    let src = b + <usize>pc * ldb + <usize>(jc + jr) * 4;
    if (nr == NR) {
      for (let p = 0; p < kc; p++) {
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
        out += 32;
        src += ldb;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let j = 0; j < NR; j++) store<f32>(out + <usize>j * 4, j < nr ? load<f32>(src + <usize>j * 4) : 0);
        out += 32;
        src += ldb;
      }
    }
  }
}

/** op(B) = B^T, B row-major [n, k]: each panel is an NR x kc slab of B transposed, as two 4 x 4 blocks per step. */
function packBTransposed(b: usize, dst: usize, k: i32, pc: i32, kc: i32, jc: i32, nc: i32): void {
  const ldb = <usize>k * 4;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const out = dst + <usize>jr * <usize>kc * 4;
    const row0 = b + <usize>(jc + jr) * ldb + <usize>pc * 4;
    if (nr == NR) {
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const o = out + <usize>p * 32;
        transpose4(row0 + <usize>p * 4, ldb, o);
        transpose4(row0 + 4 * ldb + <usize>p * 4, ldb, o + 16);
      }
      for (; p < kc; p++) {
        const o = out + <usize>p * 32;
        const s = row0 + <usize>p * 4;
        for (let j = 0; j < NR; j++) store<f32>(o + <usize>j * 4, load<f32>(s + <usize>j * ldb));
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const o = out + <usize>p * 32;
        const s = row0 + <usize>p * 4;
        for (let j = 0; j < NR; j++) store<f32>(o + <usize>j * 4, j < nr ? load<f32>(s + <usize>j * ldb) : 0);
      }
    }
  }
}

/** Reads 4 x 4 floats (rows `stride` bytes apart) and writes its transpose as 4 vectors 32 bytes apart. */
// @ts-ignore: decorator
@inline
function transpose4(src: usize, stride: usize, out: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + stride);
  const r2 = v128.load(src + 2 * stride);
  const r3 = v128.load(src + 3 * stride);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(out, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(out, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}
