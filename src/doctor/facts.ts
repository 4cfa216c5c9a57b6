/**
 * What the doctor knows about the model from its resolved config, in the terms causes and fixes are written in.
 * Everything is null when the log came without a config (a bare metrics.jsonl, a TensorBoard log): the rules then
 * write generic causes and fixes.
 */
import type { MlpResidualConfig, ResolvedConfig } from '../config/types.js';
import { activationKernels, type ActivationFamily, type ActivationName } from '../kernels/activations.js';
import { gainFor } from '../init/gain.js';
import { expectedRms } from '../init/resolve.js';
import { num } from './stats.js';

export interface ModelFacts {
  config: ResolvedConfig | null;
  kind: 'mlp' | 'rnn' | 'lstm' | 'gru' | 'transformer' | 'cnn' | 'resnet' | 'seq2seq' | null;
  recurrent: boolean;
  /** The hidden non-linearity (an LSTM/GRU's candidate non-linearity, tanh). */
  activation: ActivationName | null;
  family: ActivationFamily | null;
  /** Hidden layers (MLP), stacked recurrent layers, or weight layers before the output (cnn, resnet). */
  depth: number | null;
  width: number | null;
  /** The init as the config writes it: `xavier-uniform`, `{"normal":1}`. */
  init: string | null;
  /**
   * sigma_w^2 = Var[w] x fan-in of a hidden weight matrix (the signal-propagation papers' weight variance), and the
   * value that keeps the forward signal's scale for this activation (gain^2: relu 2, tanh 25/9, sigmoid 1).
   */
  sigmaW2: number | null;
  preservingSigmaW2: number | null;
  norm: 'none' | 'batch' | 'layer' | null;
  residual: boolean | null;
  /** An MLP's residual block (form, layers per block, branch scale, Fixup); null without residuals or for other kinds. */
  residualBlock: MlpResidualConfig | null;
  optimizer: string | null;
  learningRate: number | null;
  clip: ResolvedConfig['clip'] | null;
  guard: ResolvedConfig['guard'] | null;
  /** Sequence length of adding/copy tasks. */
  length: number | null;
  forgetBias: number | null;
  recurrentInit: string | null;
}

function initLabel(spec: unknown): string {
  return typeof spec === 'string' ? spec : JSON.stringify(spec);
}

/** The model facts of a config (all null without one). */
export function modelFacts(config: ResolvedConfig | null): ModelFacts {
  const none: ModelFacts = {
    config: null,
    kind: null,
    recurrent: false,
    activation: null,
    family: null,
    depth: null,
    width: null,
    init: null,
    sigmaW2: null,
    preservingSigmaW2: null,
    norm: null,
    residual: null,
    residualBlock: null,
    optimizer: null,
    learningRate: null,
    clip: null,
    guard: null,
    length: null,
    forgetBias: null,
    recurrentInit: null,
  };
  if (config === null) return none;
  const model = config.model;
  const activation = model.activation;
  const known = Object.hasOwn(activationKernels, activation);
  const width =
    model.kind === 'mlp'
      ? (model.hidden[0] ?? null)
      : model.kind === 'transformer'
        ? model.dModel
        : model.kind === 'cnn'
          ? (model.channels[0] ?? null)
          : model.kind === 'resnet'
            ? model.width
            : model.hidden;
  // A hidden weight's shape: [width, width] for dense layers, [C, C, k, k] for conv layers (fan_in = C k^2).
  const kernel = model.kind === 'cnn' ? model.kernel : model.kind === 'resnet' ? 3 : 1;
  const conv = model.kind === 'cnn' || model.kind === 'resnet';
  let sigmaW2: number | null = null;
  let preservingSigmaW2: number | null = null;
  if (known && width !== null) {
    try {
      const shape = conv ? [width, width, kernel, kernel] : [width, width];
      const rms = expectedRms(model.init, { activation }, shape);
      sigmaW2 = rms * rms * width * kernel * kernel;
      preservingSigmaW2 = gainFor(activation) ** 2;
    } catch {
      // An init the planner rejects leaves the scale unknown; the config resolver reports it elsewhere.
    }
  }
  return {
    config,
    kind: model.kind,
    recurrent:
      model.kind === 'seq2seq'
        ? model.architecture === 'rnn'
        : model.kind === 'rnn' || model.kind === 'lstm' || model.kind === 'gru',
    activation: known ? activation : null,
    family: known ? activationKernels[activation].family : null,
    depth:
      model.kind === 'mlp'
        ? model.hidden.length
        : model.kind === 'cnn' || model.kind === 'resnet'
          ? convDepth(config)
          : model.layers,
    width,
    init: initLabel(model.init),
    sigmaW2,
    preservingSigmaW2,
    norm:
      model.kind === 'mlp' || model.kind === 'cnn' || model.kind === 'resnet'
        ? model.norm
        : model.kind === 'transformer' || (model.kind === 'seq2seq' && model.architecture === 'transformer')
          ? 'layer'
          : null,
    residual:
      model.kind === 'mlp'
        ? model.residual !== false
        : model.kind === 'resnet'
          ? model.shortcut
          : model.kind === 'transformer' || (model.kind === 'seq2seq' && model.architecture === 'transformer')
            ? true
            : model.kind === 'cnn'
              ? false
              : null,
    residualBlock: model.kind === 'mlp' && model.residual !== false ? model.residual : null,
    optimizer: config.optimizer.name,
    learningRate: config.optimizer.learningRate,
    clip: config.clip,
    guard: config.guard,
    length: config.task.length ?? null,
    forgetBias: model.kind === 'lstm' ? model.forgetBias : null,
    recurrentInit:
      model.kind === 'rnn' || model.kind === 'lstm' || model.kind === 'gru'
        ? initLabel(model.recurrentInit)
        : null,
  };
}

