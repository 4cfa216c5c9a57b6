/**
 * Optimisers, learning-rate schedules and gradient clipping as composable gradient transformations (optax's
 * design, updating buffers in place). The loop's side of a step:
 *
 * @example
 * const schedule = scheduleFromConfig(config.schedule, config.optimizer.learningRate, config.train.steps);
 * const optimizer = chain(clipFromConfig(config.clip), optimizerFromConfig(config.optimizer, schedule));
 * const updates = allocateUpdates(params);
 * let state = optimizer.init(params, info);
 * // each step:
 * copyInto(updates, grads);
 * const report = optimizer.update(updates, state, { step, params, info, loss });
 * applyUpdates(params, updates);
 * // rollback: keep `snapshot = structuredClone(state)` (and schedule.getState?.()), later `state = snapshot`.
 */
export type {
  AnyGradientTransformation,
  EmptyState,
  GradientTransformation,
  ParamInfo,
  Schedule,
  ScheduleState,
  TransformReport,
  UpdateContext,
} from './types.js';
export { OptimError, type OptimErrorCode } from './errors.js';
export {
  allocateUpdates,
  applyUpdates,
  chain,
  copyInto,
  identity,
  zerosLike,
  type ChainState,
  type StateOf,
} from './transform.js';
export {
  scaleByAdam,
  scaleByRms,
  scaleByRss,
  traceMomentum,
  type AdamState,
  type RmsState,
  type RssState,
  type TraceState,
} from './scale.js';
export { addDecayedWeights, addWeightDecay, type DecayMask } from './weight-decay.js';
export { scaleByLearningRate } from './learning-rate.js';
export {
  adagrad,
  adam,
  adamw,
  momentum,
  nesterov,
  optimizerFromConfig,
  rmsprop,
  sgd,
  type AdagradOptions,
  type AdamOptions,
  type LearningRate,
  type Optimizer,
  type RmspropOptions,
  type SgdOptions,
} from './optimizers.js';
export {
  constantSchedule,
  cosineSchedule,
  exponentialSchedule,
  plateauSchedule,
  scheduleFromConfig,
  stepSchedule,
  warmupCosineSchedule,
  type PlateauOptions,
  type PlateauSchedule,
  type PlateauState,
} from './schedules.js';
export {
  adaptiveGradClip,
  autoClip,
  clipByGlobalNorm,
  clipByParamNorm,
  clipByValue,
  clipFromConfig,
  clipGradsWithNorm,
  globalNorm,
  type AdaptiveGradClipOptions,
  type AutoClipOptions,
  type AutoClipState,
  type ClipReport,
  type NormClipOptions,
} from './clip.js';
