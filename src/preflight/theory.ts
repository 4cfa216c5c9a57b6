/**
 * Mean-field signal propagation for fully connected networks at initialisation (docs/PREFLIGHT.md has the formulas).
 *
 * A hidden layer computes h_l = W_l phi(h_{l-1}) + b_l with W_l's entries of variance sigma_w^2 / fan_in and
 * b_l = mu_b + N(0, sigma_b^2). Over the random weights, each unit of h_l is Gaussian N(mu_b, q_l - mu_b^2), where
 * the mean squared pre-activation follows the length map (Poole et al. 2016, with mu_b = 0 there):
 *
 *   q_l = sigma_w^2 E[phi(h_{l-1})^2] + sigma_b^2 + mu_b^2,        h_{l-1} ~ N(mu_b, q_{l-1} - mu_b^2),
 *
 * and the squared norm of the backward signal dL/dh_l changes per layer by (Schoenholz et al. 2017, their
 * analysis of backpropagated gradients, under its assumption that backward weights are independent of forward ones)
 *
 *   chi(q) = sigma_w^2 E[phi'(h)^2],  so  E||dL/dh_l||^2 = chi(q_l) E||dL/dh_{l+1}||^2.
 *
 * At the fixed point q* of the length map this is chi_1 = chi(q*): ordered (chi_1 < 1, gradients vanish over a
 * depth scale xi = -1 / ln chi_1), chaotic (chi_1 > 1, they explode), critical (chi_1 = 1). Pennington et al. 2017
 * show the mean squared singular value of the input-output Jacobian is chi_1^L; Hanin 2018 that the fluctuations
 * around these means grow with the sum of 1/width over the layers.
 */
import {
  activationKernels,
  erf,
  SELU_ALPHA,
  SELU_LAMBDA,
  type ActivationName,
} from '../kernels/activations.js';
import { gaussianExpectation } from './quadrature.js';

/** The bias of every hidden layer: mean mu_b (a constant bias) plus N(0, sigma_b^2) (a `{ normal }` bias). */
export interface BiasMoments {
  readonly mean: number;
  readonly variance: number;
}

/** What mean-field theory needs to know about an activation. */
interface ActivationMoments {
  /** E[phi(h)^2] for h ~ N(mean, variance). */
  second(mean: number, variance: number, alpha: number): number;
  /** E[phi'(h)^2] for h ~ N(mean, variance). */
  derivativeSecond(mean: number, variance: number, alpha: number): number;
  /** sup |phi'|: the gamma of Pascanu et al. 2013's bound on a recurrent step's Jacobian. */
  maxDerivative(alpha: number): number;
}

/** Standard normal cdf. */
function normalCdf(t: number): number {
  return 0.5 * (1 + erf(t / Math.SQRT2));
}

function normalPdf(t: number): number {
  return Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
}

/**
 * Closed forms for the rectifier family phi(h) = h (h > 0), a h (h <= 0), h ~ N(m, s^2), t = m / s:
 *   E[relu(h)^2] = (m^2 + s^2) Phi(t) + m s pdf(t),   E[relu(-h)^2] = (m^2 + s^2) Phi(-t) - m s pdf(t),
 *   E[phi'(h)^2] = Phi(t) + a^2 Phi(-t).
 * With m = 0: E[phi^2] = (1 + a^2) s^2 / 2 and E[phi'^2] = (1 + a^2) / 2 (He et al. 2015; ReLU: chi_1 = sigma_w^2 / 2).
 */
function rectifier(fixedSlope: number | null): ActivationMoments {
  const slope = (alpha: number): number => fixedSlope ?? alpha;
  return {
    second(mean, variance, alpha) {
      const a = slope(alpha);
      if (variance <= 0) return mean > 0 ? mean * mean : a * a * mean * mean;
      const s = Math.sqrt(variance);
      const t = mean / s;
      const m2 = mean * mean + variance;
      const positive = m2 * normalCdf(t) + mean * s * normalPdf(t);
      const negative = m2 * normalCdf(-t) - mean * s * normalPdf(t);
      return positive + a * a * negative;
    },
    derivativeSecond(mean, variance, alpha) {
      const a = slope(alpha);
      if (variance <= 0) return mean > 0 ? 1 : a * a;
      const t = mean / Math.sqrt(variance);
      return normalCdf(t) + a * a * normalCdf(-t);
    },
    maxDerivative: (alpha) => Math.max(1, Math.abs(slope(alpha))),
  };
}

