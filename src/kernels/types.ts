import type { Buffer } from '../tensor/tensor.js';
import type { FlatRegions } from './activations.js';

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
   * Optional fused element-wise part of one LSTM step in PyTorch's gate layout (i, f, g, o):
   * a = P[rows of this step] + (hh + biasHH); i, f, o = sigmoid, g = tanh; c = f c_prev + i g; h = o tanh(c).
   * `projected` is P [T*B, 4H] and `projectedOffset` the index of this step's first element (t * B * 4H);
   * `hh` = h_prev W_hhᵀ [B, 4H] without the bias; `previous` [B, 2H] holds h_prev | c_prev. Writes `act` [B, 4H]
   * (gates after their non-linearity), `out` [B, 2H] (h | c) and `tanhC` [B, H], what the backward reads.
   * The TypeScript kernels have it for any dtype; `ops/recurrent.ts` uses a backend's own for float32.
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
  /**
   * The backward of `lstmGates`: from `dOut` [B, 2H] (dL/dh | dL/dc) and the saved `act`, `tanhC` and `previous`,
   * writes `dA` [B, 4H] (dL/d of the gate pre-activations; also dL/d hh) and, when `gPrevious` is given, adds
   * dL/dc_prev = dc * f into its c half (the h half gets dA W_hh from a matmul).
   */
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
  /** Optional vectorised y = tanh(x) (float32; x and y may be the same array); see `activationForward`. */
  tanh?(x: Buffer, y: Buffer, n: number): void;
  /** Optional vectorised y = 1 / (1 + e^-x) (float32; x and y may be the same array); see `activationForward`. */
  sigmoid?(x: Buffer, y: Buffer, n: number): void;
  /** Optional vectorised GELU y = x Phi(x) (float32; x and y may be the same array); see `activationForward`. */
  gelu?(x: Buffer, y: Buffer, n: number): void;
  /** Optional vectorised GELU backward gx += gy GELU'(x) (float32); see `activationBackward`. */
  geluBackward?(x: Buffer, gy: Buffer, gx: Buffer, n: number): void;
  /**
   * Optional passes over whole parameter and gradient vectors, used by `src/optim` through `sumOfSquares`,
   * `scaleInPlace` and `addInPlace` in `kernels/index.ts`. Each must give the same bits as the TypeScript
   * reference in `ts.ts` (the JavaScript loop they replace): sum of x[j]^2 in float64 with four partial sums by
   * j mod 4, combined s0 + s1 + (s2 + s3) with the tail on s0; x[j] *= alpha with alpha a double; y[j] += x[j].
   */
  sumOfSquares?(x: Buffer, n: number): number;
  scaleInPlace?(x: Buffer, alpha: number, n: number): void;
  addInPlace?(y: Buffer, x: Buffer, n: number): void;
  /**
   * Optional one pass over a gradient for the monitor (`paramStats`): the sum of x[j]^2 in `sumOfSquares`'s order
   * (the same double), max |x[j]| (NaN when any entry is NaN, else Infinity when any is infinite) and the count of
   * NaN and ±Infinity entries. `momentsReference` in `ts.ts` is the contract, bit for bit.
   */
  moments?(x: Buffer, n: number): Moments;
  /**
   * Optional equal-width histogram of x[0..n) into `buckets` buckets over [min, max] of the finite entries, with
   * the NaN and ±Infinity entries counted beside them (`monitor/histogram.ts`). `histogramReference` in `ts.ts` is
   * the contract, bit for bit: the bucket of an entry is computed in float64 exactly as there.
   */
  histogram?(x: Buffer, n: number, buckets: number): BucketCounts;
  /**
   * Optional statistics of a layer's output y [rows, units] for the monitor (`activationStats`): over the finite
   * entries their sum and sum of squares (float64, in the reference's order), the non-finite count, and the units
   * (columns) saturated / dead in every row by `flat`'s thresholds (`activations.ts`). `activationMomentsReference`
   * in `ts.ts` is the contract, bit for bit.
   */
  activationMoments?(y: Buffer, rows: number, units: number, flat: FlatRegions): ActivationMoments;
  /**
   * Optional 2-D convolution of a whole NCHW batch (cross-correlation, as PyTorch's `F.conv2d`):
   * y [N, C_out, outH, outW] = conv(x [N, C_in, H, W], weight [C_out, C_in / groups, kh, kw]) + bias (per output
   * channel, when given), then with `relu` y = max(y, 0) (NaN kept: the activation table's relu) in the same pass.
   * `conv2dReference` in `ts.ts` is the contract: im2col and one product per image and group.
   */
  conv2d?(x: Buffer, weight: Buffer, bias: Buffer | null, y: Buffer, shape: ConvShape, relu: boolean): void;
  /**
   * Optional backward of `conv2d` from dy [N, C_out, outH, outW]; each gradient that is given accumulates:
   * dWeight += dY col^T, dx += col2im(W^T dY), dBias[c] += the sum of dy over the batch and channel c's pixels.
   * `reluOutput`: the forward's y when it ran with `relu`; dy then passes only where y > 0 (relu's derivative).
   */
  conv2dBackward?(
    x: Buffer,
    weight: Buffer,
    dy: Buffer,
    dx: Buffer | null,
    dWeight: Buffer | null,
    dBias: Buffer | null,
    shape: ConvShape,
    reluOutput: Buffer | null,
  ): void;
}

/** The geometry of one window sweep over an image: everything a conv or pooling loop needs. */
export interface WindowGeometry {
  readonly height: number;
  readonly width: number;
  readonly kernelH: number;
  readonly kernelW: number;
  readonly strideH: number;
  readonly strideW: number;
  readonly padH: number;
  readonly padW: number;
  readonly dilationH: number;
  readonly dilationW: number;
  /** out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 on each axis (PyTorch's Conv2d). */
  readonly outH: number;
  readonly outW: number;
}

/** A convolution over a batch: the window sweep, the channels and the groups (each divides both channel counts). */
export interface ConvShape extends WindowGeometry {
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
}

/** What `Kernels.moments` measures of one vector. */
export interface Moments {
  /** Sum of x[j]^2 in float64 (NaN or Infinity when an entry is). */
  readonly sumOfSquares: number;
  /** max |x[j]|: NaN when any entry is NaN, else Infinity when any is infinite; 0 for an empty vector. */
  readonly maxAbs: number;
  /** Entries that are NaN or ±Infinity. */
  readonly nonFinite: number;
}

/** What `Kernels.histogram` counts: the layout of `monitor/histogram.ts`'s `Histogram`. */
export interface BucketCounts {
  /** Smallest and largest finite entry (both 0 when there is none; never -0). */
  min: number;
  max: number;
  /** Finite entries per equal-width bucket over [min, max]; the last bucket also holds max. */
  counts: number[];
  nan: number;
  posInf: number;
  negInf: number;
}

/** What `Kernels.activationMoments` measures of a layer's output. */
export interface ActivationMoments {
  /** Sum and sum of squares of the finite entries, in float64. */
  readonly sum: number;
  readonly sumOfSquares: number;
  /** Entries that are NaN or ±Infinity. */
  readonly nonFinite: number;
  /** Units (columns) saturated, and dead, in every row; 0 when there are no rows. */
  readonly saturatedUnits: number;
  readonly deadUnits: number;
}
