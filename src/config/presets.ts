/**
 * The built-in experiments: each is a raw `Config` that shows one gradient phenomenon, or the fix for one, on a
 * task small enough to train in well under a minute on two cores. Pairs differ in one or two settings, so a
 * comparison isolates the cause: `deep-sigmoid` vs `deep-relu-he` (activation and initialisation), `adding-rnn`
 * vs `adding-lstm` (gating), `adding-rnn` vs `adding-rnn-short` (sequence length).
 *
 * @example
 * const preset = findPreset('deep-sigmoid');
 * if (preset) resolveConfig(preset.config, { defaultName: preset.name });
 */
import { ConfigError, nearest, oneOf } from './errors.js';
import type { Config, ResNetModelInput } from './resolve.js';

export interface Preset {
  readonly name: string;
  /** One line: what the run shows. */
  readonly description: string;
  readonly config: Readonly<Config>;
}

/** 20 hidden layers of 64 on the two-spirals task: deep enough that the initialisation decides everything. */
const DEEP = { depth: 20, width: 64 } as const;

/**
 * A 6-layer character LM on the bundled Shakespeare at Adam 0.01 for 300 steps: the Post-LN vs Pre-LN contrast of
 * Xiong et al. 2020 ("On Layer Normalization in the Transformer Architecture"); `warmup` adds a 100-step linear warm-up.
 */
function transformerPreset(
  norm: 'pre' | 'post',
  warmup: boolean,
  depth: { layers: number; dModel: number; heads: number } = { layers: 6, dModel: 32, heads: 4 },
): Config {
  return {
    task: { name: 'char-lm', length: 32 },
    model: { kind: 'transformer', ...depth, norm },
    optimizer: { name: 'adam', learningRate: 0.01 },
    ...(warmup ? { schedule: { name: 'warmup-cosine', warmupSteps: 100 } } : {}),
    train: { steps: 300, batchSize: 16 },
  };
}

/**
 * The healthy baseline pair on the bundled Shakespeare (32 characters of context, batch 16, Adam 0.01, 300 steps):
 * a small Pre-LN Transformer LM (Vaswani et al. 2017, with the Pre-LN placement of Xiong et al. 2020) and, on the
 * same corpus, a character-level LSTM LM (Karpathy's char-rnn; Sutskever et al. 2011 for character-level LMs;
 * the LSTM of Hochreiter & Schmidhuber 1997), clipped at global norm 1 as recurrent nets usually are (Pascanu et
 * al. 2013). Measured 2026-12-04 (seed 0): eval loss 2.26 (Transformer) and 2.08 (LSTM) against the unigram
 * baseline 3.16; both healthy.
 */
function charLmPreset(model: NonNullable<Config['model']>): Config {
  return {
    task: { name: 'char-lm', length: 32 },
    model,
    optimizer: { name: 'adam', learningRate: 0.01 },
    ...(model.kind === 'lstm' ? { clip: { name: 'norm', max: 1 } } : {}),
    train: { steps: 300, batchSize: 16 },
  };
}

/**
 * Attention entropy collapse (Zhai et al. 2023, "Stabilizing Transformer Training by Preventing Attention Entropy
 * Collapse"): the healthy 2-layer Pre-LN char LM (char-lm-transformer) at Adam 0.05 for 150 steps. The large steps
 * grow the attention logits until most heads put nearly all their weight on one key. `qkNorm` adds QK normalisation
 * (Henry et al. 2020; Dehghani et al. 2023), which bounds the logits. Measured 2026-12-04 (seed 0): 5 of 8 heads
 * collapse, eval accuracy 26.4%; with qkNorm no head collapses, 28.7% (docs/DOCTOR.md).
 */
function entropyCollapsePreset(qkNorm: boolean): Config {
  return {
    task: { name: 'char-lm', length: 32 },
    model: {
      kind: 'transformer',
      layers: 2,
      dModel: 32,
      heads: 4,
      norm: 'pre',
      ...(qkNorm ? { qkNorm } : {}),
    },
    optimizer: { name: 'adam', learningRate: 0.05 },
    train: { steps: 150, batchSize: 16 },
  };
}

