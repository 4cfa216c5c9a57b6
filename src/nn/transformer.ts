/**
 * The Transformer (Vaswani et al. 2017) as a `LayeredModel`: a decoder-only language model (causal self-attention,
 * every position scored) or an encoder classifier (bidirectional, pooled), from one implementation whose variants are
 * settings: norm placement `post` (the original: x = LN(alpha x + f(x))) or `pre` (x = alpha x + f(LN(x)), a final LN
 * before the head; Xiong et al. 2020), the residual scale alpha and the init scale beta of DeepNorm (Wang et al.
 * 2022), QK normalisation (a LayerNorm of each head's queries and keys; Henry et al. 2020, Dehghani et al. 2023),
 * dropout on every sublayer's output, sinusoidal or learned positions, and tied input/output embeddings.
 *
 * Layers, as the run log and the monitor index them:
 *   layers.0          the input: `embedding.weight` [vocab, dModel] (token inputs) or `projection.*` (features),
 *                     plus `position.weight` [maxLength, dModel] for learned positions;
 *   layers.1 .. L     the blocks: `attention.inProj.*` (q, k, v rows stacked, PyTorch's in_proj layout),
 *                     `attention.queryNorm.weight` and `attention.keyNorm.weight` [dModel / heads] (qkNorm only),
 *                     `attention.outProj.*`, `attentionNorm.*`, `feedForward.0.*`, `feedForward.1.*`,
 *                     `feedForwardNorm.*`; so per-parameter gradient norms separate attention from feed-forward;
 *   layers.L+1        the head: `finalNorm.*` (pre-LN only) and `output.*` (only `output.bias` when tied).
 * Weights use PyTorch's layouts, so nn.TransformerEncoderLayer's parameters load one to one.
 */
import type { AttentionRecord } from '../io/runlog.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import {
  add,
  attention,
  attentionEntropy,
  embedding,
  linear,
  mean,
  mul,
  normalize,
  permute,
  reshape,
  sinusoidalPositions,
  slice,
} from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { formatShape, Tensor, type DType } from '../tensor/tensor.js';
import { Dense, type Initializer } from './dense.js';
import { Dropout } from './dropout.js';
import type { LayeredModel } from './mlp.js';
import { Module, Sequential, type LayerFacts } from './module.js';
import { LayerNorm } from './norm.js';

export type NormPlacement = 'pre' | 'post';
export type PositionKind = 'sinusoidal' | 'learned';

