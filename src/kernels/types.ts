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
  /**
   * Optional fused element-wise part of one LSTM step (see `WasmKernels.lstmGates` in wasm.ts for the layout);
   * `ops/recurrent.ts` uses it for float32 when the backend has it and runs its own loop otherwise.
   */
  lstmGates?(
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
  ): void;
  /** Optional backward of `lstmGates`: writes dA, adds dL/dc_prev into the c half of `gPrevious`. */
  lstmGatesBackward?(
    act: Buffer,
    tanhC: Buffer,
    dOut: Buffer,
    previous: Buffer,
    dA: Buffer,
    gPrevious: Buffer | null,
    batch: number,
    hidden: number,
  ): void;
  /** Optional vectorised y = tanh(x) (float32); see `activationForward`. */
  tanh?(x: Buffer, y: Buffer, n: number): void;
  /** Optional vectorised y = sigmoid(x) (float32); see `activationForward`. */
  sigmoid?(x: Buffer, y: Buffer, n: number): void;
}
