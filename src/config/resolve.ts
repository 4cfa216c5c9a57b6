/**
 * Config resolution: a user's JSON (`Config`, most fields optional) in, a `ResolvedConfig` with every default
 * filled in out, or a `ConfigError` naming the path, the bad value and what is accepted. Pure: no file I/O (the
 * CLI reads files and hands the text to `parseConfigText`).
 *
 * Decisions beyond `CONTRACT.md`, in one place:
 * - `task` defaults to `{"name": "spirals"}`; a `task` object must name its task. Task fields apply only to their
 *   task and are filled with defaults there; the table below mirrors `src/data`'s task registry (a test checks
 *   they agree): spirals `size` (training-pool size, 2000); teacher `inputs` 32, `classes` 10, `size` 10000;
 *   adding `length` 50 (time steps); copy `length` 50 (delay between the symbols and the cue); seq-mnist `mode`
 *   row|pixel (row).
 * - Sequence tasks (adding, copy, seq-mnist) need a recurrent model and the others an MLP; the mismatch is an
 *   error at `model.kind`. Without `model.kind` the kind follows the task: `lstm` for sequence tasks, else `mlp`.
 * - MLP `depth` is the number of hidden layers (the net has depth + 1 weight matrices); `depth` x `width` resolves
 *   to `hidden`. The default `init` follows the activation's family, the variance-preserving choice: he-normal for
 *   rectifiers (He et al. 2015), lecun-normal for selu (Klambauer et al. 2017), xavier-uniform otherwise (Glorot &
 *   Bengio 2010). PyTorch's nn.Linear default, U(+-1/sqrt(fan_in)), is not offered: it is variance 1/(3 fan_in),
 *   which shrinks the signal with depth for every activation.
 * - Recurrent `activation` is set only on kind rnn; lstm/gru resolve it to `tanh` (their candidate non-linearity)
 *   and rnn/gru resolve `forgetBias` to 0 (unused). On those kinds the two keys are accepted only at exactly those
 *   values, so that a run's `config.json` resolves to itself.
 * - Optimiser defaults are PyTorch's where PyTorch has one; learning rates: sgd 0.1, momentum/nesterov 0.01
 *   (momentum 0.9), adagrad 0.01, rmsprop 0.01, adam/adamw 0.001; adamw weightDecay 0.01.
 * - Schedule defaults scale with `train.steps`: step decays by 0.1 every ceil(steps / 3); exponential falls
 *   100-fold over the run; warm-up lasts 10% of the run; cosine ends at 0; plateau: factor 0.1, patience 10.
 * - `optimizer`, `schedule`, `clip` (and `task`) may be written as a bare name: `"optimizer": "adam"`.
 * - `null` is never a value: leave a key out to get its default.
 * - `seed` is an integer in [0, 2^32 - 1] (the generator is seeded from 32 bits).
 */
