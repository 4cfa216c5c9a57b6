/**
 * The optimisers, each literally a `chain` of the transforms in this directory (optax's `alias.py`), with
 * PyTorch's defaults and semantics so one step matches `torch.optim` (up to floating-point rounding order).
 * Listed in order of increasing complexity; a variant is a setting of a more general one (momentum and Nesterov
 * are settings of `sgd`, AdamW is Adam with its decay moved after the preconditioner).
 */
import type { OptimizerConfig, OptimizerName } from '../config/types.js';
import { checkNonNegative, checkPositive, checkUnitInterval, OptimError } from './errors.js';
import { scaleByLearningRate } from './learning-rate.js';
import { scaleByAdam, scaleByRms, scaleByRss, traceMomentum } from './scale.js';
import { chain } from './transform.js';
import type { AnyGradientTransformation, GradientTransformation, Schedule } from './types.js';
import { addDecayedWeights, addWeightDecay } from './weight-decay.js';

/** An optimiser: a chain whose state is the list of its links' states. */
export type Optimizer = GradientTransformation<unknown[]>;

/** A number, or a schedule giving the rate per step. */
export type LearningRate = number | Schedule;

function checkLearningRate(learningRate: LearningRate): void {
  if (typeof learningRate === 'number') checkPositive('learningRate', learningRate, 0.01);
}

function build(links: readonly (AnyGradientTransformation | null)[]): Optimizer {
  return chain(...links.filter((t): t is AnyGradientTransformation => t !== null));
}

/** L2 decay only when asked for, so the default chains do no extra pass. */
function l2(weightDecay: number): AnyGradientTransformation | null {
  return checkNonNegative('weightDecay', weightDecay, 5e-4) > 0 ? addWeightDecay(weightDecay) : null;
}

