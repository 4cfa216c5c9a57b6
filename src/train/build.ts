/** Turns a resolved config into a model. Models declare their own layers and facts; nothing downstream switches on kind. */
import type {
  CnnModelConfig,
  MlpModelConfig,
  MlpResidualConfig,
  MlpResidualForm,
  ModelConfig,
  RecurrentModelConfig,
  ResNetModelConfig,
  Seq2SeqModelConfig,
  TransformerModelConfig,
  BranchScale,
} from '../config/types.js';
import type { Task } from '../data/task.js';
import { resolveBias, resolveInit } from '../init/index.js';
import { ConvNet } from '../nn/conv.js';
import { Mlp, RecurrentNet, type LayeredModel, type MlpResidual } from '../nn/index.js';
import { ResNet, type ResidualOrder, type ResidualScale } from '../nn/residual.js';
import { Seq2Seq } from '../nn/seq2seq.js';
import { deepNormScales, Transformer } from '../nn/transformer.js';
import { GradscopeError } from '../util/errors.js';
import type { Rng } from '../tensor/rng.js';
import type { DType } from '../tensor/tensor.js';

/** `bptt`: truncated BPTT length for recurrent models (0 = full). */
export function buildModel(
  model: ModelConfig,
  task: Task,
  rng: Rng,
  options: { dtype?: DType; bptt?: number } = {},
): LayeredModel {
  const dtype = options.dtype ?? 'float32';
  if (model.kind === 'mlp') return buildMlp(model, task, rng, dtype);
  if (model.kind === 'transformer') return buildTransformer(model, task, rng, dtype);
  if (model.kind === 'cnn') return buildCnn(model, task, rng, dtype);
  if (model.kind === 'resnet') return buildResNet(model, task, rng, dtype);
  if (model.kind === 'seq2seq') return buildSeq2Seq(model, task, rng, dtype);
  return buildRecurrent(model, task, rng, dtype, options.bptt ?? 0);
}

function buildTransformer(model: TransformerModelConfig, task: Task, rng: Rng, dtype: DType): Transformer {
  if (!task.sequence) {
    throw new Error(
      `task "${task.name}" has no time axis; a transformer needs a sequence task (char-lm, reverse, sort, translate, adding, copy, seq-mnist). Use model.kind "mlp".`,
    );
  }
  if (task.sequence.length > model.maxLength) {
    throw new GradscopeError({
      code: 'conflict',
      path: 'model.maxLength',
      value: model.maxLength,
      problem: `the positional table has ${model.maxLength} positions but task "${task.name}" has sequences of ${task.sequence.length} steps`,
      accepted: `an integer >= ${task.sequence.length}`,
      hint: `raise model.maxLength to at least ${task.sequence.length} or shorten the task's sequences`,
    });
  }
  const tokens = (task as { tokens?: boolean }).tokens === true;
  return new Transformer({
    input: tokens ? 'tokens' : 'features',
    inputSize: task.inputSize,
    outputSize: task.outputSize,
    maxLength: model.maxLength,
    scored: task.sequence.scored,
    layers: model.layers,
    dModel: model.dModel,
    heads: model.heads,
    ffWidth: model.ffWidth,
    activation: model.activation,
    norm: model.norm,
    dropout: model.dropout,
    positions: model.positions,
    tiedEmbeddings: model.tiedEmbeddings,
    ...(model.deepNorm ? deepNormScales(model.layers) : {}),
    qkNorm: model.qkNorm,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    biasInit: resolveBias(model.bias),
    rng,
    dtype,
  });
}

function buildSeq2Seq(model: Seq2SeqModelConfig, task: Task, rng: Rng, dtype: DType): Seq2Seq {
  if (!task.sequence || task.sourceLength === undefined) {
    throw new GradscopeError({
      code: 'conflict',
      path: 'model.kind',
      value: 'seq2seq',
      accepted: 'a transduction task (reverse, sort, translate) for model kind seq2seq',
      problem: `task "${task.name}" has no source and target for an encoder and a decoder`,
      hint: 'use task reverse, sort or translate, or model kind lstm or transformer for this task',
    });
  }
  return new Seq2Seq({
    architecture: model.architecture,
    vocabulary: task.inputSize,
    outputSize: task.outputSize,
    steps: task.sequence.length,
    sourceLength: task.sourceLength,
    hidden: model.hidden,
    layers: model.layers,
    cell: model.cell,
    attention: model.attention,
    heads: model.heads,
    ffWidth: model.ffWidth,
    activation: model.activation,
    norm: model.norm,
    qkNorm: model.qkNorm,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    recurrentInit: resolveInit(model.recurrentInit, { activation: 'tanh' }),
    biasInit: resolveBias(model.bias),
    forgetBias: model.forgetBias,
    rng,
    dtype,
  });
}

