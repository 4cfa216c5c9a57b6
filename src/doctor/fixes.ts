/**
 * The fixes the doctor can prescribe, each a concrete config change with its merge patch and the reason it works,
 * citing where the remedy comes from. Rules pick and rank them for the model at hand.
 */
import { defaultInitFor } from '../config/resolve.js';
import type { Fix, JsonObject, JsonValue } from './findings.js';
import type { ModelFacts } from './facts.js';
import { num } from './stats.js';

/**
 * A merge patch that replaces the object `current` by `next` as a whole: keys of `current` that `next` lacks are
 * set to null (deleted), so `{"name": "agc", "factor": 0.01}` does not leave `factor` behind on a norm clip.
 */
export function replacing(current: object | null | undefined, next: JsonObject): JsonObject {
  const patch: { [key: string]: JsonValue } = { ...next };
  for (const key of Object.keys(current ?? {})) if (!(key in next)) patch[key] = null;
  return patch;
}

/** ReLU with He init (He et al. 2015): slope 1 on the active half, variance 2/fan-in keeps the scale per layer. */
export function reluHe(facts: ModelFacts): Fix {
  const from = facts.activation ? `${facts.activation} ` : '';
  return {
    change: 'model.activation "relu" + model.init "he-normal"',
    patch: { model: { activation: 'relu', init: 'he-normal' } },
    why:
      `ReLU passes the gradient with slope 1 wherever a unit is active, where ${from}units shrink it at every ` +
      'layer; He-normal init (variance 2/fan-in, He et al. 2015) keeps the signal and gradient scale constant with ' +
      'depth (the deep-relu-he preset trains where deep-sigmoid cannot)',
  };
}

/** The variance-preserving init for the current activation (He for rectifiers, Xavier otherwise). */
export function preservingInit(facts: ModelFacts): Fix {
  const activation = facts.activation ?? 'relu';
  const init = defaultInitFor(activation);
  // Xavier (gain 1) is the usual default for tanh-like units, but it gives sigma_w^2 = 1 where the gain table asks
  // for gain^2 (tanh 25/9): when the run already uses that default, the change that matters is the gain, as
  // PyTorch's init docs pair calculate_gain with the initialiser.
  const sameFamily = facts.init !== null && facts.init.split('-')[0] === init.split('-')[0];
  if (sameFamily && facts.preservingSigmaW2 !== null && !init.startsWith('he')) {
    const gain = Number(Math.sqrt(facts.preservingSigmaW2).toPrecision(4));
    return {
      change: `model.init {"gain": ${gain}, "base": "lecun-normal"}`,
      patch: { model: { init: { gain, base: 'lecun-normal' } } },
      why: `variance gain^2/fan-in = ${num(facts.preservingSigmaW2)}/fan-in, the value that keeps ${activation}'s signal scale (the gain table of He et al. 2015 and PyTorch's calculate_gain); ${facts.init} gives sigma_w^2 = ${num(facts.sigmaW2 ?? NaN)}`,
    };
  }
  const scale = init.startsWith('he')
    ? '2/fan-in (He et al. 2015)'
    : init === 'lecun-normal'
      ? '1/fan-in (LeCun)'
      : '2/(fan-in + fan-out) (Glorot & Bengio 2010)';
  const now =
    facts.sigmaW2 !== null && facts.preservingSigmaW2 !== null
      ? `: the current ${facts.init} gives sigma_w^2 = ${num(facts.sigmaW2)} where ${activation} keeps its scale at ${num(facts.preservingSigmaW2)}`
      : '';
  return {
    change: `model.init "${init}"`,
    patch: { model: { init } },
    why: `${init} sets the weight variance to ${scale}, the value that keeps each layer's output scale for ${activation}${now}`,
  };
}

export function batchNorm(): Fix {
  return {
    change: 'model.norm "batch"',
    patch: { model: { norm: 'batch' } },
    why:
      'batch norm re-centres and re-scales every pre-activation (Ioffe & Szegedy 2015), so units sit where their ' +
      'slope is largest and the scale cannot drift layer after layer',
  };
}