export interface TransformerOptions {
  /** 'tokens': each input row is one-hot over `inputSize` symbols, read through an embedding; 'features': a linear map. */
  input: 'tokens' | 'features';
  inputSize: number;
  outputSize: number;
  /** The longest sequence the positional table holds. */
  maxLength: number;
  /** 'every': one prediction per position, time-major [T * B, out]; 'last': one per sequence [B, out]. */
  scored: 'last' | 'every';
  /** Causal self-attention (a decoder-only LM); default: true when every position is scored. */
  causal?: boolean;
  /** Decoder blocks of an encoder-decoder: cross-attention over the encoder's output after self-attention. */
  crossAttention?: boolean;
  layers: number;
  dModel: number;
  heads: number;
  ffWidth: number;
  activation: ActivationName;
  norm: NormPlacement;
  /** alpha in x = LN(alpha x + f(x)) (post) or x = alpha x + f(LN(x)) (pre); 1 is the plain residual. */
  residualScale?: number;
  /** beta: multiplies the initial feed-forward, value and output-projection weights (DeepNorm); default 1. */
  initScale?: number;
  /** QK normalisation: each head's queries and keys pass a LayerNorm with a learnable gain (see `MultiHeadAttention`). */
  qkNorm?: boolean;
  dropout?: number;
  positions?: PositionKind;
  /** The output layer reuses the token embedding (Press & Wolf 2017); needs token inputs and outputSize = inputSize. */
  tiedEmbeddings?: boolean;
  /** The initialiser of a weight matrix, by the activation that follows it. */
  weightInit: (activation: ActivationName) => Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

/**
 * DeepNorm's constants (Wang et al. 2022, "DeepNet", Figure 2): alpha = (2N)^(1/4), beta = (8N)^(-1/4) for an
 * N-layer encoder-only or decoder-only stack.
 * @example deepNormScales(12) // { residualScale: 2.21, initScale: 0.31 }
 */
export function deepNormScales(layers: number): { residualScale: number; initScale: number } {
  return { residualScale: (2 * layers) ** 0.25, initScale: (8 * layers) ** -0.25 };
}

const normal =
  (std: number): Initializer =>
  (out, _shape, rng) =>
    rng.fillNormal(out, 0, std);

/** Checks the settings where the model is built; each error names the setting, the value and the fix. */
function checkOptions(o: TransformerOptions): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`transformer: ${name} must be a positive integer, got ${value}.`);
  };
  positive('layers', o.layers);
  positive('dModel', o.dModel);
  positive('heads', o.heads);
  positive('ffWidth', o.ffWidth);
  positive('maxLength', o.maxLength);
  if (o.dModel % o.heads !== 0) {
    const fits = [1, 2, 4, 8, 16].filter((h) => o.dModel % h === 0);
    throw new RangeError(
      `transformer: dModel ${o.dModel} is not divisible by heads ${o.heads}; each head takes dModel / heads features. Use heads ${fits.join(' or ')}, or a dModel that is a multiple of ${o.heads}.`,
    );
  }
  if (o.tiedEmbeddings && (o.input !== 'tokens' || o.outputSize !== o.inputSize)) {
    throw new RangeError(
      `transformer: tiedEmbeddings needs token inputs with as many output classes as input symbols (input ${o.input}, ${o.inputSize} in, ${o.outputSize} out); set tiedEmbeddings false.`,
    );
  }
  const alpha = o.residualScale ?? 1;
  const beta = o.initScale ?? 1;
  if (!(alpha > 0) || !Number.isFinite(alpha) || !(beta > 0) || !Number.isFinite(beta)) {
    throw new RangeError(
      `transformer: residualScale (${alpha}) and initScale (${beta}) must be positive; 1 and 1 is the plain residual.`,
    );
  }
}

/** layers.0: token ids or features to dModel, plus positions. In: [T, B, in] time-major; out: [B, T, dModel]. */
export class TransformerInput extends Module {
  readonly embedding: Tensor | null;
  readonly projection: Dense | null;
  readonly position: Tensor | null;
  private readonly table: Tensor | null;
  private readonly dropout: Dropout | null;

  constructor(private readonly o: TransformerOptions) {
    super();
    const dtype = o.dtype ?? 'float32';
    const rng = o.rng.fork('layers.0');
    // nn.Embedding's default N(0, 1); the tied head divides its logits by sqrt(dModel) to match.
    this.embedding =
      o.input === 'tokens'
        ? this.registerParameter('embedding.weight', Tensor.zeros([o.inputSize, o.dModel], dtype), 'weight')
        : null;
    if (this.embedding) normal(1)(this.embedding.data, this.embedding.shape, rng.fork('embedding'));
    this.projection =
      o.input === 'features'
        ? this.registerModule(
            'projection',
            new Dense(o.inputSize, o.dModel, {
              weightInit: o.weightInit('linear'),
              biasInit: o.biasInit,
              rng: rng.fork('projection'),
              dtype,
            }),
          )
        : null;
    const kind = o.positions ?? 'sinusoidal';
    this.position =
      kind === 'learned'
        ? this.registerParameter('position.weight', Tensor.zeros([o.maxLength, o.dModel], dtype), 'weight')
        : null;
    if (this.position) normal(1)(this.position.data, this.position.shape, rng.fork('position'));
    this.table = kind === 'sinusoidal' ? sinusoidalPositions(o.maxLength, o.dModel, dtype) : null;
    this.dropout = o.dropout ? new Dropout(o.dropout, rng.fork('dropout')) : null;
  }

  override facts(): LayerFacts {
    return {
      kind: 'embedding',
      fanIn: this.o.inputSize,
      fanOut: this.o.dModel,
      activation: 'linear',
      family: activationKernels.linear.family,
      norm: 'none',
      residual: false,
      recurrent: false,
    };
  }