function buildRecurrent(
  model: RecurrentModelConfig,
  task: Task,
  rng: Rng,
  dtype: DType,
  bptt: number,
): RecurrentNet {
  if (!task.sequence) {
    throw new Error(
      `task "${task.name}" has no time axis; a ${model.kind} needs a sequence task (adding, copy, seq-mnist). Use model.kind "mlp".`,
    );
  }
  const activation = model.kind === 'rnn' ? model.activation : 'tanh';
  const net = new RecurrentNet({
    kind: model.kind,
    inputSize: task.inputSize,
    hidden: model.hidden,
    layers: model.layers,
    outputSize: task.outputSize,
    steps: task.sequence.length,
    scored: task.sequence.scored,
    activation,
    inputInit: resolveInit(model.init, { activation }),
    recurrentInit: resolveInit(model.recurrentInit, { activation }),
    biasInit: resolveBias(model.bias),
    headInit: resolveInit(model.init, { activation: 'linear' }),
    forgetBias: model.kind === 'lstm' ? model.forgetBias : 0,
    rng,
    dtype,
  });
  net.setBptt(bptt);
  return net;
}

function buildMlp(model: MlpModelConfig, task: Task, rng: Rng, dtype: DType): Mlp {
  if (task.sequence) {
    throw new Error(
      `task "${task.name}" is a sequence task; an mlp cannot read it. Use model.kind "rnn", "lstm" or "gru".`,
    );
  }
  return new Mlp({
    inputSize: task.inputSize,
    hidden: model.hidden,
    outputSize: task.outputSize,
    activation: model.activation,
    norm: model.norm,
    residual: mlpResidual(model.residual),
    dropout: model.dropout,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    biasInit: resolveBias(model.bias),
    rng,
    dtype,
  });
}

/** Each config form is an order of the one ResidualBlock; linear-out is pre without a norm (a schema rule). */
const RESIDUAL_ORDER: { readonly [F in MlpResidualForm]: ResidualOrder } = {
  activated: 'branch',
  post: 'post',
  pre: 'pre',
  'linear-out': 'pre',
};

/**
 * The Mlp's residual setting: today's block (`true`) as the x + phi(W x + b) shorthand around the layer itself,
 * every other form as a ResidualBlock.
 */
export function mlpResidual(residual: false | MlpResidualConfig): boolean | MlpResidual {
  if (residual === false) return false;
  const { form, layers, fixup } = residual;
  const scale = branchScale(residual.scale);
  const unscaled = scale === undefined || (scale.init === 1 && !scale.learnable);
  if (form === 'activated' && layers === 1 && unscaled && !fixup) return true;
  return { order: RESIDUAL_ORDER[form], layers, ...(scale ? { scale } : {}), fixup };
}

/** The task's image shape; conv kinds read the flat features as these images. */
function imageOf(task: Task, kind: string): NonNullable<Task['image']> {
  if (!task.image) {
    throw new Error(
      `task "${task.name}" has no image shape; a ${kind} needs an image task (images, mnist). Use model.kind "mlp".`,
    );
  }
  return task.image;
}

function buildCnn(model: CnnModelConfig, task: Task, rng: Rng, dtype: DType): ConvNet {
  return new ConvNet({
    image: imageOf(task, 'cnn'),
    outputSize: task.outputSize,
    channels: model.channels,
    kernel: model.kernel,
    stride: model.stride,
    padding: model.padding,
    pool: model.pool,
    poolEvery: model.poolEvery,
    activation: model.activation,
    norm: model.norm,
    head: model.head,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    biasInit: resolveBias(model.bias),
    rng,
    dtype,
  });
}

/** s in y = x + s F(x) as the block takes it; `none` leaves the block's constant 1. */
export function branchScale(scale: BranchScale): ResidualScale | undefined {
  if (scale === 'none') return undefined;
  // ReZero (Bachlechner et al. 2020) and SkipInit (De & Smith 2020): one learnable scalar per block, 0 at init.
  if (scale === 'rezero' || scale === 'skipinit') return { init: 0, learnable: true };
  return { init: scale, learnable: false };
}

function buildResNet(model: ResNetModelConfig, task: Task, rng: Rng, dtype: DType): ResNet {
  const scale = branchScale(model.scale);
  return new ResNet({
    image: imageOf(task, 'resnet'),
    outputSize: task.outputSize,
    stages: model.stages,
    blocks: model.blocks,
    width: model.width,
    order: model.block,
    layers: model.layers,
    norm: model.norm,
    ...(scale ? { scale } : {}),
    fixup: model.fixup,
    shortcut: model.shortcut,
    activation: model.activation,
    weightInit: (activation) => resolveInit(model.init, { activation }),
    biasInit: resolveBias(model.bias),
    rng,
    dtype,
  });
}