export function layerNorm(): Fix {
  return {
    change: 'model.norm "layer"',
    patch: { model: { norm: 'layer' } },
    why: 'layer norm (Ba et al. 2016) normalises each example over its units, independent of the batch size',
  };
}

export function residual(): Fix {
  return {
    change: 'model.residual true',
    patch: { model: { residual: true } },
    why:
      'a residual connection adds an identity path around each layer (He et al. 2016), so the gradient reaches ' +
      'early layers without passing through every non-linearity; pair it with a norm to keep the forward scale',
  };
}

/** The plain twin's shortcuts back (model kind resnet, `shortcut: false`). */
export function shortcuts(): Fix {
  return {
    change: 'model.shortcut true',
    patch: { model: { shortcut: true } },
    why:
      'identity shortcuts (He et al. 2016a) carry the signal and the gradient around every block, so a deep conv net ' +
      'trains where its plain twin degrades; pair them with batch norm',
  };
}

/** Fixup (Zhang et al. 2019): each branch's last layer starts at zero, so every block starts as the identity. */
export function fixup(): Fix {
  return {
    change: 'model.fixup true',
    patch: { model: { fixup: true } },
    why:
      "Fixup zero-initialises each residual branch's last layer and rescales the others by L^(-1/(2m-2)) (Zhang et al. " +
      '2019): each block starts as the identity, so the stream no longer doubles its variance per block without a norm',
  };
}

/** ReZero (Bachlechner et al. 2020): x + a F(x) with a learnable a starting at 0. */
export function rezero(): Fix {
  return {
    change: 'model.scale "rezero"',
    patch: { model: { scale: 'rezero' } },
    why:
      'ReZero scales each residual branch by a learnable a that starts at 0 (Bachlechner et al. 2020): the net starts ' +
      'as the identity and lets each block grow in as it learns, without a norm',
  };
}

/**
 * Adam at `lr` (its usual 1e-3 by default). `adam(f, adamStepFor(f))` keeps the run's own step where SGD was merely
 * slow: on 16 runs of spirals and teacher (width 32/64, batch 32/128, 300/500 steps, SGD 0.01, healthy gradients)
 * Adam at 0.01 beat the control 16 times, Adam at 1e-3 12 times, SGD with momentum 0.9 12 times (2026-12-04).
 */
export function adam(facts: ModelFacts, lr = 0.001): Fix {
  return {
    change: `optimizer.name "adam" + optimizer.learningRate ${lr}`,
    patch: { optimizer: { name: 'adam', learningRate: lr } },
    why:
      `Adam divides each update by the gradient's running RMS (Kingma & Ba 2015), so layers whose gradients are ` +
      `small still move${facts.optimizer === 'sgd' ? ' (plain SGD moves them in proportion to their tiny gradient)' : ''}; ` +
      'it treats the symptom, so combine it with a fix of the cause',
  };
}

/** The run's learning rate kept within 1e-3..1e-2, the range where Adam is usually stable (Kingma & Ba 2015 use 1e-3). */
export function adamStepFor(facts: ModelFacts): number {
  return Math.min(0.01, Math.max(0.001, facts.learningRate ?? 0.001));
}

export function clipNorm(facts: ModelFacts, max = 1): Fix {
  return {
    change: `clip.name "norm" + clip.max ${max}`,
    patch: { clip: replacing(facts.clip, { name: 'norm', max }) },
    why:
      `rescaling the global gradient to norm <= ${max} (Pascanu et al. 2013) bounds every step while keeping its ` +
      'direction, so one huge gradient cannot throw the weights away',
  };
}