  forward(x: Tensor): Tensor {
    const { inputSize, dModel, maxLength } = this.o;
    if (x.rank !== 3 || x.shape[2] !== inputSize) {
      throw new RangeError(
        `the transformer expects input [T, batch, ${inputSize}] (time-major), got ${formatShape(x.shape)}.`,
      );
    }
    const [T, B] = x.shape as [number, number];
    if (T > maxLength) {
      throw new RangeError(
        `the transformer got a sequence of ${T} steps, longer than its positional table (model.maxLength ${maxLength}); raise model.maxLength to at least ${T}.`,
      );
    }
    let h: Tensor;
    if (this.embedding) {
      h = embedding(this.embedding, tokenIds(x), [B, T]);
    } else {
      const z = (this.projection as Dense).forward(reshape(x, [T * B, inputSize]));
      h = permute(reshape(z, [T, B, dModel]), [1, 0, 2]);
    }
    const positions = this.position ? slice(this.position, 0, 0, T) : slice(this.table as Tensor, 0, 0, T);
    h = add(h, positions);
    if (this.dropout) {
      this.dropout.training = this.training;
      h = this.dropout.forward(h);
    }
    this.observe(h);
    return h;
  }
}

/**
 * Token ids [B, T] (batch-major) from one-hot rows of x [T, B, V]; a row that is not one-hot is refused, since a
 * task with continuous inputs needs `input: 'features'`.
 */
function tokenIds(x: Tensor): Int32Array {
  const [T, B, V] = x.shape as [number, number, number];
  const ids = new Int32Array(B * T);
  const d = x.data;
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++) {
      const o = (t * B + b) * V;
      let id = -1;
      let total = 0;
      for (let v = 0; v < V; v++) {
        const value = d[o + v] as number;
        total += value;
        if (value === 1) id = v;
      }
      if (id < 0 || total !== 1) {
        throw new RangeError(
          `transformer token input: row t=${t}, b=${b} is not one-hot over ${V} symbols; a task with continuous inputs needs model.input "features".`,
        );
      }
      ids[b * T + t] = id;
    }
  return ids;
}

/**
 * The mean cosine similarity of distinct token representations within a sequence, averaged over the batch: the
 * rank-collapse signal of Noci et al. (2022, "Signal Propagation in Transformers"), 1 when every token is the same
 * direction. With unit rows u_i, sum_(i != j) u_i . u_j = |sum_i u_i|^2 - T, so it costs one pass. Measures only.
 */
export function tokenSimilarity(h: ArrayLike<number>, batch: number, steps: number, width: number): number {
  if (steps < 2) return NaN;
  let total = 0;
  const sum = new Float64Array(width);
  for (let b = 0; b < batch; b++) {
    sum.fill(0);
    let rows = 0;
    for (let t = 0; t < steps; t++) {
      const o = (b * steps + t) * width;
      let norm = 0;
      for (let d = 0; d < width; d++) norm += (h[o + d] as number) ** 2;
      if (norm === 0) continue;
      const inv = 1 / Math.sqrt(norm);
      for (let d = 0; d < width; d++) sum[d] = (sum[d] as number) + (h[o + d] as number) * inv;
      rows++;
    }
    if (rows < 2) continue;
    let squared = 0;
    for (let d = 0; d < width; d++) squared += (sum[d] as number) ** 2;
    total += (squared - rows) / (rows * (rows - 1));
  }
  return total / batch;
}

/** LayerNorm's epsilon (PyTorch's default), also for the queries' and keys' norms. */
const QK_NORM_EPS = 1e-5;

/**
 * Multi-head attention with PyTorch's packed in-projection [3 dModel, dModel] (q, k, v rows) and out-projection.
 *
 * With `qkNorm`, each head's query and key vectors are layer-normalised over the head's dk features before the
 * scaled dot product, with a learnable gain per feature shared by the heads and no shift: the LayerNorm form of
 * Dehghani et al. (2023, "Scaling Vision Transformers to 22 Billion Parameters", QK normalisation, which stopped the
 * attention logits of their large models from diverging) of the idea of Henry et al. (2020, "Query-Key
 * Normalization for Transformers", who L2-normalise q and k and learn the softmax's scale). Without a shift, a
 * normalised vector has norm at most sqrt(dk), so every logit obeys |q . k| / sqrt(dk) <= sqrt(dk) max|g_q| max|g_k|
 * whatever the weights: the logits cannot grow until a head's attention is one-hot (Zhai et al. 2023's entropy
 * collapse) unless the gains do.
 */
