/**
 * The resource budget of a run, estimated from its config before anything is built: the parameters (with their
 * gradients, updates, optimiser state, rollback snapshot and the preflight's float64 copies), the activations a
 * step keeps for backward (x batch x time steps) and those of the final evaluation, the task's data, and the
 * records the doctor keeps in memory. A run over the limit is refused in milliseconds, naming the config field
 * whose size dominates, instead of growing memory for minutes or ending in a `RangeError`.
 *
 * The estimate is an upper-side approximation (every tensor float32, 4 bytes), not an accounting: it is meant to
 * be within a small factor, so that a limit well under the machine's memory keeps the machine usable.
 *
 * @example
 * const estimate = estimateMemory(config);       // { bytes: 5.1e6, parts: [...], largestTensor: {...} }
 * checkMemoryBudget(config, parseByteSize('2GiB')); // throws BudgetError when over
 */
import { totalmem } from 'node:os';
import { cnnGeometry, resnetGeometry, type ImageSize } from '../config/conv-geometry.js';
import { taskImage } from '../config/schema.js';
import type { CnnModelConfig, ResNetModelConfig, ResolvedConfig, TaskConfig } from '../config/types.js';
import type { TaskName } from '../data/index.js';
import { csvSizeEstimate } from '../data/csv.js';
import { CELL_SHAPES } from '../ops/index.js';
import { GradscopeError, showValue } from '../util/errors.js';

const FLOAT = 4;

/**
 * Refused: `path` is the config field whose size dominates (e.g. `train.batchSize`) and `value` its value; the
 * message names the estimate by part and how to get under the limit (lower the field, or `--max-memory`).
 */
export class BudgetError extends GradscopeError {
  override readonly name = 'BudgetError';
  /** The config field whose size dominates, e.g. `train.batchSize` (the error's `path`). */
  readonly field: string;
  readonly bytes: number;
  readonly limit: number;
  constructor(details: {
    field: string;
    value: unknown;
    problem: string;
    hint: string;
    bytes: number;
    limit: number;
  }) {
    super({
      code: 'invalid_value',
      path: details.field,
      value: details.value,
      problem: details.problem,
      hint: details.hint,
    });
    this.field = details.field;
    this.bytes = details.bytes;
    this.limit = details.limit;
  }
}

export interface MemoryPart {
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  /** Everything together, in bytes. */
  bytes: number;
  parts: MemoryPart[];
  /** The largest single buffer, in elements: one tensor must fit the WebAssembly kernels' 4 GiB memory. */
  largestTensor: number;
}

/**
 * The default limit: half the machine's memory, so a run the budget lets through still leaves the machine
 * usable (the estimate is approximate, and Node, the report and the OS need their share).
 */
export function defaultMemoryLimit(): number {
  return Math.floor(totalmem() / 2);
}

/**
 * One tensor of at most 2^28 elements (1 GiB of float32): a matmul hands its operands and result to the
 * WebAssembly kernels, whose memory cannot grow past 4 GiB.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

interface TaskShape {
  inputs: number;
  outputs: number;
  /** Time steps (1 for tasks an MLP reads). */
  steps: number;
  /** Whether every time step is scored (its outputs and targets are kept for each step). */
  scoredEvery: boolean;
  evalRows: number;
  /** Floats of data the task holds: training pool, evaluation set, teacher weights, bundled digits. */
  dataFloats: number;
}

/** MNIST as bundled: 10,000 digits of 784 pixels, read into memory on first use (twice: source and tensors). */
const MNIST_FLOATS = 2 * 10_000 * 784;

