/**
 * The preflight probe (../shared/CONTRACT.md, "Preflight JSON"): sample networks from the config's initialisers and
 * measure, with no training and no labels, how a backward signal travels through each.
 *
 * For each network: inputs are Gaussian (or the task's own), scaled so the first hidden layer's mean squared
 * pre-activation is the target q (q* when the mean-field map has one); the loss is L = v . x_L with v a fresh random
 * unit vector on the last hidden layer's output, so the backward signal is the network's own. The engine runs the
 * forward and backward passes in float64 (the very layers training uses, `Dense.capturePreActivation` exposing
 * h_l); the Jacobian statistics come from the network linearised at that forward pass.
 */
import { backward, noGrad } from '../autograd/tape.js';
import type { ModelConfig, ResolvedConfig } from '../config/types.js';
import type { Batch, Task } from '../data/task.js';
import { activationKernels } from '../kernels/activations.js';
import { kernels } from '../kernels/index.js';
import { Dense, Mlp, RecurrentNet, type RecurrentLayer } from '../nn/index.js';
import { stackHidden } from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { buildModel } from '../train/build.js';
import {
  jacobianStats,
  largestEigenvalue,
  LinearisedNetwork,
  type JacobianOperator,
  type JacobianOptions,
  type JacobianStats,
  type LinearisedLayer,
  type LinearisedNorm,
} from './jacobian.js';
import { maxDerivative } from './theory.js';

/** Examples per probe when batch norm needs batch statistics (training mode cannot normalise one example). */
export const BATCH_NORM_PROBE_BATCH = 32;

export interface ProbeOptions {
  /** Networks to sample (network 0 has the very weights `gradscope run` starts from). */
  networks: number;
  /** Scale Gaussian inputs so the first hidden layer's mean squared pre-activation is this; null: unit variance. */
  targetQ: number | null;
  /** Use the task's own inputs (unscaled) instead of Gaussian ones. */
  data: boolean;
  jacobian?: JacobianOptions;
}

/** One sampled MLP's measurements. */
export interface MlpNetworkProbe {
  /** Mean squared pre-activation h_l per hidden layer. */
  q: Float64Array;
  /** ||dL/dh_l||^2 per hidden layer (per example when the probe batch is larger than 1). */
  gradNorm2: Float64Array;
  /** ||x_L||^2, the last hidden layer's output. */
  signal: number;
  /** ||dL/dx_0||^2: what reaches the input. */
  inputGradNorm2: number;
  /** The factor the Gaussian inputs were multiplied by (1 for unit variance or task data). */
  inputScale: number;
  jacobian: JacobianStats;
}

export interface MlpProbe {
  kind: 'mlp';
  inputSize: number;
  widths: number[];
  /** Examples per probe: 1, or BATCH_NORM_PROBE_BATCH with batch norm. */
  batch: number;
  networks: MlpNetworkProbe[];
}

/** Pascanu et al. 2013's bound on a vanilla recurrent step: ||dh_t / dh_{t-1}|| <= gamma sigma_max(W_hh). */
export interface RecurrentBound {
  /** sup |phi'| of the cell's non-linearity. */
  derivativeBound: number;
  largestSingular: number;
  /** lim ||W_hh^k||^(1/k) (Gelfand), estimated over 400 steps: the factor per step of a linear RNN. */
  spectralRadius: number;
  /** gamma sigma_max: an upper bound on the gradient's factor per step back in time. */
  perStepBound: number;
}

export interface RecurrentNetworkProbe {
  /** Per recurrent layer: mean squared hidden state over time and units (cells expose no pre-activation). */
  q: Float64Array;
  /** Per recurrent layer: sum over t of ||dL/dh_t||^2. */
  gradNorm2: Float64Array;
  /** Per recurrent layer: ||dL/dh_t||, t = 1..T, for L = v . h_T of the top layer. */
  timeGrad: Float64Array[];
  /** ||h_T||^2 of the top layer. */
  signal: number;
  inputGradNorm2: number;
  jacobian: JacobianStats;
  /** Per recurrent layer; null for gated cells (LSTM, GRU), where the bound does not apply. */
  bounds: Array<RecurrentBound | null>;
}

export interface RecurrentProbe {
  kind: 'rnn' | 'lstm' | 'gru';
  inputSize: number;
  hidden: number;
  layers: number;
  steps: number;
  networks: RecurrentNetworkProbe[];
}