export class MultiHeadAttention extends Module {
  readonly inProj: Dense;
  readonly outProj: Dense;
  /** The queries' and keys' LayerNorm gains [dModel / heads] (qkNorm), or null. */
  readonly queryNorm: Tensor | null;
  readonly keyNorm: Tensor | null;
  /** The zero shift the query/key norms pass to `normalize` (not a parameter: no shift keeps the logit bound). */
  private readonly noShift: Tensor | null;
  /** When set, `lastEntropy` receives each head's mean attention entropy (nats) at every forward. */
  recordEntropy = false;
  lastEntropy: number[] | null = null;

  constructor(
    readonly dModel: number,
    readonly heads: number,
    options: {
      weightInit: Initializer;
      biasInit: Initializer;
      rng: Rng;
      dtype: DType;
      valueScale: number;
      qkNorm?: boolean;
    },
  ) {
    super();
    const common = { biasInit: options.biasInit, dtype: options.dtype };
    this.inProj = this.registerModule(
      'inProj',
      new Dense(dModel, 3 * dModel, {
        ...common,
        weightInit: options.weightInit,
        rng: options.rng.fork('inProj'),
      }),
    );
    const dk = dModel / heads;
    const gain = (name: string): Tensor | null =>
      options.qkNorm ? this.registerParameter(name, Tensor.ones([dk], options.dtype), 'norm') : null;
    this.queryNorm = gain('queryNorm.weight');
    this.keyNorm = gain('keyNorm.weight');
    this.noShift = options.qkNorm ? Tensor.zeros([dk], options.dtype) : null;
    this.outProj = this.registerModule(
      'outProj',
      new Dense(dModel, dModel, {
        ...common,
        weightInit: options.weightInit,
        rng: options.rng.fork('outProj'),
      }),
    );
    if (options.valueScale !== 1) {
      const w = this.inProj.weight.data;
      for (let i = 2 * dModel * dModel; i < w.length; i++) w[i] = (w[i] as number) * options.valueScale;
      this.outProj.weight.data.forEach((v, i, a) => (a[i] = v * options.valueScale));
    }
  }

  /** Self-attention over x [B, T, dModel] (causal when asked). */
  forward(x: Tensor, causal = false): Tensor {
    return this.attend(x, null, causal);
  }

  /** t [B, T, dModel] with each head's dk features layer-normalised and scaled by `gain` (qkNorm), else t itself. */
  private normaliseHeads(t: Tensor, gain: Tensor | null): Tensor {
    if (gain === null) return t;
    const dk = this.dModel / this.heads;
    const rows = reshape(t, [t.size / dk, dk]);
    return reshape(normalize(rows, gain, this.noShift as Tensor, 'layer', QK_NORM_EPS).y, t.shape);
  }

  /**
   * The queries [B, Tq, dModel] from `query`, the keys and values [B, Tk, dModel] from `memory` (cross) or the query
   * (self), head h in columns h dk .. (h + 1) dk - 1; the queries and keys normalised per head with qkNorm. What the
   * scaled dot product reads.
   */
  project(query: Tensor, memory: Tensor | null): { q: Tensor; k: Tensor; v: Tensor } {
    const D = this.dModel;
    const [B, Tq] = query.shape as [number, number];
    let q: Tensor;
    let k: Tensor;
    let v: Tensor;
    if (memory === null) {
      const qkv = this.inProj.forward(reshape(query, [B * Tq, D]));
      q = reshape(slice(qkv, 1, 0, D), [B, Tq, D]);
      k = reshape(slice(qkv, 1, D, 2 * D), [B, Tq, D]);
      v = reshape(slice(qkv, 1, 2 * D, 3 * D), [B, Tq, D]);
    } else {
      const Tk = memory.shape[1] as number;
      const { weight, bias } = this.inProj;
      q = reshape(linear(reshape(query, [B * Tq, D]), slice(weight, 0, 0, D), slice(bias, 0, 0, D)), [
        B,
        Tq,
        D,
      ]);
      const kv = linear(reshape(memory, [B * Tk, D]), slice(weight, 0, D, 3 * D), slice(bias, 0, D, 3 * D));
      k = reshape(slice(kv, 1, 0, D), [B, Tk, D]);
      v = reshape(slice(kv, 1, D, 2 * D), [B, Tk, D]);
    }
    return { q: this.normaliseHeads(q, this.queryNorm), k: this.normaliseHeads(k, this.keyNorm), v };
  }

