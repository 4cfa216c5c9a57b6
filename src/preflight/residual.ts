/**
 * Preflight for residual MLPs: the mean-field recursion of residual networks (Yang & Schoenholz 2017, "Mean Field
 * Residual Networks: On the Edge of Chaos") beside the measured probe.
 *
 * In a residual stack x_l = x_{l-1} + s F(x_{l-1}) the signal has no fixed point: each block adds the branch's
 * variance to the stream's, so the stream's mean square p_l grows with depth, and with it the branch's
 * pre-activations q_l. Over the random weights (width to infinity, each branch's weights independent of the stream),
 * for the forms of `model.residual` with a branch of weight layers W_k (Var = sigma_w^2 / fan_in), biases
 * b ~ mu_b + N(0, sigma_b^2) and the scale s:
 *
 *   activated  x + phi(W x + b) (their "reduced" residual net): z = W x + b ~ N(mu_b, sigma_w^2 p + sigma_b^2), and
 *              with mu = E[x], since x_i and z_i are independent in the limit,
 *                mu_l = mu + s E[phi(z)],   p_l = p + 2 s mu E[phi(z)] + s^2 E[phi(z)^2];
 *   linear-out x + W phi(x) + b (their "full" residual net with the branch reading the stream): the branch output is
 *   (pre)      Gaussian N(mu_b, sigma_w^2 E[phi(x)^2] + sigma_b^2), independent of the stream, so the stream stays
 *              "first layer's output + a Gaussian" and every expectation over it is a (nested) Gaussian integral.
 *
 * Two weight layers nest the same step (the second reads phi of the first). Backwards, the gradient at the stream
 * (their gradient-independence assumption, as Schoenholz et al. 2017) grows per block by
 *
 *   ||dL/dx_{l-1}||^2 = ||dL/dx_l||^2 (1 + s^2 chi_F),   chi_F = prod over the branch's layers of sigma_w^2 E[phi'^2],
 *
 * (the cross term vanishes: F's Jacobian has a zero-mean W in it). So ReLU blocks with He init double the gradient
 * per block (exponential), tanh blocks grow it as exp(c sqrt(L)) since E[tanh'(z)^2] ~ q^(-1/2) while q ~ l (their
 * sub-exponential regime), and a zero branch (ReZero, SkipInit, Fixup: s F = 0 at initialisation) keeps both at 1.
 *
 * The probe measures what the recursion predicts: per layer l the mean squared first pre-activation of the branch
 * (q_l; for pre and linear-out the stream itself, which phi reads), the stream's mean square p_l and the squared
 * gradient at the stream, ||dL/dx_l||^2, for the probe's loss L = v . x_L (so ||dL/dx_L||^2 = 1).
 * Post-activation blocks phi(x + F) and normalised branches have no exact recursion here; they are measured only.
 */
