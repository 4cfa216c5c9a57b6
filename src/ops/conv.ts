/**
 * Convolution and pooling on NCHW images (PyTorch's layout: [batch, channels, height, width]), each backward beside
 * its forward.
 *
 * `conv2d` runs on the `Kernels` contract's `conv2d` / `conv2dBackward` (the whole batch in one call): the
 * reference (`kernels/ts.ts`) lowers each image and group to one matrix product (im2col, Chellapilla et al. 2006):
 * the receptive fields become the columns of `col` [C_g kh kw, H_out W_out], and
 *   y[n, group g] = W_g [C_out/G, C_g kh kw] @ col + b.
 * Backward: dW_g += dY col^T, dcol = W_g^T dY scattered back into dx (col2im, accumulating where windows overlap),
 * db += the sum of dY over the batch and the pixels. `col` is rebuilt in backward rather than kept, so the memory of
 * a step stays that of one image. A 1x1 convolution with stride 1 and no padding reads the image as `col` directly.
 * The WebAssembly backend does the same inside its memory (`asm/conv.ts`), so the columns never cross into
 * JavaScript. An activation is a setting, as in `linear`: relu runs inside the kernel (after the bias; backward
 * masks dY), the others as a second pass in the same node.
 *
 * Output size on each axis (PyTorch's `Conv2d` / `MaxPool2d` documentation):
 *   out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1
 */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { activationForward, kernels } from '../kernels/index.js';
import { conv2dBackwardReference, conv2dReference } from '../kernels/ts.js';
import type { ConvShape, WindowGeometry } from '../kernels/types.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';
import { mean } from './reduce.js';

/** A size on both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  /** default 1 */
  stride?: Pair;
  /** zeros added on each side; default 0 */
  padding?: Pair;
  /** spacing of the kernel taps (Yu & Koltun 2016); default 1 */
  dilation?: Pair;
  /** channel groups: each output group sees only its input group (Krizhevsky et al. 2012); default 1 */
  groups?: number;
  /**
   * phi applied to conv + bias in the same op, as `linear` does for dense layers: one node, and relu runs inside
   * the backend's conv kernel while the outputs are in cache; default 'linear' (none)
   */
  activation?: ActivationName;
  /** the activation's slope/scale parameter; default the activation's own (`activationKernels`) */
  alpha?: number;
}

/** The geometry of one window sweep over an image: everything a conv or pooling loop needs. */
export type Geometry = WindowGeometry;

