import type { Buffer } from '../tensor/tensor.js';
import type { Kernels } from './types.js';

/** The reference kernels in plain TypeScript. Loop orders keep the innermost access contiguous. */
export const tsKernels: Kernels = {
  name: 'typescript',
  lstmGates: lstmGatesReference,
  lstmGatesBackward: lstmGatesBackwardReference,
  sumOfSquares: sumOfSquaresReference,
  scaleInPlace: scaleInPlaceReference,
  addInPlace: addInPlaceReference,
  matmul(a, b, c, m, k, n, transA, transB, accumulate) {
    if (!accumulate) c.fill(0, 0, m * n);
    if (!transA && !transB) matmulRowsOfB(a, b, c, m, k, n, k, 1);
    else if (!transA && transB) matmulNT(a, b, c, m, k, n);
    else if (transA && !transB) matmulRowsOfB(a, b, c, m, k, n, 1, m);
    else matmulTT(a, b, c, m, k, n);
  },
};

/**
 * C[i, :] += sum_p A(i, p) B[p, :] with A(i, p) = a[i * rowStride + p * colStride]: A stored [m, k] (NN) or
 * [k, m] (TN). Four rows of B per pass: one read-modify-write of C's row for four multiply-adds.
 */
function matmulRowsOfB(
  a: Buffer,
  b: Buffer,
  c: Buffer,
  m: number,
  k: number,
  n: number,
  rowStride: number,
  colStride: number,
): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * rowStride;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a0 = a[ai + p * colStride] as number;
      const a1 = a[ai + (p + 1) * colStride] as number;
      const a2 = a[ai + (p + 2) * colStride] as number;
      const a3 = a[ai + (p + 3) * colStride] as number;
      const b0 = p * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        c[ci + j] =
          (c[ci + j] as number) +
          a0 * (b[b0 + j] as number) +
          a1 * (b[b1 + j] as number) +
          a2 * (b[b2 + j] as number) +
          a3 * (b[b3 + j] as number);
      }
    }
    for (; p < k; p++) {
      const av = a[ai + p * colStride] as number;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] = (c[ci + j] as number) + av * (b[bp + j] as number);
    }
  }
}

/** C[i, j] += dot(A[i, :], B[j, :]): B stored [n, k]. Four columns at once share each load of A's row. */
function matmulNT(a: Buffer, b: Buffer, c: Buffer, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    const ci = i * n;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let p = 0; p < k; p++) {
        const av = a[ai + p] as number;
        s0 += av * (b[b0 + p] as number);
        s1 += av * (b[b1 + p] as number);
        s2 += av * (b[b2 + p] as number);
        s3 += av * (b[b3 + p] as number);
      }
      c[ci + j] = (c[ci + j] as number) + s0;
      c[ci + j + 1] = (c[ci + j + 1] as number) + s1;
      c[ci + j + 2] = (c[ci + j + 2] as number) + s2;
      c[ci + j + 3] = (c[ci + j + 3] as number) + s3;
    }
    for (; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += (a[ai + p] as number) * (b[bj + p] as number);
      c[ci + j] = (c[ci + j] as number) + s;
    }
  }
}

function matmulTT(a: Buffer, b: Buffer, c: Buffer, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (a[p * m + i] as number) * (b[j * k + p] as number);
      c[i * n + j] = (c[i * n + j] as number) + s;
    }
  }
}

/** The engine's sigmoid: never overflows, exact in float64. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** `Kernels.lstmGates` in plain TypeScript: any dtype; the reference the WebAssembly kernel is tested against. */
export function lstmGatesReference(
  projected: Buffer,
  projectedOffset: number,
  hh: Buffer,
  biasHH: Buffer,
  previous: Buffer,
  act: Buffer,
  out: Buffer,
  tanhC: Buffer,
  batch: number,
  hidden: number,
): void {
  const H = hidden;
  const GH = 4 * H;
  const pre = (row: number, index: number): number =>
    (projected[projectedOffset + row + index] as number) +
    ((hh[row + index] as number) + (biasHH[index] as number));
  for (let b = 0; b < batch; b++) {
    const g0 = b * GH;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(pre(g0, j));
      const f = sigmoid(pre(g0, H + j));
      const g = Math.tanh(pre(g0, 2 * H + j));
      const o = sigmoid(pre(g0, 3 * H + j));
      act[g0 + j] = i;
      act[g0 + H + j] = f;
      act[g0 + 2 * H + j] = g;
      act[g0 + 3 * H + j] = o;
      const c = f * (previous[b * 2 * H + H + j] as number) + i * g;
      const tc = Math.tanh(c);
      tanhC[b * H + j] = tc;
      out[b * 2 * H + j] = o * tc;
      out[b * 2 * H + H + j] = c;
    }
  }
}

/** `lstmGatesBackward` in plain TypeScript (float64, and the reference for the tests). */
export function lstmGatesBackwardReference(
  act: Buffer,
  tanhC: Buffer,
  dOut: Buffer,
  previous: Buffer,
  dA: Buffer,
  gPrevious: Buffer | null,
  batch: number,
  hidden: number,
): void {
  const H = hidden;
  const GH = 4 * H;
  for (let b = 0; b < batch; b++) {
    const g0 = b * GH;
    for (let j = 0; j < H; j++) {
      const i = act[g0 + j] as number;
      const f = act[g0 + H + j] as number;
      const g = act[g0 + 2 * H + j] as number;
      const o = act[g0 + 3 * H + j] as number;
      const tc = tanhC[b * H + j] as number;
      const dh = dOut[b * 2 * H + j] as number;
      const dc = (dOut[b * 2 * H + H + j] as number) + dh * o * (1 - tc * tc);
      const cPrev = previous[b * 2 * H + H + j] as number;
      dA[g0 + j] = dc * g * i * (1 - i);
      dA[g0 + H + j] = dc * cPrev * f * (1 - f);
      dA[g0 + 2 * H + j] = dc * i * (1 - g * g);
      dA[g0 + 3 * H + j] = dh * tc * o * (1 - o);
      if (gPrevious) gPrevious[b * 2 * H + H + j] = (gPrevious[b * 2 * H + H + j] as number) + dc * f;
    }
  }
}

/** Sum of x[j]^2 for j < n: four independent partial sums (one running sum would be bound by the add's latency). */
export function sumOfSquaresReference(b: Buffer, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += (b[j] as number) * (b[j] as number);
    s1 += (b[j + 1] as number) * (b[j + 1] as number);
    s2 += (b[j + 2] as number) * (b[j + 2] as number);
    s3 += (b[j + 3] as number) * (b[j + 3] as number);
  }
  for (; j < n; j++) s0 += (b[j] as number) * (b[j] as number);
  return s0 + s1 + (s2 + s3);
}

/** x[j] *= alpha for j < n. */
export function scaleInPlaceReference(x: Buffer, alpha: number, n: number): void {
  for (let j = 0; j < n; j++) x[j] = (x[j] as number) * alpha;
}

/** y[j] += x[j] for j < n. */
export function addInPlaceReference(y: Buffer, x: Buffer, n: number): void {
  for (let j = 0; j < n; j++) y[j] = (y[j] as number) + (x[j] as number);
}