/** The learning rate divided by `factor` (10 by default), or Adam's usual 1e-3 when the current one is unknown. */
export function lowerLearningRate(facts: ModelFacts, factor = 10): Fix {
  if (facts.learningRate === null) {
    return {
      change: 'optimizer.learningRate 10x lower',
      patch: { optimizer: { learningRate: 0.001 } },
      why: 'a smaller step keeps each update a small fraction of the weights (about 1e-3 of their norm is healthy)',
    };
  }
  const lr = Number((facts.learningRate / factor).toPrecision(3));
  return {
    change: `optimizer.learningRate ${lr} (from ${num(facts.learningRate)})`,
    patch: { optimizer: { learningRate: lr } },
    why: `a ${factor}x smaller step keeps each update a small fraction of the weights (about 1e-3 of their norm is healthy)`,
  };
}

/** The learning rate multiplied by `factor` (Smith 2017: the rate sits too far below where the loss starts to fall). */
/** Optimisers that divide the gradient's scale out, so their step is about the learning rate per weight. */
const ADAPTIVE = new Set(['adagrad', 'rmsprop', 'adam', 'adamw']);
export function isAdaptive(facts: ModelFacts): boolean {
  return facts.optimizer !== null && ADAPTIVE.has(facts.optimizer);
}

/**
 * The learning rate `factor` times higher. An adaptive optimiser's raised rate is at least 1e-3 (Kingma & Ba 2015's
 * default, the low end of `adamStepFor`'s range): its step is the learning rate per weight, so a rate raised to a
 * healthy update/weight ratio on small-fan-in layers can still be 10x below what trains; on the six unseen runs of
 * 2026-12-04 (conv nets, a ResNet and MLPs at Adam/RMSprop/AdamW 1e-6..1e-5) the floor cured both conv nets the
 * unfloored rate left at chance (53% and 91% against 25% and 30%) and changed nothing on the others.
 */
export function raiseLearningRate(facts: ModelFacts, factor = 10): Fix {
  if (facts.learningRate === null) {
    return {
      change: 'optimizer.learningRate 10x higher',
      patch: { optimizer: { learningRate: 0.01 } },
      why: 'a larger step lets each update move the weights by about 1e-3 of their norm, where learning happens',
    };
  }
  const raised = facts.learningRate * factor;
  const lr = Number((isAdaptive(facts) ? Math.max(raised, 0.001) : raised).toPrecision(3));
  return {
    change: `optimizer.learningRate ${lr} (from ${num(facts.learningRate)})`,
    patch: { optimizer: { learningRate: lr } },
    why: `a ${num(lr / facts.learningRate)}x larger step brings each update towards about 1e-3 of the weights' norm (an LR range test, Smith 2017, finds the rate where the loss starts to fall)`,
  };
}

/** Four times the steps: for a run whose steps are healthy but too few. */
export function longerTraining(facts: ModelFacts): Fix {
  const steps = facts.config ? facts.config.train.steps * 4 : 4000;
  return {
    change: `train.steps ${steps}`,
    patch: { train: { steps } },
    why: 'the gradients and steps are healthy, so more of them may be all the run needs',
  };
}

/**
 * A linear warm-up over a third of the run. Measured 2026-12-04 on two Post-LN char LMs (6 layers, 150 and 300
 * steps): warm-up over 1/20 of the run cured neither, 1/6 both, 1/3 both and best (+11 and +17 points of accuracy);
 * the post-ln-6-warmup preset (Xiong et al. 2020's remedy) uses 100 of 300 steps.
 */
export function warmup(facts: ModelFacts): Fix {
  const steps = facts.config ? Math.max(1, Math.round(facts.config.train.steps / 3)) : 100;
  return {
    change: `schedule.name "warmup-cosine" + schedule.warmupSteps ${steps}`,
    patch: { schedule: replacing(facts.config?.schedule, { name: 'warmup-cosine', warmupSteps: steps }) },
    why: 'a linear warm-up (Goyal et al. 2017) starts with small steps while the gradients are largest, then decays',
  };
}

export function leakyRelu(facts: ModelFacts): Fix {
  return {
    change: 'model.activation "leaky-relu" + model.init "he-normal"',
    patch: { model: { activation: 'leaky-relu', init: 'he-normal' } },
    why:
      `a leaky ReLU (slope 0.01 below 0; Maas et al. 2013) never outputs a flat zero, so a unit that ${facts.activation ?? 'ReLU'} ` +
      'would leave dead still gets a gradient and can recover',
  };
}