/** Each task's sizes from its config alone (the task is not built: building is what may not fit). */
const TASK_SHAPES: { readonly [K in TaskName]: (task: TaskConfig) => TaskShape } = {
  spirals: (t) => {
    const size = t.size ?? 2000;
    return {
      inputs: 2,
      outputs: 2,
      steps: 1,
      scoredEvery: false,
      evalRows: 1000,
      dataFloats: 3 * (size + 1000),
    };
  },
  xor: () => ({ inputs: 2, outputs: 2, steps: 1, scoredEvery: false, evalRows: 1000, dataFloats: 3000 }),
  images: (t) => {
    const size = t.size ?? 2000;
    return {
      inputs: 144,
      outputs: 4,
      steps: 1,
      scoredEvery: false,
      evalRows: 500,
      dataFloats: 145 * (size + 500),
    };
  },
  csv: (t) => {
    const { columns, values } = csvSizeEstimate(t.path);
    const rows = Math.ceil(values / columns);
    return {
      inputs: columns,
      outputs: columns,
      steps: 1,
      scoredEvery: false,
      evalRows: rows,
      dataFloats: 2 * values,
    };
  },
  teacher: (t) => {
    const inputs = t.inputs ?? 32;
    const classes = t.classes ?? 10;
    const rows = (t.size ?? 10_000) + 2000;
    return {
      inputs,
      outputs: classes,
      steps: 1,
      scoredEvery: false,
      evalRows: 2000,
      dataFloats: inputs * classes + rows * (inputs + classes + 1),
    };
  },
  mnist: () => ({
    inputs: 784,
    outputs: 10,
    steps: 1,
    scoredEvery: false,
    evalRows: 2000,
    dataFloats: MNIST_FLOATS,
  }),
  adding: (t) => {
    const steps = t.length ?? 50;
    return {
      inputs: 2,
      outputs: 1,
      steps,
      scoredEvery: false,
      evalRows: 1000,
      dataFloats: 1000 * (steps * 2 + 1),
    };
  },
  copy: (t) => {
    // Ten symbols shown, a delay of `length`, ten recalled (data/copy.ts); one-hot inputs and targets per step.
    const steps = (t.length ?? 50) + 20;
    return {
      inputs: 10,
      outputs: 10,
      steps,
      scoredEvery: true,
      evalRows: 1000,
      dataFloats: 1000 * steps * 21,
    };
  },
  'char-lm': (t) => {
    // The bundled corpus (about 100k characters, ~64 symbols) held as ids; 64 evaluation windows, one-hot.
    const steps = t.length ?? 64;
    return {
      inputs: 64,
      outputs: 64,
      steps,
      scoredEvery: true,
      evalRows: 64,
      dataFloats: 100_000 + 64 * steps * 129,
    };
  },
  reverse: (t) => transductionShape(t),
  sort: (t) => transductionShape(t),
  translate: (t) => transductionShape(t),
  'seq-mnist': (t) => {
    const pixel = t.mode === 'pixel';
    return {
      inputs: pixel ? 1 : 28,
      outputs: 10,
      steps: pixel ? 784 : 28,
      scoredEvery: false,
      evalRows: 2000,
      dataFloats: MNIST_FLOATS,
    };
  },
};

/** reverse / sort / translate: 2n + 1 one-hot steps over classes + 2 categories, 512 evaluation sequences. */
function transductionShape(t: TaskConfig): TaskShape {
  const steps = 2 * (t.length ?? 10) + 1;
  const symbols = (t.classes ?? 8) + 2;
  return {
    inputs: symbols,
    outputs: symbols,
    steps,
    scoredEvery: true,
    evalRows: 512,
    dataFloats: 512 * steps * (2 * symbols + 1),
  };
}

/** Copies of the parameters an optimiser keeps as state (momentum, squared averages). */
const OPTIMIZER_COPIES: { readonly [K in ResolvedConfig['optimizer']['name']]: number } = {
  sgd: 0,
  momentum: 1,
  nesterov: 1,
  adagrad: 1,
  rmsprop: 2,
  adam: 2,
  adamw: 2,
};

/** Bytes of one logged record held in memory (the doctor reads the whole history): per tensor, layer, time step. */
const RECORD_BYTES = { base: 600, perTensor: 260, perLayer: 200, perTimeStep: 24 };

function taskShape(task: TaskConfig): TaskShape {
  const shape = Object.hasOwn(TASK_SHAPES, task.name) ? TASK_SHAPES[task.name as TaskName] : null;
  // A task added without a shape here estimates as a small one: the budget then covers the model alone.
  return shape
    ? shape(task)
    : { inputs: 1, outputs: 1, steps: 1, scoredEvery: false, evalRows: 1000, dataFloats: 0 };
}