import { ACTIVATIONS, activationKernels, type ActivationName } from '../kernels/activations.js';
import { ConfigError, nearest, oneOf, showValue, type TextPosition } from './errors.js';
import type {
  BiasSpec,
  ClipConfig,
  ClipName,
  GuardMode,
  InitName,
  InitSpec,
  MlpModelConfig,
  ModelConfig,
  MonitorConfig,
  NormName,
  OptimizerConfig,
  OptimizerName,
  RecurrentKind,
  RecurrentModelConfig,
  ResolvedConfig,
  ScheduleConfig,
  ScheduleName,
  TaskConfig,
  TrainConfig,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Names

export const TASK_NAMES = ['spirals', 'xor', 'teacher', 'mnist', 'adding', 'copy', 'seq-mnist'] as const;
export type TaskName = (typeof TASK_NAMES)[number];
export const SEQ_MNIST_MODES = ['row', 'pixel'] as const;
export type SeqMnistMode = (typeof SEQ_MNIST_MODES)[number];
export const MODEL_KINDS = ['mlp', 'rnn', 'lstm', 'gru'] as const;
export const RECURRENT_KINDS: readonly RecurrentKind[] = ['rnn', 'lstm', 'gru'];
export const INIT_NAMES: readonly InitName[] = [
  'xavier-uniform',
  'xavier-normal',
  'he-uniform',
  'he-normal',
  'lecun-normal',
  'orthogonal',
  'identity',
  'zeros',
];
export const NORM_NAMES: readonly NormName[] = ['none', 'batch', 'layer'];
export const RNN_ACTIVATIONS: readonly ActivationName[] = ['tanh', 'relu', 'sigmoid'];
export const OPTIMIZER_NAMES: readonly OptimizerName[] = [
  'sgd',
  'momentum',
  'nesterov',
  'adagrad',
  'rmsprop',
  'adam',
  'adamw',
];
export const SCHEDULE_NAMES: readonly ScheduleName[] = [
  'constant',
  'step',
  'exponential',
  'cosine',
  'warmup-cosine',
  'plateau',
];
export const CLIP_NAMES: readonly ClipName[] = ['none', 'value', 'norm', 'param-norm', 'agc', 'autoclip'];
export const GUARD_MODES: readonly GuardMode[] = ['off', 'skip', 'rollback', 'stop'];

/** Spellings people bring from other libraries, mapped to ours (only ever used as suggestions). */
const ALIASES: Readonly<Record<string, string>> = {
  lr: 'learningRate',
  epochs: 'steps',
  iterations: 'steps',
  iters: 'steps',
  hiddenSize: 'hidden',
  numLayers: 'layers',
  epsilon: 'eps',
  beta: 'beta1',
  l2: 'weightDecay',
  glorot: 'xavier-uniform',
  'glorot-uniform': 'xavier-uniform',
  'glorot-normal': 'xavier-normal',
  kaiming: 'he-normal',
  he: 'he-normal',
  'kaiming-normal': 'he-normal',
  'kaiming-uniform': 'he-uniform',
  lecun: 'lecun-normal',
  eye: 'identity',
  bn: 'batch',
  ln: 'layer',
  logistic: 'sigmoid',
  identity: 'linear',
  lrelu: 'leaky-relu',
  sgdm: 'momentum',
  nag: 'nesterov',
  'clip-norm': 'norm',
  'global-norm': 'norm',
  'reduce-on-plateau': 'plateau',
};

/** True for the tasks whose examples are sequences (they need a recurrent model). */
export function isSequenceTask(name: string): boolean {
  return name === 'adding' || name === 'copy' || name === 'seq-mnist';
}

// ---------------------------------------------------------------------------------------------------------------
// The raw (user-written) config

export interface TaskInput {
  name: TaskName;
  inputs?: number;
  classes?: number;
  size?: number;
  length?: number;
  mode?: SeqMnistMode;
}

export interface MlpModelInput {
  kind?: 'mlp';
  depth?: number;
  width?: number;
  hidden?: number[];
  activation?: ActivationName;
  init?: InitSpec;
  bias?: BiasSpec;
  norm?: NormName;
  residual?: boolean;
  dropout?: number;
}

export interface RecurrentModelInput {
  kind?: RecurrentKind;
  hidden?: number;
  layers?: number;
  activation?: ActivationName;
  init?: InitSpec;
  recurrentInit?: InitSpec;
  bias?: BiasSpec;
  forgetBias?: number;
}

type Named<C extends { name: string }> = C['name'] | (Partial<Omit<C, 'name'>> & { name?: C['name'] });

/** What a user writes (CONTRACT.md "Config"): everything optional, defaults filled by `resolveConfig`. */
export interface Config {
  name?: string;
  seed?: number;
  task?: TaskName | TaskInput;
  model?: MlpModelInput | RecurrentModelInput;
  optimizer?: Named<OptimizerConfig>;
  schedule?: Named<ScheduleConfig>;
  clip?: Named<ClipConfig>;
  guard?: GuardMode;
  train?: Partial<TrainConfig>;
  monitor?: Partial<MonitorConfig>;
}

export interface ResolveOptions {
  /** The name when the config has none: the file's base name or the preset's name. */
  defaultName: string;
  /** Command-line values that replace the config's (`--steps`, `--seed`); validated like the config's. */
  overrides?: { steps?: number; seed?: number };
}

// ---------------------------------------------------------------------------------------------------------------
// Defaults

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = {
  steps: 1000,
  batchSize: 64,
  bptt: 0,
  checkpointEvery: 0,
  guardPatience: 10,
};
export const MONITOR_DEFAULTS: Readonly<MonitorConfig> = { every: 10, timesteps: true };
export const DEFAULT_GUARD: GuardMode = 'skip';
export const DEFAULT_OPTIMIZER: OptimizerName = 'sgd';
export const MLP_DEFAULTS = {
  depth: 4,
  width: 64,
  activation: 'relu',
  bias: 0,
  norm: 'none',
  residual: false,
  dropout: 0,
} as const;
export const RECURRENT_DEFAULTS = {
  hidden: 64,
  layers: 1,
  activation: 'tanh',
  init: 'xavier-uniform',
  recurrentInit: 'orthogonal',
  bias: 0,
  forgetBias: 1,
} as const;

/** The variance-preserving initialiser for an activation, by the family the activation declares. */
export function defaultInitFor(activation: ActivationName): InitName {
  if (activation === 'selu') return 'lecun-normal';
  return activationKernels[activation].family === 'rectifier' ? 'he-normal' : 'xavier-uniform';
}

type OptimizerOption = 'momentum' | 'beta1' | 'beta2' | 'decay' | 'eps' | 'weightDecay';
const OPTIMIZER_OPTIONS: readonly OptimizerOption[] = [
  'momentum',
  'beta1',
  'beta2',
  'decay',
  'eps',
  'weightDecay',
];
type OptimizerDefaults = { readonly learningRate: number } & { readonly [K in OptimizerOption]?: number };

/** Per optimiser: its default learning rate and the options it takes, with their defaults (PyTorch's). */
export const OPTIMIZER_DEFAULTS: { readonly [K in OptimizerName]: OptimizerDefaults } = {
  sgd: { learningRate: 0.1, weightDecay: 0 },
  momentum: { learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
  nesterov: { learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
  adagrad: { learningRate: 0.01, eps: 1e-10, weightDecay: 0 },
  rmsprop: { learningRate: 0.01, decay: 0.99, eps: 1e-8, weightDecay: 0 },
  adam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  adamw: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
};

const UNIT_INTERVAL_OPEN: NumberRule = { min: 0, max: 1, maxExclusive: true };
const OPTIMIZER_RULES: { readonly [K in OptimizerOption]: NumberRule } = {
  momentum: UNIT_INTERVAL_OPEN,
  beta1: UNIT_INTERVAL_OPEN,
  beta2: UNIT_INTERVAL_OPEN,
  decay: UNIT_INTERVAL_OPEN,
  eps: { min: 0, minExclusive: true },
  weightDecay: { min: 0 },
};

type ScheduleOption = 'stepSize' | 'gamma' | 'warmupSteps' | 'minFactor' | 'factor' | 'patience';
interface ScheduleField {
  rule: (steps: number) => NumberRule;
  fallback: (steps: number) => number;
}
const SCHEDULE_FIELDS: { readonly [K in ScheduleOption]: ScheduleField } = {
  stepSize: { rule: () => ({ integer: true, min: 1 }), fallback: (steps) => Math.ceil(steps / 3) },
  gamma: { rule: () => ({ min: 0, minExclusive: true }), fallback: () => 0.1 },
  warmupSteps: {
    rule: (steps) => ({ integer: true, min: 0, max: steps, about: `at most train.steps = ${steps}` }),
    fallback: (steps) => Math.round(steps / 10),
  },
  minFactor: { rule: () => ({ min: 0, max: 1 }), fallback: () => 0 },
  factor: { rule: () => ({ min: 0, max: 1, minExclusive: true, maxExclusive: true }), fallback: () => 0.1 },
  patience: { rule: () => ({ integer: true, min: 0, about: 'logged steps' }), fallback: () => 10 },
};
const SCHEDULE_OPTIONS: { readonly [K in ScheduleName]: readonly ScheduleOption[] } = {
  constant: [],
  step: ['stepSize', 'gamma'],
  exponential: ['gamma'],
  cosine: ['minFactor'],
  'warmup-cosine': ['warmupSteps', 'minFactor'],
  plateau: ['factor', 'patience'],
};
/** exponential: lr * gamma^steps = lr / 100 at the end of the run. */
const exponentialGamma = (steps: number): number => Number((0.01 ** (1 / steps)).toPrecision(6));

type ClipOption = 'max' | 'factor' | 'eps' | 'percentile';
const CLIP_FIELDS: { readonly [K in ClipOption]: { rule: NumberRule; fallback?: number } } = {
  max: { rule: { min: 0, minExclusive: true } },
  factor: { rule: { min: 0, minExclusive: true }, fallback: 0.01 },
  eps: { rule: { min: 0, minExclusive: true }, fallback: 1e-3 },
  percentile: { rule: { min: 0, max: 100, minExclusive: true }, fallback: 10 },
};
const CLIP_OPTIONS: { readonly [K in ClipName]: readonly ClipOption[] } = {
  none: [],
  value: ['max'],
  norm: ['max'],
  'param-norm': ['max'],
  agc: ['factor', 'eps'],
  autoclip: ['percentile'],
};

export type TaskNumberField = 'inputs' | 'classes' | 'size' | 'length';
/** The fields a task takes: integer fields with their minimum and default, and seq-mnist's default mode. */
export interface TaskSpec {
  readonly numbers: { readonly [K in TaskNumberField]?: { readonly min: number; readonly fallback: number } };
  readonly mode?: SeqMnistMode;
}
/** The fields each task takes, with their defaults (mirrors `src/data`'s registry; a test checks they agree). */
export const TASK_SPECS: { readonly [K in TaskName]: TaskSpec } = {
  spirals: { numbers: { size: { min: 2, fallback: 2000 } } },
  xor: { numbers: {} },
  teacher: {
    numbers: {
      inputs: { min: 1, fallback: 32 },
      classes: { min: 2, fallback: 10 },
      size: { min: 1, fallback: 10000 },
    },
  },
  mnist: { numbers: {} },
  adding: { numbers: { length: { min: 2, fallback: 50 } } },
  copy: { numbers: { length: { min: 1, fallback: 50 } } },
  'seq-mnist': { numbers: {}, mode: 'row' },
};
const TASK_NUMBER_FIELDS: readonly TaskNumberField[] = ['inputs', 'classes', 'size', 'length'];

const SEED_RULE: NumberRule = { integer: true, min: 0, max: 2 ** 32 - 1 };
const STEPS_RULE: NumberRule = { integer: true, min: 1 };

// ---------------------------------------------------------------------------------------------------------------
// Resolution

/**
 * Validate a parsed config against the contract and fill every default.
 *
 * @example
 * resolveConfig({ model: { depth: 2, width: 8 } }, { defaultName: 'tiny' }).model;
 * // { kind: 'mlp', hidden: [8, 8], activation: 'relu', init: 'he-normal', bias: 0, norm: 'none', ... }
 */
export function resolveConfig(raw: unknown, options: ResolveOptions): ResolvedConfig {
  const root = expectObject(raw, '', 'a JSON object with the keys name|seed|task|model|...');
  checkKeys(root, '', [
    'name',
    'seed',
    'task',
    'model',
    'optimizer',
    'schedule',
    'clip',
    'guard',
    'train',
    'monitor',
  ]);
  const name = optional(root, 'name', '', toRunName(options.defaultName), readRunName);
  let seed = optional(root, 'seed', '', 0, (value, path) => readNumber(value, path, SEED_RULE));
  const task = resolveTask(field(root, 'task'));
  const model = resolveModel(field(root, 'model'), task);
  const optimizer = resolveOptimizer(field(root, 'optimizer'));
  const train = resolveTrain(field(root, 'train'), model);

  const overrides = options.overrides ?? {};
  if (overrides.steps !== undefined) train.steps = readNumber(overrides.steps, '--steps', STEPS_RULE);
  if (overrides.seed !== undefined) seed = readNumber(overrides.seed, '--seed', SEED_RULE);

  const schedule = resolveSchedule(field(root, 'schedule'), train.steps);
  const clip = resolveClip(field(root, 'clip'));
  const guard = optional(root, 'guard', '', DEFAULT_GUARD, (value, path) =>
    readName(value, path, GUARD_MODES),
  );
  const monitor = resolveMonitor(field(root, 'monitor'));
  return { name, seed, task, model, optimizer, schedule, clip, guard, train, monitor };
}

/** A run's name names its directory, so it is a name and never a path (CONTRACT: letters, digits, `.`, `_`, `-`). */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
export const RUN_NAME_ACCEPTED = '1 to 100 letters, digits, ".", "_" or "-", not "." or ".."';

/** Whether `value` is a valid run name (the one rule; the lab and `fix` name their runs with it too). */
export function isRunName(value: string): boolean {
  return RUN_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

/** A default name (a file's base name, say) made a valid run name: other characters become "-". */
export function toRunName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 100);
  return isRunName(name) ? name : 'run';
}

function readRunName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !isRunName(value)) {
    throw new ConfigError({
      code: 'invalid_value',
      path,
      value,
      accepted: RUN_NAME_ACCEPTED,
      hint: 'a run name becomes a directory name; choose the output folder with --out',
    });
  }
  return value;
}