  /** Queries from `query` [B, Tq, dModel]; keys and values from `memory` [B, Tk, dModel] (cross) or the query (self). */
  attend(
    query: Tensor,
    memory: Tensor | null,
    causal: boolean,
    keyLengths: Int32Array | null = null,
  ): Tensor {
    const D = this.dModel;
    const [B, Tq] = query.shape as [number, number];
    const { q, k, v } = this.project(query, memory);
    const { out, weights } = attention(q, k, v, { heads: this.heads, causal, keyLengths });
    if (this.recordEntropy)
      this.lastEntropy = attentionEntropy(weights, B, this.heads, Tq, k.shape[1] as number);
    return reshape(this.outProj.forward(reshape(out, [B * Tq, D])), [B, Tq, D]);
  }
}

/** One block: self-attention and a two-layer feed-forward sublayer, each with a residual and a LayerNorm. */
export class TransformerBlock extends Module {
  readonly attention: MultiHeadAttention;
  readonly attentionNorm: LayerNorm;
  readonly crossAttention: MultiHeadAttention | null;
  readonly crossAttentionNorm: LayerNorm | null;
  readonly feedForward: Sequential;
  readonly feedForwardNorm: LayerNorm;
  private readonly dropout: Dropout | null;
  private readonly alpha: number;
  /** Set with the attention's entropy: the mean cosine similarity of this block's output tokens. */
  lastTokenSimilarity: number | null = null;
  /** Set with the attention's entropy, once backward reaches it: ||dL/dx_l|| of this block's output (the stream). */
  lastStreamGrad: number | null = null;

  constructor(
    private readonly o: TransformerOptions,
    readonly index: number,
  ) {
    super();
    const dtype = o.dtype ?? 'float32';
    const rng = o.rng.fork(`layers.${index}`);
    const beta = o.initScale ?? 1;
    this.alpha = o.residualScale ?? 1;
    this.attention = this.registerModule(
      'attention',
      new MultiHeadAttention(o.dModel, o.heads, {
        weightInit: o.weightInit('linear'),
        biasInit: o.biasInit,
        rng: rng.fork('attention'),
        dtype,
        valueScale: beta,
        qkNorm: o.qkNorm ?? false,
      }),
    );
    this.attentionNorm = this.registerModule('attentionNorm', new LayerNorm(o.dModel, { dtype }));
    this.crossAttention = o.crossAttention
      ? this.registerModule(
          'crossAttention',
          new MultiHeadAttention(o.dModel, o.heads, {
            weightInit: o.weightInit('linear'),
            biasInit: o.biasInit,
            rng: rng.fork('crossAttention'),
            dtype,
            valueScale: beta,
            qkNorm: o.qkNorm ?? false,
          }),
        )
      : null;
    this.crossAttentionNorm = o.crossAttention
      ? this.registerModule('crossAttentionNorm', new LayerNorm(o.dModel, { dtype }))
      : null;
    const up = new Dense(o.dModel, o.ffWidth, {
      activation: o.activation,
      weightInit: o.weightInit(o.activation),
      biasInit: o.biasInit,
      rng: rng.fork('feedForward.0'),
      dtype,
    });
    const down = new Dense(o.ffWidth, o.dModel, {
      weightInit: o.weightInit('linear'),
      biasInit: o.biasInit,
      rng: rng.fork('feedForward.1'),
      dtype,
    });
    if (beta !== 1)
      for (const w of [up.weight.data, down.weight.data]) w.forEach((v, i, a) => (a[i] = v * beta));
    this.feedForward = this.registerModule('feedForward', new Sequential([up, down]));
    this.feedForwardNorm = this.registerModule('feedForwardNorm', new LayerNorm(o.dModel, { dtype }));
    this.dropout = o.dropout ? new Dropout(o.dropout, rng.fork('dropout')) : null;
  }

