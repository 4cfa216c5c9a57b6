import type { Buffer } from '../tensor/tensor.js';

/** Every activation the config accepts. `prelu` is `leaky-relu` with a learnable slope (see `ops/activation.ts`). */
export const ACTIVATIONS = [
  'sigmoid',
  'tanh',
  'relu',
  'leaky-relu',
  'prelu',
  'elu',
  'selu',
  'gelu',
  'softplus',
  'linear',
] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/**
 * What an activation declares about itself, so the monitor and the doctor never switch on names:
 * `saturating` units have a derivative that goes to 0 for large |x| on both sides (sigmoid, tanh);
 * `rectifier` units can be exactly 0 on a whole half-line (dead units).
 */
export type ActivationFamily = 'saturating' | 'rectifier' | 'smooth' | 'linear';

/**
 * Where an output value sits on a flat part of phi, as numbers (so a kernel can test a whole layer's output at
 * once): saturated when y < saturatedBelow or y > saturatedAbove, dead when y <= deadAtOrBelow. NaN means never
 * (every comparison with NaN is false), and a NaN output is neither saturated nor dead.
 */
export interface FlatRegions {
  readonly saturatedBelow: number;
  readonly saturatedAbove: number;
  readonly deadAtOrBelow: number;
}

/** The flat regions of an activation and the predicates read from them: the one place both are written. */
function flatRegions(
  regions: Partial<FlatRegions>,
): FlatRegions & Pick<ActivationKernel, 'isSaturated' | 'isDead'> {
  const below = regions.saturatedBelow ?? NaN;
  const above = regions.saturatedAbove ?? NaN;
  const dead = regions.deadAtOrBelow ?? NaN;
  return {
    saturatedBelow: below,
    saturatedAbove: above,
    deadAtOrBelow: dead,
    isSaturated: (y) => y < below || y > above,
    isDead: (y) => y <= dead,
  };
}

export interface ActivationKernel extends FlatRegions {
  readonly family: ActivationFamily;
  /** The default slope/scale parameter (leaky-relu 0.01, prelu 0.25, elu 1), 0 where unused. */
  readonly defaultAlpha: number;
  /**
   * Whether an output value sits on a flat part of phi: within 1% of an asymptote for saturating units
   * (phi' is then below about 2% of its peak), exactly 0 for rectifiers that pass no gradient there.
   * The monitor counts a unit saturated / dead when this holds for the whole batch.
   */
  isSaturated(y: number): boolean;
  isDead(y: number): boolean;
  /** Scalar value phi(x) (theory, quadrature, tests). */
  value(x: number, alpha: number): number;
  /** Scalar derivative phi'(x). */
  derivative(x: number, alpha: number): number;
  /** y[i] = phi(x[i]). */
  forward(x: Buffer, y: Buffer, n: number, alpha: number): void;
  /** gx[i] += gy[i] * phi'(x[i]), using the saved y where cheaper. */
  backward(x: Buffer, y: Buffer, gy: Buffer, gx: Buffer, n: number, alpha: number): void;
}

// SELU constants (Klambauer et al. 2017, "Self-Normalizing Neural Networks").
export const SELU_LAMBDA = 1.0507009873554804;
export const SELU_ALPHA = 1.6732632423543772;
const INV_SQRT_2PI = 0.3989422804014327;

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * erf(x) to double precision: erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
 * (Abramowitz & Stegun 7.1.6); every term is positive, so there is no cancellation. |x| >= 6 is +-1 in doubles.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
}