/** Quadrature over the activation table's own scalar phi and phi' (kernels/activations.ts). */
function byQuadrature(
  name: ActivationName,
  smooth: boolean,
  maxDerivative: (alpha: number) => number,
): ActivationMoments {
  const kernel = activationKernels[name];
  return {
    second: (mean, variance, alpha) =>
      gaussianExpectation((h) => kernel.value(h, alpha) ** 2, mean, variance, { smooth }),
    derivativeSecond: (mean, variance, alpha) =>
      gaussianExpectation((h) => kernel.derivative(h, alpha) ** 2, mean, variance, { smooth }),
    maxDerivative,
  };
}

/**
 * Every activation's moments; the record type makes the compiler reject an activation without an entry.
 * Kinked units (elu, selu: phi' jumps or bends at 0) use the composite rule broken at 0.
 */
const MOMENTS: { readonly [K in ActivationName]: ActivationMoments } = {
  relu: rectifier(0),
  'leaky-relu': rectifier(null),
  prelu: rectifier(null),
  linear: {
    second: (mean, variance) => mean * mean + variance,
    derivativeSecond: () => 1,
    maxDerivative: () => 1,
  },
  tanh: byQuadrature('tanh', true, () => 1),
  sigmoid: byQuadrature('sigmoid', true, () => 0.25),
  gelu: byQuadrature('gelu', true, () => 1.1289),
  softplus: byQuadrature('softplus', true, () => 1),
  elu: byQuadrature('elu', false, (alpha) => Math.max(1, alpha)),
  selu: byQuadrature('selu', false, () => SELU_LAMBDA * Math.max(1, SELU_ALPHA)),
};

/** sup |phi'(h)| over h (Pascanu et al. 2013's gamma): tanh 1, sigmoid 1/4, relu 1, selu lambda alpha. */
export function maxDerivative(activation: ActivationName, alpha?: number): number {
  return MOMENTS[activation].maxDerivative(alpha ?? activationKernels[activation].defaultAlpha);
}

/** An activation with its slope/scale parameter (leaky-relu, prelu, elu); `alpha` defaults to the table's. */
export interface ActivationSpec {
  readonly name: ActivationName;
  readonly alpha?: number;
}

function alphaOf(activation: ActivationSpec): number {
  return activation.alpha ?? activationKernels[activation.name].defaultAlpha;
}

function variancePart(q: number, bias: BiasMoments): number {
  return Math.max(0, q - bias.mean * bias.mean);
}

/**
 * The length map: the mean squared pre-activation of a layer whose input layer had q (Poole et al. 2016).
 *
 * @example
 * lengthMap({ name: 'relu' }, 2, { mean: 0, variance: 0 }, 1.5); // 1.5: He init keeps q
 */
export function lengthMap(activation: ActivationSpec, sigmaW2: number, bias: BiasMoments, q: number): number {
  const second = MOMENTS[activation.name].second(bias.mean, variancePart(q, bias), alphaOf(activation));
  return sigmaW2 * second + bias.variance + bias.mean * bias.mean;
}

/** E[phi(h)^2] and E[phi'(h)^2] for h ~ N(mean, variance) (closed forms for rectifiers, else quadrature). */
export function activationMoments(
  activation: ActivationSpec,
  mean: number,
  variance: number,
): { second: number; derivativeSecond: number } {
  const moments = MOMENTS[activation.name];
  const alpha = alphaOf(activation);
  return {
    second: moments.second(mean, variance, alpha),
    derivativeSecond: moments.derivativeSecond(mean, variance, alpha),
  };
}

/** E[phi'(h)^2] for a layer with mean squared pre-activation q. */
export function derivativeMoment(activation: ActivationSpec, bias: BiasMoments, q: number): number {
  return MOMENTS[activation.name].derivativeSecond(bias.mean, variancePart(q, bias), alphaOf(activation));
}

/**
 * chi(q) = sigma_w^2 E[phi'(h)^2]: the factor on the squared gradient norm per layer (Schoenholz et al. 2017).
 *
 * @example
 * gradientFactor({ name: 'relu' }, 2, { mean: 0, variance: 0 }, 0.7); // 1 at any q
 */
export function gradientFactor(
  activation: ActivationSpec,
  sigmaW2: number,
  bias: BiasMoments,
  q: number,
): number {
  return sigmaW2 * derivativeMoment(activation, bias, q);
}

