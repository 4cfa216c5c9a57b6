/**
 * Learning-rate schedules as plain `(step) => rate` functions (optax style), plus PyTorch's ReduceLROnPlateau,
 * the one schedule that must watch the loss.
 *
 * Indexing: `value(step)` is the rate for the 1-based optimiser step `step`, computed from t = step - 1, the
 * number of updates already applied, exactly as PyTorch's schedulers (`scheduler.step()` after each
 * `optimizer.step()`) and optax (`schedule(count)`) do. So step 1 always sees the formula at t = 0: the base rate
 * for step/exponential/cosine, and 0 for a warm-up that starts from 0.
 */
import type { ScheduleConfig, ScheduleName } from '../config/types.js';
import {
  checkInteger,
  checkNonNegative,
  checkPositive,
  checkRange,
  checkUnitInterval,
  OptimError,
} from './errors.js';
import type { Schedule, ScheduleState } from './types.js';

function checkStep(step: number): number {
  if (!Number.isInteger(step) || step < 1) {
    throw new OptimError(
      'invalid_value',
      `step must be an integer >= 1 (steps are 1-based), got ${step}; try 1`,
    );
  }
  return step - 1;
}

/**
 * The same rate at every step.
 *
 * @example
 * constantSchedule(0.1).value(500) // 0.1
 */
export function constantSchedule(learningRate: number): Schedule {
  checkPositive('learningRate', learningRate, 0.01);
  return {
    name: 'constant',
    value(step) {
      checkStep(step);
      return learningRate;
    },
  };
}

/**
 * Piecewise constant decay: learningRate * gamma^floor(t / stepSize) (PyTorch's StepLR), so every stretch of
 * `stepSize` steps shares one rate.
 *
 * @example
 * stepSchedule(0.1, { stepSize: 100 }).value(101) // 0.01
 */
export function stepSchedule(learningRate: number, options: { stepSize: number; gamma?: number }): Schedule {
  checkPositive('learningRate', learningRate, 0.01);
  const stepSize = checkInteger('stepSize', options.stepSize, 1, 1000);
  const gamma = checkPositive('gamma', options.gamma ?? 0.1, 0.1);
  return {
    name: 'step',
    value: (step) => learningRate * gamma ** Math.floor(checkStep(step) / stepSize),
  };
}

/**
 * Exponential decay every step: learningRate * gamma^t (PyTorch's ExponentialLR stepped once per update).
 *
 * @example
 * exponentialSchedule(0.1, { gamma: 0.99 }).value(3) // 0.1 * 0.99^2
 */
export function exponentialSchedule(learningRate: number, options: { gamma: number }): Schedule {
  checkPositive('learningRate', learningRate, 0.01);
  const gamma = checkPositive('gamma', options.gamma, 0.999);
  return {
    name: 'exponential',
    value: (step) => learningRate * gamma ** checkStep(step),
  };
}

/**
 * Cosine annealing without restarts (Loshchilov & Hutter 2017, "SGDR"): from learningRate at t = 0 to
 * minFactor * learningRate at t = totalSteps, lr = min + (max - min) (1 + cos(pi t / totalSteps)) / 2, held at
 * the floor beyond (PyTorch's CosineAnnealingLR with T_max = totalSteps). It is `warmupCosineSchedule` with no
 * warm-up.
 *
 * @example
 * cosineSchedule(0.1, { totalSteps: 1000 }).value(501) // 0.05
 */
export function cosineSchedule(
  learningRate: number,
  options: { totalSteps: number; minFactor?: number },
): Schedule {
  const schedule = warmupCosineSchedule(learningRate, { ...options, warmupSteps: 0 });
  return { name: 'cosine', value: schedule.value };
}

/**
 * Linear warm-up from 0 (Goyal et al. 2017, "Accurate, Large Minibatch SGD", gradual warm-up), then cosine
 * decay (Loshchilov & Hutter 2017): lr = learningRate * t / warmupSteps for t < warmupSteps, then the cosine from
 * learningRate at t = warmupSteps to minFactor * learningRate at t = totalSteps (the shape of Hugging Face's
 * `get_cosine_schedule_with_warmup`). Step 1 has rate 0: the warm-up really starts from 0.
 *
 * @example
 * warmupCosineSchedule(0.1, { warmupSteps: 100, totalSteps: 1000 }).value(51) // 0.05
 */