/**
 * Network `n` of `model`, built in float64 from its own fork of the config's seed, and its probe batch from the
 * same fork (returned for the probe's other draws): the start of the Transformer and seq2seq probes. `kind` is the
 * class the probe reads.
 */
export function probeNetwork<N>(
  config: ResolvedConfig,
  model: ModelConfig,
  task: Task,
  n: number,
  batchSize: number,
  kind: abstract new (...args: never[]) => N,
): { net: N; batch: Batch; x: Tensor; rng: Rng } {
  const rng = new Rng(config.seed).fork(`preflight.${n}`);
  const net = buildModel(model, task, rng.fork('model'), { dtype: 'float64' });
  if (!(net instanceof kind)) throw new Error(`the ${model.kind} probe needs a ${model.kind} config.`);
  const batch = task.trainBatch(batchSize, rng.fork('data'));
  return { net, batch, x: new Tensor(Float64Array.from(batch.x.data), batch.x.shape), rng };
}

/** The generator network `index` is drawn from: network 0 is the training run's own (`rng.fork('init')`). */
export function networkRng(config: ResolvedConfig, index: number): Rng {
  const root = new Rng(config.seed);
  return index === 0 ? root.fork('init') : root.fork(`preflight.network.${index}`);
}

/** The generator for network `index`'s probe inputs and direction v. */
export function probeRng(config: ResolvedConfig, index: number): Rng {
  return new Rng(config.seed).fork(`preflight.probe.${index}`);
}

// ---------------------------------------------------------------------------------------------------------------
// MLPs

/**
 * Network `index` of the config, in float64, set up for probing: only the input needs a gradient (parameters do
 * not), batch norm uses batch statistics as in training, dropout is off, and every hidden layer keeps h_l.
 */
export function sampleMlp(config: ResolvedConfig, task: Task, index: number): Mlp {
  const model = buildModel(config.model, task, networkRng(config, index), { dtype: 'float64' });
  if (!(model instanceof Mlp))
    throw new Error(`sampleMlp needs an mlp config, got model.kind "${config.model.kind}".`);
  for (const p of model.parameters()) p.requiresGrad = false;
  model.setTraining(true);
  model.observed.forEach((layer) => {
    if (!(layer instanceof Dense)) return;
    // Dense's own flag only switches dropout; its norm keeps training mode (batch statistics).
    layer.training = false;
    layer.capturePreActivation = true;
  });
  return model;
}

/** The hidden layers (every observed Dense but the output head); residual blocks are probed by ./residual.ts. */
export function hiddenLayers(model: Mlp): Dense[] {
  return model.observed.slice(0, -1).map((layer, l) => {
    if (!(layer instanceof Dense))
      throw new Error(`layer ${l} is a residual block; probe it with probeResidual.`);
    return layer;
  });
}

/** Examples per probe for this model. */
export function probeBatch(model: Mlp): number {
  return hiddenLayers(model).some((d) => d.normName === 'batch') ? BATCH_NORM_PROBE_BATCH : 1;
}

/**
 * The factor s that makes mean_b (1/n) ||W_0 (s x_b) + b_0||^2 = target: the positive root of
 * A s^2 + 2 B s + C = target. Returns 1 when there is none (the bias alone exceeds the target).
 */
export function inputScaleFor(first: Dense, x: Float64Array, batch: number, target: number): number {
  const n = first.outFeatures;
  const inSize = first.inFeatures;
  const wx = new Float64Array(batch * n);
  kernels().matmul(x, first.weight.data, wx, batch, inSize, n, false, true, false);
  let a = 0;
  let b = 0;
  let c = 0;
  for (let r = 0; r < batch; r++) {
    for (let j = 0; j < n; j++) {
      const w = wx[r * n + j] as number;
      const bias = first.bias.data[j] as number;
      a += w * w;
      b += w * bias;
      c += bias * bias;
    }
  }
  const count = batch * n;
  a /= count;
  b /= count;
  c /= count;
  const discriminant = b * b - a * (c - target);
  if (!(a > 0) || discriminant < 0) return 1;
  const s = (-b + Math.sqrt(discriminant)) / a;
  return s > 0 && Number.isFinite(s) ? s : 1;
}

export interface MlpMeasurement {
  q: Float64Array;
  gradNorm2: Float64Array;
  signal: number;
  /** dL/dx_0 [B, n_in]. */
  inputGradient: Float64Array;
  linearised: LinearisedNetwork;
}

