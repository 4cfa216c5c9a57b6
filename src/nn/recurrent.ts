/**
 * Recurrent layers and the sequence model. `RecurrentLayer` holds one cell's weights in PyTorch's names and layout
 * (weight_ih [G*H, in], weight_hh [G*H, H], bias_ih, bias_hh) and unrolls any cell kind over a sequence; the
 * model stacks layers and puts a linear head on the last step or on every step.
 *
 * Per-time-step gradients come for free: when `traceTimeGrad` is on, a hook on each step's state records
 * ||dL/dh_t|| during the same backward pass (the full gradient, through every later step and the layer above).
 */
import type { Initializer } from '../init/index.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { CELL_SHAPES, linear, recurrentStep, reshape, stackHidden, type CellKind } from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor, formatShape, type DType } from '../tensor/tensor.js';
import { Dense } from './dense.js';
import { Module, Sequential, type LayerFacts } from './module.js';
import type { LayeredModel } from './mlp.js';

export interface RecurrentLayerOptions {
  kind: CellKind;
  inputSize: number;
  hidden: number;
  /** Vanilla RNN non-linearity (tanh, relu, sigmoid, ...); LSTM and GRU use their own gates. */
  activation: ActivationName;
  inputInit: Initializer;
  /** Applied to each gate's [H, H] block of weight_hh separately, so orthogonal and identity hold per gate. */
  recurrentInit: Initializer;
  biasInit: Initializer;
  /** LSTM: initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015 recommend 1), put in bias_ih. */
  forgetBias: number;
  rng: Rng;
  dtype?: DType;
}

export class RecurrentLayer extends Module {
  readonly kind: CellKind;
  readonly hidden: number;
  readonly inputSize: number;
  readonly activation: ActivationName;
  readonly weightIH: Tensor;
  readonly weightHH: Tensor;
  readonly biasIH: Tensor;
  readonly biasHH: Tensor;
  /** Truncated BPTT length (0 = full): the state is detached every `bptt` steps. */
  bptt = 0;
  /** When set, `timeGrad[t]` receives ||dL/dh_t|| during backward. */
  traceTimeGrad = false;
  timeGrad: Float64Array = new Float64Array(0);

  constructor(options: RecurrentLayerOptions) {
    super();
    const { kind, inputSize, hidden } = options;
    const dtype = options.dtype ?? 'float32';
    const G = CELL_SHAPES[kind].gates;
    this.kind = kind;
    this.hidden = hidden;
    this.inputSize = inputSize;
    this.activation = kind === 'rnn' ? options.activation : 'tanh';
    const rng = options.rng;
    this.weightIH = Tensor.zeros([G * hidden, inputSize], dtype);
    options.inputInit(this.weightIH.data, this.weightIH.shape, rng);
    this.weightHH = Tensor.zeros([G * hidden, hidden], dtype);
    for (let g = 0; g < G; g++) {
      const block = this.weightHH.data.subarray(g * hidden * hidden, (g + 1) * hidden * hidden);
      options.recurrentInit(block, [hidden, hidden], rng);
    }
    this.biasIH = Tensor.zeros([G * hidden], dtype);
    options.biasInit(this.biasIH.data, this.biasIH.shape, rng);
    this.biasHH = Tensor.zeros([G * hidden], dtype);
    options.biasInit(this.biasHH.data, this.biasHH.shape, rng);
    if (kind === 'lstm') {
      // The forget gate is the second block (PyTorch order i, f, g, o); its total bias starts at forgetBias.
      for (let j = 0; j < hidden; j++) {
        this.biasIH.data[hidden + j] = options.forgetBias;
        this.biasHH.data[hidden + j] = 0;
      }
    }
    this.registerParameter('weight_ih', this.weightIH, 'weight');
    this.registerParameter('weight_hh', this.weightHH, 'weight');
    this.registerParameter('bias_ih', this.biasIH, 'bias');
    this.registerParameter('bias_hh', this.biasHH, 'bias');
  }

  override facts(): LayerFacts {
    return {
      kind: this.kind,
      fanIn: this.inputSize,
      fanOut: this.hidden,
      activation: this.activation,
      family: activationKernels[this.activation].family,
      norm: 'none',
      residual: false,
      recurrent: true,
    };
  }

  /** Not used directly: sequences need their length; see `unroll`. */
  forward(x: Tensor): Tensor {
    throw new Error(
      `RecurrentLayer.forward needs the sequence length; call unroll(x, steps) with x ${formatShape(x.shape)}.`,
    );
  }

