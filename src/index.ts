/**
 * gradscope's public API (Node). In a browser, import the browser-safe modules directly (see docs/ARCHITECTURE.md):
 * `train/session.js`, `doctor/diagnosis.js`, `report/svg.js` and the engine modules.
 */
export { Tensor, type Buffer, type DType, type Shape } from './tensor/tensor.js';
export { Rng } from './tensor/rng.js';
export { backward, noGrad } from './autograd/tape.js';
export { gradcheck } from './autograd/gradcheck.js';
export * as ops from './ops/index.js';
export * as nn from './nn/index.js';
export * as init from './init/index.js';
export * as optim from './optim/index.js';
export { kernels, setKernels, type Kernels } from './kernels/index.js';
export { ACTIVATIONS, type ActivationName } from './kernels/activations.js';
export { defaultThreads, useThreads } from './kernels/threads.js';
export {
  resolveConfig,
  PRESETS,
  findPreset,
  ConfigError,
  GradscopeError,
  CONFIG_SCHEMA,
} from './config/index.js';
export type { ErrorCode } from './util/errors.js';
export type { ResolvedConfig } from './config/types.js';
export { createTask } from './data/index.js';
export { TrainingSession } from './train/session.js';
export { train, trainAsync, type TrainOptions, type TrainResult } from './train/trainer.js';
export { checkMemoryBudget, estimateMemory, BudgetError, type MemoryEstimate } from './train/budget.js';
export { diagnose, diagnoseOnline, diagnosePath } from './doctor/index.js';
export { diagnoseFolder } from './doctor/diagnose.js';
export { preflight } from './preflight/index.js';
export { renderRunReport, writeRunReport, loadRun } from './report/index.js';
export { EventWriter, readEvents, readEventDir } from './io/tfevents.js';
export { decodeEvents, encodeEvent, encodeRecord } from './io/tfevents-codec.js';
export {
  histogram,
  rebinHistogram,
  HISTOGRAM_BUCKETS,
  type Histogram,
  type HistogramRecord,
} from './monitor/histogram.js';
export { TfjsMonitor, watchFit, TfjsFitWatcher } from './adapters/tfjs.js';
export type { MetricsRecord, Summary } from './io/runlog.js';
