import type { Buffer } from '../tensor/tensor.js';
import { activationKernels, type FlatRegions } from './activations.js';
import type {
  ActivationMoments,
  BucketCounts,
  ConvShape,
  Kernels,
  Moments,
  WindowGeometry,
} from './types.js';

/** The reference kernels in plain TypeScript. Loop orders keep the innermost access contiguous. */
export const tsKernels: Kernels = {
  name: 'typescript',
  lstmGates: lstmGatesReference,
  lstmGatesBackward: lstmGatesBackwardReference,
  sumOfSquares: sumOfSquaresReference,
  moments: momentsReference,
  histogram: histogramReference,
  activationMoments: activationMomentsReference,
  scaleInPlace: scaleInPlaceReference,
  addInPlace: addInPlaceReference,
  conv2d: (x, weight, bias, y, shape, relu) =>
    conv2dReference(x, weight, bias, y, shape, relu, tsKernels.matmul),
  conv2dBackward: (x, weight, dy, dx, dWeight, dBias, shape, reluOutput) =>
    conv2dBackwardReference(x, weight, dy, dx, dWeight, dBias, shape, reluOutput, tsKernels.matmul),
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

/**
 * The monitor's pass over a gradient: the sum of squares in `sumOfSquaresReference`'s order (four partial sums by
 * j mod 4), max |x[j]| and the non-finite count. The common all-finite case runs branch-light; a second pass
 * counts the non-finite entries (and makes the maximum NaN when one is NaN) only when the sum says there are some.
 */
export function momentsReference(x: Buffer, n: number): Moments {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let m0 = 0;
  let m1 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const a = x[j] as number;
    const b = x[j + 1] as number;
    const c = x[j + 2] as number;
    const d = x[j + 3] as number;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
    // NaN compares false and is skipped here; the second pass finds it.
    const aa = Math.abs(a);
    const ab = Math.abs(b);
    const ac = Math.abs(c);
    const ad = Math.abs(d);
    if (aa > m0) m0 = aa;
    if (ab > m1) m1 = ab;
    if (ac > m0) m0 = ac;
    if (ad > m1) m1 = ad;
  }
  for (; j < n; j++) {
    const a = x[j] as number;
    s0 += a * a;
    if (Math.abs(a) > m0) m0 = Math.abs(a);
  }
  const sumOfSquares = s0 + s1 + (s2 + s3);
  let maxAbs = m0 > m1 ? m0 : m1;
  let nonFinite = 0;
  // A finite sum means every entry is finite; a non-finite one may also be a float64 overflow (then none counts).
  if (!Number.isFinite(sumOfSquares)) {
    for (let i = 0; i < n; i++) {
      const v = x[i] as number;
      if (v - v !== 0) {
        nonFinite++;
        if (v !== v) maxAbs = NaN;
        else if (maxAbs === maxAbs) maxAbs = Infinity;
      }
    }
  }
  return { sumOfSquares, maxAbs, nonFinite };
}

/**
 * Buckets x[0..n) into `buckets` equal-width buckets over the range of the finite entries (two passes: the range,
 * then the counts); see `monitor/histogram.ts`. An empty or all-non-finite input gives min = max = 0, zero counts.
 */
export function histogramReference(x: ArrayLike<number>, n: number, buckets: number): BucketCounts {
  let min = Infinity;
  let max = -Infinity;
  let nan = 0;
  let posInf = 0;
  let negInf = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    if (v - v !== 0) {
      if (v !== v) nan++;
      else if (v > 0) posInf++;
      else negInf++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const counts = new Array<number>(buckets).fill(0);
  if (min > max) return { min: 0, max: 0, counts, nan, posInf, negInf };
  // + 0 turns -0 into 0, so the range does not depend on which zero came first.
  min += 0;
  max += 0;
  const last = buckets - 1;
  const width = max - min;
  if (width === 0) {
    counts[last] = n - nan - posInf - negInf;
    return { min, max, counts, nan, posInf, negInf };
  }
  // A subnormal width can overflow the scale to Infinity: (v - min) * scale is then NaN at min (bucket 0) or
  // Infinity above it (the last bucket), never an index outside the counts.
  const scale = buckets / width;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    if (v - v !== 0) continue;
    const t = (v - min) * scale;
    const b = t >= last ? last : t > 0 ? Math.floor(t) : 0;
    counts[b] = (counts[b] as number) + 1;
  }
  return { min, max, counts, nan, posInf, negInf };
}

/**
 * A layer's output y [rows, units]: row by row, units in groups of four into four partial sums p0..p3 (the k-th of a
 * group into p_k) and the rest of the row into a fifth, combined tail + p0 + p1 + (p2 + p3), over the finite entries
 * (sum and sum of squares); the non-finite count; the units saturated / dead in every row by `flat`'s thresholds.
 */