function resolveTask(raw: unknown): TaskConfig {
  const task =
    raw === undefined ? { name: 'spirals' } : asNamed(raw, 'task', 'a task name or {"name": <task>, ...}');
  if (!Object.hasOwn(task, 'name')) {
    throw new ConfigError({
      code: 'missing',
      path: 'task.name',
      value: undefined,
      accepted: oneOf(TASK_NAMES),
    });
  }
  const name = readName(task['name'], 'task.name', TASK_NAMES);
  const spec = TASK_SPECS[name];
  const keys = ['name', ...TASK_NUMBER_FIELDS.filter((key) => spec.numbers[key] !== undefined)];
  if (spec.mode !== undefined) keys.push('mode');
  const elsewhere: Record<string, string> = {};
  for (const key of [...TASK_NUMBER_FIELDS, 'mode'] as const) {
    const owners = TASK_NAMES.filter((other) =>
      key === 'mode' ? TASK_SPECS[other].mode !== undefined : TASK_SPECS[other].numbers[key] !== undefined,
    );
    elsewhere[key] = `task ${owners.join('|')}`;
  }
  checkKeys(task, 'task', keys, elsewhere, `task ${JSON.stringify(name)}`);

  const resolved: TaskConfig = { name };
  for (const key of TASK_NUMBER_FIELDS) {
    const numberSpec = spec.numbers[key];
    if (numberSpec === undefined) continue;
    resolved[key] = optional(task, key, 'task', numberSpec.fallback, (value, path) =>
      readNumber(value, path, { integer: true, min: numberSpec.min }),
    );
  }
  if (spec.mode !== undefined) {
    resolved.mode = optional(task, 'mode', 'task', spec.mode, (value, path) =>
      readName(value, path, SEQ_MNIST_MODES, '"row": 28 steps of 28 pixels; "pixel": 784 steps of 1'),
    );
  }
  return resolved;
}

