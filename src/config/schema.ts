/**
 * The one schema of a run config (zod 4): every field's type, range, default and one line of meaning, the
 * variants (tasks, model kinds, optimisers, schedules, clippings) as tables, and the rules that tie two fields
 * together. `resolveConfig` walks these tables to validate and fill a user's config; the TypeScript types
 * (`types.ts`), `gradscope.schema.json` and `docs/CONFIG.md` are derived from them.
 *
 * How to add a field: add it to its table entry below with `.describe('one line of meaning')` and, when it has a
 * constant default, `.default(value)`; its type follows (`types.ts` derives `Config` and each resolved section from these tables).
 *
 * How to add a model kind: one entry in `MODEL_KINDS`, `defineKind({ takes, bptt, fields, fixed?, build })`:
 * `takes` lists the task inputs it reads (`vector`, `sequence`, ...), `bptt` whether truncated BPTT applies,
 * `fields` its keys (each a zod schema), `fixed` the keys of other kinds it accepts only at one value (so a
 * run's `config.json` resolves to itself), `build` the resolved model from its parsed fields. Then add its
 * resolved shape to `ModelConfig` in `types.ts`.
 *
 * How to add a task: one entry in `TASKS`, `{ input, description, fields }`, where `input` says which model
 * kinds fit (`MODEL_KINDS[k].takes`) and `fields` its keys with their defaults; the task's factory lives in
 * `src/data` (its registry test checks the two agree).
 *
 * How to add an optimiser, schedule or clipping: one entry in `OPTIMIZERS`, `SCHEDULES` or `CLIPS`; options
 * shared by several use the same field schema (`momentumField`, ...), so their rule stays in one place.
 *
 * After any change here run `npm run build` (or `npx tsc -p tsconfig.json && node scripts/gen-schema.mjs`): it
 * regenerates `gradscope.schema.json` and `docs/CONFIG.md`, and `src/config/docs.test.ts` fails while they are stale.
 */
import { z } from 'zod';
import { ACTIVATIONS, activationKernels, type ActivationName } from '../kernels/activations.js';
import { DEFAULT_HISTOGRAMS } from '../monitor/histogram.js';
import { ConfigError, oneOf, showValue, type ConfigErrorDetails } from './errors.js';
import { cnnGeometry } from './conv-geometry.js';
import type {
  CnnModelConfig,
  InitName,
  MlpModelConfig,
  MlpResidualConfig,
  ModelConfig,
  RecurrentModelConfig,
  ResNetModelConfig,
  ResolvedConfig,
  Seq2SeqModelConfig,
  TransformerModelConfig,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

/** The keys of one object form, each with its schema. */
export type Fields = Readonly<Record<string, z.ZodType>>;

/** What a field accepts, in words (`a number > 0`, `one of a|b`): the text of every error at that field. */
export const ACCEPTED = z.registry<{ accepted: string }>();

/** A default that is not a constant (it follows another field), in words for docs/CONFIG.md. */
export const DOCUMENTED_DEFAULT = z.registry<{ text: string }>();

function documented<T extends z.ZodType>(schema: T, text: string): T {
  DOCUMENTED_DEFAULT.add(schema, { text });
  return schema;
}

/** The schema inside `.default()` and `.optional()`. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** The accepted text of a schema: registered, else what its own error says for an impossible input. */
export function acceptedOf(schema: z.ZodType): string {
  const registered = ACCEPTED.get(schema) ?? ACCEPTED.get(unwrap(schema));
  if (registered !== undefined) return registered.accepted;
  const result = schema.safeParse(Symbol('probe'));
  return result.success ? 'any value' : (result.error.issues[0]?.message ?? 'a valid value');
}

function accepting<T extends z.ZodType>(schema: T, accepted: string): T {
  ACCEPTED.add(schema, { accepted });
  return schema;
}

/** A numeric range; `about` says what the number means and is appended to the accepted range. */
export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  about?: string;
}