export interface SgdOptions {
  learningRate: LearningRate;
  /** Heavy-ball momentum (PyTorch: 0, plain SGD). */
  momentum?: number;
  /** PyTorch's Nesterov form; needs momentum > 0. */
  nesterov?: boolean;
  /** L2 added to the gradient. */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent (Robbins & Monro 1951), optionally with momentum (Polyak 1964) or Nesterov
 * momentum (Sutskever et al. 2013), exactly `torch.optim.SGD`: g += wd p; b = mu b + g; p -= lr (b, or g + mu b).
 *
 * @example
 * sgd({ learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4 })
 */
export function sgd(options: SgdOptions): Optimizer {
  checkLearningRate(options.learningRate);
  const momentum = checkUnitInterval('momentum', options.momentum ?? 0, 0.9);
  const nesterov = options.nesterov ?? false;
  if (nesterov && momentum === 0) {
    throw new OptimError(
      'invalid_value',
      `Nesterov momentum needs momentum > 0, got ${momentum}; try momentum: 0.9`,
    );
  }
  return build([
    l2(options.weightDecay ?? 0),
    momentum > 0 ? traceMomentum(momentum, nesterov) : null,
    scaleByLearningRate(options.learningRate),
  ]);
}

/**
 * SGD with heavy-ball momentum (Polyak 1964), momentum 0.9 unless given: `torch.optim.SGD(momentum=0.9)`.
 *
 * @example
 * momentum({ learningRate: 0.01 })
 */
export function momentum(options: Omit<SgdOptions, 'nesterov'>): Optimizer {
  return sgd({ ...options, momentum: options.momentum ?? 0.9 });
}

/**
 * SGD with Nesterov momentum (Nesterov 1983; Sutskever et al. 2013), momentum 0.9 unless given:
 * `torch.optim.SGD(momentum=0.9, nesterov=True)`.
 *
 * @example
 * nesterov({ learningRate: 0.01 })
 */
export function nesterov(options: Omit<SgdOptions, 'nesterov'>): Optimizer {
  return sgd({ ...options, momentum: options.momentum ?? 0.9, nesterov: true });
}

export interface AdagradOptions {
  learningRate: LearningRate;
  /** Added to sqrt(sum of squares) (PyTorch: 1e-10). */
  eps?: number;
  /** Starting value of the sum of squares (PyTorch: 0). */
  initialAccumulator?: number;
  weightDecay?: number;
}

/**
 * AdaGrad (Duchi, Hazan & Singer 2011), `torch.optim.Adagrad` without lr_decay: s += g^2; p -= lr g / (sqrt(s) + eps).
 *
 * @example
 * adagrad({ learningRate: 0.01 })
 */
export function adagrad(options: AdagradOptions): Optimizer {
  checkLearningRate(options.learningRate);
  return build([
    l2(options.weightDecay ?? 0),
    scaleByRss({ eps: options.eps ?? 1e-10, initialAccumulator: options.initialAccumulator ?? 0 }),
    scaleByLearningRate(options.learningRate),
  ]);
}

export interface RmspropOptions {
  learningRate: LearningRate;
  /** Decay of the squared-gradient average, PyTorch's alpha (0.99). */
  decay?: number;
  eps?: number;
  /** Momentum on the scaled step, as PyTorch's RMSprop momentum (0). */
  momentum?: number;
  weightDecay?: number;
}

/**
 * RMSProp (Tieleman & Hinton 2012), `torch.optim.RMSprop` (not centered): v = a v + (1 - a) g^2;
 * u = g / (sqrt(v) + eps); with momentum b = mu b + u; p -= lr (b or u).
 *
 * @example
 * rmsprop({ learningRate: 0.01 })
 */
export function rmsprop(options: RmspropOptions): Optimizer {
  checkLearningRate(options.learningRate);
  const momentum = checkUnitInterval('momentum', options.momentum ?? 0, 0);
  return build([
    l2(options.weightDecay ?? 0),
    scaleByRms({ decay: options.decay ?? 0.99, eps: options.eps ?? 1e-8 }),
    momentum > 0 ? traceMomentum(momentum) : null,
    scaleByLearningRate(options.learningRate),
  ]);
}

export interface AdamOptions {
  learningRate: LearningRate;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Adam: L2 folded into the gradient (PyTorch's Adam weight_decay, default 0). AdamW: decoupled (default 0.01). */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015), `torch.optim.Adam`: betas (0.9, 0.999), eps 1e-8 outside the square root, bias
 * corrected; weightDecay is L2 added to the gradient.
 *
 * @example
 * adam({ learningRate: 1e-3 })
 */
export function adam(options: AdamOptions): Optimizer {
  checkLearningRate(options.learningRate);
  return build([
    l2(options.weightDecay ?? 0),
    adamScaling(options),
    scaleByLearningRate(options.learningRate),
  ]);
}

/**
 * AdamW (Loshchilov & Hutter 2019), `torch.optim.AdamW`: Adam with decoupled weight decay p -= lr wd p
 * (weightDecay 0.01 unless given, PyTorch's default).
 *
 * @example
 * adamw({ learningRate: 1e-3, weightDecay: 0.05 })
 */
export function adamw(options: AdamOptions): Optimizer {
  checkLearningRate(options.learningRate);
  const weightDecay = checkNonNegative('weightDecay', options.weightDecay ?? 0.01, 0.01);
  return build([
    adamScaling(options),
    weightDecay > 0 ? addDecayedWeights(weightDecay) : null,
    scaleByLearningRate(options.learningRate),
  ]);
}

function adamScaling(options: AdamOptions): AnyGradientTransformation {
  return scaleByAdam({
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
  });
}

/**
 * One constructor per optimiser name, keyed by the name so a new one cannot be missed. The config is the one
 * `resolveConfig` validated and filled (src/config/schema.ts holds the ranges and defaults); it is not checked again.
 */
const optimizerRules: {
  [K in OptimizerName]: (cfg: OptimizerConfig, learningRate: LearningRate) => Optimizer;
} = {
  sgd: (c, learningRate) =>
    sgd({
      learningRate,
      momentum: c.momentum ?? 0,
      nesterov: c.nesterov ?? false,
      weightDecay: c.weightDecay ?? 0,
    }),
  momentum: (c, learningRate) =>
    momentum({ learningRate, momentum: c.momentum ?? 0.9, weightDecay: c.weightDecay ?? 0 }),
  nesterov: (c, learningRate) =>
    nesterov({ learningRate, momentum: c.momentum ?? 0.9, weightDecay: c.weightDecay ?? 0 }),
  adagrad: (c, learningRate) =>
    adagrad({ learningRate, eps: c.eps ?? 1e-10, weightDecay: c.weightDecay ?? 0 }),
  rmsprop: (c, learningRate) =>
    rmsprop({
      learningRate,
      decay: c.decay ?? 0.99,
      eps: c.eps ?? 1e-8,
      momentum: c.momentum ?? 0,
      weightDecay: c.weightDecay ?? 0,
    }),
  adam: (c, learningRate) => adam({ learningRate, ...adamFields(c), weightDecay: c.weightDecay ?? 0 }),
  adamw: (c, learningRate) => adamw({ learningRate, ...adamFields(c), weightDecay: c.weightDecay ?? 0.01 }),
};

function adamFields(c: OptimizerConfig): { beta1: number; beta2: number; eps: number } {
  return { beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999, eps: c.eps ?? 1e-8 };
}

/**
 * Builds the configured optimiser, driven by `schedule` (from `scheduleFromConfig(config.schedule,
 * config.optimizer.learningRate, steps)`). Clipping is a separate link: `chain(clipFromConfig(...), optimizer)`.
 *
 * @example
 * const optimizer = optimizerFromConfig({ name: 'adamw', learningRate: 1e-3 }, schedule);
 */
export function optimizerFromConfig(opt: OptimizerConfig, schedule: Schedule): Optimizer {
  return optimizerRules[opt.name](opt, schedule);
}