function resolveModel(raw: unknown, task: TaskConfig): ModelConfig {
  const model = raw === undefined ? {} : expectObject(raw, 'model', 'an object like {"kind": "mlp", ...}');
  const sequence = isSequenceTask(task.name);
  const fallbackKind = sequence ? 'lstm' : 'mlp';
  const kind = optional(model, 'kind', 'model', fallbackKind, (value, path) =>
    readName(value, path, MODEL_KINDS),
  );
  if (sequence !== (kind !== 'mlp')) {
    throw new ConfigError({
      code: 'conflict',
      path: 'model.kind',
      value: kind,
      accepted: sequence ? oneOf(RECURRENT_KINDS) : oneOf(['mlp']),
      problem: `${showValue(kind)} does not fit task ${showValue(task.name)}`,
      hint: sequence
        ? `${task.name} is a sequence task, which needs a recurrent model`
        : `${task.name} is not a sequence task; the sequence tasks are adding|copy|seq-mnist`,
    });
  }
  return kind === 'mlp' ? resolveMlp(model) : resolveRecurrent(model, kind);
}

const MLP_KEYS = [
  'kind',
  'depth',
  'width',
  'hidden',
  'activation',
  'init',
  'bias',
  'norm',
  'residual',
  'dropout',
];
/**
 * Recurrent models take the same keys; `activation` (kind rnn only) and `forgetBias` (kind lstm only) are accepted
 * on the other kinds solely at their resolved values, tanh and 0, so that a run's `config.json` resolves again.
 */
const RECURRENT_KEYS = [
  'kind',
  'hidden',
  'layers',
  'activation',
  'init',
  'recurrentInit',
  'bias',
  'forgetBias',
];
const MODEL_KEY_OWNERS: Readonly<Record<string, string>> = {
  depth: 'model kind mlp (a recurrent model stacks "layers")',
  width: 'model kind mlp (a recurrent model\'s width is "hidden")',
  norm: 'model kind mlp',
  residual: 'model kind mlp',
  dropout: 'model kind mlp',
  layers: 'recurrent models, kind rnn|lstm|gru (an MLP stacks "depth" hidden layers)',
  recurrentInit: 'recurrent models, kind rnn|lstm|gru',
  forgetBias: 'model kind lstm',
  activation: 'model kind mlp|rnn (lstm and gru cells have fixed sigmoid gates and tanh)',
};
const DEPTH_RULE: NumberRule = { integer: true, min: 1, max: 1000 };
const WIDTH_RULE: NumberRule = { integer: true, min: 1 };

function resolveMlp(model: Record<string, unknown>): MlpModelConfig {
  checkKeys(model, 'model', MLP_KEYS, MODEL_KEY_OWNERS, 'model kind "mlp"');
  const depth = optional(model, 'depth', 'model', undefined, (value, path) =>
    readNumber(value, path, DEPTH_RULE),
  );
  const width = optional(model, 'width', 'model', undefined, (value, path) =>
    readNumber(value, path, WIDTH_RULE),
  );
  let hidden: number[];
  const rawHidden = field(model, 'hidden');
  if (rawHidden === undefined) {
    hidden = new Array<number>(depth ?? MLP_DEFAULTS.depth).fill(width ?? MLP_DEFAULTS.width);
  } else {
    hidden = readWidths(rawHidden, 'model.hidden');
    const disagreements = [
      depth !== undefined && depth !== hidden.length ? `depth ${depth}` : undefined,
      width !== undefined && hidden.some((size) => size !== width) ? `width ${width}` : undefined,
    ].filter((part): part is string => part !== undefined);
    if (disagreements.length > 0) {
      throw new ConfigError({
        code: 'conflict',
        path: 'model.hidden',
        value: rawHidden,
        accepted: `${depth ?? hidden.length} widths, each ${width ?? 'an integer >= 1'}, to agree with depth and width`,
        problem: `${showValue(rawHidden)} disagrees with ${disagreements.join(' and ')}`,
        hint: 'give either "hidden" or "depth" and "width"',
      });
    }
  }
  const activation = optional(model, 'activation', 'model', MLP_DEFAULTS.activation, readActivation);
  const init = optional(model, 'init', 'model', defaultInitFor(activation), readInit);
  const bias = optional(model, 'bias', 'model', MLP_DEFAULTS.bias, readBias);
  const norm = optional(model, 'norm', 'model', MLP_DEFAULTS.norm, (value, path) =>
    readName(value, path, NORM_NAMES),
  );
  const residual = optional(model, 'residual', 'model', MLP_DEFAULTS.residual, readBoolean);
  if (residual && !hidden.every((size) => size === hidden[0])) {
    throw new ConfigError({
      code: 'conflict',
      path: 'model.residual',
      value: true,
      accepted: 'false, or hidden layers of one width',
      problem: `residual connections need equal hidden widths, got ${showValue(hidden)}`,
      hint: 'each block adds its input to its output',
    });
  }
  const dropout = optional(model, 'dropout', 'model', MLP_DEFAULTS.dropout, (value, path) =>
    readNumber(value, path, { min: 0, max: 1, maxExclusive: true, about: 'the fraction of units dropped' }),
  );
  return { kind: 'mlp', hidden, activation, init, bias, norm, residual, dropout };
}

