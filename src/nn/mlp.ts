/**
 * The multi-layer perceptron of the config: hidden Dense layers from the input side, then a linear output layer.
 * Parameters are `layers.<i>.weight`, `layers.<i>.bias` (and `layers.<i>.norm.*`, `layers.<i>.slope`), where i is
 * the layer index the run log reports. A residual connection wraps every hidden layer whose input and output widths
 * match (the first layer changes width, so it has none).
 */
import type { AttentionRecord } from '../io/runlog.js';
import type { ActivationName } from '../kernels/activations.js';
import type { Rng } from '../tensor/rng.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import { Dense, type Initializer } from './dense.js';
import { Module, Sequential } from './module.js';
import { Residual } from './residual.js';

export interface MlpOptions {
  inputSize: number;
  hidden: readonly number[];
  outputSize: number;
  activation: ActivationName;
  alpha?: number;
  norm: 'none' | 'batch' | 'layer';
  residual: boolean;
  dropout: number;
  /** The initialiser for a hidden layer's weight (its activation decides the gain) and for the output layer's. */
  weightInit: (activation: ActivationName) => Initializer;
  biasInit: Initializer;
  rng: Rng;
  dtype?: DType;
}

/** A model the trainer, the monitor and the doctor can read: its layers in order from the input side. */
export interface LayeredModel extends Module {
  /** One module per layer index; parameters under `layers.<i>` belong to layer i. */
  readonly blocks: readonly Module[];
  /** The module in each layer that computes the activation (what the monitor observes). */
  readonly observed: readonly Module[];
  /** Recurrent models: record ||dL/dh_t|| per layer in the next backward passes (cheap; a hook per step). */
  setTraceTimeGrad?(on: boolean): void;
  /** Recurrent models: the last traced per-time-step gradient norms, one array per recurrent layer, input side first. */
  timeGrad?(): number[][];
  /** Sequence-to-sequence models: the targets of the next forward passes (labels, time-major), for teacher forcing. */
  setTargets?(labels: Int32Array | null): void;
  /** Attention models: measure attention entropy and token similarity in the next forward passes. */
  setRecordAttention?(on: boolean): void;
  /** Attention models: the last measured attention record (see `io/runlog` `AttentionRecord`). */
  attentionRecord?(): AttentionRecord;
}

export class Mlp extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Dense[];
  private readonly stack: Sequential;

  constructor(options: MlpOptions) {
    super();
    const widths = [options.inputSize, ...options.hidden];
    const dense: Dense[] = [];
    const blocks: Module[] = [];
    options.hidden.forEach((width, i) => {
      const fanIn = widths[i] as number;
      const layer = new Dense(fanIn, width, {
        activation: options.activation,
        ...(options.alpha === undefined ? {} : { alpha: options.alpha }),
        norm: options.norm,
        dropout: options.dropout,
        weightInit: options.weightInit(options.activation),
        biasInit: options.biasInit,
        rng: options.rng.fork(`layers.${i}`),
        ...(options.dtype ? { dtype: options.dtype } : {}),
      });
      dense.push(layer);
      blocks.push(options.residual && fanIn === width ? new Residual(layer) : layer);
    });
    const last = widths[widths.length - 1] as number;
    const output = new Dense(last, options.outputSize, {
      activation: 'linear',
      weightInit: options.weightInit('linear'),
      biasInit: options.biasInit,
      rng: options.rng.fork(`layers.${options.hidden.length}`),
      ...(options.dtype ? { dtype: options.dtype } : {}),
    });
    dense.push(output);
    blocks.push(output);
    this.blocks = blocks;
    this.observed = dense;
    this.stack = this.registerModule('layers', new Sequential(blocks));
  }

  forward(x: Tensor): Tensor {
    return this.stack.forward(x);
  }
}
