import type { Buffer } from '../tensor/tensor.js';
import type { Kernels } from './types.js';

/** The reference kernels in plain TypeScript. Loop orders keep the innermost access contiguous. */
export const tsKernels: Kernels = {
  name: 'typescript',
  matmul(a, b, c, m, k, n, transA, transB, accumulate) {
    if (!accumulate) c.fill(0, 0, m * n);
    if (!transA && !transB) matmulNN(a, b, c, m, k, n);
    else if (!transA && transB) matmulNT(a, b, c, m, k, n);
    else if (transA && !transB) matmulTN(a, b, c, m, k, n);
    else matmulTT(a, b, c, m, k, n);
  },
};

function matmulNN(a: Buffer, b: Buffer, c: Buffer, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    let p = 0;
    // Four rows of B per pass: one read-modify-write of C's row for four multiply-adds.
    for (; p + 3 < k; p += 4) {
      const a0 = a[ai + p] as number;
      const a1 = a[ai + p + 1] as number;
      const a2 = a[ai + p + 2] as number;
      const a3 = a[ai + p + 3] as number;
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
      const av = a[ai + p] as number;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] = (c[ci + j] as number) + av * (b[bp + j] as number);
    }
  }
}

function matmulNT(a: Buffer, b: Buffer, c: Buffer, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    const ci = i * n;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let p = 0;
      for (; p + 3 < k; p += 4) {
        s0 += (a[ai + p] as number) * (b[bj + p] as number);
        s1 += (a[ai + p + 1] as number) * (b[bj + p + 1] as number);
        s2 += (a[ai + p + 2] as number) * (b[bj + p + 2] as number);
        s3 += (a[ai + p + 3] as number) * (b[bj + p + 3] as number);
      }
      for (; p < k; p++) s0 += (a[ai + p] as number) * (b[bj + p] as number);
      c[ci + j] = (c[ci + j] as number) + (s0 + s1 + (s2 + s3));
    }
  }
}

function matmulTN(a: Buffer, b: Buffer, c: Buffer, m: number, k: number, n: number): void {
  // A is [k, m]: C[i, :] += A[p, i] * B[p, :]
  for (let p = 0; p < k; p++) {
    const ap = p * m;
    const bp = p * n;
    for (let i = 0; i < m; i++) {
      const av = a[ap + i] as number;
      const ci = i * n;
      for (let j = 0; j < n; j++) c[ci + j] = (c[ci + j] as number) + av * (b[bp + j] as number);
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
