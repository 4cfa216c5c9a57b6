/**
 * The preconditioners optimisers are built from: momentum, AdaGrad's root sum of squares, RMSProp's root mean
 * square and Adam's bias-corrected moments. Each rewrites the update buffers in place and keeps its
 * accumulators in the parameter's own precision, as PyTorch does.
 */
import type { Buffer } from '../tensor/tensor.js';
import { checkNonNegative, checkUnitInterval } from './errors.js';
import { checkAligned, EMPTY_REPORT, zerosLike } from './transform.js';
import type { GradientTransformation } from './types.js';

export interface TraceState {
  /** The momentum buffer b of each parameter. */
  trace: Buffer[];
}

/**
 * Heavy-ball momentum (Polyak 1964; as used for deep nets by Sutskever et al. 2013), with PyTorch's SGD
 * semantics: b = mu * b + g, then u = b, or u = g + mu * b when `nesterov` (PyTorch's form of Nesterov's
 * accelerated gradient, which needs no look-ahead evaluation). Dampening is not offered: PyTorch's default is 0.
 *
 * @example
 * chain(traceMomentum(0.9), scaleByLearningRate(constantSchedule(0.1))) // torch.optim.SGD(lr=0.1, momentum=0.9)
 */
export function traceMomentum(momentum: number, nesterov = false): GradientTransformation<TraceState> {
  checkNonNegative('momentum', momentum, 0.9);
  return {
    name: nesterov ? `traceMomentum(${momentum}, nesterov)` : `traceMomentum(${momentum})`,
    init: (params) => ({ trace: params.map(zerosLike) }),
    update(updates, state) {
      checkAligned('momentum state', state.trace, updates);
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const b = state.trace[i];
        for (let j = 0; j < u.length; j++) {
          const g = u[j];
          b[j] = momentum * b[j] + g;
          u[j] = nesterov ? g + momentum * b[j] : b[j];
        }
      }
      return EMPTY_REPORT;
    },
  };
}

export interface RssState {
  /** Running sum of squared gradients. */
  sumOfSquares: Buffer[];
}

/**
 * AdaGrad's scaling (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods"), PyTorch's form:
 * s += g^2, u = g / (sqrt(s) + eps), with the accumulator starting at `initialAccumulator` (PyTorch: 0) and
 * eps outside the square root (PyTorch: 1e-10).
 *
 * @example
 * chain(scaleByRss(), scaleByLearningRate(constantSchedule(0.01))) // torch.optim.Adagrad(lr=0.01)
 */
export function scaleByRss(
  options: { initialAccumulator?: number; eps?: number } = {},
): GradientTransformation<RssState> {
  const initialAccumulator = checkNonNegative('initialAccumulator', options.initialAccumulator ?? 0, 0);
  const eps = checkNonNegative('eps', options.eps ?? 1e-10, 1e-10);
  return {
    name: 'scaleByRss',
    init: (params) => ({ sumOfSquares: params.map((p) => zerosLike(p).fill(initialAccumulator)) }),
    update(updates, state) {
      checkAligned('AdaGrad state', state.sumOfSquares, updates);
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const s = state.sumOfSquares[i];
        for (let j = 0; j < u.length; j++) {
          const g = u[j];
          s[j] += g * g;
          u[j] = g / (Math.sqrt(s[j]) + eps);
        }
      }
      return EMPTY_REPORT;
    },
  };
}

export interface RmsState {
  /** Exponential moving average of squared gradients. */
  squareAverage: Buffer[];
}

/**
 * RMSProp's scaling (Tieleman & Hinton 2012, Coursera lecture 6.5), PyTorch's form:
 * v = decay * v + (1 - decay) * g^2 from v = 0, u = g / (sqrt(v) + eps); PyTorch's alpha = 0.99, eps = 1e-8.
 *
 * @example
 * chain(scaleByRms(), scaleByLearningRate(constantSchedule(0.01))) // torch.optim.RMSprop(lr=0.01)
 */
export function scaleByRms(options: { decay?: number; eps?: number } = {}): GradientTransformation<RmsState> {
  const decay = checkUnitInterval('decay', options.decay ?? 0.99, 0.99);
  const eps = checkNonNegative('eps', options.eps ?? 1e-8, 1e-8);
  return {
    name: `scaleByRms(${decay})`,
    init: (params) => ({ squareAverage: params.map(zerosLike) }),
    update(updates, state) {
      checkAligned('RMSProp state', state.squareAverage, updates);
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const v = state.squareAverage[i];
        for (let j = 0; j < u.length; j++) {
          const g = u[j];
          v[j] = decay * v[j] + (1 - decay) * g * g;
          u[j] = g / (Math.sqrt(v[j]) + eps);
        }
      }
      return EMPTY_REPORT;
    },
  };
}

export interface AdamState {
  /** Updates taken so far; drives the bias correction (kept here, not read from the step, so skipped steps do not count). */
  count: number;
  firstMoment: Buffer[];
  secondMoment: Buffer[];
}

/**
 * Adam's scaling (Kingma & Ba 2015, Algorithm 1), PyTorch's form with eps outside the square root:
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, u = (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * Defaults are PyTorch's: betas (0.9, 0.999), eps 1e-8.
 *
 * @example
 * chain(scaleByAdam(), scaleByLearningRate(constantSchedule(1e-3))) // torch.optim.Adam(lr=1e-3)
 */
export function scaleByAdam(
  options: { beta1?: number; beta2?: number; eps?: number } = {},
): GradientTransformation<AdamState> {
  const beta1 = checkUnitInterval('beta1', options.beta1 ?? 0.9, 0.9);
  const beta2 = checkUnitInterval('beta2', options.beta2 ?? 0.999, 0.999);
  const eps = checkNonNegative('eps', options.eps ?? 1e-8, 1e-8);
  return {
    name: `scaleByAdam(${beta1}, ${beta2})`,
    init: (params) => ({ count: 0, firstMoment: params.map(zerosLike), secondMoment: params.map(zerosLike) }),
    update(updates, state) {
      checkAligned('Adam first moment', state.firstMoment, updates);
      checkAligned('Adam second moment', state.secondMoment, updates);
      const t = ++state.count;
      const correction1 = 1 - beta1 ** t;
      const sqrtCorrection2 = Math.sqrt(1 - beta2 ** t);
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const m = state.firstMoment[i];
        const v = state.secondMoment[i];
        for (let j = 0; j < u.length; j++) {
          const g = u[j];
          m[j] = beta1 * m[j] + (1 - beta1) * g;
          v[j] = beta2 * v[j] + (1 - beta2) * g * g;
          // Read back from the buffers so float32 state rounds exactly as PyTorch's in-place ops do.
          u[j] = m[j] / correction1 / (Math.sqrt(v[j]) / sqrtCorrection2 + eps);
        }
      }
      return EMPTY_REPORT;
    },
  };
}