function readWidths(value: unknown, path: string): number[] {
  const accepted = 'a non-empty array of integers >= 1 (hidden widths from the input side), e.g. [64, 64]';
  if (!Array.isArray(value)) {
    throw invalid(
      path,
      value,
      accepted,
      typeof value === 'number' ? 'for a uniform stack write "depth" and "width"' : undefined,
    );
  }
  if (value.length === 0 || value.length > (DEPTH_RULE.max ?? Infinity)) {
    throw invalid(path, value, `${accepted}, at most ${DEPTH_RULE.max} of them`);
  }
  return value.map((entry: unknown, index) => readNumber(entry, `${path}.${index}`, WIDTH_RULE));
}

function resolveRecurrent(model: Record<string, unknown>, kind: RecurrentKind): RecurrentModelConfig {
  checkKeys(model, 'model', RECURRENT_KEYS, MODEL_KEY_OWNERS, `model kind ${JSON.stringify(kind)}`);
  const hidden = optional(model, 'hidden', 'model', RECURRENT_DEFAULTS.hidden, (value, path) => {
    if (Array.isArray(value)) {
      throw invalid(
        path,
        value,
        'an integer >= 1',
        'a recurrent model has one width; stack cells with "layers"',
      );
    }
    return readNumber(value, path, WIDTH_RULE);
  });
  const layers = optional(model, 'layers', 'model', RECURRENT_DEFAULTS.layers, (value, path) =>
    readNumber(value, path, { integer: true, min: 1, max: 100 }),
  );
  const activation =
    kind === 'rnn'
      ? optional(model, 'activation', 'model', RECURRENT_DEFAULTS.activation, (value, path) =>
          readName(value, path, RNN_ACTIVATIONS),
        )
      : fixedValue(model, 'activation', RECURRENT_DEFAULTS.activation, kind);
  const init = optional(model, 'init', 'model', RECURRENT_DEFAULTS.init, readInit);
  const recurrentInit = optional(model, 'recurrentInit', 'model', RECURRENT_DEFAULTS.recurrentInit, readInit);
  const bias = optional(model, 'bias', 'model', RECURRENT_DEFAULTS.bias, readBias);
  const forgetBias =
    kind === 'lstm'
      ? optional(model, 'forgetBias', 'model', RECURRENT_DEFAULTS.forgetBias, (value, path) =>
          readNumber(value, path, {}),
        )
      : fixedValue(model, 'forgetBias', 0, kind);
  return { kind, hidden, layers, activation, init, recurrentInit, bias, forgetBias };
}

/** A key that belongs to another kind, accepted here only at the value the resolved form gives it. */
function fixedValue<T>(model: Record<string, unknown>, key: string, fixed: T, kind: RecurrentKind): T {
  if (!Object.hasOwn(model, key) || model[key] === fixed) return fixed;
  throw new ConfigError({
    code: 'not_applicable',
    path: `model.${key}`,
    value: model[key],
    accepted: `${showValue(fixed)} (its fixed value for kind ${kind}) or no ${JSON.stringify(key)} at all`,
    problem: `key ${JSON.stringify(key)} applies only to ${MODEL_KEY_OWNERS[key] ?? 'other kinds'}, not to model kind ${JSON.stringify(kind)}`,
  });
}

function readActivation(value: unknown, path: string): ActivationName {
  return readName(value, path, ACTIVATIONS);
}

const INIT_FORMS = ['normal', 'uniform', 'gain', 'base'];
const INIT_ACCEPTED = `${oneOf(INIT_NAMES)}, or {"normal": std}, {"uniform": limit} or {"gain": g, "base": <name>}`;

function readInit(value: unknown, path: string): InitSpec {
  if (typeof value === 'string') {
    const name = INIT_NAMES.find((candidate) => candidate === value);
    if (name !== undefined) return name;
    throw invalid(path, value, INIT_ACCEPTED, undefined, nearest(value, INIT_NAMES, ALIASES));
  }
  if (!isRecord(value)) throw invalid(path, value, INIT_ACCEPTED);
  checkKeys(value, path, INIT_FORMS);
  const keys = Object.keys(value);
  const positive: NumberRule = { min: 0, minExclusive: true };
  if (keys.length === 1 && keys[0] === 'normal')
    return { normal: readNumber(value['normal'], `${path}.normal`, positive) };
  if (keys.length === 1 && keys[0] === 'uniform') {
    return { uniform: readNumber(value['uniform'], `${path}.uniform`, positive) };
  }
  if (keys.includes('gain') && keys.includes('base') && keys.length === 2) {
    const gain = readNumber(value['gain'], `${path}.gain`, positive);
    const bases = INIT_NAMES.filter((name) => name !== 'zeros');
    const base = readName(value['base'], `${path}.base`, bases);
    return { gain, base };
  }
  if (keys.length === 1 && (keys[0] === 'gain' || keys[0] === 'base')) {
    const other = keys[0] === 'gain' ? 'base' : 'gain';
    throw new ConfigError({
      code: 'missing',
      path: `${path}.${other}`,
      value: undefined,
      accepted: other === 'base' ? oneOf(INIT_NAMES.filter((name) => name !== 'zeros')) : 'a number > 0',
      hint: '{"gain": g, "base": <name>} multiplies the base\'s standard deviation by g',
    });
  }
  throw invalid(path, value, INIT_ACCEPTED, 'give exactly one of these forms');
}

function readBias(value: unknown, path: string): BiasSpec {
  const accepted = 'a finite number, or {"normal": std} with std > 0';
  if (typeof value === 'number')
    return readNumber(value, path, { about: 'the constant every bias starts at' });
  if (!isRecord(value)) throw invalid(path, value, accepted, numericStringHint(value));
  checkKeys(value, path, ['normal']);
  if (!Object.hasOwn(value, 'normal')) throw invalid(path, value, accepted);
  return { normal: readNumber(value['normal'], `${path}.normal`, { min: 0, minExclusive: true }) };
}