/** Biases back to 0, where rectifiers start half active (PyTorch and Keras default to 0 or near it). */
export function zeroBias(): Fix {
  return {
    change: 'model.bias 0',
    patch: { model: { bias: 0 } },
    why: 'with negative biases most rectifier units start below 0 for every input, output 0 and get no gradient; at 0 about half of them are active',
  };
}

export function guardRollback(): Fix {
  return {
    change: 'guard "rollback"',
    patch: { guard: 'rollback' },
    why: 'rollback restores the last good weights and halves the learning rate when a step goes non-finite, instead of skipping the same failing step again',
  };
}

/** A vanilla RNN replaced by an LSTM with forget-gate bias 1. */
export function lstm(): Fix {
  return {
    change: 'model.kind "lstm" + model.forgetBias 1',
    patch: { model: { kind: 'lstm', activation: 'tanh', forgetBias: 1 } },
    why:
      'the LSTM cell state is carried forward by a multiplicative forget gate instead of a matrix and a squashing ' +
      'non-linearity (Hochreiter & Schmidhuber 1997); with forget bias 1 (Jozefowicz et al. 2015) it starts near ' +
      '1, so the gradient can survive many steps (adding-lstm solves the 50-step problem where adding-rnn cannot)',
  };
}

/** A sequence-to-sequence decoder that reads every encoder state through additive attention. */
export function attention(): Fix {
  return {
    change: 'model.attention "additive"',
    patch: { model: { attention: 'additive' } },
    why:
      'the decoder reads every encoder state directly through a softmax over them (Bahdanau et al. 2015), so no ' +
      'source symbol has to survive the whole encoder in its final state and each gets a gradient one step away ' +
      '(seq2seq-reverse-attention reverses the 20 symbols that seq2seq-reverse-plain cannot)',
  };
}

/** The encoder-decoder's cell changed (model.cell), its kind kept. */
export function seq2seqCell(cell: 'lstm' | 'gru'): Fix {
  return {
    change: `model.cell "${cell}"`,
    patch: { model: { cell } },
    why:
      cell === 'gru'
        ? "the GRU's update gate gives the gradient an additive path back through the encoder (Cho et al. 2014)"
        : "the LSTM's forget-gated cell state carries the gradient back through the encoder (Hochreiter & Schmidhuber 1997)",
  };
}

export function gru(): Fix {
  return {
    change: 'model.kind "gru"',
    patch: { model: { kind: 'gru', activation: 'tanh', forgetBias: 0 } },
    why: "the GRU's update gate interpolates between the old and the new state (Cho et al. 2014), an additive path along which the gradient flows back through time",
  };
}

export function forgetBias(value: number): Fix {
  return {
    change: `model.forgetBias ${value}`,
    patch: { model: { forgetBias: value } },
    why: `a larger forget-gate bias keeps the gate near 1 at the start (Gers et al. 2000; Jozefowicz et al. 2015), so the cell state and its gradient persist over more steps`,
  };
}

export function orthogonalRecurrent(): Fix {
  return {
    change: 'model.recurrentInit "orthogonal"',
    patch: { model: { recurrentInit: 'orthogonal' } },
    why: 'an orthogonal recurrent matrix has every singular value 1 (Saxe et al. 2014), so it neither shrinks nor grows the gradient from one step to the next',
  };
}

export function irnn(): Fix {
  return {
    change: 'model.activation "relu" + model.recurrentInit "identity"',
    patch: { model: { activation: 'relu', recurrentInit: 'identity' } },
    why: 'an identity-initialised ReLU RNN (IRNN, Le et al. 2015) starts by copying its state forward, so the gradient passes back unchanged at first; keep clipping on',
  };
}