import { backward } from '../autograd/tape.js';
import type { MlpModelConfig, MlpResidualConfig, ResolvedConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import type { Fix, JsonValue } from '../doctor/findings.js';
import { describeInit, expectedRms, planInit } from '../init/index.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { Dense, Mlp, ResidualBlock, type Module } from '../nn/index.js';
import { Tensor } from '../tensor/tensor.js';
import { buildModel } from '../train/build.js';
import {
  biasMoments,
  jacobianSummary,
  spreadOf,
  verdictOf,
  type PreflightOptions,
  type PreflightReport,
} from './index.js';
import { jacobianStats, type JacobianStats } from './jacobian.js';
import { remedy, usefulFixes } from './fixes.js';
import { forwardJacobian, prepareForProbe } from './layered.js';
import { BATCH_NORM_PROBE_BATCH, networkRng, probeRng, randomUnit } from './probe.js';
import { gaussianExpectation } from './quadrature.js';
import { activationMoments, type ActivationSpec, type BiasMoments } from './theory.js';

// ---------------------------------------------------------------------------------------------------------------
// Mean field

/** One hidden layer as the recursion sees it. */
export type ResidualMeanFieldLayer =
  | { readonly kind: 'plain'; readonly sigmaW2: number }
  | {
      readonly kind: 'block';
      /** sigma_w^2 of each branch weight layer (0 for Fixup's zeroed last layer) */
      readonly sigmaW2: readonly number[];
      readonly bias: readonly BiasMoments[];
    };

export interface ResidualMeanField {
  readonly activation: ActivationSpec;
  /** `branch`: x + phi(W x + b) (activated); `pre`: x + W phi(x) + b (linear-out, pre without a norm) */
  readonly order: 'branch' | 'pre';
  /** s at initialisation: the constant, 0 for ReZero and SkipInit, 1 for Fixup's multiplier */
  readonly scale: number;
  readonly bias: BiasMoments;
  readonly layers: readonly ResidualMeanFieldLayer[];
}

/** The scale s at initialisation. */
function initialScale(residual: MlpResidualConfig): number {
  return typeof residual.scale === 'number' ? residual.scale : 0;
}

/**
 * A residual MLP config as the recursion sees it, or why none applies (a norm in the stack, post-activation blocks,
 * deterministic weights).
 *
 * @example
 * residualMeanField(model, 16); // { network: { order: 'branch', scale: 1, layers: [plain, block, ...] } }
 */
export function residualMeanField(
  model: MlpModelConfig,
  inputSize: number,
): { network: ResidualMeanField } | { reason: string } {
  const residual = model.residual;
  if (residual === false) return { reason: 'no residual connections' };
  if (model.norm !== 'none') return { reason: `${model.norm} norm in the residual stack` };
  if (residual.form === 'post')
    return { reason: 'post-activation residual blocks (phi after the sum makes the stream non-Gaussian)' };
  const context = { activation: model.activation };
  const plan = planInit(model.init, context);
  if (plan.kind === 'identity' || plan.kind === 'constant')
    return { reason: `${plan.label} weights (mean-field theory needs random weights)` };
  const widths = [inputSize, ...model.hidden];
  const blocks = model.hidden.filter((w, l) => w === widths[l]).length;
  const m = residual.layers;
  // Fixup (Zhang et al. 2019): inner layers scaled by L^(-1/(2m-2)) in std, the last layer and its bias zero.
  const fixupFactor2 = residual.fixup && m > 1 ? blocks ** (-1 / (m - 1)) : 1;
  const bias = biasMoments(model.bias);
  const zero: BiasMoments = { mean: 0, variance: 0 };
  const layers = model.hidden.map((width, l): ResidualMeanFieldLayer => {
    const fanIn = widths[l] as number;
    const sigmaW2 = expectedRms(model.init, context, [width, fanIn]) ** 2 * fanIn;
    if (fanIn !== width) return { kind: 'plain', sigmaW2 };
    return {
      kind: 'block',
      sigmaW2: Array.from({ length: m }, (_, k) =>
        residual.fixup ? (k === m - 1 ? 0 : sigmaW2 * fixupFactor2) : sigmaW2,
      ),
      bias: Array.from({ length: m }, (_, k) => (residual.fixup && k === m - 1 ? zero : bias)),
    };
  });
  return {
    network: {
      activation: { name: model.activation, alpha: activationKernels[model.activation].defaultAlpha },
      order: residual.form === 'activated' ? 'branch' : 'pre',
      scale: initialScale(residual),
      bias,
      layers,
    },
  };
}

const SMOOTH: ReadonlySet<ActivationName> = new Set<ActivationName>([
  'tanh',
  'sigmoid',
  'gelu',
  'softplus',
  'linear',
]);

/** E[f(h)], h ~ N(mean, variance), by the quadrature rule that suits the activation. */
function expect(
  f: (h: number) => number,
  mean: number,
  variance: number,
  activation: ActivationSpec,
): number {
  return gaussianExpectation(f, mean, Math.max(0, variance), { smooth: SMOOTH.has(activation.name) });
}

/**
 * The stream of a pre/linear-out stack at one coordinate: phi(h_0) + G (a plain first layer's output, h_0 Gaussian,
 * plus the Gaussian sum G of every branch so far), or G alone when the first layer is a block on Gaussian inputs.
 */
interface Stream {
  readonly base: { mean: number; variance: number } | null;
  readonly gMean: number;
  readonly gVariance: number;
}

/**
 * E[phi(x)^2] (`square`) or E[phi'(x)^2] (`slope`) over the stream: the inner Gaussian integral over G is
 * theory.ts's moment (closed form for rectifiers), the outer one over h_0 a quadrature.
 */
function streamExpect(which: 'square' | 'slope', s: Stream, activation: ActivationSpec): number {
  const inner = (mean: number): number => {
    const moments = activationMoments(activation, mean, s.gVariance);
    return which === 'square' ? moments.second : moments.derivativeSecond;
  };
  if (!s.base) return inner(s.gMean);
  const phi = activationKernels[activation.name];
  const alpha = activation.alpha ?? phi.defaultAlpha;
  return expect((h0) => inner(phi.value(h0, alpha) + s.gMean), s.base.mean, s.base.variance, activation);
}

export interface ResidualTrajectory {
  /** Mean squared first pre-activation of each layer's branch (pre/linear-out: the stream it reads). */
  q: number[];
  /** Mean square of each layer's output, the stream x_l. */
  p: number[];
  /** Predicted ||dL/dx_l||^2 for L = v . x_L, |v| = 1 (1 at the top). */
  gradNorm2: number[];
  /** ||dL/dx_{l-1}||^2 / ||dL/dx_l||^2 = 1 + s^2 chi_F of each layer (NaN for a plain layer, which has no x_{l-1} here). */
  factor: number[];
}

/**
 * The recursion layer by layer, from the first layer's measured q_0 (a plain first layer) or the inputs' mean
 * square (a first layer that is already a block).
 *
 * @example
 * residualTrajectory(network, { q0: 1.2, inputMeanSquare: 1 }).gradNorm2; // [2^(L-1), ..., 2, 1] for ReLU + He
 */
export function residualTrajectory(
  network: ResidualMeanField,
  start: { q0: number; inputMeanSquare: number },
): ResidualTrajectory {
  const a = network.activation;
  const phi = activationKernels[a.name];
  const alpha = a.alpha ?? phi.defaultAlpha;
  const value = (h: number): number => phi.value(h, alpha);
  const square = (h: number): number => value(h) ** 2;
  const slope2 = (h: number): number => phi.derivative(h, alpha) ** 2;
  const s = network.scale;
  const q: number[] = [];
  const p: number[] = [];
  const factor: number[] = [];
  // activated: the stream's mean and mean square; pre: the stream as phi(h_0) + G.
  let mu = 0;
  let meanSquare = start.inputMeanSquare;
  let stream: Stream = { base: null, gMean: 0, gVariance: start.inputMeanSquare };
  network.layers.forEach((layer, l) => {
    if (layer.kind === 'plain') {
      const b = network.bias;
      const h0 = {
        mean: b.mean,
        variance: (l === 0 ? start.q0 : layer.sigmaW2 * meanSquare + b.variance + b.mean ** 2) - b.mean ** 2,
      };
      q.push(h0.variance + h0.mean ** 2);
      mu = expect(value, h0.mean, h0.variance, a);
      meanSquare = expect(square, h0.mean, h0.variance, a);
      stream = { base: h0, gMean: 0, gVariance: 0 };
      p.push(meanSquare);
      factor.push(NaN);
      return;
    }
    const m = layer.sigmaW2.length;
    let chi = 1;
    if (network.order === 'branch') {
      // z_k = W_k a_{k-1} + b_k with a_0 = x; F = phi(z_m).
      let inputSquare = meanSquare;
      let outMean = 0;
      let outSquare = 0;
      for (let k = 0; k < m; k++) {
        const bias = layer.bias[k] as BiasMoments;
        const sigmaW2 = layer.sigmaW2[k] as number;
        const variance = sigmaW2 * inputSquare + bias.variance;
        if (k === 0) q.push(variance + bias.mean ** 2);
        chi *= sigmaW2 * expect(slope2, bias.mean, variance, a);
        outMean = expect(value, bias.mean, variance, a);
        outSquare = expect(square, bias.mean, variance, a);
        inputSquare = outSquare;
      }
      meanSquare = meanSquare + 2 * s * mu * outMean + s * s * outSquare;
      mu = mu + s * outMean;
    } else {
      // F = W_m phi(z_{m-1}) + b_m with z_0 = x: Gaussian and independent of the stream.
      q.push(meanSquare);
      let second = streamExpect('square', stream, a);
      chi = streamExpect('slope', stream, a);
      let outMean = 0;
      let outVariance = 0;
      for (let k = 0; k < m; k++) {
        const bias = layer.bias[k] as BiasMoments;
        const sigmaW2 = layer.sigmaW2[k] as number;
        outMean = bias.mean;
        outVariance = sigmaW2 * second + bias.variance;
        chi *= sigmaW2;
        if (k < m - 1) {
          chi *= expect(slope2, outMean, outVariance, a);
          second = expect(square, outMean, outVariance, a);
        }
      }
      stream = {
        base: stream.base,
        gMean: stream.gMean + s * outMean,
        gVariance: stream.gVariance + s * s * outVariance,
      };
      const baseMean = stream.base ? mu : 0;
      const baseSquare = stream.base ? expect(square, stream.base.mean, stream.base.variance, a) : 0;
      meanSquare = baseSquare + 2 * baseMean * stream.gMean + stream.gMean ** 2 + stream.gVariance;
    }
    p.push(meanSquare);
    factor.push(1 + s * s * chi);
  });
  const L = network.layers.length;
  const gradNorm2 = new Array<number>(L).fill(1);
  for (let l = L - 2; l >= 0; l--) {
    const f = factor[l + 1] as number;
    gradNorm2[l] = (gradNorm2[l + 1] as number) * (Number.isNaN(f) ? 1 : f);
  }
  return { q, p, gradNorm2, factor };
}

// ---------------------------------------------------------------------------------------------------------------
// Probe

/** One sampled residual MLP's measurements, per hidden layer. */
export interface ResidualNetworkProbe {
  q: Float64Array;
  /** Mean square of the stream x_l. */
  p: Float64Array;
  /** ||dL/dx_l||^2 at each layer's output (per example). */
  gradNorm2: Float64Array;
  /** ||x_L||^2 */
  signal: number;
  inputGradNorm2: number;
  /** The inputs' mean square (the recursion's start when the first layer is a block). */
  inputMeanSquare: number;
  jacobian: JacobianStats;
}

export interface ResidualProbe {
  widths: number[];
  batch: number;
  networks: ResidualNetworkProbe[];
}

/** The first Dense of a hidden layer (the layer itself, or the first layer of its residual branch). */
function firstDense(layer: Module): Dense {
  if (layer instanceof Dense) return layer;
  if (layer instanceof ResidualBlock && layer.layers[0] instanceof Dense) return layer.layers[0];
  throw new Error('a residual MLP layer is a Dense or a ResidualBlock of Dense layers.');
}

function meanSquareOf(t: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < t.length; i++) s += (t[i] as number) ** 2;
  return t.length > 0 ? s / t.length : 0;
}