function resolveOptimizer(raw: unknown): OptimizerConfig {
  const optimizer =
    raw === undefined ? {} : asNamed(raw, 'optimizer', 'an optimiser name or {"name": <optimiser>, ...}');
  const name = optional(optimizer, 'name', 'optimizer', DEFAULT_OPTIMIZER, (value, path) =>
    readName(value, path, OPTIMIZER_NAMES),
  );
  const defaults = OPTIMIZER_DEFAULTS[name];
  const options = OPTIMIZER_OPTIONS.filter((option) => defaults[option] !== undefined);
  const elsewhere: Record<string, string> = {};
  for (const option of OPTIMIZER_OPTIONS) {
    elsewhere[option] =
      `optimizer ${OPTIMIZER_NAMES.filter((other) => OPTIMIZER_DEFAULTS[other][option] !== undefined).join('|')}`;
  }
  checkKeys(
    optimizer,
    'optimizer',
    ['name', 'learningRate', ...options],
    elsewhere,
    `optimizer ${JSON.stringify(name)}`,
  );
  const learningRate = optional(
    optimizer,
    'learningRate',
    'optimizer',
    defaults.learningRate,
    (value, path) => readNumber(value, path, { min: 0, minExclusive: true }),
  );
  const resolved: OptimizerConfig = { name, learningRate };
  for (const option of options) {
    resolved[option] = optional(optimizer, option, 'optimizer', defaults[option] ?? 0, (value, path) =>
      readNumber(value, path, OPTIMIZER_RULES[option]),
    );
  }
  return resolved;
}

function resolveSchedule(raw: unknown, steps: number): ScheduleConfig {
  const schedule =
    raw === undefined ? {} : asNamed(raw, 'schedule', 'a schedule name or {"name": <schedule>, ...}');
  const name = optional(schedule, 'name', 'schedule', 'constant', (value, path) =>
    readName(value, path, SCHEDULE_NAMES),
  );
  const options = SCHEDULE_OPTIONS[name];
  checkKeys(
    schedule,
    'schedule',
    ['name', ...options],
    ownersOf(SCHEDULE_OPTIONS, 'schedule'),
    `schedule ${JSON.stringify(name)}`,
  );
  const resolved: ScheduleConfig = { name };
  for (const option of options) {
    const spec = SCHEDULE_FIELDS[option];
    const fallback =
      name === 'exponential' && option === 'gamma' ? exponentialGamma(steps) : spec.fallback(steps);
    resolved[option] = optional(schedule, option, 'schedule', fallback, (value, path) =>
      readNumber(value, path, spec.rule(steps)),
    );
  }
  return resolved;
}

function resolveClip(raw: unknown): ClipConfig {
  const clip = raw === undefined ? {} : asNamed(raw, 'clip', 'a clipping name or {"name": <clipping>, ...}');
  const name = optional(clip, 'name', 'clip', 'none', (value, path) => readName(value, path, CLIP_NAMES));
  const options = CLIP_OPTIONS[name];
  checkKeys(
    clip,
    'clip',
    ['name', ...options],
    ownersOf(CLIP_OPTIONS, 'clip'),
    `clip ${JSON.stringify(name)}`,
  );
  const resolved: ClipConfig = { name };
  for (const option of options) {
    const spec = CLIP_FIELDS[option];
    const read = (value: unknown, path: string): number => readNumber(value, path, spec.rule);
    if (spec.fallback === undefined && !Object.hasOwn(clip, option)) {
      throw new ConfigError({
        code: 'missing',
        path: `clip.${option}`,
        value: undefined,
        accepted: describeNumber(spec.rule),
        hint: `clip ${JSON.stringify(name)} needs it, e.g. {"name": ${JSON.stringify(name)}, "${option}": 1}`,
      });
    }
    resolved[option] = optional(clip, option, 'clip', spec.fallback ?? 0, read);
  }
  return resolved;
}

function resolveTrain(raw: unknown, model: ModelConfig): TrainConfig {
  const train = raw === undefined ? {} : expectObject(raw, 'train', 'an object like {"steps": 1000}');
  checkKeys(train, 'train', ['steps', 'batchSize', 'bptt', 'checkpointEvery', 'guardPatience']);
  const steps = optional(train, 'steps', 'train', TRAIN_DEFAULTS.steps, (value, path) =>
    readNumber(value, path, STEPS_RULE),
  );
  const minBatch = model.kind === 'mlp' && model.norm === 'batch' ? 2 : 1;
  const batchSize = optional(train, 'batchSize', 'train', TRAIN_DEFAULTS.batchSize, (value, path) =>
    readNumber(value, path, {
      integer: true,
      min: minBatch,
      ...(minBatch > 1 ? { about: 'batch norm needs 2 or more examples per batch' } : {}),
    }),
  );
  const bptt = optional(train, 'bptt', 'train', TRAIN_DEFAULTS.bptt, (value, path) =>
    readNumber(value, path, { integer: true, min: 0, about: 'truncation length in time steps, 0 = full' }),
  );
  if (bptt > 0 && model.kind === 'mlp') {
    throw new ConfigError({
      code: 'not_applicable',
      path: 'train.bptt',
      value: bptt,
      accepted: '0 (or leave it out) for an MLP',
      problem: 'truncated back-propagation through time applies only to recurrent models',
    });
  }
  const checkpointEvery = optional(
    train,
    'checkpointEvery',
    'train',
    TRAIN_DEFAULTS.checkpointEvery,
    (value, path) =>
      readNumber(value, path, {
        integer: true,
        min: 0,
        about: 'steps between checkpoints, 0 = only at the end',
      }),
  );
  const guardPatience = optional(
    train,
    'guardPatience',
    'train',
    TRAIN_DEFAULTS.guardPatience,
    (value, path) =>
      readNumber(value, path, {
        integer: true,
        min: 1,
        about: 'consecutive guarded steps before the run stops',
      }),
  );
  return { steps, batchSize, bptt, checkpointEvery, guardPatience };
}