/** The 12-layer stacks of the Post-LN / Pre-LN contrast: twice as deep, dModel 16 so a run stays within minutes. */
const TWELVE_LAYERS = { layers: 12, dModel: 16, heads: 2 } as const;

/**
 * Reversal of 20 symbols (41 steps) by a GRU encoder-decoder, with or without attention: the contrast of Bahdanau et
 * al. 2015 ("Neural Machine Translation by Jointly Learning to Align and Translate"), where the fixed-length summary
 * of Sutskever et al. 2014 fails as the source grows and additive attention reads each source state directly.
 * Measured (seed 0, 300 steps, accuracy at the answer steps, chance 1/8, greedy decoding): n = 5, 10, 20, 30
 * plain 0.65, 0.36, 0.18, 0.15; attention 1.00, 1.00, 0.88, 0.38. At 400 steps and n = 20 (these presets): eval
 * accuracy over all 41 steps 0.608 plain, 0.951 attention, baseline 0.573.
 */
function reversalPreset(attention: 'none' | 'additive'): Config {
  return {
    task: { name: 'reverse', length: 20, classes: 8 },
    model: { kind: 'seq2seq', cell: 'gru', hidden: 32, attention },
    optimizer: { name: 'adam', learningRate: 0.01 },
    train: { steps: 400, batchSize: 32 },
  };
}

/**
 * The reversal contrast's setup on the toy translation (`translate`: a fixed dictionary, each pair of words swapped)
 * of 20 words. Measured 2026-12-04 (seed 0, 400 steps): eval accuracy over all 41 steps 0.596 plain, 0.842 with
 * additive attention, baseline 0.573 (Bahdanau et al. 2015).
 */
function translationPreset(attention: 'none' | 'additive'): Config {
  return { ...reversalPreset(attention), task: { name: 'translate', length: 20, classes: 8 } };
}

/** The adding problem (Hochreiter & Schmidhuber 1997) as set up for the recurrent comparisons. */
function addingPreset(kind: 'rnn' | 'lstm' | 'gru', length: number): Config {
  return {
    task: { name: 'adding', length },
    model: { kind, hidden: 16 },
    optimizer: { name: 'adam', learningRate: 0.01 },
    clip: { name: 'norm', max: 1 },
    train: { steps: 600, batchSize: 32 },
  };
}

/**
 * The conv contrasts on the synthetic 1 x 12 x 12 `images` task: a ResNet of 3 stages x 4 blocks x 2 conv layers
 * (26 weight layers with the stem and the output, He et al. 2016a's 6n + 2 with n = 4), width 8, SGD with
 * momentum 0.9 at 0.05 for 150 steps; each preset changes one or two block settings.
 */
function resnetPreset(model: Omit<ResNetModelInput, 'kind'>): Config {
  return {
    task: { name: 'images' },
    model: { kind: 'resnet', width: 8, stages: 3, blocks: 4, ...model },
    optimizer: { name: 'momentum', learningRate: 0.05 },
    train: { steps: 150, batchSize: 32 },
  };
}

/**
 * A very deep plain tanh conv net (Xiao et al. 2018, "Dynamical Isometry and a Mean Field Theory of CNNs"): 34 weight
 * layers (a 3x3 stem, 16 x 2 3x3 conv layers of 8 channels on the 12 x 12 `images`, no shortcuts, no norm, global
 * average pooling, a linear output), the same net twice with sigma_w^2 = 1 and no bias (the critical line the paper
 * starts from): delta-orthogonal kernels (an orthogonal centre tap, every other tap 0), or Gaussian kernels of
 * variance 1 / fan_in (xavier-normal, as C_in = C_out). The contrast is measured at initialisation (`gradscope
 * preflight`); see docs/PREFLIGHT.md for what training showed.
 */