function geluDerivative(x: number): number {
  return 0.5 * (1 + erf(x * Math.SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * erfc(z) for z >= 0 with a fractional error below 1.2e-7 everywhere: the Chebyshev fit of Press et al. 1992,
 * "Numerical Recipes in C", 2nd ed., sec. 6.2 (`erfcc`); measured against `erf` above: at most 9.4e-8 on
 * [0, 3]. One exp and nine multiply-adds, where the series takes up to a hundred terms.
 */
function erfcFloat32(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  let p = 0.17087277;
  p = p * t - 0.82215223;
  p = p * t + 1.48851587;
  p = p * t - 1.13520398;
  p = p * t + 0.27886807;
  p = p * t - 0.18628806;
  p = p * t + 0.09678418;
  p = p * t + 0.37409196;
  p = p * t + 1.00002368;
  p = p * t - 1.26551223;
  return t * Math.exp(p - z * z);
}

/**
 * Phi(x), the standard normal CDF, to float32 accuracy: 0.5 erfc(-x / sqrt 2), from the tail that is small, so
 * its relative error stays below 1.2e-7 (two float32 ulps) on both sides. What the float32 GELU loops use: their
 * result is rounded to float32 anyway, and the exact series was a third of a Transformer step (W6,
 * docs/PERFORMANCE.md). Float64 buffers keep the double-precision `erf`.
 */
function normalCdfFloat32(x: number): number {
  if (Number.isNaN(x)) return x;
  const z = Math.abs(x) * Math.SQRT1_2;
  const tail = 0.5 * erfcFloat32(z);
  return x < 0 ? tail : 1 - tail;
}

/**
 * The activation table. Each entry writes its own loops (monomorphic, so the JIT can inline the scalar function);
 * the record type makes the compiler check that no activation lacks a kernel.
 */
export const activationKernels: { readonly [K in ActivationName]: ActivationKernel } = {
  sigmoid: {
    family: 'saturating',
    ...flatRegions({ saturatedBelow: 0.01, saturatedAbove: 0.99 }),
    defaultAlpha: 0,
    value: (x) => sigmoid(x),
    derivative: (x) => {
      const s = sigmoid(x);
      return s * (1 - s);
    },
    forward(x, y, n) {
      for (let i = 0; i < n; i++) y[i] = sigmoid(x[i] as number);
    },
    backward(_x, y, gy, gx, n) {
      for (let i = 0; i < n; i++) {
        const s = y[i] as number;
        gx[i] = (gx[i] as number) + (gy[i] as number) * s * (1 - s);
      }
    },
  },
  tanh: {
    family: 'saturating',
    ...flatRegions({ saturatedBelow: -0.99, saturatedAbove: 0.99 }),
    defaultAlpha: 0,
    value: (x) => Math.tanh(x),
    derivative: (x) => 1 - Math.tanh(x) ** 2,
    forward(x, y, n) {
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i] as number);
    },
    backward(_x, y, gy, gx, n) {
      for (let i = 0; i < n; i++) {
        const t = y[i] as number;
        gx[i] = (gx[i] as number) + (gy[i] as number) * (1 - t * t);
      }
    },
  },
  relu: {
    family: 'rectifier',
    ...flatRegions({ deadAtOrBelow: 0 }),
    defaultAlpha: 0,
    value: (x) => (x > 0 ? x : x !== x ? x : 0),
    derivative: (x) => (x > 0 ? 1 : 0),
    forward(x, y, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        y[i] = v > 0 ? v : v !== v ? v : 0;
      }
    },
    backward(x, _y, gy, gx, n) {
      for (let i = 0; i < n; i++) if ((x[i] as number) > 0) gx[i] = (gx[i] as number) + (gy[i] as number);
    },
  },
  'leaky-relu': {
    family: 'rectifier',
    ...flatRegions({}),
    defaultAlpha: 0.01,
    value: (x, a) => (x > 0 ? x : a * x),
    derivative: (x, a) => (x > 0 ? 1 : a),
    forward(x, y, n, a) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        y[i] = v > 0 ? v : a * v;
      }
    },
    backward(x, _y, gy, gx, n, a) {
      for (let i = 0; i < n; i++)
        gx[i] = (gx[i] as number) + (gy[i] as number) * ((x[i] as number) > 0 ? 1 : a);
    },
  },
  prelu: {
    family: 'rectifier',
    ...flatRegions({}),
    defaultAlpha: 0.25,
    value: (x, a) => (x > 0 ? x : a * x),
    derivative: (x, a) => (x > 0 ? 1 : a),
    forward(x, y, n, a) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        y[i] = v > 0 ? v : a * v;
      }
    },
    backward(x, _y, gy, gx, n, a) {
      for (let i = 0; i < n; i++)
        gx[i] = (gx[i] as number) + (gy[i] as number) * ((x[i] as number) > 0 ? 1 : a);
    },
  },
  elu: {
    family: 'rectifier',
    ...flatRegions({}),
    defaultAlpha: 1,
    value: (x, a) => (x > 0 ? x : a * Math.expm1(x)),
    derivative: (x, a) => (x > 0 ? 1 : a * Math.exp(x)),
    forward(x, y, n, a) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        y[i] = v > 0 ? v : a * Math.expm1(v);
      }
    },
    backward(x, _y, gy, gx, n, a) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        gx[i] = (gx[i] as number) + (gy[i] as number) * (v > 0 ? 1 : a * Math.exp(v));
      }
    },
  },
  selu: {
    family: 'smooth',
    ...flatRegions({}),
    defaultAlpha: 0,
    value: (x) => SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
    derivative: (x) => SELU_LAMBDA * (x > 0 ? 1 : SELU_ALPHA * Math.exp(x)),
    forward(x, y, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        y[i] = SELU_LAMBDA * (v > 0 ? v : SELU_ALPHA * Math.expm1(v));
      }
    },
    backward(x, _y, gy, gx, n) {
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        gx[i] = (gx[i] as number) + (gy[i] as number) * SELU_LAMBDA * (v > 0 ? 1 : SELU_ALPHA * Math.exp(v));
      }
    },
  },
  gelu: {
    family: 'smooth',
    ...flatRegions({}),
    defaultAlpha: 0,
    value: (x) => gelu(x),
    derivative: (x) => geluDerivative(x),
    forward(x, y, n) {
      if (y instanceof Float32Array) {
        for (let i = 0; i < n; i++) {
          const v = x[i] as number;
          y[i] = v * normalCdfFloat32(v);
        }
      } else for (let i = 0; i < n; i++) y[i] = gelu(x[i] as number);
    },
    backward(x, _y, gy, gx, n) {
      if (gx instanceof Float32Array) {
        for (let i = 0; i < n; i++) {
          const v = x[i] as number;
          const d = normalCdfFloat32(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
          gx[i] = (gx[i] as number) + (gy[i] as number) * d;
        }
      } else
        for (let i = 0; i < n; i++)
          gx[i] = (gx[i] as number) + (gy[i] as number) * geluDerivative(x[i] as number);
    },
  },
  softplus: {
    family: 'smooth',
    ...flatRegions({}),
    defaultAlpha: 0,
    value: (x) => softplus(x),
    derivative: (x) => sigmoid(x),
    forward(x, y, n) {
      for (let i = 0; i < n; i++) y[i] = softplus(x[i] as number);
    },
    backward(x, _y, gy, gx, n) {
      for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (gy[i] as number) * sigmoid(x[i] as number);
    },
  },
  linear: {
    family: 'linear',
    ...flatRegions({}),
    defaultAlpha: 0,
    value: (x) => x,
    derivative: () => 1,
    forward(x, y, n) {
      for (let i = 0; i < n; i++) y[i] = x[i] as number;
    },
    backward(_x, _y, gy, gx, n) {
      for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (gy[i] as number);
    },
  },
};

export function isActivationName(name: unknown): name is ActivationName {
  return typeof name === 'string' && (ACTIVATIONS as readonly string[]).includes(name);
}