export function warmupCosineSchedule(
  learningRate: number,
  options: { warmupSteps: number; totalSteps: number; minFactor?: number },
): Schedule {
  checkPositive('learningRate', learningRate, 0.01);
  const warmupSteps = checkInteger('warmupSteps', options.warmupSteps, 0, 100);
  const totalSteps = checkInteger('totalSteps', options.totalSteps, 1, 1000);
  const minFactor = checkRange('minFactor', options.minFactor ?? 0, 0, 1, '0 or 0.1');
  const floor = learningRate * minFactor;
  // A warm-up as long as the run leaves no cosine phase; max(1, ...) keeps the division defined.
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  return {
    name: 'warmup-cosine',
    value(step) {
      const t = checkStep(step);
      if (t < warmupSteps) return (learningRate * t) / warmupSteps;
      const progress = Math.min(1, (t - warmupSteps) / decaySteps);
      return floor + ((learningRate - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
    },
  };
}

export interface PlateauOptions {
  /** Multiply the rate by this on a plateau (PyTorch: 0.1). */
  factor?: number;
  /** Bad observations tolerated; the next one reduces the rate (PyTorch: 10). */
  patience?: number;
  /** Relative improvement that counts: loss < best * (1 - threshold) (PyTorch: 1e-4, mode 'rel'). */
  threshold?: number;
  /** Observations to wait after a reduction before counting bad ones again (PyTorch: 0). */
  cooldown?: number;
  /** The rate never goes below this (PyTorch: 0). */
  minLearningRate?: number;
}

/** Reduce-on-plateau's whole state: plain numbers, so a snapshot is `getState()` and a rollback `setState()`. */
export interface PlateauState extends ScheduleState {
  learningRate: number;
  /** Lowest loss seen (Infinity before the first observation). */
  best: number;
  /** Observations since the last improvement. */
  badObservations: number;
  cooldownLeft: number;
}

export interface PlateauSchedule extends Schedule {
  observe(loss: number, step: number): void;
  getState(): PlateauState;
  setState(state: ScheduleState): void;
}

/**
 * Reduce the rate when the loss stops improving (PyTorch's ReduceLROnPlateau, mode 'min', threshold mode
 * 'rel'): each `observe(loss)` either improves on the best loss by the relative threshold or counts as bad;
 * when bad observations exceed `patience`, the rate is multiplied by `factor` (not below `minLearningRate`;
 * changes smaller than 1e-8 are ignored, as in PyTorch). A NaN loss counts as bad. `value` ignores the step.
 *
 * @example
 * const s = plateauSchedule(0.1, { patience: 2 });
 * for (const loss of [1, 1, 1, 1]) s.observe(loss, 1); // third non-improvement -> 0.01
 */
export function plateauSchedule(learningRate: number, options: PlateauOptions = {}): PlateauSchedule {
  checkPositive('learningRate', learningRate, 0.01);
  const factor = checkUnitInterval('factor', options.factor ?? 0.1, 0.1);
  const patience = checkInteger('patience', options.patience ?? 10, 0, 10);
  const threshold = checkNonNegative('threshold', options.threshold ?? 1e-4, 1e-4);
  const cooldown = checkInteger('cooldown', options.cooldown ?? 0, 0, 0);
  const minLearningRate = checkNonNegative('minLearningRate', options.minLearningRate ?? 0, 0);
  let state: PlateauState = { learningRate, best: Infinity, badObservations: 0, cooldownLeft: 0 };
  return {
    name: 'plateau',
    value(step) {
      checkStep(step);
      return state.learningRate;
    },
    observe(loss) {
      if (loss < state.best * (1 - threshold)) {
        state.best = loss;
        state.badObservations = 0;
      } else {
        state.badObservations++;
      }
      if (state.cooldownLeft > 0) {
        state.cooldownLeft--;
        state.badObservations = 0;
      }
      if (state.badObservations > patience) {
        const reduced = Math.max(state.learningRate * factor, minLearningRate);
        if (state.learningRate - reduced > 1e-8) state.learningRate = reduced;
        state.cooldownLeft = cooldown;
        state.badObservations = 0;
      }
    },
    getState: () => ({ ...state }),
    setState(next) {
      const { learningRate: rate, best, badObservations, cooldownLeft } = next;
      if (
        typeof rate !== 'number' ||
        typeof best !== 'number' ||
        typeof badObservations !== 'number' ||
        typeof cooldownLeft !== 'number'
      ) {
        throw new OptimError(
          'size_mismatch',
          `plateau state must hold numbers learningRate, best, badObservations, cooldownLeft, got ${JSON.stringify(next)}; pass a value returned by getState()`,
        );
      }
      state = { learningRate: rate, best, badObservations, cooldownLeft };
    },
  };
}

/**
 * One constructor per schedule name, keyed by the name so a new one cannot be missed. The config is the one
 * `resolveConfig` validated and filled (src/config/schema.ts holds the ranges and the defaults that scale with
 * the run); it is not checked again.
 */
const scheduleRules: {
  [K in ScheduleName]: (cfg: ScheduleConfig, learningRate: number, totalSteps: number) => Schedule;
} = {
  constant: (_cfg, lr) => constantSchedule(lr),
  step: (cfg, lr) => stepSchedule(lr, { stepSize: field(cfg, 'stepSize'), gamma: field(cfg, 'gamma') }),
  exponential: (cfg, lr) => exponentialSchedule(lr, { gamma: field(cfg, 'gamma') }),
  cosine: (cfg, lr, totalSteps) => cosineSchedule(lr, { totalSteps, minFactor: field(cfg, 'minFactor') }),
  'warmup-cosine': (cfg, lr, totalSteps) =>
    warmupCosineSchedule(lr, {
      warmupSteps: field(cfg, 'warmupSteps'),
      totalSteps,
      minFactor: field(cfg, 'minFactor'),
    }),
  plateau: (cfg, lr) =>
    plateauSchedule(lr, { factor: field(cfg, 'factor'), patience: field(cfg, 'patience') }),
};

type ScheduleField = 'stepSize' | 'gamma' | 'warmupSteps' | 'minFactor' | 'factor' | 'patience';

function field(cfg: ScheduleConfig, key: ScheduleField): number {
  const value = cfg[key];
  if (value === undefined) {
    throw new OptimError(
      'invalid_value',
      `schedule.${key} is missing for schedule '${cfg.name}'; resolve the config first (resolveConfig fills it)`,
    );
  }
  return value;
}

/**
 * Builds the configured schedule for a run of `totalSteps` steps starting from `baseLr` (the optimiser's
 * learning rate), from the config `resolveConfig` returned.
 *
 * @example
 * const schedule = scheduleFromConfig(config.schedule, config.optimizer.learningRate, config.train.steps);
 */
export function scheduleFromConfig(cfg: ScheduleConfig, baseLr: number, totalSteps: number): Schedule {
  return scheduleRules[cfg.name](cfg, baseLr, totalSteps);
}
