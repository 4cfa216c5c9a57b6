import { activationKernels, type ActivationName } from './activations.js';
import {
  addInPlaceReference,
  activationMomentsReference,
  histogramReference,
  momentsReference,
  scaleInPlaceReference,
  sumOfSquaresReference,
  tsKernels,
} from './ts.js';
import type { ActivationMoments, BucketCounts, Kernels, Moments } from './types.js';
import type { FlatRegions } from './activations.js';
import { createWasmKernels, wasmRelaxedSimdSupported, wasmSupported } from './wasm.js';

import type { Buffer } from '../tensor/tensor.js';

export type { ActivationMoments, BucketCounts, Kernels, Moments } from './types.js';

let active: Kernels | null = null;

/**
 * The default backend: the WebAssembly SIMD kernels where the runtime has SIMD (every current Node and browser),
 * else the TypeScript reference. The plain-SIMD build is chosen (no fused multiply-add), so a seed gives the same
 * bits on every machine. `GRADSCOPE_KERNELS` in the environment chooses otherwise: `typescript` forces the
 * reference kernels; `wasm-relaxed` the relaxed-SIMD build (fused multiply-add, about 1.2x faster products; the last
 * bits then depend on the CPU) where the runtime validates it: Node >= 22, or Node 20 started with
 * `--experimental-wasm-relaxed-simd` (e.g. `NODE_OPTIONS=--experimental-wasm-relaxed-simd`); elsewhere the
 * plain build, whose name (`wasm-simd` instead of `wasm-relaxed-simd`) says which one runs.
 */
function defaultKernels(): Kernels {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const chosen = env?.['GRADSCOPE_KERNELS'];
  if (chosen === 'typescript' || !wasmSupported()) return tsKernels;
  try {
    return createWasmKernels({ fusedMultiplyAdd: chosen === 'wasm-relaxed' && wasmRelaxedSimdSupported() });
  } catch {
    // e.g. an old browser's main thread refusing synchronous compilation: the reference kernels still work.
    return tsKernels;
  }
}

/** The kernels ops run on now. */
export function kernels(): Kernels {
  return (active ??= defaultKernels());
}

/** Install another backend; returns the previous one. */
export function setKernels(next: Kernels): Kernels {
  const previous = kernels();
  active = next;
  return previous;
}

/**
 * y = phi(x) for the first n values: the backend's vectorised tanh or sigmoid for float32 where it has one
 * (Math.tanh and Math.exp cost 13-18 ns a value in V8), else the activation table's loop.
 */
export function activationForward(
  name: ActivationName,
  x: Buffer,
  y: Buffer,
  n: number,
  alpha: number,
): void {
  const k = kernels();
  if (x instanceof Float32Array && y instanceof Float32Array) {
    if (name === 'tanh' && k.tanh) return k.tanh(x, y, n);
    if (name === 'sigmoid' && k.sigmoid) return k.sigmoid(x, y, n);
    if (name === 'gelu' && k.gelu) return k.gelu(x, y, n);
  }
  activationKernels[name].forward(x, y, n, alpha);
}

/**
 * gx += gy * phi'(x) for the first n values (`y` = phi(x), which some derivatives read): the backend's vectorised
 * GELU backward for float32 where it has one (the erfc and two exps per value were a fifth of a Transformer step,
 * W6), else the activation table's loop.
 */
export function activationBackward(
  name: ActivationName,
  x: Buffer,
  y: Buffer,
  gy: Buffer,
  gx: Buffer,
  n: number,
  alpha: number,
): void {
  const k = kernels();
  if (name === 'gelu' && k.geluBackward && x instanceof Float32Array && gx instanceof Float32Array)
    return k.geluBackward(x, gy, gx, n);
  activationKernels[name].backward(x, y, gy, gx, n, alpha);
}

/** Sum of b[j]^2 in float64 (the global norm's pass): the backend's vectorised pass where it has one. */
export function sumOfSquares(b: Buffer): number {
  const k = kernels();
  return k.sumOfSquares ? k.sumOfSquares(b, b.length) : sumOfSquaresReference(b, b.length);
}

/** x *= alpha in place (the learning-rate scaling): the backend's vectorised pass where it has one. */
export function scaleInPlace(x: Buffer, alpha: number): void {
  const k = kernels();
  if (k.scaleInPlace) k.scaleInPlace(x, alpha, x.length);
  else scaleInPlaceReference(x, alpha, x.length);
}

/** y += x in place (applying updates to parameters): the backend's vectorised pass where it has one. */
export function addInPlace(y: Buffer, x: Buffer): void {
  if (x.length < y.length) {
    throw new RangeError(
      `addInPlace: x has ${x.length} values but y has ${y.length}; pass arrays of one length.`,
    );
  }
  const k = kernels();
  if (k.addInPlace) k.addInPlace(y, x, y.length);
  else addInPlaceReference(y, x, y.length);
}

/** Sum of squares, max |x| and non-finite count of b in one pass (the monitor's): the backend's where it has one. */
export function moments(b: Buffer): Moments {
  const k = kernels();
  return k.moments ? k.moments(b, b.length) : momentsReference(b, b.length);
}

/** An equal-width histogram of b (`monitor/histogram.ts`): the backend's where it has one. */
export function histogramOf(b: Buffer, buckets: number): BucketCounts {
  const k = kernels();
  return k.histogram ? k.histogram(b, b.length, buckets) : histogramReference(b, b.length, buckets);
}

/** A layer output's sums, non-finite count and saturated / dead units in one pass: the backend's where it has one. */
export function activationMoments(
  y: Buffer,
  rows: number,
  units: number,
  flat: FlatRegions,
): ActivationMoments {
  const k = kernels();
  return k.activationMoments
    ? k.activationMoments(y, rows, units, flat)
    : activationMomentsReference(y, rows, units, flat);
}