/**
 * One forward and backward pass of the probe: x [B, n_in] in, L = sum_b v . x_L[b] (v [n_L], unit).
 *
 * @example
 * const m = measureMlp(sampleMlp(config, task, 0), x, 1, v);
 * m.gradNorm2; // ||dL/dh_l||^2 per hidden layer
 */
export function measureMlp(model: Mlp, x: Float64Array, batch: number, v: Float64Array): MlpMeasurement {
  const hidden = hiddenLayers(model);
  const L = hidden.length;
  const input = new Tensor(x, [batch, (hidden[0] as Dense).inFeatures], {
    requiresGrad: true,
    name: 'input',
  });
  let h: Tensor = input;
  for (let l = 0; l < L; l++) h = (model.blocks[l] as Dense).forward(h);
  const width = (hidden[L - 1] as Dense).outFeatures;
  const q = new Float64Array(L);
  const gradNorm2 = new Float64Array(L);
  hidden.forEach((dense, l) => {
    const z = dense.lastPreActivation as Tensor;
    let s = 0;
    for (let i = 0; i < z.size; i++) s += (z.data[i] as number) ** 2;
    q[l] = s / z.size;
    z.onGrad((g) => {
      let sum = 0;
      for (let i = 0; i < g.length; i++) sum += (g[i] as number) ** 2;
      gradNorm2[l] = sum / batch;
    });
  });
  let signal = 0;
  for (let i = 0; i < h.size; i++) signal += (h.data[i] as number) ** 2;
  signal /= batch;
  const seed = new Float64Array(batch * width);
  for (let b = 0; b < batch; b++) seed.set(v, b * width);
  backward(h, { seed });
  const linearised = linearise(model, batch);
  const inputGradient = Float64Array.from(input.grad ?? new Float64Array(x.length));
  for (const dense of hidden) dense.lastPreActivation = null;
  return { q, gradNorm2, signal, inputGradient, linearised };
}

/** The hidden stack linearised at the last forward pass (reads each layer's kept pre-activation). */
export function linearise(model: Mlp, batch: number): LinearisedNetwork {
  const layers: LinearisedLayer[] = hiddenLayers(model).map((dense, l) => {
    const z = dense.lastPreActivation;
    if (!z) throw new Error(`layer ${l} kept no pre-activation; run the probe's forward pass first.`);
    const n = dense.outFeatures;
    let u = Float64Array.from(z.data);
    let norm: LinearisedNorm | null = null;
    if (dense.norm) {
      const mode = dense.normName === 'batch' ? 'batch' : 'layer';
      norm = normalise(u, batch, n, mode, dense.norm.eps, Float64Array.from(dense.norm.weight.data));
      const beta = dense.norm.bias.data;
      u = new Float64Array(u.length);
      for (let i = 0; i < u.length; i++) {
        const j = i % n;
        u[i] = (norm.gamma[j] as number) * (norm.normalised[i] as number) + (beta[j] as number);
      }
    }
    const derivative = new Float64Array(u.length);
    if (dense.slope) {
      const slope = dense.slope.data[0] as number;
      for (let i = 0; i < u.length; i++) derivative[i] = (u[i] as number) > 0 ? 1 : slope;
    } else {
      const kernel = activationKernels[dense.activation];
      for (let i = 0; i < u.length; i++) derivative[i] = kernel.derivative(u[i] as number, dense.alpha);
    }
    return {
      inSize: dense.inFeatures,
      outSize: n,
      // The probe's float64 weights are used in place (nothing writes to them); a float32 model is copied.
      weight:
        dense.weight.data instanceof Float64Array ? dense.weight.data : Float64Array.from(dense.weight.data),
      derivative,
      norm,
      residual: model.blocks[l]?.facts()?.residual ?? false,
    };
  });
  return new LinearisedNetwork(layers, batch);
}

/** Statistics of ops/norm.ts's normalisation (biased variance) for z [B, n]. */
function normalise(
  z: Float64Array,
  batch: number,
  n: number,
  mode: 'batch' | 'layer',
  eps: number,
  gamma: Float64Array,
): LinearisedNorm {
  const normalised = new Float64Array(z.length);
  const groups = mode === 'batch' ? n : batch;
  const size = mode === 'batch' ? batch : n;
  const invStd = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    const at = (e: number): number => (mode === 'batch' ? e * n + g : g * n + e);
    let mean = 0;
    for (let e = 0; e < size; e++) mean += z[at(e)] as number;
    mean /= size;
    let variance = 0;
    for (let e = 0; e < size; e++) variance += ((z[at(e)] as number) - mean) ** 2;
    variance /= size;
    const inv = 1 / Math.sqrt(variance + eps);
    invStd[g] = inv;
    for (let e = 0; e < size; e++) normalised[at(e)] = ((z[at(e)] as number) - mean) * inv;
  }
  return { mode, gamma, normalised, invStd };
}

