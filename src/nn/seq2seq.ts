/**
 * Sequence-to-sequence models: an encoder reads the source, a decoder writes the target one token at a time, fed the
 * previous target token (teacher forcing while training; its own previous prediction, greedy, in eval mode or when
 * no targets are given). One implementation whose variants are settings:
 *
 * - `architecture: 'rnn'`: an encoder and a decoder of the same cell (rnn | lstm | gru), `layers` deep; the decoder
 *   starts from the encoder's final state, layer by layer. `attention`:
 *   - `none`: the final state is all the decoder gets (Sutskever et al. 2014, "Sequence to Sequence Learning with
 *     Neural Networks"); everything the source says must pass through one fixed-size vector;
 *   - `additive`: score(s, h) = vᵀ tanh(W s + U h) (Bahdanau et al. 2015, "Neural Machine Translation by Jointly
 *     Learning to Align and Translate", eq. 6 and appendix A.1.2);
 *   - `dot`: score(s, h) = sᵀ h (Luong et al. 2015, "Effective Approaches to Attention-based Neural Machine
 *     Translation", eq. 8);
 *   with either score, a = softmax_j score(s_i, h_j), c_i = sum_j a_ij h_j and the attentional state
 *   h~_i = tanh(W_c [c_i; s_i]) (Luong et al. 2015, eq. 5) is what the output layer reads. The decoder's recurrence
 *   does not read the context (no input feeding), so with teacher forcing it unrolls once over every target step
 *   and attention runs for all steps as batched matrix products.
 * - `architecture: 'transformer'`: the encoder-decoder of Vaswani et al. (2017): encoder blocks with bidirectional
 *   self-attention, decoder blocks with causal self-attention and cross-attention over the encoder's output. The
 *   blocks are `transformer.ts`'s, with cross-attention as their setting.
 *
 * The task (see `data/transduction.ts`) presents source and target on one time axis: steps 0 .. S-1 are the source
 * (the symbols, then the delimiter) and their target is blank; steps S .. T-1 are the answer. Every step is scored,
 * so the model emits logits for all T steps: the source steps through the same output layer from the encoder's top
 * states, the answer steps from the decoder. The decoder's input at answer step k is the target of step S-1+k (the
 * blank at the delimiter is the start token), shifted right by one as in Sutskever et al. (2014).
 *
 * Layers, input side first (what the run log's `layer` counts): the source embedding, the encoder layers, the target
 * embedding, the decoder layers, the attention (rnn with attention; its score and combine weights), the output
 * layer. The transformer variant: source input, encoder blocks, the encoder's final norm (pre-LN), target input,
 * decoder blocks, head.
 */
import type { Seq2SeqModelConfig } from '../config/types.js';
import type { AttentionRecord } from '../io/runlog.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import {
  activation as applyActivation,
  add,
  attentionEntropy,
  bmm,
  embedding,
  linear,
  maskedSoftmax,
  permute,
  reshape,
  slice,
  stackHidden,
  type CellKind,
} from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { formatShape, Tensor, type DType } from '../tensor/tensor.js';
import { Dense, type Initializer } from './dense.js';
import type { LayeredModel } from './mlp.js';
import { Module, Sequential, type LayerFacts } from './module.js';
import { LayerNorm } from './norm.js';
import { RecurrentLayer } from './recurrent.js';
import {
  TransformerBlock,
  TransformerHead,
  TransformerInput,
  type TransformerOptions,
} from './transformer.js';

/** The settings' names come from the config schema (one list, `SEQ2SEQ_ARCHITECTURES` and `SEQ2SEQ_ATTENTIONS`). */
export type Seq2SeqArchitecture = Seq2SeqModelConfig['architecture'];
export type Seq2SeqAttention = Seq2SeqModelConfig['attention'];

