import type { Buffer } from '../tensor/tensor.js';

/**
 * The narrow contract between the autograd layer and the loops over typed arrays. A faster backend
 * (WebAssembly SIMD) implements the same interface and is installed with `setKernels`; the plain TypeScript
 * kernels stay the reference that tests compare against.
 */
export interface Kernels {
  readonly name: string;
  /**
   * C (m x n) = op(A) op(B), or C += op(A) op(B) when `accumulate`.
   * op(A) is m x k: A is stored [m, k], or [k, m] when `transA`. op(B) is k x n: B is [k, n], or [n, k] when `transB`.
   * Transposes are never materialised.
   */
  matmul(
    a: Buffer,
    b: Buffer,
    c: Buffer,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
  ): void;
}