/** A random unit vector (uniform on the sphere). */
export function randomUnit(n: number, rng: Rng): Float64Array {
  const v = new Float64Array(n);
  let s = 0;
  while (s === 0) {
    rng.fillNormal(v);
    s = 0;
    for (let i = 0; i < n; i++) s += (v[i] as number) ** 2;
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < n; i++) v[i] = (v[i] as number) * inv;
  return v;
}

/** Float64 copy of the task's inputs for a batch drawn with `rng`. */
function taskInputs(task: Task, batch: number, rng: Rng): Float64Array {
  return Float64Array.from(task.trainBatch(batch, rng).x.data);
}

/**
 * Probe `options.networks` networks of an MLP config.
 *
 * @example
 * const probe = probeMlp(config, createTask(config.task, config.seed), { networks: 8, targetQ: 0.57, data: false });
 */
export function probeMlp(config: ResolvedConfig, task: Task, options: ProbeOptions): MlpProbe {
  const networks: MlpNetworkProbe[] = [];
  let widths: number[] = [];
  let batch = 1;
  for (let i = 0; i < options.networks; i++) {
    const model = sampleMlp(config, task, i);
    const hidden = hiddenLayers(model);
    widths = hidden.map((d) => d.outFeatures);
    batch = probeBatch(model);
    const rng = probeRng(config, i);
    const inSize = (hidden[0] as Dense).inFeatures;
    let x: Float64Array;
    let inputScale = 1;
    if (options.data) {
      x = taskInputs(task, batch, rng.fork('data'));
    } else {
      x = new Float64Array(batch * inSize);
      rng.fork('input').fillNormal(x);
      if (options.targetQ !== null) {
        inputScale = inputScaleFor(hidden[0] as Dense, x, batch, options.targetQ);
        for (let k = 0; k < x.length; k++) x[k] = (x[k] as number) * inputScale;
      }
    }
    const v = randomUnit(widths[widths.length - 1] as number, rng.fork('direction'));
    const m = measureMlp(model, x, batch, v);
    let inputGradNorm2 = 0;
    for (let k = 0; k < m.inputGradient.length; k++) inputGradNorm2 += (m.inputGradient[k] as number) ** 2;
    networks.push({
      q: m.q,
      gradNorm2: m.gradNorm2,
      signal: m.signal,
      inputGradNorm2: inputGradNorm2 / batch,
      inputScale,
      jacobian: jacobianStats(m.linearised.operator(), rng.fork('jacobian'), options.jacobian),
    });
  }
  return { kind: 'mlp', inputSize: task.inputSize, widths, batch, networks };
}

// ---------------------------------------------------------------------------------------------------------------
// Recurrent models

/** Network `index` of a recurrent config in float64, full backpropagation through time, parameters frozen. */
export function sampleRecurrent(config: ResolvedConfig, task: Task, index: number): RecurrentNet {
  const model = buildModel(config.model, task, networkRng(config, index), { dtype: 'float64', bptt: 0 });
  if (!(model instanceof RecurrentNet)) {
    throw new Error(
      `sampleRecurrent needs an rnn, lstm or gru config, got model.kind "${config.model.kind}".`,
    );
  }
  for (const p of model.parameters()) p.requiresGrad = false;
  return model;
}

/** Every layer's states for a time-major input x [T * B, in]. */
function unrollAll(model: RecurrentNet, x: Tensor): Tensor[][] {
  const all: Tensor[][] = [];
  let sequence = x;
  model.recurrent.forEach((layer, l) => {
    const states = layer.unroll(sequence, model.steps);
    all.push(states);
    if (l < model.recurrent.length - 1) sequence = stackHidden(states, layer.hidden);
  });
  return all;
}

function topHidden(model: RecurrentNet): RecurrentLayer {
  return model.recurrent[model.recurrent.length - 1] as RecurrentLayer;
}

/**
 * J = d h_T / d x (the top layer's last hidden state with respect to the whole input sequence) as an operator.
 * Jᵀ is exact (one batched backward pass, the sequence repeated once per row); J is a central difference in
 * float64 (relative error about 1e-10), used only by the estimated statistics.
 */