export interface Seq2SeqOptions {
  architecture: Seq2SeqArchitecture;
  /** Symbols in and out (one-hot rows of the input). */
  vocabulary: number;
  outputSize: number;
  /** Steps of the whole sequence, T, and of its source part, S (the symbols and the delimiter). */
  steps: number;
  sourceLength: number;
  /** Encoder and decoder width (dModel for the transformer); also the embedding width. */
  hidden: number;
  /** Encoder layers, and as many decoder layers. */
  layers: number;
  /** rnn architecture: the cell of both encoder and decoder. */
  cell: CellKind;
  /** rnn architecture: how the decoder reads the encoder's states. */
  attention: Seq2SeqAttention;
  /** transformer architecture: heads, feed-forward width, its activation, norm placement. */
  heads: number;
  ffWidth: number;
  activation: ActivationName;
  norm: 'pre' | 'post';
  /** transformer architecture: QK normalisation in every attention sublayer (default off). */
  qkNorm?: boolean;
  /** The initialiser of a weight matrix, by the activation that follows it. */
  weightInit: (activation: ActivationName) => Initializer;
  /** Applied to each gate's block of weight_hh. */
  recurrentInit: Initializer;
  biasInit: Initializer;
  /** LSTM: initial forget-gate bias. */
  forgetBias: number;
  rng: Rng;
  dtype?: DType;
}

/** Checks the settings where the model is built; each error names the setting, the value and the fix. */
function checkOptions(o: Seq2SeqOptions): void {
  for (const [name, value] of [
    ['hidden', o.hidden],
    ['layers', o.layers],
    ['vocabulary', o.vocabulary],
    ['outputSize', o.outputSize],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`seq2seq: ${name} must be a positive integer, got ${value}.`);
  }
  if (!Number.isInteger(o.sourceLength) || o.sourceLength < 1 || o.sourceLength >= o.steps) {
    throw new RangeError(
      `seq2seq: the source takes ${o.sourceLength} of ${o.steps} steps; it needs at least 1 step and must leave at least 1 target step.`,
    );
  }
  if (o.architecture === 'transformer' && o.hidden % o.heads !== 0) {
    throw new RangeError(
      `seq2seq: hidden (dModel) ${o.hidden} is not divisible by heads ${o.heads}; use heads ${[1, 2, 4, 8].filter((h) => o.hidden % h === 0).join(' or ')}.`,
    );
  }
}

/** Token ids of time steps `from .. to-1` of one-hot rows x [T, B, V], time-major ([(t - from) * B + b]). */
export function oneHotIds(x: Tensor, from: number, to: number): Int32Array {
  const [, B, V] = x.shape as [number, number, number];
  const ids = new Int32Array((to - from) * B);
  const d = x.data;
  for (let t = from; t < to; t++)
    for (let b = 0; b < B; b++) {
      const o = (t * B + b) * V;
      let id = -1;
      for (let v = 0; v < V; v++) if ((d[o + v] as number) === 1) id = v;
      if (id < 0)
        throw new RangeError(
          `seq2seq: input row t=${t}, b=${b} is not one-hot over ${V} symbols; a sequence-to-sequence model reads token tasks (reverse, sort, translate).`,
        );
      ids[(t - from) * B + b] = id;
    }
  return ids;
}

/** One-hot rows [T, B, V] of time-major ids. */
function oneHotRows(ids: Int32Array, steps: number, batch: number, vocabulary: number, dtype: DType): Tensor {
  const x = Tensor.zeros([steps, batch, vocabulary], dtype);
  for (let r = 0; r < ids.length; r++) x.data[r * vocabulary + (ids[r] as number)] = 1;
  return x;
}

/** The arg-max class of each row of logits [rows, classes]. */
function argmaxRows(logits: Tensor): Int32Array {
  const classes = logits.shape[1] as number;
  const rows = logits.shape[0] as number;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++)
      if ((logits.data[r * classes + j] as number) > (logits.data[r * classes + best] as number)) best = j;
    out[r] = best;
  }
  return out;
}

/** Rows [S*B, W] and per-step parts [B, W] put together time-major into [(S + K) * B, W]. */
function concatSteps(head: Tensor, batch: number, tail: readonly Tensor[]): Tensor {
  const width = head.shape[1] as number;
  const steps = (head.shape[0] as number) / batch;
  const parts: Tensor[] = [];
  for (let t = 0; t < steps; t++) parts.push(slice(head, 0, t * batch, (t + 1) * batch));
  return stackHidden([...parts, ...tail], width);
}

