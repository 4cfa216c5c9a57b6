/**
 * The run configuration as TypeScript types, derived from the zod tables of `schema.ts` so that a field, a range
 * or a name added there is a type here: `Config` is what a user writes (each section's `z.input`, everything
 * optional, bare names allowed), `ResolvedConfig` what `resolveConfig` returns with every default filled in and
 * what `config.json` in a run directory holds (each section's `z.output`; docs/CONFIG.md lists every field).
 * Only the model configs are written out: they are what each kind's `build` makes of its fields (`depth` x
 * `width` becomes `hidden`, a kind's fixed keys filled in), not the fields themselves.
 */
import type { z } from 'zod';
import type { ActivationName } from '../kernels/activations.js';
import type {
  CLIPS,
  Fields,
  GUARD_MODES,
  INIT_NAMES,
  MODEL_KINDS_TABLE,
  MONITOR_FIELDS,
  NORM_NAMES,
  OPTIMIZERS,
  ROOT_FIELDS,
  SCHEDULES,
  TASKS,
  TRAIN_FIELDS,
  biasSpec,
  initSpec,
} from './schema.js';

// ---------------------------------------------------------------------------------------------------------------
// From the schema's tables to types

/** What an object of these fields parses to (defaults filled) and what it accepts (defaulted keys optional). */
type Output<F extends Fields> = keyof F extends never ? Record<never, never> : z.output<z.ZodObject<F>>;
type Input<F extends Fields> = keyof F extends never ? Record<never, never> : z.input<z.ZodObject<F>>;

type Table = Readonly<Record<string, { readonly fields: Fields }>>;
type KeysOfUnion<U> = U extends unknown ? keyof U : never;
type ValueInUnion<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? U[K] : never) : never;
/** Every option of any entry of a table, each optional: a resolved section carries its own entry's options. */
type Options<T extends Table> = {
  [K in KeysOfUnion<{ [N in keyof T]: Output<T[N]['fields']> }[keyof T]>]?: Exclude<
    ValueInUnion<{ [N in keyof T]: Output<T[N]['fields']> }[keyof T], K>,
    undefined
  >;
};
/** A section as written: an entry's name, or its object form (`name` optional for the table's default entry). */
type Named<T extends Table, Fallback extends keyof T = never> =
  | (keyof T & string)
  | {
      [N in keyof T & string]: Input<T[N]['fields']> & (N extends Fallback ? { name?: N } : { name: N });
    }[keyof T & string];

export type InitName = (typeof INIT_NAMES)[number];

/** A named initialiser, or a fixed distribution, or a base scaled by a gain (multiplies the base's std). */
export type InitSpec = z.output<typeof initSpec>;

export type BiasSpec = z.output<typeof biasSpec>;

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

export type OptimizerName = keyof typeof OPTIMIZERS;

/** The optimiser and its options (docs/CONFIG.md; `OPTIMIZERS` in schema.ts). */
export interface OptimizerConfig extends Options<typeof OPTIMIZERS> {
  name: OptimizerName;
  learningRate: number;
}

export type ScheduleName = keyof typeof SCHEDULES;

/** The learning-rate schedule and its options, step-dependent defaults filled (`SCHEDULES` in schema.ts). */
export interface ScheduleConfig extends Options<typeof SCHEDULES> {
  name: ScheduleName;
}

export type ClipName = keyof typeof CLIPS;

/** Gradient clipping and its options (`CLIPS` in schema.ts). */
export interface ClipConfig extends Options<typeof CLIPS> {
  name: ClipName;
}

export type GuardMode = (typeof GUARD_MODES)[number];

/** The task and its fields, defaults filled (`TASKS` in schema.ts). */
export interface TaskConfig extends Options<typeof TASKS> {
  /** A `TaskName`; a string because a foreign run's stand-in config names its source (`adapters/torch-run`). */
  name: string;
}

export type TrainConfig = Output<typeof TRAIN_FIELDS>;

export type MonitorConfig = Output<typeof MONITOR_FIELDS>;

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

// ---------------------------------------------------------------------------------------------------------------
// What a user writes

type ModelKinds = typeof MODEL_KINDS_TABLE;
/** Keys of other kinds a kind accepts at its one fixed value (`forgetBias: 0` on an rnn). */
type FixedInput<K extends keyof ModelKinds> = ModelKinds[K] extends { readonly fixed: infer X }
  ? { [P in keyof X]?: X[P] }
  : unknown;
type ModelInput<K extends keyof ModelKinds> = Input<ModelKinds[K]['fields']> & FixedInput<K>;

export type TaskInput = Exclude<Named<typeof TASKS>, string>;
export type MlpModelInput = ModelInput<'mlp'>;
export type RecurrentModelInput = ModelInput<'rnn'> | ModelInput<'lstm'> | ModelInput<'gru'>;
export type TransformerModelInput = ModelInput<'transformer'>;

/** What a user writes (docs/CONFIG.md): everything optional, defaults filled by `resolveConfig`. */
export interface Config extends Input<typeof ROOT_FIELDS> {
  task?: Named<typeof TASKS>;
  model?: { [K in keyof ModelKinds]: ModelInput<K> }[keyof ModelKinds];
  optimizer?: Named<typeof OPTIMIZERS, 'sgd'>;
  schedule?: Named<typeof SCHEDULES, 'constant'>;
  clip?: Named<typeof CLIPS, 'none'>;
  train?: Input<typeof TRAIN_FIELDS>;
  monitor?: Input<typeof MONITOR_FIELDS>;
}

/** One task's fields as resolved, defaults filled (what its factory in `src/data` receives). */
export type TaskFields<N extends keyof typeof TASKS> = Output<(typeof TASKS)[N]['fields']>;
