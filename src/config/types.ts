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
  RESIDUAL_FORMS,
  ROOT_FIELDS,
  SCHEDULES,
  TASKS,
  TRAIN_FIELDS,
  biasSpec,
  initSpec,
  SEQ2SEQ_ARCHITECTURES,
  SEQ2SEQ_ATTENTIONS,
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

/**
 * Where the residual block of an MLP puts its activation (nn/residual.ts `ResidualBlock` has the forms):
 * `activated` x + phi(W x + b) (the shorthand `true`), `post` phi(x + W x + b) (He et al. 2016a), `pre`
 * x + W phi(N(x)) + b (He et al. 2016b), `linear-out` x + W phi(x) + b (the signal-propagation block, `pre` without
 * a norm).
 */
export type MlpResidualForm = (typeof RESIDUAL_FORMS)[number];

/** An MLP's residual blocks; `model.residual: true` resolves to `{ form: 'activated', layers: 1, scale: 'none', fixup: false }`. */
export interface MlpResidualConfig {
  form: MlpResidualForm;
  /** Weight layers per block: 1 or 2. */
  layers: number;
  /** s in x + s F(x): `none` (1), a constant, or a learnable scalar starting at 0 (ReZero; SkipInit). */
  scale: BranchScale;
  /** Fixup (Zhang et al. 2019): the branch's last layer starts at zero, the others rescaled by depth. */
  fixup: boolean;
}

export interface MlpModelConfig {
  kind: 'mlp';
  /** Hidden layer widths from the input side; `depth` x `width` is shorthand for a uniform stack. */
  hidden: number[];
  activation: ActivationName;
  init: InitSpec;
  bias: BiasSpec;
  norm: NormName;
  /** false, or the form of the residual block around each hidden layer whose input and output widths match. */
  residual: false | MlpResidualConfig;
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
  /** DeepNorm (Wang et al. 2022): residual scale (2N)^(1/4), init scale (8N)^(-1/4). */
  deepNorm: boolean;
  /** QK normalisation (Henry et al. 2020; Dehghani et al. 2023): LayerNorm of each head's queries and keys. */
  qkNorm: boolean;
  maxLength: number;
  init: InitSpec;
  bias: BiasSpec;
}

export type ConvNorm = 'none' | 'batch';

export interface Seq2SeqModelConfig {
  kind: 'seq2seq';
  /** rnn: a recurrent encoder-decoder (Sutskever et al. 2014); transformer: Vaswani et al. (2017). */
  architecture: (typeof SEQ2SEQ_ARCHITECTURES)[number];
  /** The encoder's and decoder's cell (architecture rnn). */
  cell: RecurrentKind;
  /** Encoder and decoder width (dModel for the transformer). */
  hidden: number;
  layers: number;
  /** none (the final state only), additive (Bahdanau et al. 2015), dot (Luong et al. 2015; the transformer's). */
  attention: (typeof SEQ2SEQ_ATTENTIONS)[number];
  heads: number;
  ffWidth: number;
  activation: ActivationName;
  norm: 'pre' | 'post';
  /** QK normalisation in the transformer architecture's attention (Henry et al. 2020). */
  qkNorm: boolean;
  init: InitSpec;
  recurrentInit: InitSpec;
  bias: BiasSpec;
  forgetBias: number;
}

/** A plain conv stack on an image task: conv layers, pooling between them, flatten, a dense head. */
export interface CnnModelConfig {
  kind: 'cnn';
  /** Output channels of each conv layer from the input side; `depth` x `width` is shorthand for a uniform stack. */
  channels: number[];
  /** Square kernel size of every conv layer. */
  kernel: number;
  stride: number;
  /** Zeros added on each side (default floor(kernel / 2): "same" size at stride 1 for odd kernels). */
  padding: number;
  /** 2x2 pooling (stride 2) after every `poolEvery` conv layers, while the image is at least 2x2. */
  pool: 'none' | 'max' | 'average';
  poolEvery: number;
  activation: ActivationName;
  norm: ConvNorm;
  init: InitSpec;
  bias: BiasSpec;
  /** Dense hidden widths after flattening (the linear output layer follows them). */
  head: number[];
}

/**
 * s in y = x + s F(x): `none` is s = 1, a number a constant s, `rezero` (Bachlechner et al. 2020) and `skipinit`
 * (De & Smith 2020) a learnable scalar starting at 0.
 */
export type BranchScale = 'none' | 'rezero' | 'skipinit' | number;

/** A ResNet for small images (He et al. 2016a, section 4.2): stem, stages of residual blocks, global pooling. */
export interface ResNetModelConfig {
  kind: 'resnet';
  /** Channels of the stem and the first stage; each later stage doubles them and halves the image. */
  width: number;
  stages: number;
  /** Residual blocks per stage. */
  blocks: number;
  /** 3x3 conv layers per residual branch (2: the basic block). */
  layers: number;
  /** post: y = phi(x + F(x)) (He et al. 2016a); pre: y = x + F(x), norm and activation first (He et al. 2016b). */
  block: 'post' | 'pre';
  norm: ConvNorm;
  scale: BranchScale;
  /** Fixup (Zhang et al. 2019): the branch's last layer starts at zero, the others rescaled by depth. */
  fixup: boolean;
  /** false: the plain net of the same layers, no shortcuts (He et al. 2016a's baseline). */
  shortcut: boolean;
  activation: ActivationName;
  init: InitSpec;
  bias: BiasSpec;
}

export type ModelConfig =
  | MlpModelConfig
  | RecurrentModelConfig
  | TransformerModelConfig
  | Seq2SeqModelConfig
  | CnnModelConfig
  | ResNetModelConfig;

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
  /**
   * Threads of the matrix products: `'auto'` (min(cores, 4)) or a count; the same bits for any. `resolveConfig`
   * always fills it; absent (a config written before the field) reads as `'auto'`.
   */
  threads?: 'auto' | number;
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
export type CnnModelInput = ModelInput<'cnn'>;
export type ResNetModelInput = ModelInput<'resnet'>;
export type Seq2SeqModelInput = ModelInput<'seq2seq'>;

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