/**
 * Where the length map leads:
 * - `stable`: a finite attracting fixed point q* > 0;
 * - `zero`: the signal dies, q_l -> 0 (no bias, sigma_w^2 too small: tanh with sigma_w^2 <= 1, relu below He);
 * - `marginal`: every q is a fixed point (a homogeneous unit, no bias, chi = 1: relu with He init, linear with 1);
 * - `divergent`: q_l grows without bound (an unbounded unit with chi > 1).
 */
export type FixedPointKind = 'stable' | 'zero' | 'marginal' | 'divergent';

export interface FixedPoint {
  readonly kind: FixedPointKind;
  /** q* for `stable` and `zero` (0); null for `marginal` and `divergent`. */
  readonly q: number | null;
}

const DIVERGED = 1e30;

/**
 * The fixed point the length map reaches from q = `start`: iterate, then bracket and bisect when convergence is
 * slow (near the critical line it is algebraic, not geometric).
 *
 * @example
 * fixedPoint({ name: 'tanh' }, 1.76, { mean: 0, variance: 0.05 }); // { kind: 'stable', q: 0.3... }
 */
export function fixedPoint(
  activation: ActivationSpec,
  sigmaW2: number,
  bias: BiasMoments,
  start = 1,
): FixedPoint {
  const map = (q: number): number => lengthMap(activation, sigmaW2, bias, q);
  const excess = (q: number): number => map(q) - q;
  const isMarginal = (q: number): boolean =>
    q > 0 && Math.abs(excess(2 * q)) <= 1e-9 * 2 * q && Math.abs(excess(q / 2)) <= 1e-9 * (q / 2);
  let q = start;
  for (let i = 0; i < 300; i++) {
    const next = map(q);
    if (Number.isNaN(next)) return { kind: 'divergent', q: null };
    if (!(next < DIVERGED)) return { kind: 'divergent', q: null };
    if (Math.abs(next - q) <= 1e-13 * Math.max(next, 1e-300)) {
      if (isMarginal(next)) return { kind: 'marginal', q: null };
      return next === 0 ? { kind: 'zero', q: 0 } : { kind: 'stable', q: next };
    }
    q = next;
    if (q === 0) return { kind: 'zero', q: 0 };
  }
  // Slow convergence: bracket a sign change of map(q) - q and bisect.
  let low: number;
  let high: number;
  if (excess(q) < 0) {
    high = q;
    low = q;
    let found = false;
    for (let k = 0; k < 200; k++) {
      low /= 2;
      if (excess(low) > 0) {
        found = true;
        break;
      }
    }
    if (!found) return isMarginal(q) ? { kind: 'marginal', q: null } : { kind: 'zero', q: 0 };
  } else {
    low = q;
    high = q;
    let found = false;
    while (high < DIVERGED) {
      high *= 2;
      if (excess(high) < 0) {
        found = true;
        break;
      }
    }
    if (!found) return isMarginal(q) ? { kind: 'marginal', q: null } : { kind: 'divergent', q: null };
  }
  for (let k = 0; k < 200 && high - low > 1e-15 * high; k++) {
    const middle = 0.5 * (low + high);
    if (excess(middle) > 0) low = middle;
    else high = middle;
  }
  return { kind: 'stable', q: 0.5 * (low + high) };
}

/** |ln chi_1| below this is the critical band: gradients change by less than a factor e over 100 layers. */
export const CRITICAL_BAND = 0.01;

export type Phase = 'ordered' | 'critical' | 'chaotic';

/** The phase of chi_1: critical when |ln chi_1| <= CRITICAL_BAND, else ordered (< 1) or chaotic (> 1). */
export function phaseOf(chi1: number): Phase {
  if (Math.abs(Math.log(chi1)) <= CRITICAL_BAND) return 'critical';
  return chi1 < 1 ? 'ordered' : 'chaotic';
}

/**
 * The depth scale 1 / |ln chi_1|: the number of layers over which the squared gradient norm changes by a factor e
 * (Schoenholz et al. 2017 define xi = -1 / ln chi for the ordered phase; a growth scale in the chaotic one).
 */
export function depthScale(chi1: number): number {
  return 1 / Math.abs(Math.log(chi1));
}

/** Where chi_1 is read off for each kind of fixed point (see `chi1At`). */
const CHI_POINT: { readonly [K in FixedPointKind]: (point: FixedPoint) => number } = {
  stable: (point) => point.q ?? 1,
  // The limit q -> 0+: a Gaussian of vanishing width, not the derivative at exactly 0 (relu'(0) = 0).
  zero: () => 1e-300,
  // Homogeneous units without bias: chi does not depend on q.
  marginal: () => 1,
  // chi's limit at large q (rectifier-like tails).
  divergent: () => 1e12,
};

