/**
 * Weight decay, both ways: as an L2 term folded into the gradient before any preconditioner (what
 * `weight_decay` means in PyTorch's SGD, Adagrad, RMSprop and Adam), and decoupled from the gradient
 * (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", PyTorch's AdamW).
 */
import { checkNonNegative } from './errors.js';
import { checkInfo, contextParams, EMPTY_REPORT } from './transform.js';
import type { EmptyState, GradientTransformation, ParamInfo } from './types.js';

/** Which parameters decay; PyTorch decays every parameter in the group, and so do these by default. */
export type DecayMask = (info: ParamInfo) => boolean;

/**
 * L2 regularisation into the gradient: u += weightDecay * p, with p the parameters before this step. Place it
 * before the preconditioner (`chain(addWeightDecay(wd), scaleByAdam(), ...)` is PyTorch's Adam with
 * weight_decay), where Adam's scaling then weakens it for parameters with large gradients, which is why AdamW exists.
 *
 * @example
 * chain(addWeightDecay(5e-4), traceMomentum(0.9), scaleByLearningRate(constantSchedule(0.1)))
 */
export function addWeightDecay(weightDecay: number, mask?: DecayMask): GradientTransformation<EmptyState> {
  return decay('addWeightDecay', weightDecay, mask);
}

/**
 * Decoupled weight decay (Loshchilov & Hutter 2019): u += weightDecay * p AFTER the preconditioner, so the
 * following `scaleByLearningRate` turns it into p -= lr * weightDecay * p, exactly PyTorch's AdamW
 * (`p.mul_(1 - lr * weight_decay)` before the Adam step, with both terms read from the same p).
 *
 * @example
 * chain(scaleByAdam(), addDecayedWeights(0.01), scaleByLearningRate(constantSchedule(1e-3))) // torch AdamW
 */
export function addDecayedWeights(weightDecay: number, mask?: DecayMask): GradientTransformation<EmptyState> {
  return decay('addDecayedWeights', weightDecay, mask);
}

function decay(
  name: string,
  weightDecay: number,
  mask: DecayMask | undefined,
): GradientTransformation<EmptyState> {
  checkNonNegative('weightDecay', weightDecay, name === 'addWeightDecay' ? 5e-4 : 0.01);
  return {
    name: `${name}(${weightDecay})`,
    init: () => ({}),
    update(updates, _state, ctx) {
      const params = contextParams(ctx, updates);
      if (mask !== undefined) checkInfo(params, ctx.info);
      for (let i = 0; i < updates.length; i++) {
        if (mask !== undefined && !mask(ctx.info[i])) continue;
        const u = updates[i];
        const p = params[i];
        for (let j = 0; j < u.length; j++) u[j] += weightDecay * p[j];
      }
      return EMPTY_REPORT;
    },
  };
}