/**
 * The run's memory estimated from its config.
 * @example estimateMemory(resolveConfig({ train: { batchSize: 1e7 } }, { defaultName: 'big' })).bytes // ~2e11
 */
export function estimateMemory(config: ResolvedConfig): MemoryEstimate {
  const task = taskShape(config.task);
  const batch = config.train.batchSize;
  const model = config.model;
  let params = 0;
  let tensors = 0;
  let layers = 0;
  let largest = 0;
  let trainFloats = 0;
  let evalFloats = 0;
  if (model.kind === 'mlp') {
    const widths = [task.inputs, ...model.hidden, task.outputs];
    layers = widths.length - 1;
    for (let l = 0; l < layers; l++) {
      const fanIn = widths[l] as number;
      const fanOut = widths[l + 1] as number;
      const norm = model.norm !== 'none' && l < model.hidden.length;
      // A residual block of two weight layers holds a second fanOut x fanOut layer (and norm).
      const copies =
        model.residual && model.residual.layers === 2 && fanIn === fanOut && l < model.hidden.length ? 2 : 1;
      params += copies * (fanIn * fanOut + fanOut + (norm ? 2 * fanOut : 0));
      tensors += copies * (norm ? 4 : 2);
      largest = Math.max(largest, fanIn * fanOut);
    }
    // Kept per unit and row: pre-activation and output (+ normalised values and statistics, dropout mask,
    // residual sum), each with its gradient in backward.
    const perUnit =
      (2 + (model.norm !== 'none' ? 2 : 0) + (model.dropout > 0 ? 1 : 0)) *
        (model.residual ? model.residual.layers : 1) +
      (model.residual ? 1 : 0);
    const units = model.hidden.reduce((sum, w) => sum + w, 0) + 3 * task.outputs;
    trainFloats = batch * (units * perUnit * 2 + task.inputs);
    evalFloats = task.evalRows * (units * perUnit + task.inputs);
    largest = Math.max(largest, batch * Math.max(...widths), task.evalRows * Math.max(...widths));
  } else if (model.kind === 'transformer') {
    const d = model.dModel;
    const f = model.ffWidth;
    // Per block: q, k, v and output projections, two feed-forward layers, two layer norms.
    const perBlock = 4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d;
    params = task.inputs * d + model.layers * perBlock + d * task.outputs + task.outputs + 2 * d;
    if (model.positions === 'learned') params += model.maxLength * d;
    tensors = 2 + 12 * model.layers + 4;
    layers = model.layers + 2;
    largest = Math.max(task.inputs, task.outputs, f, d) * d;
    // Per position and row each block keeps about 12 d + 2 f floats (and gradients); attention keeps T x T per head.
    const perToken = model.layers * (12 * d + 2 * f);
    const attentionPerRow = model.layers * model.heads * task.steps * task.steps * 2;
    const outputs = task.steps * task.outputs * 3;
    trainFloats = batch * (task.steps * (perToken * 2 + task.inputs) + 2 * attentionPerRow + outputs);
    evalFloats = task.evalRows * (task.steps * (perToken + task.inputs) + attentionPerRow + outputs);
    largest = Math.max(
      largest,
      batch * task.steps * Math.max(f, task.outputs),
      batch * model.heads * task.steps ** 2,
    );
  } else if (model.kind === 'cnn' || model.kind === 'resnet') {
    const image = taskImage(config.task.name) ?? { channels: 1, height: task.inputs, width: 1 };
    const conv = model.kind === 'cnn' ? cnnSizes(model, image) : resnetSizes(model, image);
    // The linear output layer (and a cnn's dense head) as in the MLP.
    const widths = [conv.features, ...(model.kind === 'cnn' ? model.head : []), task.outputs];
    let denseUnits = 3 * task.outputs;
    for (let l = 0; l + 1 < widths.length; l++) {
      const fanIn = widths[l] as number;
      const fanOut = widths[l + 1] as number;
      conv.params += fanIn * fanOut + fanOut;
      conv.tensors += 2;
      conv.largest = Math.max(conv.largest, fanIn * fanOut);
      if (l + 2 < widths.length) denseUnits += 2 * fanOut;
    }
    params = conv.params;
    tensors = conv.tensors;
    layers = conv.layers + widths.length - 1;
    // Kept for backward, per example: batch x channels x height x width floats for each map a layer keeps (its
    // pre-activation, output, normalised values; the residual sums), each with its gradient in backward. The im2col
    // buffer holds one image at a time (ops/conv.ts), so it counts once, not per example.
    const perExample = conv.kept + denseUnits + task.inputs;
    trainFloats = batch * (conv.kept * 2 + denseUnits * 2 + task.inputs) + conv.column;
    evalFloats = task.evalRows * perExample + conv.column;
    largest = Math.max(conv.largest, batch * conv.largestMap, task.evalRows * conv.largestMap);
  } else if (model.kind === 'seq2seq') {
    const h = model.hidden;
    const transformerArchitecture = model.architecture === 'transformer';
    // A cell's weights (rnn) or a block's q, k, v, output and feed-forward weights (transformer, +cross in decoders).
    const gates = CELL_SHAPES[model.cell].gates;
    const perLayer = transformerArchitecture
      ? 4 * h * h + 2 * h * model.ffWidth + 8 * h
      : gates * h * 2 * h + 2 * gates * h;
    const crossPerLayer = transformerArchitecture ? 4 * h * h + 6 * h : 0;
    const attention = model.attention === 'none' || transformerArchitecture ? 0 : 4 * h * h + 2 * h;
    params =
      2 * task.inputs * h + model.layers * (2 * perLayer + crossPerLayer) + attention + h * task.outputs;
    tensors = 2 + model.layers * (transformerArchitecture ? 30 : 8) + 8 + 2;
    layers = 2 * model.layers + 4;
    largest = Math.max(task.inputs, task.outputs, transformerArchitecture ? model.ffWidth : gates * h) * h;
    // Per step and row each layer keeps its gates or sublayer activations; attention keeps steps x steps per row
    // (additive: x hidden, its tanh features).
    const perStep =
      2 * model.layers * h * (transformerArchitecture ? 12 + (2 * model.ffWidth) / h : gates + 3);
    const scores = task.steps * task.steps * (model.attention === 'additive' ? h * 2 : 2 * model.heads);
    const outputs = task.steps * task.outputs * 3;
    trainFloats = batch * (task.steps * (perStep * 2 + task.inputs) + 2 * scores + outputs);
    evalFloats = task.evalRows * (task.steps * (perStep + task.inputs) + scores + outputs);
    largest = Math.max(largest, batch * scores, task.evalRows * scores);
  } else {
    const gates = CELL_SHAPES[model.kind].gates;
    const hidden = model.hidden;
    for (let l = 0; l < model.layers; l++) {
      const fanIn = l === 0 ? task.inputs : hidden;
      params += gates * hidden * (fanIn + hidden) + 2 * gates * hidden;
      tensors += 4;
      largest = Math.max(largest, gates * hidden * Math.max(fanIn, hidden));
    }
    params += hidden * task.outputs + task.outputs;
    tensors += 2;
    layers = model.layers + 1;
    // Per time step and row, each layer keeps its gates, cell state and hidden state (and their gradients).
    const perStep = model.layers * hidden * (gates + 3);
    const outputs = task.scoredEvery ? task.steps * task.outputs * 3 : task.outputs * 3;
    trainFloats = batch * (task.steps * (perStep * 2 + task.inputs) + outputs);
    evalFloats = task.evalRows * (task.steps * (perStep + task.inputs) + outputs);
    largest = Math.max(
      largest,
      batch * task.steps * Math.max(task.inputs, gates * hidden),
      task.evalRows * task.steps * Math.max(task.inputs, hidden),
    );
  }
  const optimizerCopies = OPTIMIZER_COPIES[config.optimizer.name] ?? 2;
  // Weights, gradients, updates, optimiser state; rollback keeps one more of weights and state.
  const copies = 3 + optimizerCopies + (config.guard === 'rollback' ? 1 + optimizerCopies : 0);
  const logged = Math.ceil(config.train.steps / Math.max(1, config.monitor.every)) + 1;
  const recordBytes =
    RECORD_BYTES.base +
    RECORD_BYTES.perTensor * tensors +
    RECORD_BYTES.perLayer * layers +
    (model.kind === 'rnn' || model.kind === 'lstm' || model.kind === 'gru'
      ? RECORD_BYTES.perTimeStep * task.steps * model.layers
      : 0);
  const parts: MemoryPart[] = [
    // The preflight probe builds the model in float64 (8 bytes) with gradients before training.
    { what: 'parameters', bytes: params * (FLOAT * copies + 16) },
    { what: 'activations kept for backward', bytes: trainFloats * FLOAT },
    { what: 'evaluation', bytes: evalFloats * FLOAT },
    { what: 'data', bytes: task.dataFloats * FLOAT },
    { what: 'logged records', bytes: logged * recordBytes },
  ];
  if (config.clip.name === 'autoclip')
    parts.push({ what: 'clipping history', bytes: config.train.steps * 16 });
  return { bytes: parts.reduce((sum, p) => sum + p.bytes, 0), parts, largestTensor: largest };
}

