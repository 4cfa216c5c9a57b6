/**
 * The residual block: y = shortcut(x) + s * F(x), one class whose settings give every form the literature uses.
 *
 * - `order` places the norm and the activation:
 *   - `post`  (He et al. 2016a, the original ResNet): F = N(W2 phi(N(W1 x))), y = phi(x + s F);
 *   - `pre`   (He et al. 2016b, "Identity mappings"): F = W2 phi(N(W1 phi(N(x)))), y = x + s F; with one layer and
 *             no norm this is x + W phi(x) + b, the block of the signal-propagation papers (e.g. Yang & Schoenholz
 *             2017);
 *   - `branch`: every layer of F is phi(N(W h + b)) and nothing follows the sum: y = x + phi(W x + b) with one layer,
 *             the MLP's `residual: true`.
 * - `layers`: one or two weight layers in F, dense or 3x3 convolutions (`kind`).
 * - `scale` s: a constant a (1 by default), or a learnable scalar alpha: 0 at init is ReZero (Bachlechner et al.
 *   2020) and SkipInit (De & Smith 2020), which both make the block the identity at init (for `pre` and `branch`).
 * - `fixup` (Zhang et al. 2019): the last layer of F (weight and bias) starts at zero and the others are rescaled by
 *   L^(-1/(2m-2)) for L residual branches of m layers, with a learnable multiplier (1 at init) on F; the layers keep
 *   their own biases in place of Fixup's scalar ones.
 * - the shortcut is the identity, or a projection (a 1x1 convolution with the stride, or a dense layer; He et al.
 *   2016a option B) where F changes the shape.
 */
import type { ActivationName } from '../kernels/activations.js';
import { activation as applyActivation, add, mul } from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { asImages, Conv2d, GlobalAvgPool2d, type ImageModelShape } from './conv.js';
import { Dense, type Initializer } from './dense.js';
import type { LayeredModel } from './mlp.js';
import { Module, Sequential, type LayerFacts } from './module.js';
import { BatchNorm, BatchNorm2d, LayerNorm } from './norm.js';

export type ResidualOrder = 'post' | 'pre' | 'branch';

/** s in y = x + s F(x): fixed at `init`, or a learnable scalar starting there. */
export interface ResidualScale {
  init: number;
  learnable: boolean;
}

export interface ResidualBlockOptions {
  /** dense layers (features) or 3x3 convolutions (channels) in the branch */
  kind: 'dense' | 'conv';
  inSize: number;
  outSize: number;
  /** weight layers in the branch: 1 or 2 */
  layers: number;
  order: ResidualOrder;
  activation: ActivationName;
  alpha?: number;
  norm: 'none' | 'batch' | 'layer';
  /** dense branches: dropout after each branch layer (default 0) */
  dropout?: number;
  /** conv: the branch's kernel (default 3, padded to keep the size) */
  kernel?: number;
  /** conv: the first layer's stride (default 1); a stride other than 1 needs a projection shortcut */
  stride?: number;
  /** default a constant 1 */
  scale?: ResidualScale;
  /** false: no shortcut at all, y = phi(F(x)): the plain net of the same layers (He et al. 2016a's baseline) */
  shortcut?: boolean;
  /** Fixup: the number L of residual branches in the whole net */
  fixup?: { branches: number };
  /** The initialiser for a weight followed by `activation` (the gain follows the non-linearity). */
  weightInit: (activation: ActivationName) => Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

type BranchLayer = Dense | Conv2d;

export class ResidualBlock extends Module {
  readonly order: ResidualOrder;
  readonly activation: ActivationName;
  readonly alpha: number | undefined;
  readonly layers: readonly Module[];
  /** `pre` order: the norm before each layer's activation (null where the norm is none) */
  readonly preNorms: ReadonlyArray<Module | null>;
  readonly shortcut: BranchLayer | null;
  /** false for the plain (shortcut-free) twin */
  readonly skip: boolean;
  /** s as a tensor; null when it is the constant 1 */
  readonly scale: Tensor | null;
  /** When set, each forward keeps the mean squares of the shortcut and the scaled branch (`lastVariances`). */
  measureVariances = false;
  lastVariances: { shortcut: number; branch: number } | null = null;
  private readonly blockFacts: LayerFacts | null;