/**
 * The weight layers on a conv model's path before its output layer: a cnn's conv and dense hidden layers; a ResNet's
 * stem and branch layers (He et al. 2016a count depth so: 6n + 2 with the output layer). Null for other kinds.
 */
export function convDepth(config: ResolvedConfig): number | null {
  const model = config.model;
  if (model.kind === 'cnn') return model.channels.length + model.head.length;
  if (model.kind === 'resnet') return 1 + model.stages * model.blocks * model.layers;
  return null;
}

/** `20-layer sigmoid MLP (width 64, init xavier-uniform, no normalisation, no residuals; sgd, learning rate 0.1)` */
export function describeModel(facts: ModelFacts): string {
  if (facts.config === null) return 'the model (no config.json was found, so its structure is unknown)';
  const training = `${facts.optimizer}, learning rate ${num(facts.learningRate ?? NaN)}`;
  if (facts.kind === 'mlp') {
    const parts = [
      `width ${facts.width}`,
      `init ${facts.init}`,
      facts.norm === 'none' ? 'no normalisation' : `${facts.norm} norm`,
      facts.residual ? residualText(facts.residualBlock) : 'no residuals',
    ];
    return `${facts.depth}-layer ${facts.activation} MLP (${parts.join(', ')}; ${training})`;
  }
  if (facts.kind === 'transformer') {
    const m = facts.config.model.kind === 'transformer' ? facts.config.model : null;
    const parts = [`dModel ${facts.width}`, m ? `${m.heads} heads` : '', m ? `${m.norm}-LN` : ''].filter(
      Boolean,
    );
    return `${facts.depth}-layer transformer (${parts.join(', ')}; ${training})`;
  }
  const model = facts.config.model;
  if (model.kind === 'cnn') {
    const parts = [
      `channels ${model.channels.join('-')}`,
      `kernel ${model.kernel}${model.stride > 1 ? ` stride ${model.stride}` : ''}`,
      model.pool === 'none' ? 'no pooling' : `${model.pool} pooling`,
      model.head.length > 0 ? `dense head ${model.head.join('-')}` : '',
      `init ${facts.init}`,
      model.norm === 'none' ? 'no normalisation' : 'batch norm',
      'no residuals',
    ].filter(Boolean);
    return `${facts.depth}-layer ${facts.activation} CNN (${parts.join(', ')}; ${training})`;
  }
  if (model.kind === 'resnet') {
    const scale =
      model.scale === 'none'
        ? ''
        : typeof model.scale === 'number'
          ? `branch scale ${model.scale}`
          : model.scale;
    const parts = [
      `${model.stages} stages x ${model.blocks} blocks of ${model.layers} conv layers`,
      `width ${model.width}`,
      `${model.block}-activation`,
      `init ${facts.init}`,
      model.norm === 'none' ? 'no normalisation' : 'batch norm',
      model.shortcut ? 'shortcuts' : 'no shortcuts (the plain twin)',
      model.fixup ? 'Fixup' : '',
      scale,
    ].filter(Boolean);
    return `${facts.depth}-layer ${facts.activation} ${model.shortcut ? 'ResNet' : 'plain conv net'} (${parts.join(', ')}; ${training})`;
  }
  if (facts.kind === 'seq2seq') {
    const m = facts.config.model.kind === 'seq2seq' ? facts.config.model : null;
    if (m?.architecture === 'transformer')
      return `${facts.depth}+${facts.depth}-layer transformer encoder-decoder (dModel ${facts.width}, ${m.heads} heads, ${m.norm}-LN; ${training})`;
    const reads = m?.attention === 'none' ? "the encoder's final state only" : `${m?.attention} attention`;
    return `${m?.cell.toUpperCase() ?? ''} encoder-decoder (hidden ${facts.width}, ${facts.depth} layer${facts.depth === 1 ? '' : 's'} each, ${reads}; ${training})`;
  }
  const cell = facts.kind === 'rnn' ? `vanilla ${facts.activation} RNN` : (facts.kind ?? '').toUpperCase();
  const layers = facts.depth !== null && facts.depth > 1 ? `${facts.depth}-layer ` : '';
  const parts = [`hidden ${facts.width}`, `recurrent init ${facts.recurrentInit}`];
  if (facts.kind === 'lstm') parts.push(`forget bias ${facts.forgetBias}`);
  const over = facts.length !== null ? ` over ${facts.length} time steps` : '';
  return `${layers}${cell} (${parts.join(', ')}; ${training})${over}`;
}

/** The slope of the activation at 0, the most a saturating unit can pass back (sigmoid 0.25, tanh 1). */
export function peakSlope(activation: ActivationName): number {
  return activationKernels[activation].derivative(0, activationKernels[activation].defaultAlpha);
}

/** `residual connections`, or with the block's settings where they are not today's x + phi(W x + b). */
function residualText(block: MlpResidualConfig | null): string {
  if (!block) return 'residual connections';
  const parts = [
    block.form === 'activated' ? '' : `${block.form} form`,
    block.layers === 1 ? '' : `${block.layers} layers per block`,
    block.scale === 1 ? '' : typeof block.scale === 'number' ? `branch scale ${block.scale}` : block.scale,
    block.fixup ? 'Fixup' : '',
  ].filter(Boolean);
  return parts.length > 0 ? `residual connections (${parts.join(', ')})` : 'residual connections';
}