function resolveMonitor(raw: unknown): MonitorConfig {
  const monitor = raw === undefined ? {} : expectObject(raw, 'monitor', 'an object like {"every": 10}');
  checkKeys(monitor, 'monitor', ['every', 'timesteps']);
  const every = optional(monitor, 'every', 'monitor', MONITOR_DEFAULTS.every, (value, path) =>
    readNumber(value, path, { integer: true, min: 1, about: 'log period in steps' }),
  );
  const timesteps = optional(monitor, 'timesteps', 'monitor', MONITOR_DEFAULTS.timesteps, readBoolean);
  return { every, timesteps };
}

// ---------------------------------------------------------------------------------------------------------------
// Readers: each checks one value and throws a ConfigError naming its path

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** What the number means, appended to the accepted range. */
  about?: string;
}

function describeNumber(rule: NumberRule): string {
  const noun = rule.integer === true ? 'an integer' : 'a number';
  let text: string;
  if (rule.min !== undefined && rule.max !== undefined) {
    text = `${noun} in ${rule.minExclusive === true ? '(' : '['}${rule.min}, ${rule.max}${rule.maxExclusive === true ? ')' : ']'}`;
  } else if (rule.min !== undefined) {
    text = `${noun} ${rule.minExclusive === true ? '>' : '>='} ${rule.min}`;
  } else if (rule.max !== undefined) {
    text = `${noun} ${rule.maxExclusive === true ? '<' : '<='} ${rule.max}`;
  } else {
    text = rule.integer === true ? 'an integer' : 'a finite number';
  }
  return rule.about === undefined ? text : `${text} (${rule.about})`;
}

function readNumber(value: unknown, path: string, rule: NumberRule): number {
  const accepted = describeNumber(rule);
  if (typeof value !== 'number') throw invalid(path, value, accepted, numericStringHint(value));
  if (!Number.isFinite(value)) throw invalid(path, value, accepted, 'NaN and infinities are not accepted');
  const fails =
    (rule.integer === true && !Number.isSafeInteger(value)) ||
    (rule.min !== undefined && (rule.minExclusive === true ? value <= rule.min : value < rule.min)) ||
    (rule.max !== undefined && (rule.maxExclusive === true ? value >= rule.max : value > rule.max));
  if (fails) throw invalid(path, value, accepted);
  return value;
}

function numericStringHint(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return `write the number without quotes: ${Number(value)}`;
  }
  return undefined;
}

function readBoolean(value: unknown, path: string): boolean {
  if (typeof value === 'boolean') return value;
  const hint = value === 'true' || value === 'false' ? `write ${value} without quotes` : undefined;
  throw invalid(path, value, 'true or false', hint);
}

function readName<T extends string>(value: unknown, path: string, names: readonly T[], about?: string): T {
  const found = names.find((name) => name === value);
  if (found !== undefined) return found;
  const suggestion = typeof value === 'string' ? nearest(value, names, ALIASES) : undefined;
  throw invalid(path, value, oneOf(names), about, suggestion);
}