  constructor(options: ResidualBlockOptions | { around: Module }) {
    super();
    if ('around' in options) {
      // The shorthand x + f(x) around a layer that is its own branch; transparent for parameter names.
      this.order = 'branch';
      this.activation = 'linear';
      this.alpha = undefined;
      this.layers = [this.registerModule('', options.around)];
      this.preNorms = [null];
      this.shortcut = null;
      this.skip = true;
      this.scale = null;
      const f = options.around.facts();
      this.blockFacts = f ? { ...f, residual: true } : null;
      return;
    }
    const o = options;
    if (!Number.isInteger(o.layers) || o.layers < 1 || o.layers > 2) {
      throw new RangeError(`residual block: layers ${o.layers} is not allowed; use 1 or 2 weight layers.`);
    }
    if (o.kind === 'conv' && o.norm === 'layer') {
      throw new RangeError('residual block: conv branches take norm "batch" or "none", not "layer".');
    }
    const dtype = o.dtype ?? 'float32';
    const stride = o.stride ?? 1;
    if (o.kind === 'dense' && stride !== 1) {
      throw new RangeError(`residual block: stride ${stride} is for conv branches; a dense branch has none.`);
    }
    this.order = o.order;
    this.activation = o.activation;
    this.alpha = o.alpha;
    const kernel = o.kernel ?? 3;
    const last = o.layers - 1;
    const init = o.weightInit(o.activation);
    const make = (i: number, inSize: number, outSize: number): BranchLayer => {
      // post: the last layer's activation waits until after the sum; pre: norm and activation come before W.
      const activation = o.order === 'pre' || (o.order === 'post' && i === last) ? 'linear' : o.activation;
      const norm = o.order === 'pre' ? 'none' : o.norm;
      const common = {
        activation,
        ...(o.alpha === undefined ? {} : { alpha: o.alpha }),
        weightInit: init,
        biasInit: o.biasInit,
        rng: o.rng.fork(`branch.${i}`),
        dtype,
      };
      return o.kind === 'conv'
        ? new Conv2d(inSize, outSize, {
            ...common,
            norm: norm === 'batch' ? 'batch' : 'none',
            kernel,
            padding: Math.floor(kernel / 2),
            stride: i === 0 ? stride : 1,
          })
        : new Dense(inSize, outSize, { ...common, norm, ...(o.dropout ? { dropout: o.dropout } : {}) });
    };
    const layers: BranchLayer[] = [];
    const preNorms: Array<Module | null> = [];
    for (let i = 0; i <= last; i++) {
      const inSize = i === 0 ? o.inSize : o.outSize;
      if (o.order === 'pre') {
        const norm =
          o.norm === 'none'
            ? null
            : o.kind === 'conv'
              ? new BatchNorm2d(inSize, { dtype })
              : o.norm === 'batch'
                ? new BatchNorm(inSize, { dtype })
                : new LayerNorm(inSize, { dtype });
        preNorms.push(norm ? this.registerModule(`branch.${i}.prenorm`, norm) : null);
      } else preNorms.push(null);
      layers.push(this.registerModule(`branch.${i}`, make(i, inSize, o.outSize)));
    }
    this.layers = layers;
    this.preNorms = preNorms;
    this.skip = o.shortcut ?? true;
    const projection = this.skip && (o.inSize !== o.outSize || stride !== 1);
    this.shortcut = projection
      ? this.registerModule(
          'shortcut',
          o.kind === 'conv'
            ? new Conv2d(o.inSize, o.outSize, {
                kernel: 1,
                stride,
                bias: false,
                norm: o.order === 'post' && o.norm === 'batch' ? 'batch' : 'none',
                weightInit: o.weightInit('linear'),
                biasInit: o.biasInit,
                rng: o.rng.fork('shortcut'),
                dtype,
              })
            : new Dense(o.inSize, o.outSize, {
                weightInit: o.weightInit('linear'),
                biasInit: o.biasInit,
                rng: o.rng.fork('shortcut'),
                dtype,
              }),
        )
      : null;
    let scale = o.scale ?? { init: 1, learnable: false };
    if (o.fixup) {
      const { branches } = o.fixup;
      if (!Number.isInteger(branches) || branches < 1) {
        throw new RangeError(
          `residual block: fixup branches ${branches} must be a whole number of at least 1.`,
        );
      }
      // Zhang et al. 2019, Fixup rule 2: scale the branch's inner layers by L^(-1/(2m-2)), zero its last layer.
      const m = layers.length;
      const factor = m > 1 ? branches ** (-1 / (2 * m - 2)) : 1;
      layers.forEach((layer, i) => {
        const w = layer.weight.data;
        if (i === m - 1) {
          w.fill(0);
          layer.bias?.data.fill(0);
        } else for (let k = 0; k < w.length; k++) w[k] = (w[k] as number) * factor;
      });
      // Rule 3: a scalar multiplier (1 at init) on the branch.
      if (!o.scale) scale = { init: 1, learnable: true };
    }
    this.scale =
      scale.learnable || scale.init !== 1
        ? scale.learnable
          ? this.registerParameter('scale', Tensor.full([1], scale.init, dtype), 'other')
          : Tensor.full([1], scale.init, dtype)
        : null;
    const first = layers[0]?.facts();
    const end = layers[last]?.facts();
    this.blockFacts =
      first && end
        ? {
            ...first,
            fanOut: end.fanOut,
            activation: o.activation,
            family: first.family,
            norm: o.norm,
            residual: this.skip,
          }
        : null;
  }

