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
import { ConfigError, oneOf, showValue, type ConfigErrorDetails } from './errors.js';
import type {
  InitName,
  MlpModelConfig,
  ModelConfig,
  RecurrentModelConfig,
  ResolvedConfig,
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
] as const;
export const NORM_NAMES = ['none', 'batch', 'layer'] as const;
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

/** What a task's examples are; a model kind lists the inputs it `takes`. */
export type TaskInputShape = 'vector' | 'sequence';

export interface TaskEntry {
  readonly input: TaskInputShape;
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
  mnist: { input: 'vector', description: 'the bundled MNIST digits, 784 inputs, 10 classes', fields: {} },
  images: {
    input: 'vector',
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
    fields: { length: taskInteger(1, 64, 'characters of context per example (the sequence length)') },
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
    residual: bool().default(MLP_DEFAULTS.residual).describe("add each hidden block's input to its output"),
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
    const { activation, bias, norm, residual, dropout } = fields;
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
      maxLength,
      init,
      bias,
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
} as const satisfies Record<string, AnyModelKind>;

export type ModelKind = keyof typeof MODEL_KINDS_TABLE;
/** The kind a config without `model.kind` gets, by the task's input (one row per input shape). */
export const DEFAULT_MODEL_KIND: { readonly [K in TaskInputShape]: ModelKind } = {
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

/** A rule that ties two fields together; it returns the error it finds in a resolved config. */
export interface CrossRule {
  readonly description: string;
  check(config: ResolvedConfig): ConfigErrorDetails | undefined;
}

export const CROSS_RULES: readonly CrossRule[] = [
  {
    description: "the model kind takes the task's inputs (sequence tasks need a recurrent model)",
    check({ task, model }) {
      const input = TASKS[task.name as TaskName].input;
      const fitting = MODEL_KINDS.filter((kind) =>
        (MODEL_KINDS_TABLE[kind].takes as readonly string[]).includes(input),
      );
      if (fitting.includes(model.kind)) return undefined;
      const sequenceTasks = TASK_NAMES.filter((name) => TASKS[name].input === 'sequence');
      return {
        code: 'conflict',
        path: 'model.kind',
        value: model.kind,
        accepted: oneOf(fitting),
        problem: `${showValue(model.kind)} does not fit task ${showValue(task.name)}`,
        hint:
          input === 'sequence'
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
        value: true,
        accepted: 'false, or hidden layers of one width',
        problem: `residual connections need equal hidden widths, got ${showValue(model.hidden)}`,
        hint: 'each block adds its input to its output',
      };
    },
  },
  {
    description: 'batch norm needs 2 or more examples per batch',
    check({ model, train }) {
      if (model.kind !== 'mlp' || model.norm !== 'batch' || train.batchSize >= 2) return undefined;
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
