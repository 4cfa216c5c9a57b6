/** The last link of every optimiser: scale by minus the scheduled learning rate. */
import { scaleInPlace } from '../kernels/index.js';
import { OptimError } from './errors.js';
import { constantSchedule } from './schedules.js';
import type { EmptyState, GradientTransformation, Schedule } from './types.js';

/**
 * Multiplies the updates by -lr(step), so `applyUpdates` (p += u) descends; a number is a constant schedule.
 * Reports `{ learningRate }`. It never calls `schedule.observe`: the loop decides how often the loss is shown to
 * a reduce-on-plateau schedule.
 *
 * @example
 * chain(scaleByAdam(), scaleByLearningRate(warmupCosineSchedule(1e-3, { warmupSteps: 100, totalSteps: 2000 })))
 */
export function scaleByLearningRate(learningRate: number | Schedule): GradientTransformation<EmptyState> {
  const schedule = typeof learningRate === 'number' ? constantSchedule(learningRate) : learningRate;
  return {
    name: `scaleByLearningRate(${schedule.name})`,
    init: () => ({}),
    update(updates, _state, ctx) {
      const rate = schedule.value(ctx.step);
      if (!(rate >= 0) || !Number.isFinite(rate)) {
        throw new OptimError(
          'invalid_value',
          `the ${schedule.name} schedule gave learning rate ${rate} at step ${ctx.step}; a learning rate must be a finite number >= 0, check the schedule's settings`,
        );
      }
      const scale = -rate;
      for (const u of updates) scaleInPlace(u, scale);
      return { learningRate: rate };
    },
  };
}