  override facts(): LayerFacts {
    return {
      kind: 'transformer-block',
      fanIn: this.o.dModel,
      fanOut: this.o.dModel,
      activation: 'linear',
      family: activationKernels.linear.family,
      norm: 'layer',
      residual: true,
      recurrent: false,
    };
  }

  private drop(x: Tensor): Tensor {
    if (!this.dropout) return x;
    this.dropout.training = this.training;
    return this.dropout.forward(x);
  }

  /**
   * x [B, T, dModel] -> [B, T, dModel], the residual stream after this block; a block with cross-attention reads
   * `memory` [B, S, dModel], the encoder's output, between its self-attention and feed-forward sublayers.
   */
  forward(x: Tensor, memory: Tensor | null = null): Tensor {
    const [B, T, D] = x.shape as [number, number, number];
    const causal = this.o.causal ?? this.o.scored === 'every';
    const scaled = (t: Tensor): Tensor => (this.alpha === 1 ? t : mul(t, this.alpha));
    const rows = (t: Tensor): Tensor => reshape(t, [B * T, D]);
    const attend = (t: Tensor): Tensor => rows(this.attention.forward(reshape(t, [B, T, D]), causal));
    const feed = (t: Tensor): Tensor => this.feedForward.forward(t);
    const cross = this.crossAttention;
    if ((cross === null) !== (memory === null)) {
      throw new RangeError(
        cross
          ? `transformer block ${this.index} has cross-attention and needs the encoder's output; pass forward(x, memory).`
          : `transformer block ${this.index} has no cross-attention; build it with crossAttention true to read an encoder's output.`,
      );
    }
    const readMemory = (t: Tensor): Tensor =>
      rows((cross as MultiHeadAttention).attend(reshape(t, [B, T, D]), memory, false));
    const x2 = rows(x);
    let y: Tensor;
    if (this.o.norm === 'post') {
      let h = this.attentionNorm.forward(add(scaled(x2), this.drop(attend(x2))));
      if (cross) h = (this.crossAttentionNorm as LayerNorm).forward(add(scaled(h), this.drop(readMemory(h))));
      y = this.feedForwardNorm.forward(add(scaled(h), this.drop(feed(h))));
    } else {
      let h = add(scaled(x2), this.drop(attend(this.attentionNorm.forward(x2))));
      if (cross) h = add(scaled(h), this.drop(readMemory((this.crossAttentionNorm as LayerNorm).forward(h))));
      y = add(scaled(h), this.drop(feed(this.feedForwardNorm.forward(h))));
    }
    const out = reshape(y, [B, T, D]);
    if (this.attention.recordEntropy) {
      this.lastTokenSimilarity = tokenSimilarity(out.data, B, T, D);
      // The residual stream's gradient, the quantity of Xiong et al. (2020) Theorems 1-2: read only, never changed.
      out.onGrad((g) => {
        let squared = 0;
        for (let i = 0; i < g.length; i++) squared += (g[i] as number) ** 2;
        this.lastStreamGrad = Math.sqrt(squared);
      });
    }
    out.name = `layers.${this.index}`;
    this.observe(out);
    return out;
  }
}

/** layers.L+1: the final LayerNorm (pre-LN), pooling when one prediction per sequence, and the output layer. */
export class TransformerHead extends Module {
  readonly finalNorm: LayerNorm | null;
  readonly output: Dense | null;
  readonly outputBias: Tensor | null;

