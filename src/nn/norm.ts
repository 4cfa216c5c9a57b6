/**
 * BatchNorm (Ioffe & Szegedy 2015) and LayerNorm (Ba et al. 2016) over the last axis, and BatchNorm2d over the channels
 * of NCHW images; the maths is `ops/norm.ts`.
 */
import { noGrad } from '../autograd/tape.js';
import { add, moveChannels, mul, normalize } from '../ops/index.js';
import { formatShape, Tensor, type DType } from '../tensor/tensor.js';
import { Module } from './module.js';

export interface NormOptions {
  eps?: number;
  /** BatchNorm running-statistics momentum (PyTorch's convention: new = (1 - m) old + m batch). */
  momentum?: number;
  dtype?: DType;
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(features: number, options: NormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', Tensor.ones([features], options.dtype), 'norm');
    this.bias = this.registerParameter('bias', Tensor.zeros([features], options.dtype), 'norm');
  }

  forward(x: Tensor): Tensor {
    return normalize(x, this.weight, this.bias, 'layer', this.eps).y;
  }
}

export class BatchNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Float64Array;
  /** Updated with the unbiased batch variance, as PyTorch does. */
  readonly runningVar: Float64Array;
  readonly eps: number;
  readonly momentum: number;

  constructor(features: number, options: NormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    this.weight = this.registerParameter('weight', Tensor.ones([features], options.dtype), 'norm');
    this.bias = this.registerParameter('bias', Tensor.zeros([features], options.dtype), 'norm');
    this.runningMean = new Float64Array(features);
    this.runningVar = new Float64Array(features).fill(1);
  }

  forward(x: Tensor): Tensor {
    if (this.training) {
      const { y, stats } = normalize(x, this.weight, this.bias, 'batch', this.eps);
      const n = x.size / (x.shape[x.rank - 1] as number);
      const m = this.momentum;
      for (let f = 0; f < this.runningMean.length; f++) {
        this.runningMean[f] = (1 - m) * (this.runningMean[f] as number) + m * (stats.mean[f] as number);
        this.runningVar[f] =
          (1 - m) * (this.runningVar[f] as number) + (m * (stats.variance[f] as number) * n) / (n - 1);
      }
      return y;
    }
    // Evaluation: a fixed affine map from the running statistics.
    const features = this.runningMean.length;
    const scale = Tensor.zeros([features], x.dtype);
    const shift = Tensor.zeros([features], x.dtype);
    noGrad(() => {
      for (let f = 0; f < features; f++) {
        const inv = 1 / Math.sqrt((this.runningVar[f] as number) + this.eps);
        scale.data[f] = (this.weight.data[f] as number) * inv;
        shift.data[f] =
          (this.bias.data[f] as number) -
          (this.runningMean[f] as number) * (this.weight.data[f] as number) * inv;
      }
    });
    return add(mul(x, scale), shift);
  }
}

/**
 * Batch norm per channel of an NCHW image batch (PyTorch's `BatchNorm2d`): each channel's mean and variance over
 * the batch, height and width. It is `BatchNorm` read with the channels as the last axis, so training, evaluation
 * and the running statistics are that layer's, not a second copy.
 * @example new BatchNorm2d(32).forward(x) // x [N, 32, H, W]
 */
export class BatchNorm2d extends BatchNorm {
  override forward(x: Tensor): Tensor {
    const channels = this.runningMean.length;
    if (x.rank !== 4 || x.shape[1] !== channels) {
      throw new RangeError(
        `BatchNorm2d(${channels}) needs an image batch [batch, ${channels}, height, width], got ${formatShape(x.shape)}; ` +
          `match the channels of the layer before it.`,
      );
    }
    return moveChannels(super.forward(moveChannels(x, true)), false);
  }
}