function invalid(
  path: string,
  value: unknown,
  accepted: string,
  hint?: string,
  suggestion?: string,
): ConfigError {
  return new ConfigError({
    code: 'invalid_value',
    path,
    value,
    accepted,
    ...(hint !== undefined ? { hint } : {}),
    ...(suggestion !== undefined ? { suggestion } : {}),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function field(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function expectObject(value: unknown, path: string, accepted: string): Record<string, unknown> {
  if (!isRecord(value)) throw invalid(path, value, accepted);
  return value;
}

/** `"adam"` is short for `{"name": "adam"}`. */
function asNamed(value: unknown, path: string, accepted: string): Record<string, unknown> {
  if (typeof value === 'string') return { name: value };
  return expectObject(value, path, accepted);
}

/**
 * Read an optional field: its default when absent, `read`'s result otherwise. `null` is not "absent": it is an
 * error that says to leave the key out.
 */
function optional<T>(
  object: Record<string, unknown>,
  key: string,
  parent: string,
  fallback: T,
  read: (value: unknown, path: string) => T,
): T {
  const path = join(parent, key);
  if (!Object.hasOwn(object, key) || object[key] === undefined) return fallback;
  const value = object[key];
  if (value === null) {
    try {
      read(value, path);
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError({
          code: 'invalid_value',
          path,
          value,
          accepted: error.accepted,
          hint:
            fallback === undefined
              ? `leave "${key}" out`
              : `leave "${key}" out to use the default ${showValue(fallback)}`,
        });
      }
      throw error;
    }
  }
  return read(value, path);
}

/** Which names of a table take each option: `{ gamma: 'schedule step|exponential', ... }`. */
function ownersOf<N extends string, O extends string>(
  table: { readonly [K in N]: readonly O[] },
  label: string,
): Record<string, string> {
  const owners: Record<string, string> = {};
  for (const [name, options] of Object.entries(table) as [N, readonly O[]][]) {
    for (const option of options)
      owners[option] = owners[option] === undefined ? `${label} ${name}` : `${owners[option]}|${name}`;
  }
  return owners;
}

/**
 * Every key of `object` must be in `allowed`. A key that belongs to another kind (listed in `elsewhere` with where
 * it applies) is `not_applicable`; any other is `unknown_key` with the nearest allowed spelling.
 */
function checkKeys(
  object: Record<string, unknown>,
  path: string,
  allowed: readonly string[],
  elsewhere: Readonly<Record<string, string>> = {},
  context = '',
): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const owner = Object.hasOwn(elsewhere, key) ? elsewhere[key] : undefined;
    if (owner !== undefined) {
      throw new ConfigError({
        code: 'not_applicable',
        path: join(path, key),
        value: key,
        accepted: `a key of ${context}: ${allowed.join('|')}`,
        problem: `key ${JSON.stringify(key)} applies only to ${owner}, not to ${context}`,
      });
    }
    const suggestion = nearest(key, allowed, ALIASES);
    throw new ConfigError({
      code: 'unknown_key',
      path: join(path, key),
      value: key,
      accepted: oneOf(allowed),
      ...(suggestion !== undefined ? { suggestion } : {}),
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON text

/**
 * Parse a config file's text. Strict JSON (RFC 8259) plus one more rule: a key may appear only once in an object
 * (JSON.parse would silently keep the last). A failure is a ConfigError whose path is `file:line:column`.
 *
 * @example
 * parseConfigText('{"seed": 1,}', 'run.json');
 * // throws ConfigError: run.json:1:12: unexpected "}"; expected a property name in double quotes; JSON does not allow a trailing comma
 */
export function parseConfigText(text: string, path: string): unknown {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const failure = scanJson(source);
  if (failure !== undefined) {
    const position = positionOf(source, failure.offset);
    throw new ConfigError({
      code: 'invalid_json',
      path: `${path}:${position.line}:${position.column}`,
      value: failure.found,
      accepted: failure.expected,
      problem: failure.problem,
      ...(failure.hint !== undefined ? { hint: failure.hint } : {}),
      position,
    });
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    // The scanner accepts exactly JSON; this is only reached if it and the engine ever disagree.
    throw new ConfigError({
      code: 'invalid_json',
      path,
      value: source.slice(0, 20),
      accepted: 'a JSON value',
      problem: error instanceof Error ? error.message : String(error),
    });
  }
}

function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1, offset };
}

interface ScanFailure {
  offset: number;
  found: string;
  problem: string;
  expected: string;
  hint?: string;
}

class ScanError extends Error {
  constructor(readonly failure: ScanFailure) {
    super(failure.problem);
  }
}

const MAX_NESTING = 512;

/** Where `text` first stops being JSON, or undefined if it is JSON with no repeated key. */
function scanJson(text: string): ScanFailure | undefined {
  let pos = 0;

  const describe = (at: number): string => (at >= text.length ? 'end of input' : JSON.stringify(text[at]));
  const fail = (expected: string, hint?: string, problem?: string): never => {
    const found = pos >= text.length ? '' : (text[pos] as string);
    throw new ScanError({
      offset: pos,
      found,
      problem: problem ?? `unexpected ${describe(pos)}`,
      expected,
      ...(hint !== undefined ? { hint } : {}),
    });
  };

  const whitespace = (): void => {
    for (;;) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') pos++;
      else if (c === '/' && (text[pos + 1] === '/' || text[pos + 1] === '*')) {
        fail('a JSON value or punctuation', 'JSON does not allow comments', 'unexpected comment');
      } else return;
    }
  };

  const valueHint = (): string | undefined => {
    const c = text[pos];
    if (c === "'") return 'JSON strings use double quotes';
    if (c === '+') return 'JSON numbers have no leading +';
    if (c === '.') return 'JSON numbers need a digit before the point: 0.5';
    if (text.startsWith('NaN', pos) || text.startsWith('Infinity', pos)) return 'JSON has no NaN or Infinity';
    if (c !== undefined && /[A-Za-z_]/.test(c)) return 'strings must be in double quotes';
    return undefined;
  };

  const string = (): string => {
    const start = pos;
    pos++; // opening quote
    for (;;) {
      if (pos >= text.length) {
        pos = start;
        fail('a closing double quote', undefined, 'a string that never ends');
      }
      const code = text.charCodeAt(pos);
      if (code === 0x22) {
        pos++;
        return JSON.parse(text.slice(start, pos)) as string;
      }
      if (code < 0x20)
        fail('a character or an escape such as \\n', 'control characters must be escaped inside strings');
      if (code === 0x5c) {
        const next = text[pos + 1];
        if (next !== undefined && '"\\/bfnrt'.includes(next)) pos += 2;
        else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) pos += 6;
        else fail('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX', undefined, 'a bad escape');
      } else pos++;
    }
  };

  const digits = (): void => {
    if (!/[0-9]/.test(text[pos] ?? '')) fail('a digit');
    while (/[0-9]/.test(text[pos] ?? '')) pos++;
  };

  const number = (): void => {
    if (text[pos] === '-') pos++;
    if (text[pos] === '0') {
      pos++;
      if (/[0-9]/.test(text[pos] ?? ''))
        fail('".", "e" or the end of the number', 'JSON numbers have no leading zeros');
    } else digits();
    if (text[pos] === '.') {
      pos++;
      digits();
    }
    if (text[pos] === 'e' || text[pos] === 'E') {
      pos++;
      if (text[pos] === '+' || text[pos] === '-') pos++;
      digits();
    }
  };

  const value = (depth: number): void => {
    if (depth > MAX_NESTING) fail('a value', undefined, `nesting deeper than ${MAX_NESTING} levels`);
    whitespace();
    const c = text[pos];
    if (c === '{') object(depth);
    else if (c === '[') array(depth);
    else if (c === '"') string();
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else if (text.startsWith('true', pos)) pos += 4;
    else if (text.startsWith('false', pos)) pos += 5;
    else if (text.startsWith('null', pos)) pos += 4;
    else fail('a JSON value (object, array, string, number, true, false or null)', valueHint());
  };

  const object = (depth: number): void => {
    pos++;
    const seen = new Set<string>();
    whitespace();
    if (text[pos] === '}') {
      pos++;
      return;
    }
    for (;;) {
      whitespace();
      if (text[pos] !== '"') {
        const trailing = text[pos] === '}' ? 'JSON does not allow a trailing comma' : valueHint();
        fail('a property name in double quotes', trailing);
      }
      const keyStart = pos;
      const key = string();
      if (seen.has(key)) {
        pos = keyStart;
        fail('each key once per object', undefined, `duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      whitespace();
      if (text[pos] !== ':') fail('":" after the property name');
      pos++;
      value(depth + 1);
      whitespace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return;
      }
      fail('"," or "}"', text[pos] === '"' ? 'a comma is missing between properties' : undefined);
    }
  };

  const array = (depth: number): void => {
    pos++;
    whitespace();
    if (text[pos] === ']') {
      pos++;
      return;
    }
    for (;;) {
      whitespace();
      if (text[pos] === ']') fail('a JSON value', 'JSON does not allow a trailing comma');
      value(depth + 1);
      whitespace();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return;
      }
      fail('"," or "]"');
    }
  };

  try {
    value(0);
    whitespace();
    if (pos < text.length) fail('the end of the input after the JSON value', 'a file holds one JSON value');
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return error.failure;
    throw error;
  }
}