function isRecurrent(
  model: ResolvedConfig['model'],
): model is Extract<ResolvedConfig['model'], { kind: 'rnn' | 'lstm' | 'gru' }> {
  return model.kind === 'rnn' || model.kind === 'lstm' || model.kind === 'gru';
}

/** A conv model's sizes: parameters, parameter tensors, layers, floats kept per example, the im2col buffer. */
interface ConvSizes {
  params: number;
  tensors: number;
  layers: number;
  /** Floats kept for backward per example (forward only: backward doubles them). */
  kept: number;
  /** The largest im2col buffer, C_in k^2 x H_out W_out, built for one image at a time. */
  column: number;
  /** The largest feature map of one example, C x H x W. */
  largestMap: number;
  /** The largest weight tensor. */
  largest: number;
  /** What the dense output layer reads. */
  features: number;
}

/** One conv layer's share: weight, bias, batch norm; the maps it keeps (z, y; with batch norm x-hat and its input). */
function addConv(
  sizes: ConvSizes,
  input: ImageSize,
  output: ImageSize,
  kernel: number,
  norm: boolean,
  bias = true,
): void {
  const weight = input.channels * output.channels * kernel * kernel;
  const map = output.channels * output.height * output.width;
  sizes.params += weight + (bias ? output.channels : 0) + (norm ? 2 * output.channels : 0);
  sizes.tensors += 1 + (bias ? 1 : 0) + (norm ? 2 : 0);
  sizes.kept += map * (2 + (norm ? 2 : 0));
  sizes.column = Math.max(sizes.column, input.channels * kernel * kernel * output.height * output.width);
  sizes.largestMap = Math.max(sizes.largestMap, map);
  sizes.largest = Math.max(sizes.largest, weight);
}

