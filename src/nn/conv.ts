/**
 * Convolutional layers on NCHW images: `Conv2d` y = phi(norm(conv(x) + b)) (batch norm and the activation are
 * settings of the one layer, as in `Dense`), pooling, global average pooling and flatten. The maths is
 * `ops/conv.ts`.
 */
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import {
  activation as applyActivation,
  conv2d,
  flatten,
  globalAvgPool2d,
  pool2d,
  reshape,
  type Pool2dOptions,
  type PoolMode,
} from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor, formatShape, type DType } from '../tensor/tensor.js';
import { Dense, type Initializer } from './dense.js';
import type { LayeredModel } from './mlp.js';
import { Module, Sequential, type LayerFacts } from './module.js';
import { BatchNorm2d } from './norm.js';

export interface Conv2dLayerOptions {
  /** square kernel size, or [kh, kw] */
  kernel: number | readonly [number, number];
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  activation?: ActivationName;
  /** leaky-relu slope or elu scale */
  alpha?: number;
  norm?: 'none' | 'batch';
  /** default true */
  bias?: boolean;
  weightInit: Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

/**
 * A 2-D convolution with weight [C_out, C_in / groups, kh, kw] (PyTorch's layout) and an optional per-channel batch
 * norm and activation after it. Its facts declare fan_in = (C_in / groups) kh kw and fan_out = C_out kh kw, the
 * counts `init/fans` derives from the weight's shape, so He and Xavier initialisation read them as for `Dense`.
 * @example new Conv2d(1, 32, { kernel: 3, padding: 1, activation: 'relu', weightInit, biasInit, rng })
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly norm: BatchNorm2d | null;
  readonly activation: ActivationName;
  readonly alpha: number;
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: Conv2dLayerOptions,
  ) {
    super();
    const dtype = options.dtype ?? 'float32';
    this.kernel = typeof options.kernel === 'number' ? [options.kernel, options.kernel] : options.kernel;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new RangeError(
        `Conv2d: groups ${this.groups} must divide both ${inChannels} input and ${outChannels} output channels.`,
      );
    }
    this.activation = options.activation ?? 'linear';
    if (this.activation === 'prelu') {
      throw new RangeError(
        'Conv2d: activation "prelu" is for dense layers; use "leaky-relu" (a fixed slope) for convolutions.',
      );
    }
    this.alpha = options.alpha ?? activationKernels[this.activation].defaultAlpha;
    this.weight = Tensor.zeros([outChannels, inChannels / this.groups, ...this.kernel], dtype);
    options.weightInit(this.weight.data, this.weight.shape, options.rng);
    this.registerParameter('weight', this.weight, 'weight');
    if (options.bias ?? true) {
      this.bias = Tensor.zeros([outChannels], dtype);
      options.biasInit(this.bias.data, this.bias.shape, options.rng);
      this.registerParameter('bias', this.bias, 'bias');
    } else this.bias = null;
    this.norm =
      (options.norm ?? 'none') === 'batch'
        ? this.registerModule('norm', new BatchNorm2d(outChannels, { dtype }))
        : null;
  }

  override facts(): LayerFacts {
    const receptive = this.kernel[0] * this.kernel[1];
    return {
      kind: 'conv',
      fanIn: (this.inChannels / this.groups) * receptive,
      fanOut: this.outChannels * receptive,
      activation: this.activation,
      family: activationKernels[this.activation].family,
      norm: this.norm ? 'batch' : 'none',
      residual: false,
      recurrent: false,
    };
  }

  forward(x: Tensor): Tensor {
    if (x.rank === 4 && x.shape[1] !== this.inChannels) {
      throw new RangeError(
        `${this.weight.name || 'Conv2d'}: the input ${formatShape(x.shape)} has ${x.shape[1]} channels but the layer ` +
          `takes ${this.inChannels}; make the previous layer's channels match.`,
      );
    }
    // Without a norm the activation is fused into the conv op (relu runs inside the conv kernel).
    const z = conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      ...(this.norm ? {} : { activation: this.activation, alpha: this.alpha }),
    });
    const h = this.norm ? this.norm.forward(z) : z;
    const y =
      this.activation === 'linear' || !this.norm ? h : applyActivation(h, this.activation, this.alpha);
    y.name = this.weight.name.replace(/\.weight$/, '');
    this.observe(y);
    return y;
  }
}

/** Max or average pooling (no parameters). @example new Pool2d('max', { kernel: 2 }) */
export class Pool2d extends Module {
  constructor(
    readonly mode: PoolMode,
    readonly options: Pool2dOptions,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return pool2d(x, this.mode, this.options);
  }
}

/** [N, C, H, W] -> [N, C]: each channel's mean (Lin et al. 2014). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
}

/** [N, ...] -> [N, features]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return flatten(x);
  }
}

/** What an image model needs to know about its input and output. */
export interface ImageModelShape {
  image: { channels: number; height: number; width: number };
  outputSize: number;
}

export interface ConvNetOptions extends ImageModelShape {
  /** output channels of each conv layer, input side first */
  channels: readonly number[];
  kernel: number;
  stride: number;
  /** zeros added on each side (default floor(kernel / 2), the "same" size at stride 1) */
  padding?: number;
  /** 2x2 pooling (stride 2) after every `poolEvery` conv layers */
  pool: 'none' | 'max' | 'average';
  poolEvery: number;
  activation: ActivationName;
  norm: 'none' | 'batch';
  /** dense hidden widths after flattening */
  head: readonly number[];
  weightInit: (activation: ActivationName) => Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

/**
 * A plain conv stack: conv layers ("same" padding), pooling between them, flatten, dense head, linear output.
 * Every module is one layer index (`layers.<i>`), pooling and flatten included (they have no parameters and no
 * facts), so the run log's layers are the network's, input side first.
 * @example new ConvNet({ image: { channels: 1, height: 28, width: 28 }, outputSize: 10, channels: [16, 32], ... })
 */
export class ConvNet extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Module[];
  private readonly stack: Sequential;