/** A token embedding table [vocabulary, width], N(0, 1) as nn.Embedding; reads time-major ids. */
export class TokenEmbedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly vocabulary: number,
    readonly width: number,
    rng: Rng,
    dtype: DType,
  ) {
    super();
    this.weight = this.registerParameter('weight', Tensor.zeros([vocabulary, width], dtype), 'weight');
    rng.fillNormal(this.weight.data, 0, 1);
  }

  override facts(): LayerFacts {
    return {
      kind: 'embedding',
      fanIn: this.vocabulary,
      fanOut: this.width,
      activation: 'linear',
      family: activationKernels.linear.family,
      norm: 'none',
      residual: false,
      recurrent: false,
    };
  }

  /** Rows [ids.length, width]. */
  lookup(ids: Int32Array): Tensor {
    const out = embedding(this.weight, ids, [ids.length]);
    this.observe(out);
    return out;
  }

  forward(x: Tensor): Tensor {
    throw new Error(
      `TokenEmbedding reads token ids; call lookup(ids), not forward(${formatShape(x.shape)}).`,
    );
  }
}

/**
 * The decoder's attention over the encoder's states (see the file comment for the scores): queries s [B, Tq, H],
 * memory h [B, S, H]; returns the attentional states h~ [B * Tq, H] (batch-major rows) and the weights [B, Tq, S].
 */
export class Seq2SeqAttentionLayer extends Module {
  /** Additive: W (with the score's bias b) on the decoder state, U on the encoder states, v; score = vᵀ tanh(W s + U h + b). */
  readonly query: Dense | null;
  readonly key: Tensor | null;
  readonly score: Tensor | null;
  readonly combineContext: Dense;
  readonly combineState: Dense;
  /** When set, each `attend` adds its rows' attention entropy to the running mean `meanEntropy` reads. */
  recordEntropy = false;
  private entropySum = 0;
  private entropyRows = 0;

  constructor(
    readonly kind: 'additive' | 'dot',
    readonly hidden: number,
    options: {
      weightInit: (activation: ActivationName) => Initializer;
      biasInit: Initializer;
      rng: Rng;
      dtype: DType;
    },
  ) {
    super();
    const { dtype, rng } = options;
    const dense = (name: string, act: ActivationName): Dense =>
      this.registerModule(
        name,
        new Dense(hidden, hidden, {
          weightInit: options.weightInit(act),
          biasInit: options.biasInit,
          rng: rng.fork(name),
          dtype,
        }),
      );
    // One bias inside the tanh and none on v: a bias on the score would shift every key's score alike and never
    // get a gradient through the softmax. Bahdanau et al. 2015 (A.1.2) take the alignment width n' = hidden.
    const weight = (name: string, rows: number, act: ActivationName): Tensor => {
      const w = this.registerParameter(name, Tensor.zeros([rows, hidden], dtype), 'weight');
      options.weightInit(act)(w.data, w.shape, rng.fork(name));
      return w;
    };
    this.query = kind === 'additive' ? dense('query', 'tanh') : null;
    this.key = kind === 'additive' ? weight('key.weight', hidden, 'tanh') : null;
    this.score = kind === 'additive' ? weight('score.weight', 1, 'linear') : null;
    this.combineContext = dense('combine.context', 'tanh');
    this.combineState = dense('combine.state', 'tanh');
  }

  override facts(): LayerFacts {
    return {
      kind: 'attention',
      fanIn: 2 * this.hidden,
      fanOut: this.hidden,
      activation: 'tanh',
      family: activationKernels.tanh.family,
      norm: 'none',
      residual: false,
      recurrent: false,
    };
  }

  /** The keys' projection U h, [B * S, H]; computed once per sequence and reused by every decoder step. */
  projectMemory(memory: Tensor): Tensor | null {
    if (!this.key) return null;
    const [B, S, H] = memory.shape as [number, number, number];
    return linear(reshape(memory, [B * S, H]), this.key, null);
  }