/** `an integer >= 1`, `a number in [0, 1)`, ... */
export function describeNumber(rule: NumberRule): string {
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

/** A finite number (zod 4 refuses NaN and infinities) within `rule`; every failure says what is accepted. */
export function num(rule: NumberRule = {}): z.ZodNumber {
  const accepted = describeNumber(rule);
  const error = (): string => accepted;
  let schema = z.number({ error });
  if (rule.integer === true) schema = schema.int({ error });
  if (rule.min !== undefined)
    schema = rule.minExclusive === true ? schema.gt(rule.min, { error }) : schema.gte(rule.min, { error });
  if (rule.max !== undefined)
    schema = rule.maxExclusive === true ? schema.lt(rule.max, { error }) : schema.lte(rule.max, { error });
  return accepting(schema, accepted);
}

/** One of `names`; the error lists them (the resolver adds the nearest spelling). */
export function names<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodEnum<{ [K in T[number]]: K }> {
  const accepted = oneOf(values);
  return accepting(z.enum(values, { error: () => accepted }), accepted);
}

export function bool(): z.ZodBoolean {
  return accepting(z.boolean({ error: () => 'true or false' }), 'true or false');
}

/** Keys of `record` as a tuple type, for tables whose keys are the names (`TASK_NAMES = keysOf(TASKS)`). */
function keysOf<T extends Record<string, unknown>>(record: T): [keyof T & string, ...(keyof T & string)[]] {
  return Object.keys(record) as [keyof T & string, ...(keyof T & string)[]];
}

const POSITIVE: NumberRule = { min: 0, minExclusive: true };
const UNIT_INTERVAL_OPEN: NumberRule = { min: 0, max: 1, maxExclusive: true };

// ---------------------------------------------------------------------------------------------------------------
// Names

export const SEQ_MNIST_MODES = ['row', 'pixel'] as const;
export type SeqMnistMode = (typeof SEQ_MNIST_MODES)[number];
export const INIT_NAMES = [
  'xavier-uniform',
  'xavier-normal',
  'he-uniform',
  'he-normal',
  'lecun-normal',
  'orthogonal',
  'identity',
  'zeros',
  'delta-orthogonal',
] as const;
export const NORM_NAMES = ['none', 'batch', 'layer'] as const;
export const RESIDUAL_FORMS = ['activated', 'post', 'pre', 'linear-out'] as const;
export const RNN_ACTIVATIONS = ['tanh', 'relu', 'sigmoid'] as const satisfies readonly ActivationName[];
export const GUARD_MODES = ['off', 'skip', 'rollback', 'stop'] as const;

/** Spellings people bring from other libraries, mapped to ours (only ever used as suggestions). */
export const ALIASES: Readonly<Record<string, string>> = {
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

// ---------------------------------------------------------------------------------------------------------------
// Shared field schemas

const activationField = names(ACTIVATIONS as unknown as readonly [ActivationName, ...ActivationName[]]);

const INIT_BASES = INIT_NAMES.filter((name) => name !== 'zeros') as unknown as readonly [
  InitName,
  ...InitName[],
];
export const INIT_ACCEPTED = `${oneOf(INIT_NAMES)}, or {"normal": std}, {"uniform": limit} or {"gain": g, "base": <name>}`;
/** A named initialiser, a fixed distribution, or a base whose standard deviation is multiplied by a gain. */
export const initSpec = accepting(
  z.union([
    names(INIT_NAMES).describe('a named initialiser'),
    z.strictObject({ normal: num(POSITIVE).describe('standard deviation of N(0, std^2)') }),
    z.strictObject({ uniform: num(POSITIVE).describe('limit of U(-limit, limit)') }),
    z.strictObject({
      gain: num(POSITIVE).describe("multiplies the base's standard deviation"),
      base: names(INIT_BASES).describe('the initialiser the gain scales'),
    }),
  ]),
  INIT_ACCEPTED,
);

/** A bias starts at a constant, or is drawn from N(0, std^2). */
export const biasSpec = accepting(
  z.union([
    num({ about: 'the constant every bias starts at' }),
    z.strictObject({ normal: num(POSITIVE).describe('standard deviation of the bias') }),
  ]),
  'a finite number, or {"normal": std} with std > 0',
);

// ---------------------------------------------------------------------------------------------------------------
// Tasks

/**
 * What a task's examples can be read as; a model kind lists the inputs it `takes`. `image` is a vector task whose
 * features also form an image (flat, row-major [channels, height, width]): conv kinds read it as one, vector kinds
 * (mlp) read the same features flattened.
 */
export type TaskInputShape = 'vector' | 'sequence' | 'image';

/** The shape an image task's features form. */
export interface TaskImageShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface TaskEntry {
  /** What its examples are; the default model kind reads this. */
  readonly input: 'vector' | 'sequence';
  /** Image tasks: the shape the features form (they can then be read as `image` too). */
  readonly image?: TaskImageShape;
  readonly description: string;
  readonly fields: Fields;
}

function taskInteger(min: number, fallback: number, meaning: string): z.ZodDefault<z.ZodNumber> {
  return num({ integer: true, min }).default(fallback).describe(meaning);
}

/** Every task with the fields it takes; `src/data`'s registry has one factory per name and parses with these. */
export const TASKS = {
  spirals: {
    input: 'vector',
    description: 'two interleaved spirals: 2 inputs, 2 classes',
    fields: { size: taskInteger(2, 2000, 'training-pool size') },
  },
  xor: { input: 'vector', description: 'four Gaussian clusters labelled by xor', fields: {} },
  teacher: {
    input: 'vector',
    description: 'Gaussian inputs labelled by a random linear teacher',
    fields: {
      inputs: taskInteger(1, 32, 'input dimension'),
      classes: taskInteger(2, 10, 'number of classes'),
      size: taskInteger(1, 10000, 'training-pool size'),
    },
  },
  mnist: {
    input: 'vector',
    image: { channels: 1, height: 28, width: 28 },
    description: 'the bundled MNIST digits, 784 inputs (1 x 28 x 28 images for conv models), 10 classes',
    fields: {},
  },
  images: {
    input: 'vector',
    image: { channels: 1, height: 12, width: 12 },
    description: 'synthetic 1 x 12 x 12 stroke images, 4 orientations (144 inputs, 4 classes)',
    fields: { size: taskInteger(4, 2000, 'training-pool size') },
  },
  adding: {
    input: 'sequence',
    description: 'the adding problem: sum two marked values',
    fields: { length: taskInteger(2, 50, 'sequence length in time steps') },
  },
  copy: {
    input: 'sequence',
    description: 'copying memory: replay 10 symbols after a delay',
    fields: { length: taskInteger(1, 50, 'delay between the symbols and the cue, in time steps') },
  },
  'seq-mnist': {
    input: 'sequence',
    description: 'MNIST read one row or one pixel per step',
    fields: {
      mode: names(SEQ_MNIST_MODES)
        .default('row')
        .describe('row: 28 steps of 28 pixels; pixel: 784 steps of 1'),
    },
  },
  'char-lm': {
    input: 'sequence',
    description: 'next-character prediction on the bundled Shakespeare excerpt, every position scored',
    fields: {
      length: taskInteger(1, 64, 'characters of context per example (the sequence length)'),
      path: accepting(
        z
          .string({ error: () => 'the path of a text file' })
          .min(1, { error: () => 'the path of a text file' }),
        'the path of a text file',
      )
        .optional()
        .describe(
          'a UTF-8 corpus of your own instead of the bundled one; a relative path is read from the working directory',
        ),
    },
  },
  reverse: {
    input: 'sequence',
    description: 'read n symbols, then write them in reverse order',
    fields: {
      length: taskInteger(1, 10, 'symbols to read, n (the sequence has 2n + 1 steps)'),
      classes: taskInteger(2, 8, 'distinct symbols'),
    },
  },
  sort: {
    input: 'sequence',
    description: 'read n symbols, then write them in sorted order',
    fields: {
      length: taskInteger(1, 10, 'symbols to read, n (the sequence has 2n + 1 steps)'),
      classes: taskInteger(2, 8, 'distinct symbols'),
    },
  },
  translate: {
    input: 'sequence',
    description:
      'a toy translation with reordering: read n words, then write each through a fixed dictionary with every pair of words swapped',
    fields: {
      length: taskInteger(1, 10, 'words to read, n (the sequence has 2n + 1 steps)'),
      classes: taskInteger(2, 8, 'distinct words'),
    },
  },
  csv: {
    input: 'vector',
    description: 'your own table: a CSV file with a header row, numeric features and a target column',
    fields: {
      path: accepting(
        z.string({ error: () => 'the path of a CSV file' }).min(1, { error: () => 'the path of a CSV file' }),
        'the path of a CSV file',
      ).describe('the CSV file; a relative path is read from the working directory'),
      target: accepting(
        z.string({ error: () => 'a column name' }).min(1, { error: () => 'a column name' }),
        'a column name',
      ).describe('the column to predict'),
      kind: names(['classification', 'regression']).describe(
        "classification: cross-entropy over the target's distinct values; regression: mean squared error",
      ),
      standardize: bool()
        .default(false)
        .describe('shift and scale each feature to zero mean and unit variance over the training rows'),
      split: num({ min: 0, max: 1, minExclusive: true, maxExclusive: true, about: 'the fraction held out' })
        .default(0.2)
        .describe('the fraction of rows held out for evaluation'),
    },
  },
} as const satisfies Record<string, TaskEntry>;

export type TaskName = keyof typeof TASKS;
export const TASK_NAMES = keysOf(TASKS);

/** True for the tasks whose examples are sequences. */
export function isSequenceTask(name: string): boolean {
  return Object.hasOwn(TASKS, name) && TASKS[name as TaskName].input === 'sequence';
}

/** The image shape of a task, or null for the tasks whose features form no image. */
export function taskImage(name: string): TaskImageShape | null {
  if (!Object.hasOwn(TASKS, name)) return null;
  const entry: TaskEntry = TASKS[name as TaskName];
  return entry.image ?? null;
}

/** Every input shape a task's examples can be read as: its `input`, and `image` where its features form one. */
export function taskInputs(name: string): readonly TaskInputShape[] {
  const entry: TaskEntry = TASKS[name as TaskName];
  return entry.image ? [entry.input, 'image'] : [entry.input];
}

/** The tasks whose features form images (the tasks a conv model can read). */
export function imageTaskNames(): string[] {
  return TASK_NAMES.filter((name) => taskImage(name) !== null);
}

// ---------------------------------------------------------------------------------------------------------------
// Model kinds

/** What every model kind's entry has, whatever its fields. */
export interface AnyModelKind {
  readonly takes: readonly TaskInputShape[];
  readonly bptt: boolean;
  readonly description: string;
  readonly fields: Fields;
  readonly fixed?: Readonly<Record<string, unknown>>;
  build(fields: never): ModelConfig;
  readonly hints?: Readonly<Record<string, (value: unknown) => string | undefined>>;
}

export interface ModelKindEntry<F extends Fields = Fields> extends AnyModelKind {
  /** The task inputs this kind reads. */
  readonly takes: readonly TaskInputShape[];
  /** Whether `train.bptt` (truncated back-propagation through time) applies. */
  readonly bptt: boolean;
  readonly description: string;
  readonly fields: F;
  /** Keys of other kinds accepted here only at this value, which the resolved model carries. */
  readonly fixed?: Readonly<Record<string, unknown>>;
  /** The resolved model from the parsed fields (defaults filled). */
  build(fields: z.output<z.ZodObject<F>>): ModelConfig;
  /** A hint for a bad value at a key, when "expected ..." alone does not say how to fix it. */
  readonly hints?: Readonly<Record<string, (value: unknown) => string | undefined>>;
}

/** Typed entry helper: `build` sees its own fields' output types. */
function defineKind<F extends Fields>(entry: ModelKindEntry<F>): ModelKindEntry<F> {
  return entry;
}

const DEPTH_RULE: NumberRule = { integer: true, min: 1, max: 1000 };
const WIDTH_RULE: NumberRule = { integer: true, min: 1 };
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

export const BRANCH_SCALES = ['none', 'rezero', 'skipinit'] as const;
const SCALE_ACCEPTED = `${oneOf(BRANCH_SCALES)}, or a number (a constant s in y = x + s F(x))`;
/** s in y = x + s F(x) of a residual block, MLP and ResNet alike: `train/build` `branchScale` reads it. */
const branchScaleField = accepting(
  z.union([names(BRANCH_SCALES), num()], { error: () => SCALE_ACCEPTED }),
  SCALE_ACCEPTED,
);

/** `model.residual: true`: today's block, x + phi(W x + b). */
export const ACTIVATED_RESIDUAL: MlpResidualConfig = {
  form: 'activated',
  layers: 1,
  scale: 'none',
  fixup: false,
};

const RESIDUAL_ACCEPTED =
  'true or false, or {"form": "activated"|"post"|"pre"|"linear-out", "layers": 1|2, "scale": "none"|"rezero"|"skipinit"|s, "fixup": true|false}';
const residualField = accepting(
  z.union([
    bool(),
    z.strictObject({
      form: names(RESIDUAL_FORMS)
        .default(ACTIVATED_RESIDUAL.form)
        .describe(
          'activated: x + phi(W x + b); post: phi(x + W x + b) (He et al. 2016a); pre: x + W phi(N(x)) + b (He et al. 2016b); linear-out: x + W phi(x) + b',
        ),
      layers: num({ integer: true, min: 1, max: 2, about: 'weight layers per block' })
        .default(ACTIVATED_RESIDUAL.layers)
        .describe('weight layers in each residual branch'),
      scale: branchScaleField
        .default(ACTIVATED_RESIDUAL.scale)
        .describe(
          's in x + s F(x): none (1), a constant, or a learnable scalar from 0: rezero (Bachlechner et al. 2020), skipinit (De & Smith 2020)',
        ),
      fixup: bool()
        .default(ACTIVATED_RESIDUAL.fixup)
        .describe("Fixup (Zhang et al. 2019): zero the branch's last layer, rescale the others by depth"),
    }),
  ]),
  RESIDUAL_ACCEPTED,
);

/** The resolved residual setting: false, or the block's form with every default filled. */
function resolveResidual(value: boolean | MlpResidualConfig): false | MlpResidualConfig {
  if (value === false) return false;
  return value === true ? { ...ACTIVATED_RESIDUAL } : { ...value };
}

const WIDTHS_ACCEPTED = `a non-empty array of integers >= 1 (hidden widths from the input side), e.g. [64, 64], at most ${DEPTH_RULE.max} of them`;

const mlp = defineKind({
  takes: ['vector'],
  bptt: false,
  description: 'a multi-layer perceptron',
  fields: {
    kind: z.literal('mlp').optional(),
    depth: documented(
      num(DEPTH_RULE).optional().describe('number of hidden layers'),
      `${MLP_DEFAULTS.depth}`,
    ),
    width: documented(
      num(WIDTH_RULE).optional().describe('width of every hidden layer'),
      `${MLP_DEFAULTS.width}`,
    ),
    hidden: documented(
      accepting(
        z
          .array(num(WIDTH_RULE), { error: () => WIDTHS_ACCEPTED })
          .min(1, { error: () => WIDTHS_ACCEPTED })
          .max(DEPTH_RULE.max ?? 1000, { error: () => WIDTHS_ACCEPTED }),
        WIDTHS_ACCEPTED,
      )
        .optional()
        .describe('hidden widths from the input side; give it or depth and width'),
      'depth x width',
    ),
    activation: activationField
      .default(MLP_DEFAULTS.activation)
      .describe('the non-linearity of every hidden layer'),
    init: documented(
      initSpec.optional().describe('weight initialiser, variance-preserving for the activation by default'),
      'he-normal for rectifiers, lecun-normal for selu, else xavier-uniform',
    ),
    bias: biasSpec.default(MLP_DEFAULTS.bias).describe('initial biases'),
    norm: names(NORM_NAMES)
      .default(MLP_DEFAULTS.norm)
      .describe('normalisation after each hidden linear layer'),
    residual: residualField
      .default(MLP_DEFAULTS.residual)
      .describe(
        'residual blocks around the hidden layers: true is x + phi(W x + b); an object picks the form, layers, scale and Fixup',
      ),
    dropout: num({ min: 0, max: 1, maxExclusive: true, about: 'the fraction of units dropped' })
      .default(MLP_DEFAULTS.dropout)
      .describe('dropout rate after each hidden layer'),
  },
  hints: {
    hidden: (value) =>
      typeof value === 'number' ? 'for a uniform stack write "depth" and "width"' : undefined,
  },
  build(fields): MlpModelConfig {
    const { depth, width } = fields;
    let hidden: number[];
    if (fields.hidden === undefined) {
      hidden = new Array<number>(depth ?? MLP_DEFAULTS.depth).fill(width ?? MLP_DEFAULTS.width);
    } else {
      hidden = [...fields.hidden];
      const disagreements = [
        depth !== undefined && depth !== hidden.length ? `depth ${depth}` : undefined,
        width !== undefined && hidden.some((size) => size !== width) ? `width ${width}` : undefined,
      ].filter((part): part is string => part !== undefined);
      if (disagreements.length > 0) {
        throw new ConfigError({
          code: 'conflict',
          path: 'model.hidden',
          value: fields.hidden,
          accepted: `${depth ?? hidden.length} widths, each ${width ?? 'an integer >= 1'}, to agree with depth and width`,
          problem: `${showValue(fields.hidden)} disagrees with ${disagreements.join(' and ')}`,
          hint: 'give either "hidden" or "depth" and "width"',
        });
      }
    }
    const { activation, bias, norm, dropout } = fields;
    const residual = resolveResidual(fields.residual);
    const init = fields.init ?? defaultInitFor(activation);
    return { kind: 'mlp', hidden, activation, init, bias, norm, residual, dropout };
  },
});

function recurrentFields<K extends string>(kind: K) {
  return {
    kind: z.literal(kind).optional(),
    hidden: num(WIDTH_RULE).default(RECURRENT_DEFAULTS.hidden).describe('width of the hidden state'),
    layers: num({ integer: true, min: 1, max: 100 })
      .default(RECURRENT_DEFAULTS.layers)
      .describe('number of stacked recurrent layers'),
    init: initSpec.default(RECURRENT_DEFAULTS.init).describe('initialiser of the input-to-hidden weights'),
    recurrentInit: initSpec
      .default(RECURRENT_DEFAULTS.recurrentInit)
      .describe('initialiser of the hidden-to-hidden weights'),
    bias: biasSpec.default(RECURRENT_DEFAULTS.bias).describe('initial biases'),
  };
}

const recurrentHints = {
  hidden: (value: unknown): string | undefined =>
    Array.isArray(value) ? 'a recurrent model has one width; stack cells with "layers"' : undefined,
};

function recurrentKind<
  K extends 'rnn' | 'lstm' | 'gru',
  F extends Fields,
  const X extends Readonly<Record<string, unknown>>,
>(
  kind: K,
  description: string,
  fields: F,
  fixed: X,
): Omit<ModelKindEntry<F>, 'fixed'> & { readonly fixed: X } {
  return {
    takes: ['sequence'],
    bptt: true,
    description,
    fields,
    fixed,
    hints: recurrentHints,
    build(parsed): RecurrentModelConfig {
      const fixedValues: Readonly<Record<string, unknown>> = fixed;
      const values = { ...fixedValues, ...parsed } as Omit<RecurrentModelConfig, 'kind'>;
      return {
        kind,
        hidden: values.hidden,
        layers: values.layers,
        activation: values.activation,
        init: values.init,
        recurrentInit: values.recurrentInit,
        bias: values.bias,
        forgetBias: values.forgetBias,
      };
    },
  };
}

export const TRANSFORMER_NORMS = ['pre', 'post'] as const;
export const TRANSFORMER_POSITIONS = ['sinusoidal', 'learned'] as const;
export const TRANSFORMER_DEFAULTS = {
  layers: 2,
  dModel: 64,
  heads: 4,
  activation: 'gelu',
  norm: 'pre',
  dropout: 0,
  positions: 'sinusoidal',
  tiedEmbeddings: false,
  maxLength: 512,
} as const;

const transformer = defineKind({
  takes: ['sequence'],
  bptt: false,
  description:
    'a Transformer (Vaswani et al. 2017): a decoder-only LM on every-position tasks, else an encoder classifier',
  fields: {
    kind: z.literal('transformer').optional(),
    layers: num({ integer: true, min: 1, max: 100 })
      .default(TRANSFORMER_DEFAULTS.layers)
      .describe('number of attention + feed-forward blocks'),
    dModel: num(WIDTH_RULE)
      .default(TRANSFORMER_DEFAULTS.dModel)
      .describe('width of every token representation'),
    heads: num(WIDTH_RULE)
      .default(TRANSFORMER_DEFAULTS.heads)
      .describe('attention heads; each takes dModel / heads features'),
    ffWidth: documented(
      num(WIDTH_RULE).optional().describe('hidden width of the feed-forward sublayer'),
      '4 x dModel',
    ),
    activation: activationField
      .default(TRANSFORMER_DEFAULTS.activation)
      .describe('the non-linearity of the feed-forward sublayer'),
    norm: names(TRANSFORMER_NORMS)
      .default(TRANSFORMER_DEFAULTS.norm)
      .describe('post: x = LN(x + f(x)) (the original); pre: x = x + f(LN(x)) (Xiong et al. 2020)'),
    dropout: num({ min: 0, max: 1, maxExclusive: true, about: 'the fraction of units dropped' })
      .default(TRANSFORMER_DEFAULTS.dropout)
      .describe("dropout on every sublayer's output"),
    positions: names(TRANSFORMER_POSITIONS)
      .default(TRANSFORMER_DEFAULTS.positions)
      .describe('sinusoidal or learned position embeddings'),
    tiedEmbeddings: bool()
      .default(TRANSFORMER_DEFAULTS.tiedEmbeddings)
      .describe('the output layer reuses the token embedding (Press & Wolf 2017)'),
    deepNorm: bool()
      .default(false)
      .describe(
        'DeepNorm (Wang et al. 2022): the residual scaled by (2 layers)^(1/4), the feed-forward, value and output weights initialised x (8 layers)^(-1/4)',
      ),
    qkNorm: bool()
      .default(false)
      .describe(
        "QK normalisation: a LayerNorm with a learnable gain (no shift) over each head's queries and keys before the dot product, so the attention logits stay bounded (Henry et al. 2020; Dehghani et al. 2023)",
      ),
    maxLength: num(WIDTH_RULE)
      .default(TRANSFORMER_DEFAULTS.maxLength)
      .describe('the longest sequence the positional table holds'),
    init: initSpec.default('xavier-uniform').describe('weight initialiser'),
    bias: biasSpec.default(0).describe('initial biases'),
  },
  build(fields): TransformerModelConfig {
    const {
      layers,
      dModel,
      heads,
      activation,
      norm,
      dropout,
      positions,
      tiedEmbeddings,
      deepNorm,
      qkNorm,
      maxLength,
      init,
      bias,
    } = fields;
    if (dModel % heads !== 0) {
      throw new ConfigError({
        code: 'conflict',
        path: 'model.heads',
        value: heads,
        accepted: `a divisor of dModel ${dModel}`,
        problem: `dModel ${dModel} is not divisible by heads ${heads}; each head takes dModel / heads features`,
        hint: `use heads ${[1, 2, 4, 8, 16].filter((h) => dModel % h === 0).join(' or ')}, or a dModel that is a multiple of ${heads}`,
      });
    }
    const ffWidth = fields.ffWidth ?? 4 * dModel;
    return {
      kind: 'transformer',
      layers,
      dModel,
      heads,
      ffWidth,
      activation,
      norm,
      dropout,
      positions,
      tiedEmbeddings,
      deepNorm,
      qkNorm,
      maxLength,
      init,
      bias,
    };
  },
});

// Conv kinds: they read the task's features as images (`takes: ['image']`); prelu is a dense layer's setting.

const CONV_ACTIVATIONS = ACTIVATIONS.filter((name) => name !== 'prelu') as unknown as readonly [
  ActivationName,
  ...ActivationName[],
];
const convActivationField = names(CONV_ACTIVATIONS);
export const CONV_NORMS = ['none', 'batch'] as const;
export const POOL_MODES = ['none', 'max', 'average'] as const;
export const RESNET_BLOCKS = ['post', 'pre'] as const;
const CHANNELS_RULE: NumberRule = { integer: true, min: 1, max: 4096 };
const CHANNELS_ACCEPTED = `a non-empty array of integers in [1, 4096] (output channels of each conv layer from the input side), e.g. [8, 16], at most ${DEPTH_RULE.max} of them`;
const HEAD_ACCEPTED =
  'an array of integers >= 1 (dense hidden widths after the conv layers), e.g. [64], or []';

export const CNN_DEFAULTS = {
  depth: 2,
  width: 8,
  kernel: 3,
  stride: 1,
  pool: 'max',
  poolEvery: 1,
  activation: 'relu',
  norm: 'none',
  bias: 0,
  head: [] as readonly number[],
} as const;

const cnn = defineKind({
  takes: ['image'],
  bptt: false,
  description: 'a plain conv stack on an image task: conv layers, 2x2 pooling between them, a dense head',
  fields: {
    kind: z.literal('cnn'),
    depth: documented(num(DEPTH_RULE).optional().describe('number of conv layers'), `${CNN_DEFAULTS.depth}`),
    width: documented(
      num(CHANNELS_RULE).optional().describe('output channels of every conv layer'),
      `${CNN_DEFAULTS.width}`,
    ),
    channels: documented(
      accepting(
        z
          .array(num(CHANNELS_RULE), { error: () => CHANNELS_ACCEPTED })
          .min(1, { error: () => CHANNELS_ACCEPTED })
          .max(DEPTH_RULE.max ?? 1000, { error: () => CHANNELS_ACCEPTED }),
        CHANNELS_ACCEPTED,
      )
        .optional()
        .describe('output channels of each conv layer from the input side; give it or depth and width'),
      'depth x width',
    ),
    kernel: num({ integer: true, min: 1, about: 'the side of the square kernel' })
      .default(CNN_DEFAULTS.kernel)
      .describe('kernel side of every conv layer, at most the image a layer gets'),
    stride: num({ integer: true, min: 1, about: 'pixels the kernel moves; 1 keeps the size' })
      .default(CNN_DEFAULTS.stride)
      .describe('stride of every conv layer'),
    padding: documented(
      num({ integer: true, min: 0, about: 'zeros added on each side' })
        .optional()
        .describe('zero padding of every conv layer, at most kernel - 1'),
      'floor(kernel / 2), the "same" size at stride 1',
    ),
    pool: names(POOL_MODES)
      .default(CNN_DEFAULTS.pool)
      .describe('2x2 pooling (stride 2) after every poolEvery conv layers, while the image is at least 2x2'),
    poolEvery: num({ integer: true, min: 1, about: 'conv layers per pooling' })
      .default(CNN_DEFAULTS.poolEvery)
      .describe('conv layers between poolings'),
    activation: convActivationField
      .default(CNN_DEFAULTS.activation)
      .describe('the non-linearity of every conv and dense hidden layer'),
    norm: names(CONV_NORMS)
      .default(CNN_DEFAULTS.norm)
      .describe('per-channel batch norm after each conv (Ioffe & Szegedy 2015), or none'),
    init: documented(
      initSpec
        .optional()
        .describe('weight initialiser (fan_in = C_in x kernel^2), variance-preserving by default'),
      'he-normal for rectifiers, lecun-normal for selu, else xavier-uniform',
    ),
    bias: biasSpec.default(CNN_DEFAULTS.bias).describe('initial biases'),
    head: accepting(
      z.array(num(WIDTH_RULE), { error: () => HEAD_ACCEPTED }).max(100, { error: () => HEAD_ACCEPTED }),
      HEAD_ACCEPTED,
    )
      .default([...CNN_DEFAULTS.head])
      .describe('dense hidden widths after flattening; the linear output layer follows them'),
  },
  hints: {
    channels: (value) =>
      typeof value === 'number' ? 'for a uniform stack write "depth" and "width"' : undefined,
    stride: (value) =>
      value === 0 ? 'a stride of 0 never moves the kernel; use 1 (or 2 to halve the image)' : undefined,
  },
  build(fields): CnnModelConfig {
    const { depth, width, kernel, stride, pool, poolEvery, activation, norm, bias } = fields;
    let channels: number[];
    if (fields.channels === undefined) {
      channels = new Array<number>(depth ?? CNN_DEFAULTS.depth).fill(width ?? CNN_DEFAULTS.width);
    } else {
      channels = [...fields.channels];
      const disagreements = [
        depth !== undefined && depth !== channels.length ? `depth ${depth}` : undefined,
        width !== undefined && channels.some((size) => size !== width) ? `width ${width}` : undefined,
      ].filter((part): part is string => part !== undefined);
      if (disagreements.length > 0) {
        throw new ConfigError({
          code: 'conflict',
          path: 'model.channels',
          value: fields.channels,
          accepted: `${depth ?? channels.length} channel counts, each ${width ?? 'an integer in [1, 4096]'}, to agree with depth and width`,
          problem: `${showValue(fields.channels)} disagrees with ${disagreements.join(' and ')}`,
          hint: 'give either "channels" or "depth" and "width"',
        });
      }
    }
    const padding = fields.padding ?? Math.floor(kernel / 2);
    if (padding > kernel - 1) {
      throw new ConfigError({
        code: 'invalid_value',
        path: 'model.padding',
        value: padding,
        accepted: describeNumber({
          integer: true,
          min: 0,
          max: kernel - 1,
          about: `at most kernel - 1 = ${kernel - 1}`,
        }),
        hint: 'wider padding adds border outputs that see only zeros; leave "padding" out for the "same" size',
      });
    }
    const init = fields.init ?? defaultInitFor(activation);
    return {
      kind: 'cnn',
      channels,
      kernel,
      stride,
      padding,
      pool,
      poolEvery,
      activation,
      norm,
      init,
      bias,
      head: [...fields.head],
    };
  },
});

export const RESNET_DEFAULTS = {
  width: 8,
  stages: 3,
  blocks: 2,
  layers: 2,
  block: 'post',
  norm: 'batch',
  scale: 'none',
  fixup: false,
  shortcut: true,
  activation: 'relu',
  bias: 0,
} as const;

const resnet = defineKind({
  takes: ['image'],
  bptt: false,
  description:
    'a ResNet for small images (He et al. 2016a): a 3x3 stem, stages of residual blocks, global average pooling',
  fields: {
    kind: z.literal('resnet'),
    width: num(CHANNELS_RULE)
      .default(RESNET_DEFAULTS.width)
      .describe(
        'channels of the stem and the first stage; each later stage doubles them and halves the image',
      ),
    stages: num({ integer: true, min: 1, max: 6 })
      .default(RESNET_DEFAULTS.stages)
      .describe('stages of residual blocks'),
    blocks: num({ integer: true, min: 1, max: 200 })
      .default(RESNET_DEFAULTS.blocks)
      .describe('residual blocks per stage; depth = stages x blocks x layers + 2 weight layers'),
    layers: num({ integer: true, min: 1, max: 2, about: '3x3 conv layers per branch' })
      .default(RESNET_DEFAULTS.layers)
      .describe('conv layers in each residual branch (2: the basic block)'),
    block: names(RESNET_BLOCKS)
      .default(RESNET_DEFAULTS.block)
      .describe(
        'post: y = phi(x + F(x)), norm after each conv (He et al. 2016a); pre: y = x + F(x), norm and activation before each conv (He et al. 2016b)',
      ),
    norm: names(CONV_NORMS)
      .default(RESNET_DEFAULTS.norm)
      .describe('per-channel batch norm in the branches (Ioffe & Szegedy 2015), or none'),
    scale: branchScaleField
      .default(RESNET_DEFAULTS.scale)
      .describe(
        's in y = x + s F(x): none (1), a constant, or a learnable scalar from 0: rezero (Bachlechner et al. 2020), skipinit (De & Smith 2020)',
      ),
    fixup: bool()
      .default(RESNET_DEFAULTS.fixup)
      .describe(
        "Fixup (Zhang et al. 2019): each branch's last layer starts at zero, the others scaled by L^(-1/(2m-2)), a learnable multiplier on the branch",
      ),
    shortcut: bool()
      .default(RESNET_DEFAULTS.shortcut)
      .describe("false: no shortcuts, the plain net of the same layers (He et al. 2016a's baseline)"),
    activation: convActivationField
      .default(RESNET_DEFAULTS.activation)
      .describe('the non-linearity of every block'),
    init: documented(
      initSpec.optional().describe('weight initialiser (fan_in = C_in x 9), variance-preserving by default'),
      'he-normal for rectifiers, lecun-normal for selu, else xavier-uniform',
    ),
    bias: biasSpec.default(RESNET_DEFAULTS.bias).describe('initial biases'),
  },
  build(fields): ResNetModelConfig {
    const { width, stages, blocks, layers, block, norm, scale, fixup, shortcut, activation, bias } = fields;
    if (fixup && (scale === 'rezero' || scale === 'skipinit' || scale === 0)) {
      // Fixup zeroes the branch's last layer: with s = 0 too, both gradients (dL/ds and dL/dW_last) are zero.
      throw new ConfigError({
        code: 'conflict',
        path: 'model.scale',
        value: scale,
        accepted: '"none" or a non-zero constant with fixup true',
        problem: `fixup zeroes each branch's last layer, and scale ${showValue(scale)} starts s at 0: the branches then get no gradient and never learn`,
        hint: 'use one of them: "fixup": true alone, or "scale": "rezero" with "fixup": false',
      });
    }
    if (fixup && !shortcut) {
      throw new ConfigError({
        code: 'conflict',
        path: 'model.fixup',
        value: true,
        accepted: 'false when shortcut is false',
        problem: 'fixup zeroes each branch, so without shortcuts the whole net outputs a constant at init',
        hint: 'fixup is for residual nets: set "shortcut": true, or "fixup": false for the plain net',
      });
    }
    const init = fields.init ?? defaultInitFor(activation);
    return {
      kind: 'resnet',
      width,
      stages,
      blocks,
      layers,
      block,
      norm,
      scale,
      fixup,
      shortcut,
      activation,
      init,
      bias,
    };
  },
});

export const SEQ2SEQ_ARCHITECTURES = ['rnn', 'transformer'] as const;
export const SEQ2SEQ_ATTENTIONS = ['none', 'additive', 'dot'] as const;
export const SEQ2SEQ_CELLS = ['rnn', 'lstm', 'gru'] as const;
export const SEQ2SEQ_DEFAULTS = {
  architecture: 'rnn',
  cell: 'gru',
  hidden: 64,
  layers: 1,
  heads: 4,
  norm: 'pre',
} as const;
/** The tasks that present a source and a target on one time axis (`data/transduction.ts`). */
export const SEQ2SEQ_TASKS = ['reverse', 'sort', 'translate'] as const;

const seq2seq = defineKind({
  takes: ['sequence'],
  bptt: false,
  description:
    'an encoder-decoder (Sutskever et al. 2014) with or without attention (Bahdanau et al. 2015, Luong et al. 2015), or a Transformer encoder-decoder, for the transduction tasks (reverse, sort, translate)',
  fields: {
    kind: z.literal('seq2seq'),
    architecture: names(SEQ2SEQ_ARCHITECTURES)
      .default(SEQ2SEQ_DEFAULTS.architecture)
      .describe('rnn: recurrent encoder and decoder; transformer: self-, causal and cross-attention blocks'),
    cell: names(SEQ2SEQ_CELLS)
      .default(SEQ2SEQ_DEFAULTS.cell)
      .describe('the cell of the encoder and the decoder (architecture rnn)'),
    hidden: num(WIDTH_RULE)
      .default(SEQ2SEQ_DEFAULTS.hidden)
      .describe('width of the encoder, the decoder and the token embeddings (dModel for the transformer)'),
    layers: num({ integer: true, min: 1, max: 100 })
      .default(SEQ2SEQ_DEFAULTS.layers)
      .describe('encoder layers, and as many decoder layers'),
    attention: documented(
      names(SEQ2SEQ_ATTENTIONS)
        .optional()
        .describe(
          "none: the decoder gets the encoder's final state only; additive: Bahdanau et al. 2015; dot: Luong et al. 2015 (the transformer's scaled dot product)",
        ),
      'additive (rnn), dot (transformer)',
    ),
    heads: num(WIDTH_RULE)
      .default(SEQ2SEQ_DEFAULTS.heads)
      .describe('attention heads (architecture transformer); each takes hidden / heads features'),
    ffWidth: documented(
      num(WIDTH_RULE)
        .optional()
        .describe('hidden width of the feed-forward sublayer (architecture transformer)'),
      '4 x hidden',
    ),
    activation: documented(
      activationField
        .optional()
        .describe(
          "the feed-forward non-linearity (architecture transformer); the rnn architecture's cells use tanh",
        ),
      'tanh (rnn), gelu (transformer)',
    ),
    norm: names(TRANSFORMER_NORMS)
      .default(SEQ2SEQ_DEFAULTS.norm)
      .describe(
        'LayerNorm placement (architecture transformer): post (Vaswani et al. 2017) or pre (Xiong et al. 2020)',
      ),
    qkNorm: bool()
      .default(false)
      .describe(
        "QK normalisation in every attention sublayer (architecture transformer): a LayerNorm with a learnable gain over each head's queries and keys (Henry et al. 2020; Dehghani et al. 2023)",
      ),
    init: initSpec.default(RECURRENT_DEFAULTS.init).describe('initialiser of the weight matrices'),
    recurrentInit: initSpec
      .default(RECURRENT_DEFAULTS.recurrentInit)
      .describe('initialiser of the hidden-to-hidden weights (architecture rnn)'),
    bias: biasSpec.default(RECURRENT_DEFAULTS.bias).describe('initial biases'),
    forgetBias: num()
      .default(RECURRENT_DEFAULTS.forgetBias)
      .describe('initial forget-gate bias (cell lstm; Gers et al. 2000)'),
  },
  hints: recurrentHints,
  build(fields): Seq2SeqModelConfig {
    const { architecture, cell, hidden, layers, heads, norm, init, recurrentInit, bias, forgetBias } = fields;
    const transformerArchitecture = architecture === 'transformer';
    const attention = fields.attention ?? (transformerArchitecture ? 'dot' : 'additive');
    if (transformerArchitecture && attention !== 'dot') {
      throw new ConfigError({
        code: 'conflict',
        path: 'model.attention',
        value: attention,
        accepted: '"dot" (or leave it out) for architecture transformer',
        problem: `a Transformer decoder reads the encoder through scaled dot-product cross-attention, not ${showValue(attention)}`,
        hint: 'leave model.attention out, or use architecture "rnn" for attention "none" or "additive"',
      });
    }
    const activation = fields.activation ?? (transformerArchitecture ? 'gelu' : 'tanh');
    if (!transformerArchitecture && activation !== 'tanh') {
      throw new ConfigError({
        code: 'not_applicable',
        path: 'model.activation',
        value: activation,
        accepted: '"tanh" (or leave it out) for architecture rnn',
        problem:
          "the rnn architecture's cells use tanh; the activation sets a transformer's feed-forward sublayer",
        hint: 'leave model.activation out, or use architecture "transformer"',
      });
    }
    if (!transformerArchitecture && fields.qkNorm) {
      throw new ConfigError({
        code: 'not_applicable',
        path: 'model.qkNorm',
        value: true,
        accepted: 'false (or leave it out) for architecture rnn',
        problem:
          "QK normalisation acts on the dot-product attention of a Transformer; the rnn architecture's attention has no queries and keys per head",
        hint: 'leave model.qkNorm out, or use architecture "transformer"',
      });
    }
    if (transformerArchitecture && hidden % heads !== 0) {
      throw new ConfigError({
        code: 'conflict',
        path: 'model.heads',
        value: heads,
        accepted: `a divisor of hidden ${hidden}`,
        problem: `hidden (dModel) ${hidden} is not divisible by heads ${heads}; each head takes hidden / heads features`,
        hint: `use heads ${[1, 2, 4, 8, 16].filter((h) => hidden % h === 0).join(' or ')}, or a hidden that is a multiple of ${heads}`,
      });
    }
    return {
      kind: 'seq2seq',
      architecture,
      cell,
      hidden,
      layers,
      attention,
      heads,
      ffWidth: fields.ffWidth ?? 4 * hidden,
      activation,
      norm,
      qkNorm: fields.qkNorm,
      init,
      recurrentInit,
      bias,
      forgetBias,
    };
  },
});

/** Every model kind; `kind` selects the entry (default: the first kind that takes the task's input). */
export const MODEL_KINDS_TABLE = {
  mlp,
  rnn: recurrentKind(
    'rnn',
    'an Elman recurrent network',
    {
      ...recurrentFields('rnn'),
      activation: names(RNN_ACTIVATIONS)
        .default(RECURRENT_DEFAULTS.activation)
        .describe('the cell non-linearity (kind rnn only)'),
    },
    { forgetBias: 0 },
  ),
  lstm: recurrentKind(
    'lstm',
    'a long short-term memory network (Hochreiter & Schmidhuber 1997)',
    {
      ...recurrentFields('lstm'),
      forgetBias: num()
        .default(RECURRENT_DEFAULTS.forgetBias)
        .describe('initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015; kind lstm only)'),
    },
    { activation: 'tanh' },
  ),
  gru: recurrentKind('gru', 'a gated recurrent unit network (Cho et al. 2014)', recurrentFields('gru'), {
    activation: 'tanh',
    forgetBias: 0,
  }),
  transformer,
  cnn,
  resnet,
  seq2seq,
} as const satisfies Record<string, AnyModelKind>;

export type ModelKind = keyof typeof MODEL_KINDS_TABLE;
/** The kind a config without `model.kind` gets, by the task's input (one row per input shape). */
export const DEFAULT_MODEL_KIND: { readonly [K in TaskEntry['input']]: ModelKind } = {
  vector: 'mlp',
  sequence: 'lstm',
};
export const MODEL_KINDS = keysOf(MODEL_KINDS_TABLE);
export const RECURRENT_KINDS = MODEL_KINDS.filter((kind) => MODEL_KINDS_TABLE[kind].bptt) as readonly (
  'rnn' | 'lstm' | 'gru'
)[];

/** Extra words on where a model key belongs, appended to the derived owner list. */
export const MODEL_KEY_NOTES: Readonly<Record<string, string>> = {
  depth: 'a recurrent model stacks "layers"',
  width: 'a recurrent model\'s width is "hidden"',
  layers: 'recurrent models; an MLP stacks "depth" hidden layers',
  activation: 'lstm and gru cells have fixed sigmoid gates and tanh',
};

// ---------------------------------------------------------------------------------------------------------------
// Optimisers (defaults are PyTorch's where PyTorch has one)

const learningRate = (fallback: number): z.ZodDefault<z.ZodNumber> =>
  num(POSITIVE).default(fallback).describe('the step size (the schedule multiplies it)');
const momentumField = num(UNIT_INTERVAL_OPEN);
const weightDecay = (fallback: number): z.ZodDefault<z.ZodNumber> =>
  num({ min: 0 })
    .default(fallback)
    .describe('L2 penalty added to the gradient (adamw: decoupled, Loshchilov & Hutter 2019)');
const eps = (fallback: number): z.ZodDefault<z.ZodNumber> =>
  num(POSITIVE).default(fallback).describe('added to the denominator for numerical stability');

export interface OptimizerEntry {
  readonly description: string;
  readonly fields: Fields;
}

export const OPTIMIZERS = {
  sgd: {
    description: 'torch.optim.SGD: plain, heavy-ball (momentum) or Nesterov (nesterov: true)',
    fields: {
      learningRate: learningRate(0.1),
      momentum: documented(
        momentumField.optional().describe('heavy-ball momentum (Polyak 1964); 0 is plain SGD'),
        '0',
      ),
      nesterov: documented(
        bool().optional().describe('Nesterov momentum (Sutskever et al. 2013), needs momentum > 0'),
        'false',
      ),
      weightDecay: weightDecay(0),
    },
  },
  momentum: {
    description: 'SGD with heavy-ball momentum (Polyak 1964)',
    fields: {
      learningRate: learningRate(0.01),
      momentum: momentumField.default(0.9).describe('momentum coefficient'),
      weightDecay: weightDecay(0),
    },
  },
  nesterov: {
    description: 'SGD with Nesterov momentum (Sutskever et al. 2013)',
    fields: {
      learningRate: learningRate(0.01),
      momentum: momentumField.default(0.9).describe('momentum coefficient'),
      weightDecay: weightDecay(0),
    },
  },
  adagrad: {
    description: 'Adagrad (Duchi et al. 2011)',
    fields: { learningRate: learningRate(0.01), eps: eps(1e-10), weightDecay: weightDecay(0) },
  },
  rmsprop: {
    description: 'RMSprop (Tieleman & Hinton 2012), torch.optim.RMSprop',
    fields: {
      learningRate: learningRate(0.01),
      decay: num(UNIT_INTERVAL_OPEN)
        .default(0.99)
        .describe('decay of the squared-gradient average (torch: alpha)'),
      eps: eps(1e-8),
      momentum: documented(momentumField.optional().describe('momentum on the scaled step'), '0'),
      weightDecay: weightDecay(0),
    },
  },
  adam: {
    description: 'Adam (Kingma & Ba 2015)',
    fields: {
      learningRate: learningRate(0.001),
      beta1: num(UNIT_INTERVAL_OPEN).default(0.9).describe('decay of the first-moment average'),
      beta2: num(UNIT_INTERVAL_OPEN).default(0.999).describe('decay of the second-moment average'),
      eps: eps(1e-8),
      weightDecay: weightDecay(0),
    },
  },
  adamw: {
    description: 'AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019)',
    fields: {
      learningRate: learningRate(0.001),
      beta1: num(UNIT_INTERVAL_OPEN).default(0.9).describe('decay of the first-moment average'),
      beta2: num(UNIT_INTERVAL_OPEN).default(0.999).describe('decay of the second-moment average'),
      eps: eps(1e-8),
      weightDecay: weightDecay(0.01),
    },
  },
} as const satisfies Record<string, OptimizerEntry>;

export type OptimizerName = keyof typeof OPTIMIZERS;
export const OPTIMIZER_NAMES = keysOf(OPTIMIZERS);
export const DEFAULT_OPTIMIZER: OptimizerName = 'sgd';

// ---------------------------------------------------------------------------------------------------------------
// Schedules (defaults scale with train.steps)

export interface ScheduleEntry {
  readonly description: string;
  readonly fields: Fields;
  /** Defaults that depend on the run's length. */
  readonly defaults?: (steps: number) => Readonly<Record<string, number>>;
}

const gammaField = num(POSITIVE);
const minFactorField = num({ min: 0, max: 1 })
  .default(0)
  .describe('the final learning rate as a fraction of the initial one');

export const SCHEDULES = {
  constant: { description: 'the learning rate throughout', fields: {} },
  step: {
    description: 'multiply by gamma every stepSize steps',
    fields: {
      stepSize: documented(
        num({ integer: true, min: 1 }).optional().describe('steps between decays'),
        'ceil(train.steps / 3)',
      ),
      gamma: gammaField.default(0.1).describe('the factor at each decay'),
    },
    defaults: (steps) => ({ stepSize: Math.ceil(steps / 3) }),
  },
  exponential: {
    description: 'learningRate * gamma^step',
    fields: {
      gamma: documented(
        gammaField.optional().describe('per-step factor'),
        '0.01^(1 / train.steps), a 100-fold decay over the run',
      ),
    },
    // lr * gamma^steps = lr / 100 at the end of the run.
    defaults: (steps) => ({ gamma: Number((0.01 ** (1 / steps)).toPrecision(6)) }),
  },
  cosine: {
    description: 'cosine decay (Loshchilov & Hutter 2017)',
    fields: { minFactor: minFactorField },
  },
  'warmup-cosine': {
    description: 'linear warm-up, then cosine decay (Goyal et al. 2017)',
    fields: {
      warmupSteps: documented(
        num({ integer: true, min: 0 })
          .optional()
          .describe('length of the linear warm-up, at most train.steps'),
        'round(train.steps / 10)',
      ),
      minFactor: minFactorField,
    },
    defaults: (steps) => ({ warmupSteps: Math.round(steps / 10) }),
  },
  plateau: {
    description: 'reduce by factor when the loss has not improved for patience logged steps',
    fields: {
      factor: num({ min: 0, max: 1, minExclusive: true, maxExclusive: true })
        .default(0.1)
        .describe('the factor at each reduction'),
      patience: num({ integer: true, min: 0, about: 'logged steps' })
        .default(10)
        .describe('logged steps without improvement before a reduction'),
    },
  },
} as const satisfies Record<string, ScheduleEntry>;

export type ScheduleName = keyof typeof SCHEDULES;
export const SCHEDULE_NAMES = keysOf(SCHEDULES);

// ---------------------------------------------------------------------------------------------------------------
// Clipping

const clipMax = num(POSITIVE);

export const CLIPS = {
  none: { description: 'no clipping', fields: {} },
  value: {
    description: 'clamp each gradient entry to [-max, max]',
    fields: { max: clipMax.describe('the largest absolute entry (required)') },
  },
  norm: {
    description: 'scale all gradients so their global L2 norm is at most max (torch clip_grad_norm_)',
    fields: { max: clipMax.describe('the largest global L2 norm (required)') },
  },
  'param-norm': {
    description: "scale each parameter's gradient to an L2 norm of at most max",
    fields: { max: clipMax.describe("the largest L2 norm of each parameter's gradient (required)") },
  },
  agc: {
    description: 'adaptive gradient clipping (Brock et al. 2021)',
    fields: {
      factor: num(POSITIVE)
        .default(0.01)
        .describe('the largest ratio of unit gradient norm to unit weight norm'),
      eps: num(POSITIVE).default(1e-3).describe('the smallest weight norm counted'),
    },
  },
  autoclip: {
    description: 'clip at a percentile of the history of global norms (Seetharaman et al. 2020)',
    fields: {
      percentile: num({ min: 0, max: 100, minExclusive: true })
        .default(10)
        .describe('the percentile of past global norms clipped to'),
    },
  },
} as const satisfies Record<string, { readonly description: string; readonly fields: Fields }>;

export type ClipName = keyof typeof CLIPS;
export const CLIP_NAMES = keysOf(CLIPS);

// ---------------------------------------------------------------------------------------------------------------
// Sections with one form

export const RUN_NAME_ACCEPTED = '1 to 100 letters, digits, ".", "_" or "-", not "." or ".."';
export const SEED_RULE: NumberRule = { integer: true, min: 0, max: 2 ** 32 - 1 };
export const STEPS_RULE: NumberRule = { integer: true, min: 1 };
export const THREADS_RULE: NumberRule = { integer: true, min: 1, max: 64 };
const THREADS_ACCEPTED = '"auto" or an integer in [1, 64] (threads, the calling one included)';

export const ROOT_FIELDS = {
  $schema: accepting(z.string({ error: () => 'a string' }), 'a string')
    .optional()
    .describe("the JSON Schema for editors' completion: gradscope.schema.json; ignored by gradscope"),
  name: documented(
    accepting(
      z
        .string({ error: () => RUN_NAME_ACCEPTED })
        .regex(/^[A-Za-z0-9._-]{1,100}$/, { error: () => RUN_NAME_ACCEPTED })
        .refine((value) => value !== '.' && value !== '..', { error: () => RUN_NAME_ACCEPTED }),
      RUN_NAME_ACCEPTED,
    )
      .optional()
      .describe("the run's name, its directory's name"),
    "the config file's or preset's name",
  ),
  seed: num(SEED_RULE)
    .default(0)
    .describe('seeds every random draw: the same seed gives the same run, bit for bit'),
  guard: names(GUARD_MODES)
    .default('skip')
    .describe(
      'on a non-finite loss or gradient: off, skip the step, rollback to the last good state, or stop',
    ),
  threads: accepting(
    z.union([names(['auto']), num(THREADS_RULE)], { error: () => THREADS_ACCEPTED }),
    THREADS_ACCEPTED,
  )
    .default('auto')
    .describe(
      'threads the large matrix products split across (WebAssembly kernels; results bit-identical to 1): "auto" = min(cores, 4), or $GRADSCOPE_THREADS when set; 1 = one thread',
    ),
};

export const TRAIN_FIELDS = {
  steps: num(STEPS_RULE).default(1000).describe('optimiser steps'),
  batchSize: num({ integer: true, min: 1 })
    .default(64)
    .describe('examples per step (batch norm needs 2 or more)'),
  bptt: num({ integer: true, min: 0, about: 'truncation length in time steps, 0 = full' })
    .default(0)
    .describe('recurrent models: truncated back-propagation through time length, 0 = full'),
  checkpointEvery: num({ integer: true, min: 0, about: 'steps between checkpoints, 0 = only at the end' })
    .default(0)
    .describe('steps between checkpoints (run --resume); 0 = only at the end or on interruption'),
  guardPatience: num({ integer: true, min: 1, about: 'consecutive guarded steps before the run stops' })
    .default(10)
    .describe('consecutive non-finite steps the guard skips or rolls back before the run stops as stuck'),
};

export const MONITOR_FIELDS = {
  every: num({ integer: true, min: 1, about: 'log period in steps' })
    .default(10)
    .describe('steps between logged records'),
  timesteps: bool().default(true).describe('recurrent models: record per-time-step gradient norms'),
  histograms: accepting(
    z.union([bool(), num({ integer: true, min: 1 })]),
    'true, false, or an integer >= 1 (every N-th logged step)',
  )
    .default(DEFAULT_HISTOGRAMS)
    .describe(
      'per-layer histograms of weights and gradients (30 buckets, NaN/Inf counted): false never, true on every logged step, N on every N-th logged step (and the first and last)',
    ),
};

type Defaults<F extends Fields> = { readonly [K in keyof F]: z.output<F[K]> };
function defaultsOf<F extends Fields>(fields: F): Defaults<F> {
  return z.object(fields).parse({}) as Defaults<F>;
}
export const TRAIN_DEFAULTS = defaultsOf(TRAIN_FIELDS);
export const MONITOR_DEFAULTS = defaultsOf(MONITOR_FIELDS);
export const DEFAULT_GUARD = ROOT_FIELDS.guard.parse(undefined);

/** Per optimiser: its default learning rate and the options it fills, with their defaults. */
export const OPTIMIZER_DEFAULTS = Object.fromEntries(
  OPTIMIZER_NAMES.map((name) => [name, defaultsOf(OPTIMIZERS[name].fields)]),
) as { readonly [K in OptimizerName]: Defaults<(typeof OPTIMIZERS)[K]['fields']> };

// ---------------------------------------------------------------------------------------------------------------
// Rules between fields

/** Model kinds whose weights are all dense (matrices), where a convolution-only initialiser has no kernel to set. */
const DENSE_ONLY_KINDS: ReadonlySet<string> = new Set([
  'mlp',
  'rnn',
  'lstm',
  'gru',
  'transformer',
  'seq2seq',
]);

function isInitObject(spec: unknown): spec is { base: string } {
  return typeof spec === 'object' && spec !== null && typeof (spec as { base?: unknown }).base === 'string';
}

/** A rule that ties two fields together; it returns the error it finds in a resolved config. */
export interface CrossRule {
  readonly description: string;
  check(config: ResolvedConfig): ConfigErrorDetails | undefined;
}

export const CROSS_RULES: readonly CrossRule[] = [
  {
    description:
      "the model kind takes the task's inputs (sequence tasks need a recurrent model, conv models an image task)",
    check({ task, model }) {
      const input = TASKS[task.name as TaskName].input;
      const inputs = taskInputs(task.name);
      const fitting = MODEL_KINDS.filter((kind) =>
        MODEL_KINDS_TABLE[kind].takes.some((shape) => inputs.includes(shape)),
      );
      if (fitting.includes(model.kind)) return undefined;
      const sequenceTasks = TASK_NAMES.filter((name) => TASKS[name].input === 'sequence');
      const wantsImages = (MODEL_KINDS_TABLE[model.kind].takes as readonly string[]).includes('image');
      return {
        code: 'conflict',
        path: 'model.kind',
        value: model.kind,
        accepted: oneOf(fitting),
        problem: `${showValue(model.kind)} does not fit task ${showValue(task.name)}`,
        hint: wantsImages
          ? `model kind ${model.kind} reads images and task ${task.name} has none; use an image task (${imageTaskNames().join('|')}), or a model kind that reads ${task.name}: ${fitting.join('|')}`
          : input === 'sequence'
            ? `${task.name} is a sequence task, which needs a recurrent model`
            : `${task.name} is not a sequence task; the sequence tasks are ${sequenceTasks.join('|')}`,
      };
    },
  },
  {
    description: 'residual connections need hidden layers of one width',
    check({ model }) {
      if (model.kind !== 'mlp' || !model.residual || model.hidden.every((size) => size === model.hidden[0]))
        return undefined;
      return {
        code: 'conflict',
        path: 'model.residual',
        value: model.residual,
        accepted: 'false, or hidden layers of one width',
        problem: `residual connections need equal hidden widths, got ${showValue(model.hidden)}`,
        hint: 'each block adds its input to its output',
      };
    },
  },
  {
    description: 'delta-orthogonal initialises convolution kernels (model kinds with convolutions)',
    check({ model }) {
      if (!DENSE_ONLY_KINDS.has(model.kind)) return undefined;
      for (const [key, spec] of Object.entries(model)) {
        const base = typeof spec === 'string' ? spec : isInitObject(spec) ? spec.base : undefined;
        if (base !== 'delta-orthogonal') continue;
        return {
          code: 'not_applicable',
          path: `model.${key}`,
          value: spec,
          accepted: `an initialiser for dense weights, e.g. "orthogonal" (delta-orthogonal of a 1x1 kernel)`,
          problem: `delta-orthogonal (Xiao et al. 2018) sets a convolution kernel's centre tap, and model kind ${showValue(model.kind)} has no convolutions`,
          hint: 'use "orthogonal", or a conv model kind',
        };
      }
      return undefined;
    },
  },
  {
    description: 'residual form linear-out is the block without normalisation',
    check({ model }) {
      if (
        model.kind !== 'mlp' ||
        !model.residual ||
        model.residual.form !== 'linear-out' ||
        model.norm === 'none'
      )
        return undefined;
      return {
        code: 'conflict',
        path: 'model.residual.form',
        value: 'linear-out',
        accepted: `"pre" with model.norm ${showValue(model.norm)}, or model.norm "none"`,
        problem: `linear-out is x + W phi(x) + b, with no place for model.norm ${showValue(model.norm)}`,
        hint: 'form "pre" puts the norm before phi: x + W phi(N(x)) + b (He et al. 2016b)',
      };
    },
  },
  {
    description: 'Fixup does not combine with a branch scale that starts at 0',
    check({ model }) {
      if (model.kind !== 'mlp' || !model.residual || !model.residual.fixup) return undefined;
      const scale = model.residual.scale;
      if (scale !== 'rezero' && scale !== 'skipinit' && scale !== 0) return undefined;
      return {
        code: 'conflict',
        path: 'model.residual.scale',
        value: scale,
        accepted: '"none" or a non-zero constant with fixup true, or fixup false',
        problem: `fixup with scale ${showValue(scale)} never trains: the zeroed last layer gets no gradient through a scale of 0, and the scale none through a zero branch`,
        hint: 'use either fixup (zero last layer) or a zero-initialised scale, not both',
      };
    },
  },
  {
    description: 'every conv kernel fits the image its layer gets (after the strides and poolings before it)',
    check({ task, model }) {
      const image = taskImage(task.name);
      if (model.kind !== 'cnn' || image === null) return undefined;
      const small = cnnGeometry(model, image).tooSmall;
      if (small === null) return undefined;
      const { height, width } = small.input;
      const side = Math.min(height, width);
      return {
        code: 'invalid_value',
        path: 'model.kernel',
        value: model.kernel,
        accepted: describeNumber({
          integer: true,
          min: 1,
          max: side,
          about: `conv layer ${small.conv} gets a ${height}x${width} image`,
        }),
        problem: `a ${model.kernel}x${model.kernel} kernel does not fit the ${height}x${width} image conv layer ${small.conv} gets`,
        hint:
          small.conv === 0
            ? `the images of task ${task.name} are ${height}x${width}; use a kernel of at most ${side}`
            : `use a kernel of at most ${side}, fewer conv layers, "pool": "none" or a larger "poolEvery", or stride 1`,
      };
    },
  },
  {
    description: 'batch norm needs 2 or more examples per batch',
    check({ model, train }) {
      const batchNormed = model.kind === 'mlp' || model.kind === 'cnn' || model.kind === 'resnet';
      if (!batchNormed || model.norm !== 'batch' || train.batchSize >= 2) return undefined;
      return {
        code: 'invalid_value',
        path: 'train.batchSize',
        value: train.batchSize,
        accepted: describeNumber({
          integer: true,
          min: 2,
          about: 'batch norm needs 2 or more examples per batch',
        }),
      };
    },
  },
  {
    description: 'truncated BPTT applies only to recurrent models',
    check({ model, train }) {
      if (train.bptt === 0 || MODEL_KINDS_TABLE[model.kind].bptt) return undefined;
      return {
        code: 'not_applicable',
        path: 'train.bptt',
        value: train.bptt,
        accepted: `0 (or leave it out) for model kind ${model.kind}`,
        problem: 'truncated back-propagation through time applies only to recurrent models',
      };
    },
  },
  {
    description: 'the warm-up is at most the run',
    check({ schedule, train }) {
      if (schedule.warmupSteps === undefined || schedule.warmupSteps <= train.steps) return undefined;
      return {
        code: 'invalid_value',
        path: 'schedule.warmupSteps',
        value: schedule.warmupSteps,
        accepted: describeNumber({
          integer: true,
          min: 0,
          max: train.steps,
          about: `at most train.steps = ${train.steps}`,
        }),
      };
    },
  },
  {
    description: 'Nesterov momentum needs momentum > 0 (as torch.optim.SGD)',
    check({ optimizer }) {
      if (optimizer.nesterov !== true || (optimizer.momentum ?? 0) > 0) return undefined;
      return {
        code: 'conflict',
        path: 'optimizer.nesterov',
        value: true,
        accepted: 'false, or true with optimizer.momentum > 0',
        problem: `Nesterov momentum needs momentum > 0, got ${optimizer.momentum ?? 0}`,
        hint: 'add "momentum": 0.9',
      };
    },
  },
  {
    description: 'a seq2seq model reads a transduction task (a source, then its target, on one time axis)',
    check({ task, model }) {
      if (model.kind !== 'seq2seq' || (SEQ2SEQ_TASKS as readonly string[]).includes(task.name))
        return undefined;
      return {
        code: 'conflict',
        path: 'model.kind',
        value: model.kind,
        accepted: `a model kind for task ${showValue(task.name)}, or task ${oneOf(SEQ2SEQ_TASKS)}`,
        problem: `task ${showValue(task.name)} has no source and target for an encoder and a decoder`,
        hint: `use task ${SEQ2SEQ_TASKS.join(' or ')} with model kind seq2seq, or model kind lstm or transformer for ${task.name}`,
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The whole config as one schema: what a user may write (JSON Schema, docs/CONFIG.md and `Config` come from it)

/** `"adam"` or `{"name": "adam", ...}`, one object form per entry; `fallback` makes `name` optional there. */
function variantsSchema(
  table: Readonly<Record<string, { readonly description: string; readonly fields: Fields }>>,
  fallback: string | undefined,
  what: string,
  article = 'a',
): z.ZodType {
  const all = Object.keys(table) as [string, ...string[]];
  const forms = all.map((name) => {
    const literal = z.literal(name);
    return z
      .strictObject({
        name: name === fallback ? literal.optional() : literal,
        ...(table[name]?.fields ?? {}),
      })
      .describe(`${what} ${name}: ${table[name]?.description ?? ''}`);
  });
  return z.union([names(all).describe(`${article} ${what} by name, with its defaults`), ...forms]);
}

function modelSchema(): z.ZodType {
  const forms = MODEL_KINDS.map((kind) => {
    const entry: AnyModelKind = MODEL_KINDS_TABLE[kind];
    const fixed = Object.fromEntries(
      Object.entries(entry.fixed ?? {}).map(([key, value]) => [
        key,
        z
          .literal(value as string | number)
          .optional()
          .describe(`fixed at ${showValue(value)} for kind ${kind}`),
      ]),
    );
    return z.strictObject({ ...entry.fields, ...fixed }).describe(`model kind ${kind}: ${entry.description}`);
  });
  return z.union(forms as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
}

/** The user-written config: every key optional, bare names allowed where a section has a name. */
export const CONFIG_SCHEMA = z
  .strictObject({
    ...ROOT_FIELDS,
    task: variantsSchema(TASKS, undefined, 'task').optional().describe('the training task (default spirals)'),
    model: modelSchema().optional().describe("the network (default: the task's kind, mlp or lstm)"),
    optimizer: variantsSchema(OPTIMIZERS, DEFAULT_OPTIMIZER, 'optimizer', 'an')
      .optional()
      .describe('the optimiser (default sgd)'),
    schedule: variantsSchema(SCHEDULES, 'constant', 'schedule')
      .optional()
      .describe('the learning-rate schedule (default constant)'),
    clip: variantsSchema(CLIPS, 'none', 'clip').optional().describe('gradient clipping (default none)'),
    train: z.strictObject(TRAIN_FIELDS).optional().describe('the training loop'),
    monitor: z.strictObject(MONITOR_FIELDS).optional().describe('what is recorded, and how often'),
  })
  .describe(
    'A gradscope run config (docs/CONFIG.md). Leave a key out to get its default; null is never a value.',
  );
