/**
 * The resolved run configuration as TypeScript types: `ResolvedConfig` is what `resolveConfig` returns with every
 * default filled in and what `config.json` in a run directory holds (docs/CONFIG.md lists every field). The name
 * unions come from the tables of `schema.ts`, so a name added there is a name here; `Config` (what a user
 * writes) is `z.input` of the schema.
 */
import type { ActivationName } from '../kernels/activations.js';
import type {
  CLIP_NAMES,
  GUARD_MODES,
  INIT_NAMES,
  NORM_NAMES,
  OPTIMIZER_NAMES,
  SCHEDULE_NAMES,
} from './schema.js';

export type InitName = (typeof INIT_NAMES)[number];

/** A named initialiser, or a fixed distribution, or a base scaled by a gain (multiplies the base's std). */
export type InitSpec = InitName | { normal: number } | { uniform: number } | { gain: number; base: InitName };

export type BiasSpec = number | { normal: number };

export type NormName = (typeof NORM_NAMES)[number];

export interface MlpModelConfig {
  kind: 'mlp';
  /** Hidden layer widths from the input side; `depth` x `width` is shorthand for a uniform stack. */
  hidden: number[];
  activation: ActivationName;
  init: InitSpec;
  bias: BiasSpec;
  norm: NormName;
  residual: boolean;
  dropout: number;
}

export type RecurrentKind = 'rnn' | 'lstm' | 'gru';

export interface RecurrentModelConfig {
  kind: RecurrentKind;
  hidden: number;
  layers: number;
  /** Cell non-linearity for kind rnn (tanh, relu or sigmoid). */
  activation: ActivationName;
  init: InitSpec;
  recurrentInit: InitSpec;
  bias: BiasSpec;
  /** Initial forget-gate bias for LSTM (Gers et al. 2000; Jozefowicz et al. 2015). */
  forgetBias: number;
}

export interface TransformerModelConfig {
  kind: 'transformer';
  layers: number;
  dModel: number;
  heads: number;
  /** Hidden width of the feed-forward sublayer (default 4 x dModel). */
  ffWidth: number;
  activation: ActivationName;
  /** post: the original LN(x + f(x)); pre: x + f(LN(x)) (Xiong et al. 2020). */
  norm: 'pre' | 'post';
  dropout: number;
  positions: 'sinusoidal' | 'learned';
  tiedEmbeddings: boolean;
  maxLength: number;
  init: InitSpec;
  bias: BiasSpec;
}

export type ModelConfig = MlpModelConfig | RecurrentModelConfig | TransformerModelConfig;

export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  learningRate: number;
  /** sgd (optional, 0) / momentum / nesterov / rmsprop (optional, 0): momentum in [0, 1) */
  momentum?: number;
  /** sgd: Nesterov momentum, as torch.optim.SGD(nesterov=True) */
  nesterov?: boolean;
  /** adam / adamw */
  beta1?: number;
  beta2?: number;
  /** rmsprop decay */
  decay?: number;
  eps?: number;
  /** L2 added to the gradient (sgd..adam) or decoupled (adamw, Loshchilov & Hutter 2019) */
  weightDecay?: number;
}

export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleConfig {
  name: ScheduleName;
  /** step: multiply by `gamma` every `stepSize` steps; exponential: lr * gamma^step */
  stepSize?: number;
  gamma?: number;
  /** warmup-cosine: linear warm-up length in steps */
  warmupSteps?: number;
  /** cosine / warmup-cosine: the final learning rate as a fraction of the initial one */
  minFactor?: number;
  /** plateau: reduce by `factor` when the loss has not improved for `patience` logged steps */
  factor?: number;
  patience?: number;
}

export type ClipName = (typeof CLIP_NAMES)[number];

export interface ClipConfig {
  name: ClipName;
  /** value: clamp each entry to [-max, max]; norm / param-norm: the largest L2 norm */
  max?: number;
  /** agc: the ratio of unit gradient norm to unit weight norm (Brock et al. 2021) */
  factor?: number;
  eps?: number;
  /** autoclip: percentile (0..100) of the history of global norms (Seetharaman et al. 2020) */
  percentile?: number;
}

export type GuardMode = (typeof GUARD_MODES)[number];

export interface TaskConfig {
  name: string;
  /** teacher */
  inputs?: number;
  classes?: number;
  size?: number;
  /** adding / copy / char-lm / reverse / sort: time steps (reverse / sort: symbols to read) */
  length?: number;
  /** seq-mnist: 'row' (28 steps) or 'pixel' (784 steps) */
  mode?: string;
  /** csv: the file, the column to predict, classification or regression, standardise features, held-out fraction */
  path?: string;
  target?: string;
  kind?: 'classification' | 'regression';
  standardize?: boolean;
  split?: number;
}

export interface TrainConfig {
  steps: number;
  batchSize: number;
  /** recurrent: truncated BPTT length (0 = full) */
  bptt: number;
  /** steps between checkpoints (`run --resume`); 0 = a checkpoint only at the end or on interruption */
  checkpointEvery: number;
  /** consecutive non-finite steps the guard skips or rolls back before the run stops as stuck */
  guardPatience: number;
}

export interface MonitorConfig {
  every: number;
  timesteps: boolean;
  /**
   * weight and gradient histograms (monitor/histogram): false never, true on every logged step, N on every N-th;
   * absent in configs written before the field (read as its default)
   */
  histograms?: boolean | number;
}

export interface ResolvedConfig {
  name: string;
  seed: number;
  task: TaskConfig;
  model: ModelConfig;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  clip: ClipConfig;
  guard: GuardMode;
  train: TrainConfig;
  monitor: MonitorConfig;
}
