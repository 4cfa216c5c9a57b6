/**
 * The multi-layer perceptron of the config: hidden Dense layers from the input side, then a linear output layer.
 * Parameters are `layers.<i>.weight`, `layers.<i>.bias` (and `layers.<i>.norm.*`, `layers.<i>.slope`), where i is
 * the layer index the run log reports. A residual connection wraps every hidden layer whose input and output widths
 * match (the first layer changes width, so it has none): `residual: true` is x + phi(W x + b) around the layer
 * itself (its parameters keep their names); an `MlpResidual` makes each such layer one `ResidualBlock` of that form,
 * its weights under `layers.<i>.branch.<k>` (and `layers.<i>.scale` when the scale is learnable).
 */
import type { AttentionRecord } from '../io/runlog.js';
import type { ActivationName } from '../kernels/activations.js';
import type { Rng } from '../tensor/rng.js';
import type { DType, Tensor } from '../tensor/tensor.js';
import { Dense, type Initializer } from './dense.js';
import { Module, Sequential } from './module.js';
import { Residual, ResidualBlock, type ResidualOrder, type ResidualScale } from './residual.js';

/** The residual block around each equal-width hidden layer (nn/residual.ts has the forms). */
export interface MlpResidual {
  order: ResidualOrder;
  /** weight layers per block, 1 or 2 */
  layers: number;
  /** default a constant 1 (with Fixup, a learnable multiplier starting at 1) */
  scale?: ResidualScale;
  fixup: boolean;
}

export interface MlpOptions {
  inputSize: number;
  hidden: readonly number[];
  outputSize: number;
  activation: ActivationName;
  alpha?: number;
  norm: 'none' | 'batch' | 'layer';
  /** true: x + phi(W x + b) around each equal-width layer; an `MlpResidual`: a `ResidualBlock` of that form. */
  residual: boolean | MlpResidual;
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
  /** Per layer the module whose output the monitor reads: the Dense, or the residual block that holds it. */
  readonly observed: readonly Module[];
  private readonly stack: Sequential;

  constructor(options: MlpOptions) {
    super();
    const widths = [options.inputSize, ...options.hidden];
    const observed: Module[] = [];
    const blocks: Module[] = [];
    const residual = options.residual;
    const wrapped = options.hidden.filter((width, i) => widths[i] === width).length;
    options.hidden.forEach((width, i) => {
      const fanIn = widths[i] as number;
      if (typeof residual === 'object' && fanIn === width) {
        const block = new ResidualBlock({
          kind: 'dense',
          inSize: fanIn,
          outSize: width,
          layers: residual.layers,
          order: residual.order,
          activation: options.activation,
          ...(options.alpha === undefined ? {} : { alpha: options.alpha }),
          norm: options.norm,
          dropout: options.dropout,
          ...(residual.scale ? { scale: residual.scale } : {}),
          ...(residual.fixup ? { fixup: { branches: wrapped } } : {}),
          weightInit: options.weightInit,
          biasInit: options.biasInit,
          rng: options.rng.fork(`layers.${i}`),
          ...(options.dtype ? { dtype: options.dtype } : {}),
        });
        observed.push(block);
        blocks.push(block);
        return;
      }
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
      observed.push(layer);
      blocks.push(residual === true && fanIn === width ? new Residual(layer) : layer);
    });
    const last = widths[widths.length - 1] as number;
    const output = new Dense(last, options.outputSize, {
      activation: 'linear',
      weightInit: options.weightInit('linear'),
      biasInit: options.biasInit,
      rng: options.rng.fork(`layers.${options.hidden.length}`),
      ...(options.dtype ? { dtype: options.dtype } : {}),
    });
    observed.push(output);
    blocks.push(output);
    this.blocks = blocks;
    this.observed = observed;
    this.stack = this.registerModule('layers', new Sequential(blocks));
  }

  forward(x: Tensor): Tensor {
    return this.stack.forward(x);
  }
}