export function recurrentJacobian(model: RecurrentNet, x: Float64Array): JacobianOperator {
  const T = model.steps;
  const top = topHidden(model);
  const inSize = (model.recurrent[0] as RecurrentLayer).inputSize;
  const H = top.hidden;
  const stateWidth = (top.facts().kind === 'lstm' ? 2 : 1) * H;
  const repeat = (
    rows: Float64Array | null,
    m: number,
    epsilons: Float64Array | null,
    sign: number,
  ): Float64Array => {
    // Time-major [T, m, in]: element (t, b, i) at (t m + b) in + i; row b of `rows` is (t, i) at t in + i.
    const out = new Float64Array(T * m * inSize);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < m; b++) {
        for (let i = 0; i < inSize; i++) {
          const shift =
            rows && epsilons
              ? sign * (epsilons[b] as number) * (rows[b * T * inSize + t * inSize + i] as number)
              : 0;
          out[(t * m + b) * inSize + i] = (x[t * inSize + i] as number) + shift;
        }
      }
    }
    return out;
  };
  const lastHidden = (states: Tensor[][], m: number): Float64Array => {
    const last = (states[states.length - 1] as Tensor[])[T - 1] as Tensor;
    const out = new Float64Array(m * H);
    for (let b = 0; b < m; b++)
      for (let j = 0; j < H; j++) out[b * H + j] = last.data[b * stateWidth + j] as number;
    return out;
  };
  const perStep = model.recurrent.reduce((s, layer) => {
    const gates = layer.weightHH.shape[0] as number;
    return s + gates * (layer.hidden + layer.inputSize);
  }, 0);
  let xNorm = 0;
  for (let k = 0; k < x.length; k++) xNorm += (x[k] as number) ** 2;
  xNorm = Math.sqrt(xNorm);
  return {
    inputSize: T * inSize,
    outputSize: H,
    costPerRow: 3 * T * perStep,
    applyIsExact: false,
    applyTranspose(rows, m) {
      const input = new Tensor(repeat(null, m, null, 0), [T * m, inSize], { requiresGrad: true });
      const states = unrollAll(model, input);
      const last = (states[states.length - 1] as Tensor[])[T - 1] as Tensor;
      const seed = new Float64Array(m * stateWidth);
      for (let b = 0; b < m; b++)
        for (let j = 0; j < H; j++) seed[b * stateWidth + j] = rows[b * H + j] as number;
      backward(last, { seed });
      const g = input.grad ?? new Float64Array(T * m * inSize);
      const out = new Float64Array(m * T * inSize);
      for (let t = 0; t < T; t++)
        for (let b = 0; b < m; b++)
          for (let i = 0; i < inSize; i++)
            out[b * T * inSize + t * inSize + i] = g[(t * m + b) * inSize + i] as number;
      return out;
    },
    apply(rows, m) {
      const epsilons = new Float64Array(m);
      for (let b = 0; b < m; b++) {
        let r = 0;
        for (let k = 0; k < T * inSize; k++) r += (rows[b * T * inSize + k] as number) ** 2;
        // Central differences: step ~ cbrt(machine epsilon) relative to the input.
        epsilons[b] = r > 0 ? (6e-6 * Math.max(xNorm, 1)) / Math.sqrt(r) : 0;
      }
      return noGrad(() => {
        const plus = lastHidden(
          unrollAll(model, new Tensor(repeat(rows, m, epsilons, 1), [T * m, inSize])),
          m,
        );
        const minus = lastHidden(
          unrollAll(model, new Tensor(repeat(rows, m, epsilons, -1), [T * m, inSize])),
          m,
        );
        const out = new Float64Array(m * H);
        for (let b = 0; b < m; b++) {
          const e = epsilons[b] as number;
          for (let j = 0; j < H; j++)
            out[b * H + j] =
              e > 0 ? ((plus[b * H + j] as number) - (minus[b * H + j] as number)) / (2 * e) : 0;
        }
        return out;
      });
    },
  };
}