function pair(value: Pair | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/** out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, the size PyTorch gives. */
export function convOutputSize(input: number, kernel: number, stride = 1, padding = 0, dilation = 1): number {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * Checks a window sweep and returns its geometry; the error names the setting, its value and the fix.
 * @example geometry('conv2d', 28, 28, [3, 3], { padding: 1 }).outH // 28
 */
export function geometry(
  op: string,
  height: number,
  width: number,
  kernel: readonly [number, number],
  options: { stride?: Pair; padding?: Pair; dilation?: Pair },
): Geometry {
  const [kernelH, kernelW] = kernel;
  const [strideH, strideW] = pair(options.stride, 1);
  const [padH, padW] = pair(options.padding, 0);
  const [dilationH, dilationW] = pair(options.dilation, 1);
  const positive: Array<[string, number]> = [
    ['kernel', kernelH],
    ['kernel', kernelW],
    ['stride', strideH],
    ['stride', strideW],
    ['dilation', dilationH],
    ['dilation', dilationW],
  ];
  for (const [name, v] of positive) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${op}: ${name} ${v} is not allowed; use a whole number of at least 1.`);
    }
  }
  for (const v of [padH, padW]) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`${op}: padding ${v} is not allowed; use a whole number of at least 0.`);
    }
  }
  const outH = convOutputSize(height, kernelH, strideH, padH, dilationH);
  const outW = convOutputSize(width, kernelW, strideW, padW, dilationW);
  if (outH < 1 || outW < 1) {
    const spanH = dilationH * (kernelH - 1) + 1;
    const spanW = dilationW * (kernelW - 1) + 1;
    throw new RangeError(
      `${op}: a ${kernelH}x${kernelW} kernel (dilation ${dilationH}x${dilationW}, spanning ${spanH}x${spanW}) does ` +
        `not fit a ${height}x${width} input padded by ${padH}x${padW}; use a smaller kernel or dilation, more ` +
        `padding, or a larger input.`,
    );
  }
  return {
    height,
    width,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    outH,
    outW,
  };
}

function checkImage(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) {
    throw new RangeError(
      `${op} needs an image batch [batch, channels, height, width], got ${formatShape(x.shape)}; reshape first.`,
    );
  }
  return x.shape as unknown as [number, number, number, number];
}

/**
 * 2-D convolution (cross-correlation, as PyTorch's `F.conv2d`): x [N, C_in, H, W], weight [C_out, C_in / groups,
 * kh, kw], bias [C_out] or null; returns [N, C_out, H_out, W_out].
 * @example conv2d(x, weight, bias, { padding: 1 }) // a 3x3 "same" convolution
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions = {}): Tensor {
  const [batch, inChannels, height, width] = checkImage('conv2d', x);
  if (weight.rank !== 4) {
    throw new RangeError(
      `conv2d: weight must be [out_channels, in_channels / groups, kh, kw], got ${formatShape(weight.shape)}.`,
    );
  }
  if (weight.dtype !== x.dtype) throw new TypeError(`conv2d dtypes differ: ${x.dtype} vs ${weight.dtype}.`);
  const [outChannels, groupChannels, kernelH, kernelW] = weight.shape as unknown as [
    number,
    number,
    number,
    number,
  ];
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(
      `conv2d: groups ${groups} must be a whole number dividing both ${inChannels} input and ${outChannels} output channels.`,
    );
  }
  if (groupChannels * groups !== inChannels) {
    throw new RangeError(
      `conv2d: the input has ${inChannels} channels but weight ${formatShape(weight.shape)} with groups ${groups} ` +
        `expects ${groupChannels * groups}; the weight is [out, in / groups, kh, kw].`,
    );
  }
  if (bias && bias.size !== outChannels) {
    throw new RangeError(
      `conv2d: bias ${formatShape(bias.shape)} must have ${outChannels} values (one per output channel).`,
    );
  }
  const g = geometry('conv2d', height, width, [kernelH, kernelW], options);
  const shape: ConvShape = { ...g, batch, inChannels, outChannels, groups };
  const activation = options.activation ?? 'linear';
  const act = activationKernels[activation];
  const alpha = options.alpha ?? act.defaultAlpha;
  const relu = activation === 'relu';
  const size = batch * outChannels * g.outH * g.outW;
  const z = allocBuffer(size, x.dtype);
  const kern = kernels();
  if (kern.conv2d) kern.conv2d(x.data, weight.data, bias ? bias.data : null, z, shape, relu);
  else conv2dReference(x.data, weight.data, bias ? bias.data : null, z, shape, relu, kern.matmul);
  // relu is fused into the kernel (z is then y); other activations take a second pass.
  const separate = !relu && activation !== 'linear';
  const y = separate ? allocBuffer(size, x.dtype) : z;
  if (separate) activationForward(activation, z, y, size, alpha);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const name = activation === 'linear' ? 'conv2d' : `conv2d+${activation}`;
  return makeResult(name, y, [batch, outChannels, g.outH, g.outW], inputs, (result) => {
    const gy = result.grad as Buffer;
    const gx = gradTarget(x);
    const gw = gradTarget(weight);
    const gb = bias ? gradTarget(bias) : null;
    if (!gx && !gw && !gb) return;
    let gz = gy;
    if (separate) {
      gz = allocBuffer(size, x.dtype);
      act.backward(z, y, gy, gz, size, alpha);
    }
    const reluOutput = relu ? y : null;
    const k = kernels();
    if (k.conv2dBackward) k.conv2dBackward(x.data, weight.data, gz, gx, gw, gb, shape, reluOutput);
    else conv2dBackwardReference(x.data, weight.data, gz, gx, gw, gb, shape, reluOutput, k.matmul);
  });
}

export type PoolMode = 'max' | 'average';

export interface Pool2dOptions {
  /** window size */
  kernel: Pair;
  /** default: the kernel (windows that tile the image) */
  stride?: Pair;
  /** default 0; at most half the kernel, as PyTorch requires */
  padding?: Pair;
  /** max pooling only; default 1 */
  dilation?: Pair;
  /**
   * average pooling: whether padded zeros count in the divisor (PyTorch's `count_include_pad`, default true);
   * when false each window is divided by the number of real pixels in it.
   */
  countIncludePad?: boolean;
}

/**
 * Max or average pooling over windows of each channel: x [N, C, H, W] -> [N, C, H_out, W_out]. One sweep with two
 * settings. Max sends each output's gradient to the input that won its window (the first on ties; a NaN wins and
 * propagates, as in PyTorch); average spreads it evenly over the window.
 * @example pool2d(x, 'max', { kernel: 2 }) // halves height and width
 */
export function pool2d(x: Tensor, mode: PoolMode, options: Pool2dOptions): Tensor {
  const op = mode === 'max' ? 'max-pool2d' : 'avg-pool2d';
  const [batch, channels, height, width] = checkImage(op, x);
  const kernel = pair(options.kernel, 1);
  const stride = pair(options.stride, 0);
  const geometryOptions = {
    stride: options.stride === undefined ? kernel : stride,
    padding: options.padding ?? 0,
    dilation: mode === 'max' ? (options.dilation ?? 1) : 1,
  };
  if (
    mode === 'average' &&
    options.dilation !== undefined &&
    pair(options.dilation, 1).some((d) => d !== 1)
  ) {
    throw new RangeError(`${op}: dilation is for max pooling only; remove it or use mode "max".`);
  }
  const g = geometry(op, height, width, kernel, geometryOptions);
  if (2 * g.padH > g.kernelH || 2 * g.padW > g.kernelW) {
    throw new RangeError(
      `${op}: padding ${g.padH}x${g.padW} is more than half the ${g.kernelH}x${g.kernelW} kernel, so a window could ` +
        `hold padding only; use padding of at most ${Math.floor(g.kernelH / 2)}x${Math.floor(g.kernelW / 2)}.`,
    );
  }
  const planes = batch * channels;
  const plane = height * width;
  const pixels = g.outH * g.outW;
  const xd = x.data;
  const y = allocBuffer(planes * pixels, x.dtype);
  // max: the flat input index of each output's winner; average: each output's divisor.
  const winner = mode === 'max' ? new Int32Array(planes * pixels) : null;
  const divisor = mode === 'average' ? new Float64Array(pixels) : null;
  const countIncludePad = options.countIncludePad ?? true;
  if (divisor) {
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const y0 = oy * g.strideH - g.padH;
        const x0 = ox * g.strideW - g.padW;
        // PyTorch's window with padding is clipped to the padded image, then (without padding) to the image.
        const h = Math.min(y0 + g.kernelH, height + g.padH) - y0;
        const w = Math.min(x0 + g.kernelW, width + g.padW) - x0;
        const real =
          (Math.min(y0 + g.kernelH, height) - Math.max(y0, 0)) *
          (Math.min(x0 + g.kernelW, width) - Math.max(x0, 0));
        divisor[oy * g.outW + ox] = countIncludePad ? h * w : real;
      }
    }
  }
  for (let p = 0; p < planes; p++) {
    const base = p * plane;
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const o = p * pixels + oy * g.outW + ox;
        let best = -Infinity;
        let at = -1;
        let total = 0;
        for (let i = 0; i < g.kernelH; i++) {
          const iy = oy * g.strideH - g.padH + i * g.dilationH;
          if (iy < 0 || iy >= height) continue;
          for (let j = 0; j < g.kernelW; j++) {
            const ix = ox * g.strideW - g.padW + j * g.dilationW;
            if (ix < 0 || ix >= width) continue;
            const idx = base + iy * width + ix;
            const v = xd[idx] as number;
            if (winner) {
              // `v !== v`: the first NaN wins and stays (nothing compares greater than NaN).
              if (v > best || (v !== v && best === best) || at < 0) {
                best = v;
                at = idx;
              }
            } else total += v;
          }
        }
        if (winner) {
          y[o] = best;
          winner[o] = at;
        } else y[o] = total / (divisor as Float64Array)[oy * g.outW + ox]!;
      }
    }
  }
  return makeResult(op, y, [batch, channels, g.outH, g.outW], [x], (result) => {
    const gy = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    if (winner) {
      for (let o = 0; o < gy.length; o++) {
        const at = winner[o] as number;
        if (at >= 0) gx[at] = (gx[at] as number) + (gy[o] as number);
      }
      return;
    }
    const div = divisor as Float64Array;
    for (let p = 0; p < planes; p++) {
      const base = p * plane;
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++) {
          const share = (gy[p * pixels + oy * g.outW + ox] as number) / (div[oy * g.outW + ox] as number);
          for (let i = 0; i < g.kernelH; i++) {
            const iy = oy * g.strideH - g.padH + i;
            if (iy < 0 || iy >= height) continue;
            for (let j = 0; j < g.kernelW; j++) {
              const ix = ox * g.strideW - g.padW + j;
              if (ix < 0 || ix >= width) continue;
              const idx = base + iy * width + ix;
              gx[idx] = (gx[idx] as number) + share;
            }
          }
        }
      }
    }
  });
}

/** Mean of each channel over its pixels (Lin et al. 2014, "Network in Network"): [N, C, H, W] -> [N, C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  checkImage('global-avg-pool2d', x);
  return mean(x, [2, 3]);
}

/** [N, ...] -> [N, product of the rest]: the image as a feature vector for a dense head. */
export function flatten(x: Tensor): Tensor {
  if (x.rank < 1) throw new RangeError(`flatten needs a batch axis, got a scalar ${formatShape(x.shape)}.`);
  const batch = x.shape[0] as number;
  const shape = [batch, batch === 0 ? 0 : x.size / batch];
  return makeResult('flatten', x.data, shape, [x], (result) => {
    const g = result.grad as Buffer;
    // The view's gradient is its input's, value for value: an intermediate input with no gradient yet takes the
    // buffer itself (a conv stack's last activations: W5 spent 4% of its step adding it into zeros). Anything
    // added to x's gradient later lands in a buffer nobody reads as the view's any more (its backward has run).
    if (x.grad === null && x.backwardFn !== null && x.requiresGrad && g.constructor === x.data.constructor) {
      x.grad = g;
      return;
    }
    const gx = gradTarget(x);
    if (!gx) return;
    for (let i = 0; i < g.length; i++) gx[i] = (gx[i] as number) + (g[i] as number);
  });
}

/**
 * NCHW <-> NHWC (`toLast` true: channels to the last axis). Per-channel batch norm reads channels as the last
 * axis, so BatchNorm2d is the batch norm of `ops/norm.ts` between two of these, not a second copy of its maths.
 */
export function moveChannels(x: Tensor, toLast: boolean): Tensor {
  const [batch, a, b, c] = checkImage('moveChannels', x);
  // toLast: x is [N, C, H, W] (C = a, HW = b c); else x is [N, H, W, C] (C = c, HW = a b).
  const channels = toLast ? a : c;
  const pixels = toLast ? b * c : a * b;
  const shape = toLast ? [batch, b, c, a] : [batch, c, a, b];
  const xd = x.data;
  const y = allocBuffer(x.size, x.dtype);
  const move = (from: Buffer, to: Buffer, accumulate: boolean, forward: boolean): void => {
    for (let n = 0; n < batch; n++) {
      const o = n * channels * pixels;
      for (let ch = 0; ch < channels; ch++) {
        for (let p = 0; p < pixels; p++) {
          const first = o + ch * pixels + p; // NCHW index
          const last = o + p * channels + ch; // NHWC index
          const [src, dst] = forward === toLast ? [first, last] : [last, first];
          to[dst] = accumulate ? (to[dst] as number) + (from[src] as number) : (from[src] as number);
        }
      }
    }
  };
  move(xd, y, false, true);
  return makeResult(toLast ? 'channels-last' : 'channels-first', y, shape, [x], (result) => {
    const gx = gradTarget(x);
    if (gx) move(result.grad as Buffer, gx, true, false);
  });
}