/** Network `index` of the config in float64, parameters frozen, norms in training mode, dropout off. */
export function sampleResidualMlp(config: ResolvedConfig, task: Task, index: number): Mlp {
  const model = buildModel(config.model, task, networkRng(config, index), { dtype: 'float64' });
  if (!(model instanceof Mlp))
    throw new Error(`a residual preflight needs an mlp, got "${config.model.kind}".`);
  prepareForProbe(model);
  return model;
}

/** x -> x_L through the hidden layers. */
function hiddenForward(model: Mlp, x: Tensor): Tensor {
  let h = x;
  for (const layer of model.blocks.slice(0, -1)) h = layer.forward(h);
  return h;
}

/**
 * Probe `options.networks` residual MLPs: Gaussian inputs of unit variance (or the task's own), L = v . x_L.
 *
 * @example
 * probeResidualMlp(config, task, { networks: 4, data: false }).networks[0]?.gradNorm2; // ||dL/dx_l||^2 per layer
 */
export function probeResidualMlp(
  config: ResolvedConfig,
  task: Task,
  options: { networks: number; data: boolean; jacobian?: PreflightOptions['jacobian'] },
): ResidualProbe {
  const networks: ResidualNetworkProbe[] = [];
  let widths: number[] = [];
  let batch = 1;
  const model0 = config.model;
  if (model0.kind !== 'mlp') throw new Error('probeResidualMlp needs an mlp config.');
  batch = model0.norm === 'batch' ? BATCH_NORM_PROBE_BATCH : 1;
  for (let i = 0; i < options.networks; i++) {
    const model = sampleResidualMlp(config, task, i);
    const hidden = model.blocks.slice(0, -1);
    const firsts = hidden.map(firstDense);
    widths = firsts.map((d) => d.outFeatures);
    const inSize = (firsts[0] as Dense).inFeatures;
    const L = hidden.length;
    const rng = probeRng(config, i);
    let x: Float64Array;
    if (options.data) x = Float64Array.from(task.trainBatch(batch, rng.fork('data')).x.data);
    else {
      x = new Float64Array(batch * inSize);
      rng.fork('input').fillNormal(x);
    }
    for (const d of firsts) d.capturePreActivation = true;
    const input = new Tensor(x, [batch, inSize], { requiresGrad: true });
    const q = new Float64Array(L);
    const p = new Float64Array(L);
    const gradNorm2 = new Float64Array(L);
    let h: Tensor = input;
    hidden.forEach((layer, l) => {
      const pre = layer instanceof ResidualBlock && layer.order === 'pre';
      // pre and linear-out: phi reads the stream itself.
      const before = h;
      h = layer.forward(h);
      const z = firsts[l]?.lastPreActivation;
      q[l] = pre ? meanSquareOf(before.data) : meanSquareOf(z?.data ?? []);
      p[l] = meanSquareOf(h.data);
      h.onGrad((g) => {
        let sum = 0;
        for (let k = 0; k < g.length; k++) sum += (g[k] as number) ** 2;
        gradNorm2[l] = sum / batch;
      });
    });
    const width = widths[L - 1] as number;
    const v = randomUnit(width, rng.fork('direction'));
    const seed = new Float64Array(batch * width);
    for (let b = 0; b < batch; b++) seed.set(v, b * width);
    const signal = meanSquareOf(h.data) * width;
    backward(h, { seed });
    for (const d of firsts) {
      d.capturePreActivation = false;
      d.lastPreActivation = null;
    }
    // Multiply-adds of one example through the hidden layers, forward and backward.
    const cost = firsts.reduce((sum, d, l) => {
      const layer = hidden[l];
      const m = layer instanceof ResidualBlock ? layer.layers.length : 1;
      return sum + m * 3 * d.inFeatures * d.outFeatures;
    }, 0);
    networks.push({
      q,
      p,
      gradNorm2,
      signal,
      inputGradNorm2: meanSquareOf(input.grad ?? []) * inSize,
      inputMeanSquare: meanSquareOf(x),
      jacobian: jacobianStats(
        forwardJacobian((t) => hiddenForward(model, t), x, batch, inSize, width, cost),
        rng.fork('jacobian'),
        options.jacobian,
      ),
    });
  }
  return { widths, batch, networks };
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** What a residual MLP's report adds: the stream beside its prediction, and the recursion's summary. */
export interface ResidualPreflight {
  form: MlpResidualConfig['form'];
  layersPerBlock: number;
  scale: MlpResidualConfig['scale'];
  fixup: boolean;
  /** Layer indices that are residual blocks (the first layer is plain when it changes width). */
  blocks: number[];
  /** Measured mean square of the stream x_l, and the recursion's (null without theory). */
  p: number[];
  pTheory: number[] | null;
  /** `gradNorm2` in `layers` is ||dL/dx_l||^2 at the stream (Yang & Schoenholz 2017's quantity). */
  gradient: 'stream';
  theory: {
    source: 'Yang & Schoenholz 2017';
    /** Predicted p_L / p_0 and gradNorm2[0] / gradNorm2[L-1]. */
    pGrowth: number;
    gradRatio: number;
    /** Mean over blocks of the predicted 1 + s^2 chi_F. */
    meanFactor: number;
  } | null;
}

function meanOver(arrays: readonly Float64Array[] | readonly number[][]): number[] {
  const n = arrays[0]?.length ?? 0;
  const out = new Array<number>(n).fill(0);
  for (const a of arrays)
    for (let i = 0; i < n; i++) out[i] = (out[i] as number) + (a[i] as number) / arrays.length;
  return out;
}

/**
 * The preflight report of a residual MLP: the probe beside the residual mean-field recursion where it applies.
 *
 * @example
 * residualReport(config, config.model, task, { networks: 8 }).residual?.theory?.gradRatio; // 2^(L-1) for ReLU + He
 */
export function residualReport(
  config: ResolvedConfig,
  model: MlpModelConfig,
  task: Task,
  options: PreflightOptions & { networks: number },
): PreflightReport {
  const residual = model.residual;
  if (residual === false) throw new Error('residualReport needs model.residual.');
  const data = options.data ?? false;
  const probe = probeResidualMlp(config, task, {
    networks: options.networks,
    data,
    ...(options.jacobian ? { jacobian: options.jacobian } : {}),
  });
  const meanField = residualMeanField(model, task.inputSize);
  const network = 'network' in meanField ? meanField.network : null;
  const L = probe.widths.length;
  const q = meanOver(probe.networks.map((n) => n.q));
  const p = meanOver(probe.networks.map((n) => n.p));
  const gradNorm2 = meanOver(probe.networks.map((n) => n.gradNorm2));
  // One recursion from the networks' mean start (the nested integrals cost more than the networks differ).
  const count = probe.networks.length;
  const path = network
    ? residualTrajectory(network, {
        q0: probe.networks.reduce((sum, n) => sum + (n.q[0] as number), 0) / count,
        inputMeanSquare: probe.networks.reduce((sum, n) => sum + n.inputMeanSquare, 0) / count,
      })
    : null;
  const predicted = path;
  const gradRatio = (gradNorm2[0] as number) / (gradNorm2[L - 1] as number);
  const widths = [task.inputSize, ...model.hidden];
  const blockIndices = model.hidden.flatMap((w, l) => (w === widths[l] ? [l] : []));
  const factors = path ? path.factor.filter((f) => !Number.isNaN(f)) : [];
  const theory =
    predicted && network
      ? {
          source: 'Yang & Schoenholz 2017' as const,
          pGrowth: (predicted.p[L - 1] as number) / (predicted.p[0] as number),
          gradRatio: (predicted.gradNorm2[0] as number) / (predicted.gradNorm2[L - 1] as number),
          meanFactor: factors.length > 0 ? factors.reduce((s, f) => s + f, 0) / factors.length : 1,
        }
      : null;
  const verdict = verdictOf(gradRatio, [...q, ...p, ...gradNorm2]);
  const report: PreflightReport = {
    networks: options.networks,
    layers: probe.widths.map((width, l) => ({
      layer: l,
      q: q[l] as number,
      gradNorm2: gradNorm2[l] as number,
      width,
      qTheory: predicted ? (predicted.q[l] as number) : null,
      gradNorm2Theory: predicted ? (predicted.gradNorm2[l] as number) : null,
    })),
    spread: spreadOf(probe),
    jacobian: jacobianSummary(probe.networks.map((n) => n.jacobian)),
    theory: null,
    timeGrad: [],
    verdict,
    advice: [],
    fixes: [],
    name: config.name,
    model: {
      kind: 'mlp',
      widths: probe.widths,
      activation: model.activation,
      init: describeInit(model.init, { activation: model.activation }),
      norm: model.norm,
      residual: true,
    },
    inputs: data ? 'task' : 'gaussian-unit',
    gradRatio,
    fit: { perLayerFactor: null, perStepFactor: null },
    beta: probe.widths.reduce((s, w) => s + 1 / w, 0),
    theoryNote: theory
      ? `residual mean field (Yang & Schoenholz 2017): the stream's mean square grows ${about(theory.pGrowth)}-fold over ${L} layers ` +
        `and ||dL/dx_l||^2 by ${about(theory.gradRatio)} (mean factor ${fmt(theory.meanFactor)} per block); gradNorm2 is at each layer's output x_l`
      : `no exact mean-field recursion covers ${'reason' in meanField ? meanField.reason : 'this stack'}; only the measurement is shown (gradNorm2 is at each layer's output x_l)`,
    recurrent: null,
    residual: {
      form: residual.form,
      layersPerBlock: residual.layers,
      scale: residual.scale,
      fixup: residual.fixup,
      blocks: blockIndices,
      p,
      pTheory: predicted ? predicted.p : null,
      gradient: 'stream',
      theory,
    },
  };
  report.fixes = residualFixes(report, config);
  report.advice = residualAdvice(report, residual);
  return report;
}

/** A change of the residual block only: the other block settings stay (a merge patch of `model.residual`). */
function blockFix(change: string, residual: Partial<MlpResidualConfig>, why: string, norm?: 'layer'): Fix {
  const model: { [key: string]: JsonValue } = { residual };
  if (norm !== undefined) model['norm'] = norm;
  return { change, patch: { model }, why };
}

/**
 * Exploding: the branch starts at zero (ReZero, Fixup), is scaled down by 1/sqrt(blocks), or is normalised (Pre-LN
 * form); vanishing: a form that keeps the stream linear. The branch-variance argument is Yang & Schoenholz 2017's.
 */
function residualFixes(report: PreflightReport, config: ResolvedConfig): Fix[] {
  const blocks = Math.max(1, report.residual?.blocks.length ?? report.layers.length);
  const scale = Number((1 / Math.sqrt(blocks)).toPrecision(3));
  if (report.verdict === 'exploding')
    return usefulFixes(config, [
      blockFix(
        'model.residual.scale "rezero"',
        { scale: 'rezero' },
        "a learnable branch scale starting at 0 makes every block the identity at initialisation, so the stream's variance cannot compound (ReZero, Bachlechner et al. 2020)",
      ),
      blockFix(
        'model.residual.fixup true',
        { fixup: true },
        "Fixup zeroes each branch's last layer and rescales the others by depth, so the network starts as the identity and trains without normalisation (Zhang et al. 2019)",
      ),
      blockFix(
        `model.residual.scale ${scale}`,
        { scale },
        `a branch scaled by 1/sqrt(blocks) = ${scale} keeps the stream's variance growth bounded over ${blocks} blocks (Yang & Schoenholz 2017)`,
      ),
      blockFix(
        'model.residual.form "pre" + model.norm "layer"',
        { form: 'pre' },
        'a pre-activation block with layer norm normalises what each branch reads, so the branch adds a bounded amount to the stream (He et al. 2016b; Ba et al. 2016)',
        'layer',
      ),
    ]);
  if (report.verdict === 'vanishing')
    return usefulFixes(config, [
      blockFix(
        'model.residual.form "linear-out"',
        { form: 'linear-out' },
        'no non-linearity after the addition: the identity path carries the gradient back unchanged (He et al. 2016b)',
      ),
      blockFix(
        'model.residual.form "pre"',
        { form: 'pre' },
        'a pre-activation block keeps the stream free of non-linearities, so nothing saturates on the identity path (He et al. 2016b)',
      ),
    ]);
  return [];
}

function residualAdvice(report: PreflightReport, residual: MlpResidualConfig): string[] {
  const advice: string[] = [];
  if (report.theoryNote) advice.push(report.theoryNote);
  const theory = report.residual?.theory ?? null;
  const L = report.layers.length;
  const measured = report.gradRatio;
  const predicted = theory ? ` (predicted ${about(theory.gradRatio)})` : '';
  const zeroBranch = residual.fixup || initialScale(residual) === 0;
  if (report.verdict === 'exploding') {
    advice.push(
      `gradients grow about ${about(measured)} over ${L} layers${predicted}: every block adds its branch to the stream, ` +
        `so the stream's variance and the gradient compound (Yang & Schoenholz 2017); start the branch at zero, ` +
        `scale it down by 1/sqrt(blocks) or normalise it: ${remedy(report.fixes)}`,
    );
  } else if (report.verdict === 'vanishing') {
    advice.push(
      `gradients shrink about ${about(measured)} over ${L} layers${predicted}; the identity path should carry them: ` +
        `check the first layer's init, and keep the stream free of non-linearities: ${remedy(report.fixes)}`,
    );
  } else {
    advice.push(
      `gradients keep their scale over ${L} layers (measured change ${about(measured)}${predicted})` +
        (zeroBranch ? '; each block is the identity at initialisation (a zero branch)' : '') +
        `; nothing to change`,
    );
  }
  if (theory && report.verdict !== 'exploding' && theory.gradRatio > 0 && measured > 0) {
    const gap = Math.abs(Math.log(measured / theory.gradRatio));
    if (gap > Math.max(1, 0.25 * Math.abs(Math.log(theory.gradRatio)))) {
      advice.push(
        `the measurement differs from the recursion by a factor ${about(measured / theory.gradRatio)}: finite width ` +
          `(sum of 1/width = ${fmt(report.beta)}) or correlations the theory neglects; trust the measurement`,
      );
    }
  }
  if (report.spread.varLogGrad > 1) {
    advice.push(
      `networks drawn from this config differ widely (variance of ln ||dL/dx_0||^2 = ${fmt(report.spread.varLogGrad)} across ${report.networks})`,
    );
  }
  return advice;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

function about(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  if (x >= 0.01 && x < 100) return String(Number(x.toPrecision(2)));
  return `1e${Math.round(Math.log10(x))}`;
}