  constructor(
    private readonly o: TransformerOptions,
    private readonly tiedTo: Tensor | null,
  ) {
    super();
    const dtype = o.dtype ?? 'float32';
    const rng = o.rng.fork(`layers.${o.layers + 1}`);
    this.finalNorm =
      o.norm === 'pre' ? this.registerModule('finalNorm', new LayerNorm(o.dModel, { dtype })) : null;
    this.output = tiedTo
      ? null
      : this.registerModule(
          'output',
          new Dense(o.dModel, o.outputSize, {
            weightInit: o.weightInit('linear'),
            biasInit: o.biasInit,
            rng: rng.fork('output'),
            dtype,
          }),
        );
    this.outputBias = tiedTo
      ? this.registerParameter('output.bias', Tensor.zeros([o.outputSize], dtype), 'bias')
      : null;
  }

  override facts(): LayerFacts {
    return {
      kind: 'dense',
      fanIn: this.o.dModel,
      fanOut: this.o.outputSize,
      activation: 'linear',
      family: activationKernels.linear.family,
      norm: 'none',
      residual: false,
      recurrent: false,
    };
  }

  /** h [B, T, dModel] -> logits [T * B, out] time-major (every position) or [B, out] (one per sequence). */
  forward(h: Tensor): Tensor {
    const [B, T, D] = h.shape as [number, number, number];
    const normed = this.finalNorm ? reshape(this.finalNorm.forward(reshape(h, [B * T, D])), [B, T, D]) : h;
    let features: Tensor;
    if (this.o.scored === 'every') features = reshape(permute(normed, [1, 0, 2]), [T * B, D]);
    else if (this.o.causal ?? false) features = reshape(slice(normed, 1, T - 1, T), [B, D]);
    else features = mean(normed, 1);
    let logits: Tensor;
    if (this.output) logits = this.output.forward(features);
    else {
      // Tied: h Eᵀ / sqrt(dModel) + b, the rescaling T5 (Raffel et al. 2020) applies when the output shares N(0, 1) embeddings.
      logits = linear(mul(features, 1 / Math.sqrt(D)), this.tiedTo as Tensor, this.outputBias);
    }
    this.observe(logits);
    return logits;
  }
}

/**
 * The Transformer as a `LayeredModel` (see the file comment for its layers and settings).
 * @example
 * const lm = new Transformer({ input: 'tokens', inputSize: 27, outputSize: 27, maxLength: 64, scored: 'every',
 *   layers: 2, dModel: 64, heads: 4, ffWidth: 256, activation: 'gelu', norm: 'pre',
 *   weightInit: () => xavierUniform(), biasInit: zeros(), rng });
 */
export class Transformer extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Module[];
  readonly input: TransformerInput;
  readonly layers: readonly TransformerBlock[];
  readonly head: TransformerHead;

  constructor(readonly options: TransformerOptions) {
    super();
    checkOptions(options);
    this.input = new TransformerInput(options);
    const layers: TransformerBlock[] = [];
    for (let l = 1; l <= options.layers; l++) layers.push(new TransformerBlock(options, l));
    this.layers = layers;
    this.head = new TransformerHead(options, options.tiedEmbeddings ? this.input.embedding : null);
    this.blocks = [this.input, ...layers, this.head];
    this.observed = this.blocks;
    this.registerModule('layers', new Sequential(this.blocks));
  }

  /** x [T, B, inputSize] time-major -> [T * B, out] (every position scored) or [B, out]. */
  forward(x: Tensor): Tensor {
    let h = this.input.forward(x);
    for (const block of this.layers) h = block.forward(h);
    return this.head.forward(h);
  }

  /** Measure attention entropy and token similarity in the next forward passes (one pass over each; read only). */
  setRecordAttention(on: boolean): void {
    for (const block of this.layers) {
      block.attention.recordEntropy = on;
      if (!on) continue;
      block.attention.lastEntropy = null;
      block.lastTokenSimilarity = null;
      block.lastStreamGrad = null;
    }
  }

  /**
   * The last measured per-head attention entropy (nats), token similarity and residual-stream gradient norm of each
   * block, input side first.
   */
  attentionRecord(): AttentionRecord {
    return {
      entropy: this.layers.map((block) => block.attention.lastEntropy ?? []),
      tokenSimilarity: this.layers.map((block) => block.lastTokenSimilarity ?? NaN),
      streamGrad: this.layers.map((block) => block.lastStreamGrad ?? NaN),
    };
  }
}