function deepTanhConvPreset(init: 'delta-orthogonal' | 'xavier-normal'): Config {
  return {
    task: { name: 'images' },
    model: {
      kind: 'resnet',
      width: 8,
      stages: 1,
      blocks: 16,
      shortcut: false,
      norm: 'none',
      activation: 'tanh',
      init,
    },
    optimizer: { name: 'adam', learningRate: 0.002 },
    train: { steps: 400, batchSize: 32 },
  };
}

const presets: Preset[] = [
  {
    name: 'deep-sigmoid',
    description: '20-layer sigmoid MLP, Xavier init, plain SGD: gradients vanish toward the input layers',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', ...DEEP, activation: 'sigmoid', init: 'xavier-uniform' },
      optimizer: { name: 'sgd', learningRate: 0.1 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'deep-relu-he',
    description: 'the deep-sigmoid net fixed: ReLU with He-normal init and Adam; gradients reach every layer',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', ...DEEP, activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.001 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'deep-sigmoid-batchnorm',
    description:
      'the deep-sigmoid net with batch norm before each sigmoid: gradient norms even out across depth',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', ...DEEP, activation: 'sigmoid', init: 'xavier-uniform', norm: 'batch' },
      optimizer: { name: 'sgd', learningRate: 0.1 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'deep-sigmoid-residual',
    description:
      'deep-sigmoid with residual connections: gradients get back, but positive outputs pile up and explode',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', ...DEEP, activation: 'sigmoid', init: 'xavier-uniform', residual: true },
      optimizer: { name: 'sgd', learningRate: 0.1 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'deep-tanh-xavier',
    description:
      '20-layer tanh MLP with Xavier init, the pairing Glorot & Bengio designed it for: near-even gradients',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', ...DEEP, activation: 'tanh', init: 'xavier-uniform' },
      optimizer: { name: 'sgd', learningRate: 0.05 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'deep-relu-xavier-30',
    description: '30-layer ReLU MLP with Xavier init: each layer halves the signal, so updates are tiny',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 30, width: 64, activation: 'relu', init: 'xavier-uniform' },
      optimizer: { name: 'sgd', learningRate: 0.1 },
      train: { steps: 400, batchSize: 64 },
    },
  },
  {
    name: 'relu-normal1',
    description:
      'ReLU MLP of width 256 with weights drawn N(0, 1): activations and gradients explode to non-finite',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 10, width: 256, activation: 'relu', init: { normal: 1 } },
      optimizer: { name: 'sgd', learningRate: 0.01 },
      guard: 'skip',
      train: { steps: 200, batchSize: 64 },
    },
  },
  {
    name: 'adding-rnn',
    description:
      'vanilla tanh RNN on the adding problem over 50 steps: the gradient decays back through time',
    config: addingPreset('rnn', 50),
  },
  {
    name: 'adding-rnn-short',
    description:
      'the same RNN on 10-step sequences: short enough for the gradient to reach the marked inputs',
    config: addingPreset('rnn', 10),
  },
  {
    name: 'adding-lstm',
    description: 'LSTM on the 50-step adding problem: the gated cell state keeps the gradient alive',
    config: addingPreset('lstm', 50),
  },
  {
    name: 'adding-gru',
    description: 'GRU on the 50-step adding problem: update gates give the gradient a shortcut through time',
    config: addingPreset('gru', 50),
  },
  {
    name: 'copy-lstm',
    description:
      'LSTM on the copy task: recall symbols seen 20 steps earlier; per-time-step gradients stay flat',
    config: {
      task: { name: 'copy', length: 20 },
      model: { kind: 'lstm', hidden: 32 },
      optimizer: { name: 'adam', learningRate: 0.01 },
      clip: { name: 'norm', max: 1 },
      train: { steps: 600, batchSize: 32 },
    },
  },
  {
    // Attention reads the symbol seen D + 10 steps back in one step (Vaswani et al. 2017), where the LSTM must carry
    // it through every step between. Measured 2026-12-04 (seed 0, 250 steps): eval loss 0.0062, accuracy 0.9999,
    // healthy; copy-lstm on the same task, 600 steps: eval loss 0.508 against the memoryless baseline 0.520, not
    // learning.
    name: 'copy-transformer',
    description:
      "copy-lstm's task with a 2-layer Pre-LN Transformer LM: attention looks back directly, solved (Vaswani 2017)",
    config: {
      task: { name: 'copy', length: 20 },
      model: { kind: 'transformer', layers: 2, dModel: 32, heads: 4, norm: 'pre' },
      optimizer: { name: 'adam', learningRate: 0.003 },
      train: { steps: 250, batchSize: 32 },
    },
  },
  {
    name: 'post-ln-6',
    description:
      '6-layer Post-LN Transformer char LM, Adam 0.01, no warm-up: stuck near unigram (Xiong et al. 2020)',
    config: transformerPreset('post', false),
  },
  {
    name: 'pre-ln-6',
    description:
      'post-ln-6 with Pre-LN (Xiong et al. 2020): trains at Adam 0.01 without warm-up, well below unigram',
    config: transformerPreset('pre', false),
  },
  {
    name: 'post-ln-6-warmup',
    description:
      'post-ln-6 plus 100 warm-up steps, the remedy Xiong et al. 2020 analyse: Post-LN trains again',
    config: transformerPreset('post', true),
  },
  {
    name: 'post-ln-12',
    description:
      'post-ln-6 at 12 layers (dModel 16), Adam 0.01, no warm-up: Post-LN at twice the depth (Xiong et al. 2020)',
    config: transformerPreset('post', false, TWELVE_LAYERS),
  },
  {
    name: 'pre-ln-12',
    description: 'post-ln-12 with Pre-LN (Xiong et al. 2020): the 12-layer stack without warm-up',
    config: transformerPreset('pre', false, TWELVE_LAYERS),
  },
  {
    name: 'char-lm-transformer',
    description:
      'a healthy baseline: 2-layer Pre-LN Transformer char LM (dModel 32), well below unigram (Xiong et al. 2020)',
    config: charLmPreset({ kind: 'transformer', layers: 2, dModel: 32, heads: 4, norm: 'pre' }),
  },
  {
    name: 'transformer-entropy-collapse',
    description:
      'char-lm-transformer at Adam 0.05: attention logits grow, most heads attend to one key (Zhai et al. 2023)',
    config: entropyCollapsePreset(false),
  },
  {
    name: 'transformer-entropy-collapse-qknorm',
    description:
      'transformer-entropy-collapse with QK normalisation (Dehghani et al. 2023): bounded logits, no head collapses',
    config: entropyCollapsePreset(true),
  },
  {
    name: 'char-lm-lstm',
    description:
      'char-lm-transformer’s corpus with an LSTM LM (hidden 64, char-rnn): healthy, well below unigram',
    config: charLmPreset({ kind: 'lstm', hidden: 64 }),
  },
  {
    name: 'seq2seq-reverse-plain',
    description:
      "GRU encoder-decoder reversing 20 symbols from the encoder's final state only: near chance (Bahdanau 2015)",
    config: reversalPreset('none'),
  },
  {
    name: 'seq2seq-reverse-attention',
    description:
      'seq2seq-reverse-plain with additive attention (Bahdanau et al. 2015): reverses the 20 symbols',
    config: reversalPreset('additive'),
  },
  {
    name: 'seq2seq-translate-plain',
    description:
      'toy translation with reordering, 20 words, GRU encoder-decoder without attention: near chance (Bahdanau 2015)',
    config: translationPreset('none'),
  },
  {
    name: 'seq2seq-translate-attention',
    description:
      'seq2seq-translate-plain with additive attention (Bahdanau et al. 2015): translates the 20 words',
    config: translationPreset('additive'),
  },
  {
    name: 'spirals-mlp',
    description: 'a healthy baseline: 4x64 ReLU MLP, He init, Adam on two spirals',
    config: {
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 4, width: 64, activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.01 },
      train: { steps: 800, batchSize: 64 },
    },
  },
  {
    name: 'mnist-mlp',
    description: 'MNIST digits with a two-hidden-layer ReLU MLP (128, 64), He init, Adam: a healthy baseline',
    config: {
      task: { name: 'mnist' },
      model: { kind: 'mlp', hidden: [128, 64], activation: 'relu', init: 'he-normal' },
      optimizer: { name: 'adam', learningRate: 0.001 },
      train: { steps: 500, batchSize: 64 },
    },
  },
  {
    name: 'plain-cnn-deep',
    description:
      '26-layer plain conv net, no shortcuts, no BN, SGD: nothing reaches the input (He et al. 2016a)',
    config: resnetPreset({ shortcut: false, norm: 'none' }),
  },
  {
    name: 'resnet-deep',
    description:
      "plain-cnn-deep's twin with shortcuts and BN, He et al. 2016a's ResNet: the same 26 layers train",
    config: resnetPreset({}),
  },
  {
    name: 'resnet-bn',
    description:
      '26-layer pre-activation ResNet with batch norm (He et al. 2016b): trains; resnet-nobn drops the BN',
    config: resnetPreset({ block: 'pre' }),
  },
  {
    name: 'resnet-nobn',
    description:
      'resnet-bn without BN, unscaled: each x + F(x) adds variance, it blows up with depth (Zhang et al. 2019)',
    config: resnetPreset({ block: 'pre', norm: 'none' }),
  },
  {
    name: 'resnet-fixup',
    description:
      "resnet-nobn with Fixup (Zhang et al. 2019): each branch's last conv starts at 0; trains without BN",
    config: resnetPreset({ block: 'pre', norm: 'none', fixup: true }),
  },
  {
    name: 'resnet-rezero',
    description:
      'resnet-nobn with ReZero (Bachlechner et al. 2020): x + a F(x), a learnable from 0; trains without BN',
    config: resnetPreset({ block: 'pre', norm: 'none', scale: 'rezero' }),
  },
  {
    name: 'deep-tanh-delta-orthogonal',
    description:
      '34-layer plain tanh CNN, delta-orthogonal kernels: at init every net passes gradients alike (Xiao et al. 2018)',
    config: deepTanhConvPreset('delta-orthogonal'),
  },
  {
    name: 'deep-tanh-gaussian',
    description:
      'deep-tanh-delta-orthogonal with Gaussian kernels of the same variance: gradients decay and differ net to net',
    config: deepTanhConvPreset('xavier-normal'),
  },
  {
    name: 'cnn-mnist',
    description:
      'a small CNN (16, 32 channels, 5x5, max pooling) on MNIST images, healthy: 97% (LeCun et al. 1998)',
    config: {
      task: { name: 'mnist' },
      model: { kind: 'cnn', channels: [16, 32], kernel: 5, pool: 'max' },
      optimizer: { name: 'adam', learningRate: 0.003 },
      schedule: { name: 'cosine' },
      train: { steps: 800, batchSize: 32 },
    },
  },
];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Every built-in experiment, in the order `gradscope presets` lists them. Frozen: copy before changing one. */
export const PRESETS: readonly Preset[] = deepFreeze(presets);

/** The preset with this exact name, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((preset) => preset.name === name);
}

/**
 * The preset with this name, or a ConfigError (code `invalid_value`) listing the presets and the nearest name.
 *
 * @example
 * requirePreset('deep-sigmod'); // throws: preset: "deep-sigmod" is not accepted; expected one of ...; did you mean "deep-sigmoid"?
 */
export function requirePreset(name: string): Preset {
  const preset = findPreset(name);
  if (preset !== undefined) return preset;
  const names = PRESETS.map((candidate) => candidate.name);
  const suggestion = nearest(name, names);
  throw new ConfigError({
    code: 'invalid_value',
    path: 'preset',
    value: name,
    accepted: `a config file or ${oneOf(names)}`,
    ...(suggestion !== undefined ? { suggestion } : {}),
  });
}