export function activationMomentsReference(
  y: Buffer,
  rows: number,
  units: number,
  flat: FlatRegions,
): ActivationMoments {
  const { saturatedBelow: below, saturatedAbove: above, deadAtOrBelow: dead } = flat;
  const saturated = new Uint8Array(units).fill(1);
  const deadUnit = new Uint8Array(units).fill(1);
  const s = [0, 0, 0, 0];
  const q = [0, 0, 0, 0];
  let tail = 0;
  let tailSquares = 0;
  let nonFinite = 0;
  const groups = units - (units % 4);
  for (let r = 0; r < rows; r++) {
    const row = r * units;
    for (let j = 0; j < units; j++) {
      const v = y[row + j] as number;
      if (!(v < below || v > above)) saturated[j] = 0;
      if (!(v <= dead)) deadUnit[j] = 0;
      if (v - v !== 0) {
        nonFinite++;
        continue;
      }
      if (j < groups) {
        const k = j & 3;
        s[k] = (s[k] as number) + v;
        q[k] = (q[k] as number) + v * v;
      } else {
        tail += v;
        tailSquares += v * v;
      }
    }
  }
  let saturatedUnits = 0;
  let deadUnits = 0;
  if (rows > 0) {
    for (let j = 0; j < units; j++) {
      saturatedUnits += saturated[j] as number;
      deadUnits += deadUnit[j] as number;
    }
  }
  const [s0, s1, s2, s3] = s as [number, number, number, number];
  const [q0, q1, q2, q3] = q as [number, number, number, number];
  return {
    sum: tail + s0 + s1 + (s2 + s3),
    sumOfSquares: tailSquares + q0 + q1 + (q2 + q3),
    nonFinite,
    saturatedUnits,
    deadUnits,
  };
}

/** x[j] *= alpha for j < n. */
export function scaleInPlaceReference(x: Buffer, alpha: number, n: number): void {
  for (let j = 0; j < n; j++) x[j] = (x[j] as number) * alpha;
}

/** y[j] += x[j] for j < n. */
export function addInPlaceReference(y: Buffer, x: Buffer, n: number): void {
  for (let j = 0; j < n; j++) y[j] = (y[j] as number) + (x[j] as number);
}

/** The product `conv2dReference` lowers onto: a backend's `matmul`. */
export type Matmul = Kernels['matmul'];

/**
 * Receptive fields of `channels` planes starting at `x[offset]` as the columns of `col` [channels kh kw, outH outW]
 * (im2col, Chellapilla et al. 2006). Taps that fall in the padding are 0.
 */
export function im2colReference(
  x: Buffer,
  offset: number,
  channels: number,
  g: WindowGeometry,
  col: Buffer,
): void {
  const { height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW } =
    g;
  const plane = height * width;
  const pixels = outH * outW;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const base = offset + c * plane;
    for (let i = 0; i < kernelH; i++) {
      for (let j = 0; j < kernelW; j++, row++) {
        const r = row * pixels;
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + i * dilationH;
          const o = r + oy * outW;
          if (iy < 0 || iy >= height) {
            col.fill(0, o, o + outW);
            continue;
          }
          const line = base + iy * width;
          for (let ox = 0; ox < outW; ox++) {
            const ix = ox * strideW - padW + j * dilationW;
            col[o + ox] = ix >= 0 && ix < width ? (x[line + ix] as number) : 0;
          }
        }
      }
    }
  }
}

/** The transpose of `im2colReference`: adds each column entry back into the pixel it was read from. */
export function col2imReference(
  col: Buffer,
  channels: number,
  g: WindowGeometry,
  dx: Buffer,
  offset: number,
): void {
  const { height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW } =
    g;
  const plane = height * width;
  const pixels = outH * outW;
  let row = 0;
  for (let c = 0; c < channels; c++) {
    const base = offset + c * plane;
    for (let i = 0; i < kernelH; i++) {
      for (let j = 0; j < kernelW; j++, row++) {
        const r = row * pixels;
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + i * dilationH;
          if (iy < 0 || iy >= height) continue;
          const o = r + oy * outW;
          const line = base + iy * width;
          for (let ox = 0; ox < outW; ox++) {
            const ix = ox * strideW - padW + j * dilationW;
            if (ix >= 0 && ix < width) dx[line + ix] = (dx[line + ix] as number) + (col[o + ox] as number);
          }
        }
      }
    }
  }
}

/** The sizes every conv loop derives from a `ConvShape`. */
function convSizes(s: ConvShape): {
  pixels: number;
  plane: number;
  groupChannels: number;
  outGroup: number;
  rows: number;
  direct: boolean;
} {
  const groupChannels = s.inChannels / s.groups;
  return {
    pixels: s.outH * s.outW,
    plane: s.height * s.width,
    groupChannels,
    outGroup: s.outChannels / s.groups,
    rows: groupChannels * s.kernelH * s.kernelW,
    // A 1x1 kernel at stride 1 without padding: the image planes already are the columns.
    direct:
      s.kernelH === 1 &&
      s.kernelW === 1 &&
      s.strideH === 1 &&
      s.strideW === 1 &&
      s.padH === 0 &&
      s.padW === 0,
  };
}