/** Pascanu et al. 2013's quantities for a vanilla RNN layer; null for gated cells. */
export function recurrentBound(layer: RecurrentLayer, rng: Rng): RecurrentBound | null {
  if (layer.kind !== 'rnn') return null;
  const H = layer.hidden;
  const w = Float64Array.from(layer.weightHH.data);
  const wtw = (v: Float64Array): Float64Array => {
    const y = new Float64Array(H);
    const out = new Float64Array(H);
    kernels().matmul(w, v, y, H, H, 1, false, false, false);
    kernels().matmul(w, y, out, H, H, 1, true, false, false);
    return out;
  };
  const largestSingular = Math.sqrt(Math.max(0, largestEigenvalue(wtw, H, Math.min(H, 60), rng)));
  const gamma = maxDerivative(layer.activation);
  return {
    derivativeBound: gamma,
    largestSingular,
    spectralRadius: spectralRadius(w, H, rng),
    perStepBound: gamma * largestSingular,
  };
}

/** Gelfand's formula rho(W) = lim ||W^k v||^(1/k), the growth rate over steps 200..400 of a random start. */
export function spectralRadius(w: Float64Array, n: number, rng: Rng): number {
  let v = new Float64Array(n);
  rng.fillNormal(v);
  let logGrowth = 0;
  const warmup = 200;
  const steps = 400;
  for (let k = 0; k < steps; k++) {
    const next = new Float64Array(n);
    kernels().matmul(w, v, next, n, n, 1, false, false, false);
    let s = 0;
    for (let i = 0; i < n; i++) s += (next[i] as number) ** 2;
    const length = Math.sqrt(s);
    if (length === 0) return 0;
    if (k >= warmup) logGrowth += Math.log(length);
    for (let i = 0; i < n; i++) next[i] = (next[i] as number) / length;
    v = next;
  }
  return Math.exp(logGrowth / (steps - warmup));
}

/**
 * Probe `options.networks` networks of a recurrent config: L = v . h_T on the top layer's last hidden state, inputs
 * Gaussian with unit variance (or the task's own sequences).
 */
export function probeRecurrent(config: ResolvedConfig, task: Task, options: ProbeOptions): RecurrentProbe {
  const networks: RecurrentNetworkProbe[] = [];
  let shape = { hidden: 0, layers: 0, steps: 0 };
  for (let i = 0; i < options.networks; i++) {
    const model = sampleRecurrent(config, task, i);
    const T = model.steps;
    const top = topHidden(model);
    const inSize = (model.recurrent[0] as RecurrentLayer).inputSize;
    shape = { hidden: top.hidden, layers: model.recurrent.length, steps: T };
    const rng = probeRng(config, i);
    let x: Float64Array;
    if (options.data) {
      x = taskInputs(task, 1, rng.fork('data'));
    } else {
      x = new Float64Array(T * inSize);
      rng.fork('input').fillNormal(x);
    }
    model.setTraceTimeGrad(true);
    const input = new Tensor(x, [T, inSize], { requiresGrad: true });
    const states = unrollAll(model, input);
    const q = new Float64Array(model.recurrent.length);
    model.recurrent.forEach((layer, l) => {
      // The hidden state is the first `hidden` columns (an LSTM's state is [h | c]).
      let s = 0;
      for (const state of states[l] as Tensor[])
        for (let j = 0; j < layer.hidden; j++) s += (state.data[j] as number) ** 2;
      q[l] = s / (T * layer.hidden);
    });
    const last = (states[states.length - 1] as Tensor[])[T - 1] as Tensor;
    const H = top.hidden;
    let signal = 0;
    for (let j = 0; j < H; j++) signal += (last.data[j] as number) ** 2;
    const v = randomUnit(H, rng.fork('direction'));
    const seed = new Float64Array(last.size);
    seed.set(v, 0);
    backward(last, { seed });
    model.setTraceTimeGrad(false);
    const timeGrad = model.recurrent.map((layer) => Float64Array.from(layer.timeGrad));
    const gradNorm2 = new Float64Array(timeGrad.map((trace) => trace.reduce((s, g) => s + g * g, 0)));
    let inputGradNorm2 = 0;
    for (const g of input.grad ?? []) inputGradNorm2 += g * g;
    networks.push({
      q,
      gradNorm2,
      timeGrad,
      signal,
      inputGradNorm2,
      jacobian: jacobianStats(recurrentJacobian(model, x), rng.fork('jacobian'), options.jacobian),
      bounds: model.recurrent.map((layer, l) => recurrentBound(layer, rng.fork(`bound.${l}`))),
    });
  }
  const kind = config.model.kind;
  if (kind === 'mlp' || kind === 'transformer' || kind === 'seq2seq' || kind === 'cnn' || kind === 'resnet')
    throw new Error('probeRecurrent needs an rnn, lstm or gru config.');
  return { kind, inputSize: task.inputSize, ...shape, networks };
}