  constructor(readonly options: ConvNetOptions) {
    super();
    const o = options;
    const blocks: Module[] = [];
    let channels = o.image.channels;
    let height = o.image.height;
    let width = o.image.width;
    o.channels.forEach((out, i) => {
      if (o.kernel > height || o.kernel > width) {
        throw new RangeError(
          `ConvNet: conv layer ${i} gets a ${height}x${width} image, smaller than its ${o.kernel}x${o.kernel} kernel; ` +
            `use a smaller kernel, fewer pooling layers or a larger stride only later.`,
        );
      }
      const pad = o.padding ?? Math.floor(o.kernel / 2);
      blocks.push(
        new Conv2d(channels, out, {
          kernel: o.kernel,
          stride: o.stride,
          padding: pad,
          activation: o.activation,
          norm: o.norm,
          weightInit: o.weightInit(o.activation),
          biasInit: o.biasInit,
          rng: o.rng.fork(`layers.${blocks.length}`),
          ...(o.dtype ? { dtype: o.dtype } : {}),
        }),
      );
      channels = out;
      height = Math.floor((height + 2 * pad - o.kernel) / o.stride) + 1;
      width = Math.floor((width + 2 * pad - o.kernel) / o.stride) + 1;
      if (o.pool !== 'none' && (i + 1) % o.poolEvery === 0 && height >= 2 && width >= 2) {
        blocks.push(new Pool2d(o.pool, { kernel: 2 }));
        height = Math.floor(height / 2);
        width = Math.floor(width / 2);
      }
    });
    blocks.push(new Flatten());
    let features = channels * height * width;
    for (const hidden of o.head) {
      blocks.push(denseLayer(features, hidden, o.activation, o, blocks.length));
      features = hidden;
    }
    blocks.push(denseLayer(features, o.outputSize, 'linear', o, blocks.length));
    this.blocks = blocks;
    this.observed = blocks;
    this.stack = this.registerModule('layers', new Sequential(blocks));
  }

  forward(x: Tensor): Tensor {
    return this.stack.forward(asImages(x, this.options.image));
  }
}

function denseLayer(
  inSize: number,
  outSize: number,
  activation: ActivationName,
  o: { weightInit: (a: ActivationName) => Initializer; biasInit: Initializer; rng: Rng; dtype?: DType },
  index: number,
): Dense {
  return new Dense(inSize, outSize, {
    activation,
    weightInit: o.weightInit(activation),
    biasInit: o.biasInit,
    rng: o.rng.fork(`layers.${index}`),
    ...(o.dtype ? { dtype: o.dtype } : {}),
  });
}

/** A batch of flat examples [N, C H W] viewed as images [N, C, H, W] (no copy). */
export function asImages(x: Tensor, image: ImageModelShape['image']): Tensor {
  if (x.rank === 4) return x;
  const features = image.channels * image.height * image.width;
  if (x.rank !== 2 || x.shape[1] !== features) {
    throw new RangeError(
      `an image model for ${image.channels}x${image.height}x${image.width} images needs inputs [batch, ${features}] ` +
        `or [batch, ${image.channels}, ${image.height}, ${image.width}], got ${formatShape(x.shape)}.`,
    );
  }
  return reshape(x, [x.shape[0] as number, image.channels, image.height, image.width]);
}