function emptySizes(): ConvSizes {
  return { params: 0, tensors: 0, layers: 0, kept: 0, column: 0, largestMap: 0, largest: 0, features: 0 };
}

function cnnSizes(model: CnnModelConfig, image: ImageSize): ConvSizes {
  const sizes = emptySizes();
  const geometry = cnnGeometry(model, image);
  for (const layer of geometry.layers) {
    addConv(sizes, layer.input, layer.output, model.kernel, model.norm === 'batch');
    sizes.layers += layer.pooled ? 2 : 1;
    // A pooled map (and max pooling's winners) is kept too.
    if (layer.pooled)
      sizes.kept += layer.output.channels * Math.ceil((layer.output.height * layer.output.width) / 2);
  }
  sizes.features = geometry.features;
  return sizes;
}

function resnetSizes(model: ResNetModelConfig, image: ImageSize): ConvSizes {
  const sizes = emptySizes();
  const norm = model.norm === 'batch';
  const { stem, stages } = resnetGeometry(model, image);
  addConv(sizes, image, stem, 3, norm && model.block === 'post');
  let previous: ImageSize = stem;
  for (const stage of stages) {
    for (let block = 0; block < stage.blocks; block++) {
      const input = previous;
      for (let l = 0; l < model.layers; l++)
        addConv(sizes, l === 0 ? input : stage.output, stage.output, 3, norm);
      if (
        model.shortcut &&
        (input.channels !== stage.output.channels || input.height !== stage.output.height)
      ) {
        addConv(sizes, input, stage.output, 1, norm && model.block === 'post', false);
      }
      // The sum, and the scaled branch when s is not 1.
      const map = stage.output.channels * stage.output.height * stage.output.width;
      sizes.kept += map * (1 + (model.scale === 'none' && !model.fixup ? 0 : 1));
      if (model.scale !== 'none' || model.fixup) sizes.params += 1;
      sizes.layers += 1;
      previous = stage.output;
    }
  }
  sizes.layers += 2;
  sizes.features = previous.channels;
  return sizes;
}