  attend(queries: Tensor, memory: Tensor, projected: Tensor | null): { states: Tensor; weights: Tensor } {
    const [B, Tq, H] = queries.shape as [number, number, number];
    const S = memory.shape[1] as number;
    const rows = reshape(queries, [B * Tq, H]);
    let scores: Tensor;
    if (this.kind === 'dot') {
      scores = bmm(queries, memory, { transB: true });
    } else {
      const q = reshape((this.query as Dense).forward(rows), [B, Tq, 1, H]);
      const k = reshape(projected as Tensor, [B, 1, S, H]);
      const e = applyActivation(add(q, k), 'tanh');
      scores = reshape(linear(reshape(e, [B * Tq * S, H]), this.score as Tensor, null), [B, Tq, S]);
    }
    const weights = maskedSoftmax(scores);
    if (this.recordEntropy) {
      // One head; greedy decoding attends one step at a time, so the mean is over every row of every call.
      const entropy = attentionEntropy(weights.data, B, 1, Tq, S)[0] as number;
      this.entropySum += entropy * B * Tq;
      this.entropyRows += B * Tq;
    }
    const context = reshape(bmm(weights, memory), [B * Tq, H]);
    const states = applyActivation(
      add(this.combineContext.forward(context), this.combineState.forward(rows)),
      'tanh',
    );
    this.observe(states);
    return { states, weights };
  }

  /** Starts a new mean of the attention entropy. */
  resetEntropy(): void {
    this.entropySum = 0;
    this.entropyRows = 0;
  }

  /**
   * The mean entropy -sum_j a_ij ln a_ij (nats) of the decoder's attention over the source positions, over the
   * decoder steps and examples attended since `resetEntropy`; ln S for uniform attention over S source steps, NaN
   * when nothing was recorded.
   */
  meanEntropy(): number {
    return this.entropyRows > 0 ? this.entropySum / this.entropyRows : NaN;
  }

  forward(x: Tensor): Tensor {
    throw new Error(
      `Seq2SeqAttentionLayer needs queries and the encoder's states; call attend(queries, memory, projected), not forward(${formatShape(x.shape)}).`,
    );
  }
}

/**
 * A sequence-to-sequence model as a `LayeredModel` (see the file comment for its variants and layers).
 * @example
 * const model = new Seq2Seq({ architecture: 'rnn', cell: 'gru', attention: 'additive', vocabulary: 10,
 *   outputSize: 10, steps: 21, sourceLength: 11, hidden: 32, layers: 1, heads: 1, ffWidth: 0,
 *   activation: 'tanh', norm: 'pre', weightInit: () => xavierUniform(), recurrentInit: orthogonal(),
 *   biasInit: zeros(), forgetBias: 1, rng });
 * model.setTargets(batch.labels);
 * const logits = model.forward(batch.x); // [21 * B, 10]
 */