/**
 * chi_1 for a uniform stack: at q* (`stable`; `zero` as q -> 0+), at q = 1 for `marginal` maps (homogeneous units,
 * where chi does not depend on q), in the large-q limit for `divergent` ones.
 */
export function chi1At(
  activation: ActivationSpec,
  sigmaW2: number,
  bias: BiasMoments,
  point: FixedPoint,
): number {
  return gradientFactor(activation, sigmaW2, bias, CHI_POINT[point.kind](point));
}

/**
 * The sigma_w^2 that puts a uniform stack with this activation and bias on the critical line chi_1 = 1
 * (the critical line of Schoenholz et al. 2017's phase diagram), or null when none exists in [1e-3, 1e4].
 *
 * @example
 * criticalSigmaW2({ name: 'relu' }, { mean: 0, variance: 0 }); // 2 (He et al. 2015)
 * criticalSigmaW2({ name: 'tanh' }, { mean: 0, variance: 0.05 }); // 1.76...
 */
export function criticalSigmaW2(activation: ActivationSpec, bias: BiasMoments): number | null {
  const logChi = (sigmaW2: number): number =>
    Math.log(chi1At(activation, sigmaW2, bias, fixedPoint(activation, sigmaW2, bias)));
  const grid = 48;
  let previousS = 1e-3;
  let previous = logChi(previousS);
  for (let i = 1; i <= grid; i++) {
    const s = 1e-3 * 10 ** ((7 * i) / grid);
    const value = logChi(s);
    if (previous < 0 && value >= 0) {
      let low = previousS;
      let high = s;
      for (let k = 0; k < 60 && high - low > 1e-13 * high; k++) {
        const middle = Math.sqrt(low * high);
        if (logChi(middle) < 0) low = middle;
        else high = middle;
      }
      return 0.5 * (low + high);
    }
    previousS = s;
    previous = value;
  }
  return null;
}

/** A fully connected stack as mean-field theory sees it. */
export interface MeanFieldNetwork {
  readonly activation: ActivationSpec;
  readonly bias: BiasMoments;
  /** sigma_w^2 = Var[W_l] * fan_in of each hidden layer's weight, input side first. */
  readonly sigmaW2: readonly number[];
}

/** Per-layer predictions for one network, given the first hidden layer's mean squared pre-activation. */
export interface MeanFieldTrajectory {
  /** q_l from the length map, l = 0 .. L-1 (q_0 as given). */
  readonly q: number[];
  /** The predicted ||dL/dh_l||^2 for L = v . x_L with a random unit v: E[phi'(h_{L-1})^2] at the top. */
  readonly gradNorm2: number[];
  /** chi between layer l and l+1: g_l / g_{l+1} = sigma_{w,l+1}^2 E[phi'(h_l)^2], l = 0 .. L-2. */
  readonly factor: number[];
}

/**
 * The layer-by-layer mean-field prediction: q_l by the length map from q_0, and the squared gradient norms from
 * the top down, g_{L-1} = E[phi'(h_{L-1})^2] (a random unit v on x_L = phi(h_{L-1})), g_l = chi_l g_{l+1}.
 *
 * @example
 * trajectory({ activation: { name: 'relu' }, bias: { mean: 0, variance: 0 }, sigmaW2: [2, 2, 2] }, 1).gradNorm2;
 * // [0.5, 0.5, 0.5]
 */
export function trajectory(network: MeanFieldNetwork, q0: number): MeanFieldTrajectory {
  const L = network.sigmaW2.length;
  const q: number[] = [q0];
  for (let l = 1; l < L; l++) {
    q.push(lengthMap(network.activation, network.sigmaW2[l] as number, network.bias, q[l - 1] as number));
  }
  const moments = q.map((ql) => derivativeMoment(network.activation, network.bias, ql));
  const factor: number[] = [];
  for (let l = 0; l < L - 1; l++) factor.push((network.sigmaW2[l + 1] as number) * (moments[l] as number));
  const gradNorm2 = new Array<number>(L).fill(0);
  if (L > 0) gradNorm2[L - 1] = moments[L - 1] as number;
  for (let l = L - 2; l >= 0; l--) gradNorm2[l] = (factor[l] as number) * (gradNorm2[l + 1] as number);
  return { q, gradNorm2, factor };
}