/** A config field that sizes the run, with a modest value to compare against (the sizes the presets use). */
interface SizeField {
  field: string;
  applies: (config: ResolvedConfig) => boolean;
  value: (config: ResolvedConfig) => number | string;
  /** The config with this field brought down to a modest size. */
  modest: (config: ResolvedConfig) => void;
}

const SIZE_FIELDS: readonly SizeField[] = [
  {
    field: 'train.batchSize',
    applies: () => true,
    value: (c) => c.train.batchSize,
    modest: (c) => void (c.train.batchSize = Math.min(c.train.batchSize, 64)),
  },
  {
    field: 'train.steps',
    applies: () => true,
    value: (c) => c.train.steps,
    modest: (c) => void (c.train.steps = Math.min(c.train.steps, 1000)),
  },
  {
    field: 'model.width',
    applies: (c) => c.model.kind === 'mlp',
    value: (c) => (c.model.kind === 'mlp' ? Math.max(...c.model.hidden) : 0),
    modest: (c) => {
      if (c.model.kind === 'mlp') c.model.hidden = c.model.hidden.map((w) => Math.min(w, 64));
    },
  },
  {
    field: 'model.depth',
    applies: (c) => c.model.kind === 'mlp',
    value: (c) => (c.model.kind === 'mlp' ? c.model.hidden.length : 0),
    modest: (c) => {
      if (c.model.kind === 'mlp') c.model.hidden = c.model.hidden.slice(0, 4);
    },
  },
  {
    field: 'model.hidden',
    applies: (c) => isRecurrent(c.model),
    value: (c) => (isRecurrent(c.model) ? c.model.hidden : 0),
    modest: (c) => {
      if (isRecurrent(c.model)) c.model.hidden = Math.min(c.model.hidden, 64);
    },
  },
  {
    field: 'model.layers',
    applies: (c) => isRecurrent(c.model) || c.model.kind === 'transformer',
    value: (c) => (isRecurrent(c.model) || c.model.kind === 'transformer' ? c.model.layers : 0),
    modest: (c) => {
      if (isRecurrent(c.model) || c.model.kind === 'transformer')
        c.model.layers = Math.min(c.model.layers, c.model.kind === 'transformer' ? 2 : 1);
    },
  },
  {
    field: 'model.channels',
    applies: (c) => c.model.kind === 'cnn',
    value: (c) => (c.model.kind === 'cnn' ? Math.max(...c.model.channels) : 0),
    modest: (c) => {
      if (c.model.kind === 'cnn') c.model.channels = c.model.channels.slice(0, 4).map((w) => Math.min(w, 16));
    },
  },
  {
    field: 'model.width',
    applies: (c) => c.model.kind === 'resnet',
    value: (c) => (c.model.kind === 'resnet' ? c.model.width : 0),
    modest: (c) => {
      if (c.model.kind === 'resnet') c.model.width = Math.min(c.model.width, 16);
    },
  },
  {
    field: 'model.blocks',
    applies: (c) => c.model.kind === 'resnet',
    value: (c) => (c.model.kind === 'resnet' ? c.model.blocks : 0),
    modest: (c) => {
      if (c.model.kind === 'resnet') c.model.blocks = Math.min(c.model.blocks, 2);
    },
  },
  {
    field: 'model.dModel',
    applies: (c) => c.model.kind === 'transformer',
    value: (c) => (c.model.kind === 'transformer' ? c.model.dModel : 0),
    modest: (c) => {
      if (c.model.kind === 'transformer') {
        c.model.dModel = Math.min(c.model.dModel, 64);
        c.model.ffWidth = Math.min(c.model.ffWidth, 256);
        c.model.heads = Math.min(c.model.heads, 4);
        while (c.model.dModel % c.model.heads !== 0) c.model.heads -= 1;
      }
    },
  },
  ...(['inputs', 'classes', 'size', 'length'] as const).map((key): SizeField => ({
    field: `task.${key}`,
    applies: (c) => c.task[key] !== undefined,
    value: (c) => c.task[key] ?? 0,
    modest: (c) => {
      const modest = { inputs: 32, classes: 10, size: 10_000, length: 50 }[key];
      if (c.task[key] !== undefined) c.task[key] = Math.min(c.task[key] as number, modest);
    },
  })),
  {
    field: 'task.mode',
    applies: (c) => c.task.mode === 'pixel',
    value: (c) => c.task.mode ?? '',
    modest: (c) => void (c.task.mode = 'row'),
  },
];