  override facts(): LayerFacts | null {
    return this.blockFacts;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    let activated: Tensor | null = null;
    let shortcutInput = x;
    this.layers.forEach((layer, i) => {
      if (this.order === 'pre') {
        const norm = this.preNorms[i];
        h = applyActivation(norm ? norm.forward(h) : h, this.activation, this.alpha);
        activated = h;
        // He et al. 2016b: a projection reads the pre-activated input.
        if (i === 0) shortcutInput = h;
      }
      h = layer.forward(h);
    });
    if (this.order === 'branch') activated = h;
    const branch = this.scale ? mul(h, this.scale) : h;
    const shortcut = this.shortcut ? this.shortcut.forward(shortcutInput) : x;
    if (this.measureVariances) {
      this.lastVariances = { shortcut: meanSquare(shortcut), branch: meanSquare(branch) };
    }
    let y = this.skip ? add(shortcut, branch) : branch;
    if (this.order === 'post') {
      y = applyActivation(y, this.activation, this.alpha);
      activated = y;
    }
    if (activated) this.observe(activated);
    return y;
  }
}

function meanSquare(t: Tensor): number {
  let s = 0;
  for (let i = 0; i < t.size; i++) s += (t.data[i] as number) ** 2;
  return t.size > 0 ? s / t.size : 0;
}

/** A residual connection around one layer, y = x + f(x) (He et al. 2016): the block's shorthand form. */
export class Residual extends ResidualBlock {
  constructor(readonly inner: Module) {
    super({ around: inner });
  }
}

export interface ResNetOptions extends ImageModelShape {
  stages: number;
  /** residual blocks per stage */
  blocks: number;
  /** channels of the first stage; each later stage doubles them with a stride-2 first block */
  width: number;
  order: 'post' | 'pre';
  /** conv layers per branch */
  layers: number;
  norm: 'none' | 'batch';
  scale?: ResidualScale;
  fixup: boolean;
  /** false: the plain twin of the same depth */
  shortcut: boolean;
  activation: ActivationName;
  weightInit: (activation: ActivationName) => Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

/**
 * A residual network for small images (He et al. 2016a, section 4.2's CIFAR nets): a 3x3 stem conv, `stages`
 * stages of `blocks` residual blocks (the first block of each later stage halves the image and doubles the
 * channels through a projection), global average pooling and a linear output. Each block is one layer index.
 * With `shortcut: false` it is the plain net of the same depth that the paper compares against.
 * @example new ResNet({ image: { channels: 1, height: 12, width: 12 }, outputSize: 4, stages: 3, blocks: 3, ... })
 */
export class ResNet extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Module[];
  private readonly stack: Sequential;

  constructor(readonly options: ResNetOptions) {
    super();
    const o = options;
    const dtype = o.dtype ?? 'float32';
    const blocks: Module[] = [
      new Conv2d(o.image.channels, o.width, {
        kernel: 3,
        padding: 1,
        activation: o.order === 'post' ? o.activation : 'linear',
        norm: o.order === 'post' ? o.norm : 'none',
        weightInit: o.weightInit(o.activation),
        biasInit: o.biasInit,
        rng: o.rng.fork('layers.0'),
        dtype,
      }),
    ];
    const branches = o.stages * o.blocks;
    let channels = o.width;
    for (let s = 0; s < o.stages; s++) {
      const out = o.width * 2 ** s;
      for (let b = 0; b < o.blocks; b++) {
        blocks.push(
          new ResidualBlock({
            kind: 'conv',
            inSize: channels,
            outSize: out,
            layers: o.layers,
            order: o.order,
            activation: o.activation,
            norm: o.norm,
            stride: s > 0 && b === 0 ? 2 : 1,
            ...(o.scale ? { scale: o.scale } : {}),
            ...(o.fixup ? { fixup: { branches } } : {}),
            shortcut: o.shortcut,
            weightInit: o.weightInit,
            biasInit: o.biasInit,
            rng: o.rng.fork(`layers.${blocks.length}`),
            dtype,
          }),
        );
        channels = out;
      }
    }
    blocks.push(new GlobalAvgPool2d());
    blocks.push(
      new Dense(channels, o.outputSize, {
        weightInit: o.weightInit('linear'),
        biasInit: o.biasInit,
        rng: o.rng.fork(`layers.${blocks.length}`),
        dtype,
      }),
    );
    this.blocks = blocks;
    this.observed = blocks;
    this.stack = this.registerModule('layers', new Sequential(blocks));
  }

  forward(x: Tensor): Tensor {
    return this.stack.forward(asImages(x, this.options.image));
  }
}