export function shorterBptt(facts: ModelFacts): Fix {
  const length = facts.length ?? 50;
  const bptt = Math.max(2, Math.round(length / 2));
  return {
    change: `train.bptt ${bptt}`,
    patch: { train: { bptt } },
    why: `truncated backpropagation through ${bptt} steps bounds how many Jacobians the gradient is multiplied by (at the cost of dependencies longer than ${bptt} steps)`,
  };
}

export function raiseClip(facts: ModelFacts, max: number): Fix {
  const value = Number(max.toPrecision(2));
  return {
    change: `clip.name "norm" + clip.max ${value}`,
    patch: { clip: replacing(facts.clip, { name: 'norm', max: value }) },
    why: 'a threshold near the typical gradient norm clips only the outliers; clipping every step just rescales the learning rate',
  };
}

export function removeClip(): Fix {
  return {
    change: 'clip.name "none" (remove the clip entry)',
    patch: { clip: null },
    why: 'a clip that never engages costs a norm computation per step and hides nothing',
  };
}

/** Pre-LN (Xiong et al. 2020): each sublayer reads a normalised input and adds to an unnormalised residual stream. */
export function preLayerNorm(): Fix {
  return {
    change: 'model.norm "pre"',
    patch: { model: { norm: 'pre' } },
    why: 'Pre-LN puts the LayerNorm inside each residual branch, so the gradient near the output shrinks with depth instead of staying large (Xiong et al. 2020, Theorems 1 and 2) and the stack trains at a high learning rate without warm-up',
  };
}

/**
 * DeepNorm (Wang et al. 2022, "DeepNet"): keeps Post-LN but scales the residual by (2N)^(1/4) and the initial
 * feed-forward, value and output weights by (8N)^(-1/4), which bounds each update's effect on the output. On two
 * 6-layer Post-LN char LMs and one other seed (2026-12-04) it cured 3/3 (accuracy 0.29, 0.27, 0.35 against 0.17,
 * 0.17, 0.16; Pre-LN 0.28, 0.26, 0.34).
 */
export function deepNorm(): Fix {
  return {
    change: 'model.deepNorm true',
    patch: { model: { deepNorm: true } },
    why: 'DeepNorm keeps the LayerNorm after each residual sum but up-weights the residual by (2N)^(1/4) and down-scales the initial sublayer weights by (8N)^(-1/4), so the first updates cannot throw the output-side blocks far (Wang et al. 2022)',
  };
}

/**
 * QK normalisation (Henry et al. 2020; the LayerNorm form of Dehghani et al. 2023): each head's queries and keys
 * layer-normalised with a learnable gain, so every attention logit is at most sqrt(d_head) times the gains and a head
 * cannot sharpen to one key by growing its logits. Measured 2026-12-04 on six char-LM Transformers whose entropy
 * collapsed at Adam 0.05-0.1 (docs/DOCTOR.md): it kept every head's entropy up in all six but cured (by accuracy,
 * over 150 steps) 4 of the 5 Pre-LN stacks and 0 of 1 Post-LN, where warm-up and a 10x lower learning rate cured
 * 6 of 6, each with more accuracy; so the doctor offers it after them.
 */
export function qkNorm(): Fix {
  return {
    change: 'model.qkNorm true',
    patch: { model: { qkNorm: true } },
    why: "a LayerNorm of each head's queries and keys (QK normalisation: Henry et al. 2020, Dehghani et al. 2023) bounds every attention logit by sqrt(d_head) times the norms' gains, so the logits cannot grow until a head attends to a single key (Zhai et al. 2023's entropy collapse); it keeps the step size, so it keeps the heads' entropy up without slowing the run",
  };
}

/** Inputs on one scale: the csv task's `standardize` (LeCun et al. 1998, "Efficient BackProp" §4.3). */
export function standardizeInputs(): Fix {
  return {
    change: 'task.standardize true',
    patch: { task: { standardize: true } },
    why:
      'standardising each feature to zero mean and unit variance (LeCun et al. 1998, Efficient BackProp §4.3) puts ' +
      "every input on one scale, so the first layer's pre-activations, and so its gradients, no longer follow the widest feature",
  };
}