export class Seq2Seq extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Module[];
  readonly encoder: readonly RecurrentLayer[];
  readonly decoder: readonly RecurrentLayer[];
  readonly attention: Seq2SeqAttentionLayer | null;
  readonly sourceEmbedding: TokenEmbedding | null;
  readonly targetEmbedding: TokenEmbedding | null;
  readonly output: Dense | null;
  readonly transformer: {
    sourceInput: TransformerInput;
    encoder: TransformerBlock[];
    memoryNorm: MemoryNorm | null;
    targetInput: TransformerInput;
    decoder: TransformerBlock[];
    head: TransformerHead;
  } | null;
  /**
   * Attention models only (rnn with attention, transformer): measure attention entropy in the next forward passes.
   * Absent on the plain encoder-decoder, so its run log carries no attention record.
   */
  readonly setRecordAttention?: (on: boolean) => void;
  /**
   * Attention models only: the record in the Transformer's shape (`io/runlog` `AttentionRecord`). rnn: one block
   * with one head, the mean entropy of the decoder's attention over the source. transformer: one entry per layer
   * from layer 1 (so "block k" is layers.k, as the sublayer heat map names it): an encoder block's self-attention
   * heads, a decoder block's self-attention heads then its cross-attention heads, none for the layers between the
   * stacks. No token similarity or stream gradient: the encoder's and the decoder's streams are not one sequence.
   */
  readonly attentionRecord?: () => AttentionRecord;
  private targets: Int32Array | null = null;

  constructor(readonly options: Seq2SeqOptions) {
    super();
    checkOptions(options);
    const o = options;
    const dtype = o.dtype ?? 'float32';
    if (o.architecture === 'transformer') {
      this.encoder = [];
      this.decoder = [];
      this.attention = null;
      this.sourceEmbedding = null;
      this.targetEmbedding = null;
      this.output = null;
      this.transformer = buildTransformerParts(o, dtype);
      const t = this.transformer;
      const attentions = [...t.encoder, ...t.decoder].flatMap((block) =>
        block.crossAttention ? [block.attention, block.crossAttention] : [block.attention],
      );
      this.setRecordAttention = (on) => {
        for (const a of attentions) {
          a.recordEntropy = on;
          if (on) a.lastEntropy = null;
        }
      };
      this.attentionRecord = () => {
        const entropy: number[][] = Array.from({ length: t.decoder.at(-1)?.index ?? 0 }, () => []);
        for (const block of [...t.encoder, ...t.decoder]) {
          entropy[block.index - 1] = [
            ...(block.attention.lastEntropy ?? []),
            ...(block.crossAttention?.lastEntropy ?? []),
          ];
        }
        return { entropy, tokenSimilarity: [] };
      };
      this.blocks = [
        t.sourceInput,
        ...t.encoder,
        ...(t.memoryNorm ? [t.memoryNorm] : []),
        t.targetInput,
        ...t.decoder,
        t.head,
      ];
    } else {
      this.transformer = null;
      let index = 0;
      const next = (): Rng => o.rng.fork(`layers.${index++}`);
      const recurrent = (inputSize: number): RecurrentLayer =>
        new RecurrentLayer({
          kind: o.cell,
          inputSize,
          hidden: o.hidden,
          activation: 'tanh',
          inputInit: o.weightInit('tanh'),
          recurrentInit: o.recurrentInit,
          biasInit: o.biasInit,
          forgetBias: o.cell === 'lstm' ? o.forgetBias : 0,
          rng: next(),
          dtype,
        });
      this.sourceEmbedding = new TokenEmbedding(o.vocabulary, o.hidden, next(), dtype);
      this.encoder = Array.from({ length: o.layers }, () => recurrent(o.hidden));
      this.targetEmbedding = new TokenEmbedding(o.vocabulary, o.hidden, next(), dtype);
      this.decoder = Array.from({ length: o.layers }, () => recurrent(o.hidden));
      this.attention =
        o.attention === 'none'
          ? null
          : new Seq2SeqAttentionLayer(o.attention, o.hidden, {
              weightInit: o.weightInit,
              biasInit: o.biasInit,
              rng: next(),
              dtype,
            });
      this.output = new Dense(o.hidden, o.outputSize, {
        weightInit: o.weightInit('linear'),
        biasInit: o.biasInit,
        rng: next(),
        dtype,
      });
      this.blocks = [
        this.sourceEmbedding,
        ...this.encoder,
        this.targetEmbedding,
        ...this.decoder,
        ...(this.attention ? [this.attention] : []),
        this.output,
      ];
      const attention = this.attention;
      if (attention) {
        this.setRecordAttention = (on) => {
          attention.recordEntropy = on;
          if (on) attention.resetEntropy();
        };
        this.attentionRecord = () => ({ entropy: [[attention.meanEntropy()]], tokenSimilarity: [] });
      }
    }
    this.observed = this.blocks;
    this.registerModule('layers', new Sequential(this.blocks));
  }

  /**
   * The targets of the next forward passes, class ids [T * B] time-major as the task's labels, read for teacher
   * forcing while training; null (or eval mode) decodes greedily from the model's own predictions.
   */
  setTargets(labels: Int32Array | null): void {
    this.targets = labels;
  }

  /**
   * Traces the encoder's layers: ||dL/dh_t|| over the source steps is how much of the gradient reaches each source
   * symbol, the distance attention shortens. The decoder's steps are not traced: each has its own loss, so its early
   * states sum the gradients of every later answer and would read as growth through time.
   */
  setTraceTimeGrad(on: boolean): void {
    for (const layer of this.encoder) layer.traceTimeGrad = on;
  }

  /** ||dL/dh_t|| per encoder layer over the source steps, input side first. */
  timeGrad(): number[][] {
    return this.encoder.map((layer) => Array.from(layer.timeGrad));
  }

  /** x [T, B, vocabulary] one-hot, time-major -> logits [T * B, outputSize] time-major. */
  forward(x: Tensor): Tensor {
    const { steps: T, vocabulary } = this.options;
    if (x.rank !== 3 || x.shape[0] !== T || x.shape[2] !== vocabulary) {
      throw new RangeError(
        `the seq2seq model expects one-hot input [T=${T}, batch, ${vocabulary}] (time-major), got ${formatShape(x.shape)}.`,
      );
    }
    const B = x.shape[1] as number;
    const teacher = this.training && this.targets !== null ? this.shiftedTargets(this.targets, B) : null;
    return this.transformer ? this.forwardTransformer(x, B, teacher) : this.forwardRecurrent(x, B, teacher);
  }

  /** The decoder's inputs under teacher forcing: the target of step S-1+k at answer step k, time-major. */
  private shiftedTargets(labels: Int32Array, B: number): Int32Array {
    const { steps: T, sourceLength: S } = this.options;
    if (labels.length !== T * B) {
      throw new RangeError(
        `seq2seq: ${labels.length} targets for ${T} steps of ${B} sequences; give the task's labels [T * batch], time-major.`,
      );
    }
    return labels.slice((S - 1) * B, (T - 1) * B);
  }

  private forwardRecurrent(x: Tensor, B: number, teacher: Int32Array | null): Tensor {
    const { steps: T, sourceLength: S, hidden: H } = this.options;
    const targetSteps = T - S;
    // Encoder over the source steps; each layer's states feed the next.
    let sequence = (this.sourceEmbedding as TokenEmbedding).lookup(oneHotIds(x, 0, S));
    const finals: Tensor[] = [];
    let top: Tensor[] = [];
    for (const layer of this.encoder) {
      top = layer.unroll(sequence, S);
      sequence = stackHidden(top, H);
      layer.observer?.(sequence);
      finals.push(top[S - 1] as Tensor);
    }
    const encoderRows = sequence; // [S * B, H] time-major
    const memory = permute(reshape(encoderRows, [S, B, H]), [1, 0, 2]); // [B, S, H]
    const projected = this.attention ? this.attention.projectMemory(memory) : null;
    const output = this.output as Dense;
    const sourceLogits = output.forward(encoderRows);

    // The decoder over `steps` answer steps from `states`; returns its top layer's rows [steps * B, H] and states.
    const decode = (ids: Int32Array, steps: number, states: Tensor[]): { rows: Tensor; states: Tensor[] } => {
      let input = (this.targetEmbedding as TokenEmbedding).lookup(ids);
      const last: Tensor[] = [];
      this.decoder.forEach((layer, l) => {
        const unrolled = layer.unroll(input, steps, states[l]);
        input = stackHidden(unrolled, H);
        if (steps === targetSteps) layer.observer?.(input);
        last.push(unrolled[steps - 1] as Tensor);
      });
      return { rows: input, states: last };
    };
    // The features the output layer reads for decoder rows [steps * B, H] time-major.
    const features = (rows: Tensor, steps: number): Tensor => {
      if (!this.attention) return rows;
      const queries = permute(reshape(rows, [steps, B, H]), [1, 0, 2]);
      const { states } = this.attention.attend(queries, memory, projected);
      return reshape(permute(reshape(states, [B, steps, H]), [1, 0, 2]), [steps * B, H]);
    };

    if (teacher) {
      const { rows } = decode(teacher, targetSteps, finals);
      const logits = output.forward(features(rows, targetSteps));
      return concatSteps(
        sourceLogits,
        B,
        Array.from({ length: targetSteps }, (_, k) => slice(logits, 0, k * B, (k + 1) * B)),
      );
    }
    // Greedy: each step's input is the arg-max of the step before (the first: the prediction at the delimiter).
    let previous = argmaxRows(slice(sourceLogits, 0, (S - 1) * B, S * B));
    let states = finals;
    const parts: Tensor[] = [];
    for (let k = 0; k < targetSteps; k++) {
      const step = decode(previous, 1, states);
      states = step.states;
      const logits = output.forward(features(step.rows, 1));
      parts.push(logits);
      previous = argmaxRows(logits);
    }
    return concatSteps(sourceLogits, B, parts);
  }

  private forwardTransformer(x: Tensor, B: number, teacher: Int32Array | null): Tensor {
    const { steps: T, sourceLength: S, vocabulary } = this.options;
    const t = this.transformer as NonNullable<Seq2Seq['transformer']>;
    const dtype = x.dtype;
    let encoded = t.sourceInput.forward(slice(x, 0, 0, S));
    for (const block of t.encoder) encoded = block.forward(encoded);
    // The head reads the encoder's raw stream as it reads the decoder's (its own final norm, pre-LN); the decoder's
    // cross-attention reads it through the encoder's final norm.
    const sourceLogits = t.head.forward(encoded); // [S * B, out]
    const memory = t.memoryNorm ? t.memoryNorm.forward(encoded) : encoded;
    const decode = (ids: Int32Array, steps: number): Tensor => {
      let h = t.targetInput.forward(oneHotRows(ids, steps, B, vocabulary, dtype));
      for (const block of t.decoder) h = block.forward(h, memory);
      return t.head.forward(h); // [steps * B, out] time-major
    };
    const targetSteps = T - S;
    if (teacher) {
      const logits = decode(teacher, targetSteps);
      return concatSteps(
        sourceLogits,
        B,
        Array.from({ length: targetSteps }, (_, k) => slice(logits, 0, k * B, (k + 1) * B)),
      );
    }
    // Greedy: rerun the causal decoder on the growing prefix; position k's logits are final once computed.
    const prefix = new Int32Array(targetSteps * B);
    prefix.set(argmaxRows(slice(sourceLogits, 0, (S - 1) * B, S * B)), 0);
    const parts: Tensor[] = [];
    for (let k = 0; k < targetSteps; k++) {
      const logits = decode(prefix.subarray(0, (k + 1) * B), k + 1);
      const last = slice(logits, 0, k * B, (k + 1) * B);
      parts.push(last);
      if (k + 1 < targetSteps) prefix.set(argmaxRows(last), (k + 1) * B);
    }
    return concatSteps(sourceLogits, B, parts);
  }
}