/** The field that, brought down to a modest size, shrinks `measure` the most (the one to lower). */
export function dominantField(
  config: ResolvedConfig,
  measure: (estimate: MemoryEstimate) => number,
): { field: string; value: number | string } {
  const now = measure(estimateMemory(config));
  let best: { field: string; value: number | string; saved: number } = {
    field: 'train.batchSize',
    value: config.train.batchSize,
    saved: -1,
  };
  for (const size of SIZE_FIELDS) {
    if (!size.applies(config)) continue;
    const smaller = structuredClone(config);
    size.modest(smaller);
    const saved = now - measure(estimateMemory(smaller));
    if (saved > best.saved) best = { field: size.field, value: size.value(config), saved };
  }
  return { field: best.field, value: best.value };
}

/** Bytes as a person reads them: 1.5 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toPrecision(3)} ${units[unit]}`;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1e3,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1e12,
  tib: 1024 ** 4,
};

/**
 * A size such as `512MiB`, `2GB`, `1.5g` or a byte count; null when the text is not one.
 * @example parseByteSize('2GiB') // 2147483648
 */
export function parseByteSize(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return null;
  const unit = SIZE_UNITS[(match[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Number(match[1]) * unit;
  return Number.isFinite(bytes) && bytes > 0 ? Math.floor(bytes) : null;
}

/**
 * Refuse a run whose estimate exceeds `limit` bytes, or one of whose tensors cannot exist, with a `BudgetError`
 * naming the estimate by part, the field to lower and `--max-memory`.
 */
export function checkMemoryBudget(config: ResolvedConfig, limit: number): MemoryEstimate {
  const estimate = estimateMemory(config);
  if (estimate.bytes > limit) {
    const { field, value } = dominantField(config, (e) => e.bytes);
    const parts = estimate.parts
      .filter((p) => p.bytes >= estimate.bytes / 100)
      .map((p) => `${p.what} ${formatBytes(p.bytes)}`)
      .join(', ');
    throw new BudgetError({
      field,
      value,
      problem:
        `${showValue(value)} makes ${config.name} need about ${formatBytes(estimate.bytes)} of memory (${parts}), ` +
        `over the limit of ${formatBytes(limit)}`,
      hint: `lower ${field}, or raise the limit with --max-memory SIZE (e.g. --max-memory 32GiB)`,
      bytes: estimate.bytes,
      limit,
    });
  }
  if (estimate.largestTensor > MAX_TENSOR_ELEMENTS) {
    const { field, value } = dominantField(config, (e) => e.largestTensor);
    throw new BudgetError({
      field,
      value,
      problem:
        `${showValue(value)} makes one tensor of ${config.name} hold ${estimate.largestTensor.toExponential(2)} values, ` +
        `more than the engine's ${MAX_TENSOR_ELEMENTS.toExponential(2)} (1 GiB of float32, so a matmul fits the ` +
        `kernels' 4 GiB)`,
      hint: `lower ${field}`,
      bytes: estimate.bytes,
      limit,
    });
  }
  return estimate;
}