function scratch(like: Buffer, size: number): Buffer {
  return like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size);
}

/**
 * `Kernels.conv2d` on any backend's `matmul`, any dtype: per image and group, im2col, then
 *   y[n, group g] = W_g [C_out/G, C_g kh kw] @ col [C_g kh kw, outH outW] (+ b), then relu when asked.
 */
export function conv2dReference(
  x: Buffer,
  weight: Buffer,
  bias: Buffer | null,
  y: Buffer,
  s: ConvShape,
  relu: boolean,
  matmul: Matmul,
): void {
  const { pixels, plane, groupChannels, outGroup, rows, direct } = convSizes(s);
  const col = direct ? null : scratch(x, rows * pixels);
  for (let n = 0; n < s.batch; n++) {
    for (let grp = 0; grp < s.groups; grp++) {
      const offset = (n * s.inChannels + grp * groupChannels) * plane;
      let columns: Buffer;
      if (col) {
        im2colReference(x, offset, groupChannels, s, col);
        columns = col;
      } else columns = x.subarray(offset, offset + rows * pixels);
      const wOffset = grp * outGroup * rows;
      const yOffset = (n * s.outChannels + grp * outGroup) * pixels;
      matmul(
        weight.subarray(wOffset, wOffset + outGroup * rows),
        columns,
        y.subarray(yOffset, yOffset + outGroup * pixels),
        outGroup,
        rows,
        pixels,
        false,
        false,
        false,
      );
    }
  }
  if (bias) {
    for (let n = 0; n < s.batch; n++) {
      for (let c = 0; c < s.outChannels; c++) {
        const b = bias[c] as number;
        const o = (n * s.outChannels + c) * pixels;
        for (let p = 0; p < pixels; p++) y[o + p] = (y[o + p] as number) + b;
      }
    }
  }
  if (relu) activationKernels.relu.forward(y, y, s.batch * s.outChannels * pixels, 0);
}

/**
 * `Kernels.conv2dBackward` on any backend's `matmul`: per image and group, dW_g += dY col^T (col rebuilt rather
 * than kept, so a step holds one image's columns), dcol = W_g^T dY scattered back by col2im; db[c] += the sum of dy
 * over each image's pixels of channel c, one float64 sum per image. With `reluOutput` (the forward's relu output)
 * dy first passes through relu's derivative: dy where y > 0, else 0.
 */
export function conv2dBackwardReference(
  x: Buffer,
  weight: Buffer,
  dy: Buffer,
  dx: Buffer | null,
  dWeight: Buffer | null,
  dBias: Buffer | null,
  s: ConvShape,
  reluOutput: Buffer | null,
  matmul: Matmul,
): void {
  const { pixels, plane, groupChannels, outGroup, rows, direct } = convSizes(s);
  if (reluOutput) {
    const size = s.batch * s.outChannels * pixels;
    const gz = scratch(dy, size);
    activationKernels.relu.backward(reluOutput, reluOutput, dy, gz, size, 0);
    dy = gz;
  }
  const col = dWeight && !direct ? scratch(x, rows * pixels) : null;
  const dcol = dx && !direct ? scratch(x, rows * pixels) : null;
  for (let n = 0; n < s.batch; n++) {
    for (let grp = 0; grp < s.groups; grp++) {
      const wOffset = grp * outGroup * rows;
      const xOffset = (n * s.inChannels + grp * groupChannels) * plane;
      const yOffset = (n * s.outChannels + grp * outGroup) * pixels;
      const dyg = dy.subarray(yOffset, yOffset + outGroup * pixels);
      const wg = weight.subarray(wOffset, wOffset + outGroup * rows);
      if (dWeight) {
        let columns: Buffer;
        if (col) {
          im2colReference(x, xOffset, groupChannels, s, col);
          columns = col;
        } else columns = x.subarray(xOffset, xOffset + rows * pixels);
        // dW_g [outGroup, rows] += dY [outGroup, pixels] col^T
        matmul(
          dyg,
          columns,
          dWeight.subarray(wOffset, wOffset + outGroup * rows),
          outGroup,
          pixels,
          rows,
          false,
          true,
          true,
        );
      }
      if (dx) {
        // dcol [rows, pixels] = W_g^T dY, then scattered back to the pixels it came from.
        if (dcol) {
          matmul(wg, dyg, dcol, rows, outGroup, pixels, true, false, false);
          col2imReference(dcol, groupChannels, s, dx, xOffset);
        } else {
          matmul(
            wg,
            dyg,
            dx.subarray(xOffset, xOffset + rows * pixels),
            rows,
            outGroup,
            pixels,
            true,
            false,
            true,
          );
        }
      }
    }
  }
  if (dBias) {
    for (let n = 0; n < s.batch; n++) {
      for (let c = 0; c < s.outChannels; c++) {
        const o = (n * s.outChannels + c) * pixels;
        let sum = 0;
        for (let p = 0; p < pixels; p++) sum += dy[o + p] as number;
        dBias[c] = (dBias[c] as number) + sum;
      }
    }
  }
}