/** The encoder's final LayerNorm of a Pre-LN encoder-decoder (as nn.Transformer's encoder norm). */
export class MemoryNorm extends Module {
  readonly norm: LayerNorm;

  constructor(
    readonly width: number,
    dtype: DType,
  ) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(width, { dtype }));
  }

  override facts(): LayerFacts {
    return {
      kind: 'layer-norm',
      fanIn: this.width,
      fanOut: this.width,
      activation: 'linear',
      family: activationKernels.linear.family,
      norm: 'layer',
      residual: false,
      recurrent: false,
    };
  }

  /** h [B, T, D] -> [B, T, D]. */
  forward(h: Tensor): Tensor {
    const [B, T, D] = h.shape as [number, number, number];
    const out = reshape(this.norm.forward(reshape(h, [B * T, D])), [B, T, D]);
    this.observe(out);
    return out;
  }
}

function buildTransformerParts(o: Seq2SeqOptions, dtype: DType): NonNullable<Seq2Seq['transformer']> {
  const L = o.layers;
  const base = (rng: Rng, causal: boolean, cross: boolean): TransformerOptions => ({
    input: 'tokens',
    inputSize: o.vocabulary,
    outputSize: o.outputSize,
    maxLength: o.steps,
    scored: 'every',
    causal,
    crossAttention: cross,
    layers: L,
    dModel: o.hidden,
    heads: o.heads,
    ffWidth: o.ffWidth,
    activation: o.activation,
    norm: o.norm,
    qkNorm: o.qkNorm ?? false,
    weightInit: o.weightInit,
    biasInit: o.biasInit,
    rng,
    dtype,
  });
  const encoderOptions = base(o.rng.fork('encoder'), false, false);
  const decoderOptions = base(o.rng.fork('decoder'), true, true);
  const sourceInput = new TransformerInput(encoderOptions);
  const encoder = Array.from({ length: L }, (_, i) => new TransformerBlock(encoderOptions, 1 + i));
  const memoryNorm = o.norm === 'pre' ? new MemoryNorm(o.hidden, dtype) : null;
  const offset = L + 1 + (memoryNorm ? 1 : 0);
  const targetInput = new TransformerInput(decoderOptions);
  const decoder = Array.from({ length: L }, (_, i) => new TransformerBlock(decoderOptions, offset + 1 + i));
  const head = new TransformerHead({ ...decoderOptions, rng: o.rng.fork('head') }, null);
  return { sourceInput, encoder, memoryNorm, targetInput, decoder, head };
}