  /**
   * Run the cell over a time-major sequence x [T*B, in]; returns every step's state [B, S*H].
   * @example const states = layer.unroll(x, 50);
   */
  unroll(x: Tensor, steps: number, initial?: Tensor): Tensor[] {
    const rows = x.shape[0] as number;
    if (x.rank !== 2 || x.shape[1] !== this.inputSize || rows % steps !== 0) {
      throw new RangeError(
        `${this.kind} layer expects a time-major sequence [T*B, ${this.inputSize}] with T = ${steps}, got ${formatShape(x.shape)}.`,
      );
    }
    const B = rows / steps;
    const S = CELL_SHAPES[this.kind].state;
    const projected = linear(x, this.weightIH, this.biasIH, 'linear');
    let state = initial ?? Tensor.zeros([B, S * this.hidden], x.dtype);
    const states: Tensor[] = [];
    if (this.traceTimeGrad) this.timeGrad = new Float64Array(steps);
    for (let t = 0; t < steps; t++) {
      if (this.bptt > 0 && t > 0 && t % this.bptt === 0) state = new Tensor(state.data, state.shape);
      state = recurrentStep(this.kind, projected, t, state, this.weightHH, this.biasHH, this.activation);
      state.name = `${this.weightHH.name.replace(/\.weight_hh$/, '')} step ${t + 1}`;
      if (this.traceTimeGrad) {
        const trace = this.timeGrad;
        const H = this.hidden;
        const width = S * H;
        state.onGrad((g) => {
          let s = 0;
          for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) s += (g[b * width + j] as number) ** 2;
          trace[t] = Math.sqrt(s);
        });
      }
      states.push(state);
    }
    return states;
  }
}

export interface RecurrentNetOptions extends Omit<RecurrentLayerOptions, 'inputSize' | 'rng'> {
  inputSize: number;
  layers: number;
  outputSize: number;
  steps: number;
  scored: 'last' | 'every';
  headInit: Initializer;
  rng: Rng;
}

/** Stacked recurrent layers (`layers.0` .. `layers.{L-1}`) and a linear head (`layers.L`). */
export class RecurrentNet extends Module implements LayeredModel {
  readonly blocks: readonly Module[];
  readonly observed: readonly Module[];
  readonly recurrent: readonly RecurrentLayer[];
  readonly head: Dense;
  readonly steps: number;
  readonly scored: 'last' | 'every';

  constructor(options: RecurrentNetOptions) {
    super();
    const layers: RecurrentLayer[] = [];
    for (let l = 0; l < options.layers; l++) {
      layers.push(
        new RecurrentLayer({
          ...options,
          inputSize: l === 0 ? options.inputSize : options.hidden,
          rng: options.rng.fork(`layers.${l}`),
        }),
      );
    }
    this.head = new Dense(options.hidden, options.outputSize, {
      activation: 'linear',
      weightInit: options.headInit,
      biasInit: options.biasInit,
      rng: options.rng.fork(`layers.${options.layers}`),
      ...(options.dtype ? { dtype: options.dtype } : {}),
    });
    this.recurrent = layers;
    this.blocks = [...layers, this.head];
    this.observed = this.blocks;
    this.steps = options.steps;
    this.scored = options.scored;
    this.registerModule('layers', new Sequential(this.blocks));
  }

  /** Truncated BPTT length for every layer (0 = full). */
  setBptt(length: number): void {
    for (const layer of this.recurrent) layer.bptt = length;
  }

  setTraceTimeGrad(on: boolean): void {
    for (const layer of this.recurrent) layer.traceTimeGrad = on;
  }

  timeGrad(): number[][] {
    return this.recurrent.map((layer) => Array.from(layer.timeGrad));
  }

  /** x: [T, B, in] time-major. Returns the head's output [B, out] (scored last) or [T*B, out] (scored every step). */
  forward(x: Tensor): Tensor {
    const T = this.steps;
    if (x.rank !== 3 || x.shape[0] !== T) {
      throw new RangeError(
        `the recurrent model expects input [T=${T}, batch, features], got ${formatShape(x.shape)}.`,
      );
    }
    let sequence = reshape(x, [(x.shape[0] as number) * (x.shape[1] as number), x.shape[2] as number]);
    let states: Tensor[] = [];
    this.recurrent.forEach((layer, l) => {
      states = layer.unroll(sequence, T);
      const last = l === this.recurrent.length - 1;
      if (!last || this.scored === 'every' || layer.observer) {
        sequence = stackHidden(states, layer.hidden);
        layer.observer?.(sequence);
      }
    });
    const top = this.recurrent[this.recurrent.length - 1] as RecurrentLayer;
    const features =
      this.scored === 'every' ? sequence : stackHidden([states[states.length - 1] as Tensor], top.hidden);
    return this.head.forward(features);
  }
}
