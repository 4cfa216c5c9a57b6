/**
 * A fully connected layer y = phi(norm(x Wᵀ + b)), W in PyTorch's [out, in] layout. Normalisation, a learnable
 * PReLU slope and dropout are settings of the one layer, not separate copies; without a norm the product, bias and
 * activation run as one fused op.
 */
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { activation as applyActivation, linear, prelu } from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { Dropout } from './dropout.js';
import { Module, type LayerFacts } from './module.js';
import { BatchNorm, LayerNorm } from './norm.js';

export type Initializer = (out: Float32Array | Float64Array, shape: readonly number[], rng: Rng) => void;

export interface DenseOptions {
  activation?: ActivationName;
  /** leaky-relu slope, elu scale, or the initial PReLU slope */
  alpha?: number;
  norm?: 'none' | 'batch' | 'layer';
  dropout?: number;
  weightInit: Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

export class Dense extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly slope: Tensor | null;
  readonly norm: BatchNorm | LayerNorm | null;
  readonly dropout: Dropout | null;
  readonly activation: ActivationName;
  readonly alpha: number;
  readonly normName: 'none' | 'batch' | 'layer';
  /** When set, the pre-activation (before norm and phi) is kept with its gradient (preflight probes read it). */
  capturePreActivation = false;
  lastPreActivation: Tensor | null = null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: DenseOptions,
  ) {
    super();
    const dtype = options.dtype ?? 'float32';
    this.activation = options.activation ?? 'linear';
    this.alpha = options.alpha ?? activationKernels[this.activation].defaultAlpha;
    this.normName = options.norm ?? 'none';
    this.weight = Tensor.zeros([outFeatures, inFeatures], dtype);
    options.weightInit(this.weight.data, this.weight.shape, options.rng);
    this.bias = Tensor.zeros([outFeatures], dtype);
    options.biasInit(this.bias.data, this.bias.shape, options.rng);
    this.registerParameter('weight', this.weight, 'weight');
    this.registerParameter('bias', this.bias, 'bias');
    this.slope =
      this.activation === 'prelu'
        ? this.registerParameter('slope', Tensor.full([1], this.alpha, dtype), 'other')
        : null;
    this.norm =
      this.normName === 'batch'
        ? this.registerModule('norm', new BatchNorm(outFeatures, { dtype }))
        : this.normName === 'layer'
          ? this.registerModule('norm', new LayerNorm(outFeatures, { dtype }))
          : null;
    this.dropout = options.dropout ? new Dropout(options.dropout, options.rng.fork('dropout')) : null;
  }

  override facts(): LayerFacts {
    return {
      kind: 'dense',
      fanIn: this.inFeatures,
      fanOut: this.outFeatures,
      activation: this.activation,
      family: activationKernels[this.activation].family,
      norm: this.normName,
      residual: false,
      recurrent: false,
    };
  }

  forward(x: Tensor): Tensor {
    let y: Tensor;
    const fused = !this.norm && !this.slope && !this.capturePreActivation;
    if (fused) {
      y = linear(x, this.weight, this.bias, this.activation, this.alpha);
    } else {
      const z = linear(x, this.weight, this.bias, 'linear');
      if (this.capturePreActivation) this.lastPreActivation = z;
      const h = this.norm ? this.norm.forward(z) : z;
      y = this.slope ? prelu(h, this.slope) : applyActivation(h, this.activation, this.alpha);
    }
    // Name the output after the layer, so a non-finite value can be traced to it.
    y.name = this.weight.name.replace(/\.weight$/, '');
    if (this.dropout) {
      this.dropout.training = this.training;
      y = this.dropout.forward(y);
    }
    this.observe(y);
    return y;
  }
}
