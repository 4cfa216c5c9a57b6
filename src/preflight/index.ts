/**
 * `gradscope preflight`: whether and where a config's gradients will vanish or explode, before any training.
 * Measured on sampled networks (./probe.ts) beside the mean-field prediction (./theory.ts); the report is the
 * "Preflight JSON" of ../shared/CONTRACT.md plus extra fields. docs/PREFLIGHT.md has the formulas and citations.
 *
 * @example
 * const report = preflight(resolveConfig(findPreset('deep-sigmoid')!.config, { defaultName: 'deep-sigmoid' }));
 * report.verdict; // 'vanishing'
 * report.theory?.chi1; // 0.0557
 */
import type { MlpModelConfig, RecurrentModelConfig, ResolvedConfig } from '../config/types.js';
import { slopeOfLog } from '../monitor/stats.js';
import { createTask } from '../data/index.js';
import { GradscopeError } from '../util/errors.js';
import type { Task } from '../data/task.js';
import { modelFacts } from '../doctor/facts.js';
import type { Fix, Verdict } from '../doctor/findings.js';
import * as fix from '../doctor/fixes.js';
import { remedy, usefulFixes } from './fixes.js';
import { describeInit, expectedRms, planInit } from '../init/index.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import type { JacobianOptions, JacobianStats } from './jacobian.js';
import { transformerReport, type TransformerPreflight } from './transformer.js';
import { probeMlp, probeRecurrent, type RecurrentBound, type RecurrentProbe } from './probe.js';
import {
  chi1At,
  criticalSigmaW2,
  depthScale,
  fixedPoint,
  phaseOf,
  trajectory,
  type BiasMoments,
  type FixedPointKind,
  type MeanFieldNetwork,
  type Phase,
} from './theory.js';

import { layeredConfigReport, type BranchVariance } from './layered.js';
import { residualReport, type ResidualPreflight } from './residual.js';
import { seq2seqReport, type Seq2SeqPreflight } from './seq2seq.js';

export { formatReport } from './format.js';

/** Networks sampled when the caller does not say. */
export const DEFAULT_NETWORKS = 8;

/**
 * A change of the squared gradient norm by more than this factor from the last hidden layer to the first (or from
 * the last time step to the first) is vanishing or exploding: a factor 10 on the norm.
 */
export const GRADIENT_RATIO_LIMIT = 100;

/** The doctor's verdicts that a probe at initialisation can reach (one `Verdict` type, the doctor's). */
export type PreflightVerdict = Extract<Verdict, 'healthy' | 'vanishing' | 'exploding'>;

export interface PreflightOptions {
  /** Networks to sample (default 8). */
  networks?: number;
  /** Probe with the task's own inputs instead of Gaussian ones. */
  data?: boolean;
  jacobian?: JacobianOptions;
}

/** One hidden layer (one recurrent layer for recurrent models), 0-based from the input side; means over networks. */
export interface PreflightLayer {
  layer: number;
  /** Mean squared pre-activation (recurrent: mean squared hidden state). */
  q: number;
  /** ||dL/dh_l||^2 (recurrent: summed over time steps). */
  gradNorm2: number;
  width: number;
  /** The mean-field q_l from the measured q_0; null without theory. */
  qTheory: number | null;
  /** The mean-field ||dL/dh_l||^2; null without theory. */
  gradNorm2Theory: number | null;
}

export interface PreflightTheory {
  /** The length map's fixed point; 0 when the signal dies, null when there is none (marginal or divergent). */
  qStar: number | null;
  chi1: number;
  /** 1 / |ln chi_1| layers. */
  depthScale: number;
  phase: Phase;
  fixedPoint: FixedPointKind;
  activation: ActivationName;
  /** The hidden-to-hidden sigma_w^2 = Var[W] fan_in (the mean over layers 1..L-1). */
  sigmaW2: number;
  sigmaB2: number;
  /** A constant bias's value (mean-field with a shifted Gaussian); 0 for a `{ normal }` bias. */
  biasMean: number;
  /** The sigma_w^2 on the critical line chi_1 = 1 for this activation and bias; null if none in [1e-3, 1e4]. */
  criticalSigmaW2: number | null;
  /** Predicted gradNorm2 of layer 0 over that of layer L-1 (from the per-layer trajectory). */
  gradRatio: number;
}

export interface PreflightJacobian extends Omit<JacobianStats, 'method'> {
  /** 'none': not measured (transformers). */
  method: JacobianStats['method'] | 'mixed' | 'none';
}

export interface RecurrentReport {
  steps: number;
  /** Mean ||dL/dh_t|| per recurrent layer, input side first (the last is `timeGrad`). */
  timeGradByLayer: number[][];
  /** Pascanu et al. 2013's bound per layer (means over networks); null for gated cells. */
  bounds: Array<RecurrentBound | null>;
  /** Whether training truncates backpropagation through time (the probe never does). */
  bptt: number;
}

export interface PreflightReport {
  networks: number;
  layers: PreflightLayer[];
  /** Across networks: the variance of ln gradNorm2 of layer 0 and of ln ||x_L||^2 (unbiased; 0 for one network). */
  spread: { varLogGrad: number; varLogSignal: number };
  jacobian: PreflightJacobian;
  theory: PreflightTheory | null;
  /** Recurrent models: mean ||dL/dh_t||, t = 1..T, of the top layer for a loss on the last step; [] for MLPs. */
  timeGrad: number[];
  verdict: PreflightVerdict;
  /** What the probe saw and what it means, in words; a remedy names the fixes by their `change`. */
  advice: string[];
  /**
   * The config changes that address the verdict, best first, as the doctor's `Fix`es (a JSON merge patch each, so
   * `--patch`, `--set` and the lab apply them); [] when healthy.
   */
  fixes: Fix[];
  // Beyond the contract:
  name: string;
  model: {
    kind: ResolvedConfig['model']['kind'];
    widths: number[];
    activation: ActivationName;
    init: string;
    norm: string;
    residual: boolean;
  };
  /** What went in: Gaussian scaled to q*, Gaussian with unit variance, or the task's own inputs. */
  inputs: 'gaussian-fixed-point' | 'gaussian-unit' | 'task';
  /** Measured gradNorm2 of layer 0 over layer L-1 (recurrent: (||dL/dh_1|| / ||dL/dh_T||)^2). */
  gradRatio: number;
  /** Least-squares factors: g_l / g_{l+1} per layer (squared norms), ||dL/dh_{t-1}|| / ||dL/dh_t|| per step (norms). */
  fit: { perLayerFactor: number | null; perStepFactor: number | null };
  /** Hanin 2018: fluctuations between networks grow with beta = sum over hidden layers of 1 / width. */
  beta: number;
  /** Why there is no theory (null when there is). */
  theoryNote: string | null;
  recurrent: RecurrentReport | null;
  /** Transformers: the last block's gradient by depth beside Xiong et al. 2020 (./transformer.ts). */
  transformer?: TransformerPreflight;
  /** Residual MLPs: the stream beside the residual mean-field recursion (./residual.ts). */
  residual?: ResidualPreflight;
  /** Seq2seq (architecture rnn): the gradient reaching each source step, beside the twin with attention switched. */
  seq2seq?: Seq2SeqPreflight;
  /**
   * Where `gradNorm2` is measured when not at the pre-activation h_l: `stream` (residual MLPs: x_l, with `q` the
   * branch's first pre-activation) or `output` (conv and residual kinds: y_l, with `q` its mean square).
   */
  gradientAt?: 'stream' | 'output';
  /** Residual blocks of conv/residual kinds: shortcut and branch mean squares at the sum (./layered.ts). */
  branchVariance?: BranchVariance[];
}

/**
 * Probe a config's gradient flow at initialisation: measurement on `networks` sampled networks, the mean-field
 * prediction where an exact one exists, a verdict and advice.
 */
export function preflight(config: ResolvedConfig, options: PreflightOptions = {}): PreflightReport {
  const networks = options.networks ?? DEFAULT_NETWORKS;
  if (!Number.isInteger(networks) || networks < 1) {
    throw new RangeError(`preflight: networks must be an integer >= 1, got ${networks}.`);
  }
  const task = createTask(config.task, config.seed);
  const data = options.data ?? false;
  const jacobian = options.jacobian ? { jacobian: options.jacobian } : {};
  if (config.model.kind === 'mlp' && config.model.residual)
    return residualReport(config, config.model, task, { networks, data, ...jacobian });
  if (config.model.kind === 'mlp') return mlpReport(config, config.model, task, networks, data, jacobian);
  if (config.model.kind === 'transformer') return transformerReport(config, task, networks, verdictOf);
  if (config.model.kind === 'seq2seq') return seq2seqReport(config, task, networks, verdictOf);
  // Conv and residual kinds build a LayeredModel: the generic per-layer probe (./layered.ts).
  if (config.model.kind === 'cnn' || config.model.kind === 'resnet')
    return layeredConfigReport(config, task, { networks, data, ...jacobian });
  if (!preflightProbes(config)) throw transformerNotProbed(config.model.kind);
  return recurrentReport(
    config,
    probeRecurrent(config, task, { networks, targetQ: null, data, ...jacobian }),
    data,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Mean-field view of a config

/** The bias as a shifted Gaussian: a constant c is N(c, 0), `{ normal: s }` is N(0, s^2). */
export function biasMoments(bias: MlpModelConfig['bias']): BiasMoments {
  return typeof bias === 'number'
    ? { mean: bias, variance: 0 }
    : { mean: 0, variance: bias.normal * bias.normal };
}

/**
 * The config as mean-field theory sees it, or why no exact theory applies (normalisation, residual connections,
 * deterministic weights).
 */
export function meanFieldModel(
  model: MlpModelConfig,
  inputSize: number,
): { network: MeanFieldNetwork } | { reason: string } {
  if (model.norm === 'batch') return { reason: 'batch norm' };
  if (model.norm === 'layer') return { reason: 'layer norm' };
  const widths = [inputSize, ...model.hidden];
  // Mlp wraps every hidden layer whose input and output widths match (the first too, when the inputs match).
  if (model.residual && model.hidden.some((w, l) => w === widths[l]))
    return { reason: 'residual connections' };
  const context = { activation: model.activation };
  const plan = planInit(model.init, context);
  if (plan.kind === 'identity' || plan.kind === 'constant') {
    return { reason: `${plan.label} weights (mean-field theory needs random weights)` };
  }
  const sigmaW2 = model.hidden.map((width, l) => {
    const fanIn = widths[l] as number;
    return expectedRms(model.init, context, [width, fanIn]) ** 2 * fanIn;
  });
  const alpha = activationKernels[model.activation].defaultAlpha;
  return {
    network: { activation: { name: model.activation, alpha }, bias: biasMoments(model.bias), sigmaW2 },
  };
}

/** The hidden-to-hidden sigma_w^2 summarising a stack (layer 0 only sees the input). */
function summarySigmaW2(network: MeanFieldNetwork): number {
  const hiddenToHidden = network.sigmaW2.slice(1);
  const values = hiddenToHidden.length > 0 ? hiddenToHidden : network.sigmaW2;
  return values.reduce((s, v) => s + v, 0) / values.length;
}

// ---------------------------------------------------------------------------------------------------------------
// MLP report

function mlpReport(
  config: ResolvedConfig,
  model: MlpModelConfig,
  task: Task,
  networks: number,
  data: boolean,
  jacobian: { jacobian?: JacobianOptions },
): PreflightReport {
  const meanField = meanFieldModel(model, task.inputSize);
  const network = 'network' in meanField ? meanField.network : null;
  let summary: { sigmaW2: number; point: ReturnType<typeof fixedPoint>; chi1: number } | null = null;
  if (network) {
    const sigmaW2 = summarySigmaW2(network);
    const point = fixedPoint(network.activation, sigmaW2, network.bias);
    summary = { sigmaW2, point, chi1: chi1At(network.activation, sigmaW2, network.bias, point) };
  }
  const targetQ =
    summary && summary.point.kind === 'stable' && (summary.point.q ?? 0) > 0 ? summary.point.q : null;
  const probe = probeMlp(config, task, { networks, targetQ: data ? null : targetQ, data, ...jacobian });
  const L = probe.widths.length;
  const q = meanOver(probe.networks.map((n) => n.q));
  const gradNorm2 = meanOver(probe.networks.map((n) => n.gradNorm2));
  // The prediction starts from each network's own q_0 (they differ when the inputs are not scaled to q*) and is
  // averaged like the measurement.
  const predicted = network
    ? (() => {
        const paths = probe.networks.map((n) => trajectory(network, n.q[0] as number));
        return {
          q: meanOver(paths.map((p) => Float64Array.from(p.q))),
          gradNorm2: meanOver(paths.map((p) => Float64Array.from(p.gradNorm2))),
        };
      })()
    : null;
  const layers: PreflightLayer[] = probe.widths.map((width, l) => ({
    layer: l,
    q: q[l] as number,
    gradNorm2: gradNorm2[l] as number,
    width,
    qTheory: predicted ? (predicted.q[l] as number) : null,
    gradNorm2Theory: predicted ? (predicted.gradNorm2[l] as number) : null,
  }));
  const gradRatio = (gradNorm2[0] as number) / (gradNorm2[L - 1] as number);
  let theory: PreflightTheory | null = null;
  if (network && summary && predicted) {
    theory = {
      qStar: summary.point.q,
      chi1: summary.chi1,
      depthScale: depthScale(summary.chi1),
      phase: phaseOf(summary.chi1),
      fixedPoint: summary.point.kind,
      activation: model.activation,
      sigmaW2: summary.sigmaW2,
      sigmaB2: network.bias.variance,
      biasMean: network.bias.mean,
      criticalSigmaW2: criticalSigmaW2(network.activation, network.bias),
      gradRatio: (predicted.gradNorm2[0] as number) / (predicted.gradNorm2[L - 1] as number),
    };
  }
  const verdict = verdictOf(gradRatio, [...q, ...gradNorm2]);
  const report: PreflightReport = {
    networks,
    layers,
    spread: spreadOf(probe),
    jacobian: jacobianSummary(probe.networks.map((n) => n.jacobian)),
    theory,
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
      residual: model.residual !== false,
    },
    inputs: data ? 'task' : targetQ !== null ? 'gaussian-fixed-point' : 'gaussian-unit',
    gradRatio,
    fit: { perLayerFactor: L >= 2 ? Math.exp(-slopeOfLog(gradNorm2)) : null, perStepFactor: null },
    beta: probe.widths.reduce((s, w) => s + 1 / w, 0),
    theoryNote:
      'reason' in meanField
        ? `no exact mean-field theory covers ${meanField.reason}; only the measurement is shown`
        : null,
    recurrent: null,
  };
  report.fixes = mlpFixes(report, config, model);
  report.advice = mlpAdvice(report, model);
  return report;
}

export function spreadOf(probe: { networks: ReadonlyArray<{ gradNorm2: Float64Array; signal: number }> }): {
  varLogGrad: number;
  varLogSignal: number;
} {
  return {
    varLogGrad: sampleVariance(probe.networks.map((n) => Math.log(n.gradNorm2[0] as number))),
    varLogSignal: sampleVariance(probe.networks.map((n) => Math.log(n.signal))),
  };
}

export function jacobianSummary(stats: JacobianStats[]): PreflightJacobian {
  const mean = (pick: (s: JacobianStats) => number): number =>
    stats.reduce((s, x) => s + pick(x), 0) / stats.length;
  const methods = new Set(stats.map((s) => s.method));
  return {
    meanSquaredSingular: mean((s) => s.meanSquaredSingular),
    varianceSquaredSingular: mean((s) => s.varianceSquaredSingular),
    maxSingular: mean((s) => s.maxSingular),
    method: methods.size === 1 ? (stats[0] as JacobianStats).method : 'mixed',
    singularValues: (stats[0] as JacobianStats).singularValues,
  };
}

/** healthy | vanishing | exploding from the measured change of the squared gradient norm across the stack. */
export function verdictOf(gradRatio: number, measured: readonly number[]): PreflightVerdict {
  if (measured.some((x) => !Number.isFinite(x))) return 'exploding';
  if (Number.isNaN(gradRatio) || gradRatio < 1 / GRADIENT_RATIO_LIMIT) return 'vanishing';
  return gradRatio > GRADIENT_RATIO_LIMIT ? 'exploding' : 'healthy';
}

// ---------------------------------------------------------------------------------------------------------------
// Recurrent report

/** Whether preflight probes this model (all but the transformer seq2seq; a run skips the panel quietly otherwise). */
export function preflightProbes(config: ResolvedConfig): boolean {
  return config.model.kind !== 'seq2seq' || config.model.architecture === 'rnn';
}

/** Preflight's probes cover MLPs, recurrent cells and transformers; another model is refused by name (exit 2). */
export function transformerNotProbed(kind = 'transformer'): GradscopeError {
  return new GradscopeError({
    code: 'not_applicable',
    path: 'model.kind',
    value: kind,
    accepted: 'mlp, rnn, lstm, gru, transformer, cnn or resnet',
    problem: `preflight does not probe ${kind === 'transformer' ? 'transformers' : kind === 'seq2seq' ? 'sequence-to-sequence models' : `${kind} models`} yet`,
    hint: `"gradscope run" trains a ${kind === 'seq2seq' ? 'seq2seq model' : kind} without it`,
  });
}

function recurrentReport(config: ResolvedConfig, probe: RecurrentProbe, data: boolean): PreflightReport {
  const model = config.model;
  if (model.kind === 'mlp') throw new Error('recurrentReport needs a recurrent config.');
  if (
    model.kind === 'transformer' ||
    model.kind === 'seq2seq' ||
    model.kind === 'cnn' ||
    model.kind === 'resnet'
  )
    throw transformerNotProbed(model.kind);
  const layersCount = probe.layers;
  const q = meanOver(probe.networks.map((n) => n.q));
  const gradNorm2 = meanOver(probe.networks.map((n) => n.gradNorm2));
  const timeGradByLayer = Array.from({ length: layersCount }, (_, l) =>
    Array.from(meanOver(probe.networks.map((n) => n.timeGrad[l] as Float64Array))),
  );
  const timeGrad = timeGradByLayer[layersCount - 1] as number[];
  const T = timeGrad.length;
  const first = timeGrad[0] as number;
  const last = timeGrad[T - 1] as number;
  const gradRatio = (first / last) ** 2;
  const bounds = Array.from({ length: layersCount }, (_, l) =>
    meanBound(probe.networks.map((n) => n.bounds[l] ?? null)),
  );
  const activation: ActivationName = model.kind === 'rnn' ? model.activation : 'tanh';
  const report: PreflightReport = {
    networks: probe.networks.length,
    layers: Array.from(q, (value, l) => ({
      layer: l,
      q: value,
      gradNorm2: gradNorm2[l] as number,
      width: probe.hidden,
      qTheory: null,
      gradNorm2Theory: null,
    })),
    spread: spreadOf(probe),
    jacobian: jacobianSummary(probe.networks.map((n) => n.jacobian)),
    theory: null,
    timeGrad,
    verdict: verdictOf(gradRatio, [...q, ...gradNorm2, ...timeGrad]),
    advice: [],
    fixes: [],
    name: config.name,
    model: {
      kind: model.kind,
      widths: new Array<number>(layersCount).fill(probe.hidden),
      activation,
      init: `${describeInit(model.init, { activation })}; recurrent ${describeInit(model.recurrentInit, { activation })}`,
      norm: 'none',
      residual: false,
    },
    inputs: data ? 'task' : 'gaussian-unit',
    gradRatio,
    fit: { perLayerFactor: null, perStepFactor: T >= 2 ? Math.exp(-slopeOfLog(timeGrad)) : null },
    beta: layersCount / probe.hidden,
    theoryNote: 'no exact mean-field theory covers recurrent cells; only the measurement is shown',
    recurrent: { steps: T, timeGradByLayer, bounds, bptt: config.train.bptt },
  };
  report.fixes = recurrentFixes(report, config, model);
  report.advice = recurrentAdvice(report, model);
  return report;
}

function meanBound(bounds: Array<RecurrentBound | null>): RecurrentBound | null {
  const present = bounds.filter((b): b is RecurrentBound => b !== null);
  if (present.length === 0) return null;
  const mean = (pick: (b: RecurrentBound) => number): number =>
    present.reduce((s, b) => s + pick(b), 0) / present.length;
  return {
    derivativeBound: mean((b) => b.derivativeBound),
    largestSingular: mean((b) => b.largestSingular),
    spectralRadius: mean((b) => b.spectralRadius),
    perStepBound: mean((b) => b.perStepBound),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Fixes: which changes address the verdict (the doctor's fixes where it has them), best first

const RECTIFIERS: ReadonlySet<ActivationName> = new Set<ActivationName>(['relu', 'leaky-relu', 'prelu']);

/** Where mean-field theory says gradients keep their scale at any depth. */
const CRITICAL_LINE =
  'the critical line chi_1 = 1, where gradients neither shrink nor grow with depth (Poole et al. 2016; Schoenholz et al. 2017)';

/** The init on the critical line for this activation and bias, or null when no sigma_w^2 in [1e-3, 1e4] reaches it. */
function criticalInit(theory: PreflightTheory): Fix | null {
  const critical = theory.criticalSigmaW2;
  if (critical === null) return null;
  if (RECTIFIERS.has(theory.activation)) {
    return {
      change: 'model.init "he-normal"',
      patch: { model: { init: 'he-normal' } },
      why: `He-normal (variance 2/fan-in, He et al. 2015) puts ${theory.activation} at sigma_w^2 = 2, on ${CRITICAL_LINE} (there at sigma_w^2 = ${fmt(critical)})`,
    };
  }
  const gain = Number(Math.sqrt(critical).toPrecision(4));
  const bias = theory.biasMean === 0 ? `sigma_b^2 = ${fmt(theory.sigmaB2)}` : `bias ${fmt(theory.biasMean)}`;
  return {
    change: `model.init {"gain": ${gain}, "base": "lecun-normal"}`,
    patch: { model: { init: { gain, base: 'lecun-normal' } } },
    why: `variance gain^2/fan-in gives sigma_w^2 = ${fmt(critical)}, which puts ${theory.activation} with ${bias} on ${CRITICAL_LINE}`,
  };
}

/** Batch norm's explosion at initialisation is the batch's doing; layer norm normalises each example instead. */
function layerNormForDepth(): Fix {
  return {
    ...fix.layerNorm(),
    why: 'batch norm makes gradients explode with depth at initialisation (Yang et al. 2019), an effect of normalising over the batch; layer norm (Ba et al. 2016) normalises each example over its own units',
  };
}

/** An orthogonal W_hh scaled below 1: every singular value 0.9 (Saxe et al. 2014). */
function contractingRecurrent(): Fix {
  return {
    change: 'model.recurrentInit {"gain": 0.9, "base": "orthogonal"}',
    patch: { model: { recurrentInit: { gain: 0.9, base: 'orthogonal' } } },
    why: 'an orthogonal W_hh scaled by 0.9 has every singular value 0.9, so a step multiplies the gradient by at most 0.9 times the slope of the non-linearity (Pascanu et al. 2013)',
  };
}

function mlpFixes(report: PreflightReport, config: ResolvedConfig, model: MlpModelConfig): Fix[] {
  if (report.verdict === 'healthy') return [];
  const facts = modelFacts(config);
  const theory = report.theory;
  // A residual connection needs hidden layers of one width (the schema's cross rule).
  const residual =
    !model.residual && model.hidden.every((width) => width === model.hidden[0]) ? fix.residual() : null;
  if (theory) return usefulFixes(config, [criticalInit(theory), fix.reluHe(facts)]);
  if (report.verdict === 'exploding' && model.norm === 'batch')
    return usefulFixes(config, [layerNormForDepth(), residual]);
  if (report.verdict === 'vanishing') return usefulFixes(config, [fix.reluHe(facts), residual]);
  return usefulFixes(config, [fix.preservingInit(facts), fix.clipNorm(facts)]);
}

function recurrentFixes(report: PreflightReport, config: ResolvedConfig, model: RecurrentModelConfig): Fix[] {
  const facts = modelFacts(config);
  if (report.verdict === 'exploding')
    return usefulFixes(config, [fix.clipNorm(facts), contractingRecurrent()]);
  if (report.verdict === 'healthy') return [];
  const spec = model.recurrentInit;
  const base = typeof spec === 'string' ? spec : 'base' in spec ? spec.base : null;
  const vanishing: { readonly [K in RecurrentModelConfig['kind']]: ReadonlyArray<Fix | null> } = {
    rnn: [base === 'orthogonal' || base === 'identity' ? null : fix.orthogonalRecurrent(), fix.lstm()],
    lstm: [fix.forgetBias(model.forgetBias < 1 ? 1 : model.forgetBias + 1)],
    gru: [fix.lstm()],
  };
  return usefulFixes(config, vanishing[model.kind]);
}

// ---------------------------------------------------------------------------------------------------------------
// Advice

function mlpAdvice(report: PreflightReport, model: MlpModelConfig): string[] {
  const advice: string[] = [];
  const L = report.layers.length;
  const theory = report.theory;
  const measured = report.gradRatio;
  const change = (ratio: number): string =>
    ratio < 1 ? `shrink about ${about(ratio)}` : `grow about ${about(ratio)}`;
  const use = remedy(report.fixes);
  if (report.theoryNote) advice.push(report.theoryNote);
  const overflow = report.layers.findIndex((l) => !Number.isFinite(l.q) || !Number.isFinite(l.gradNorm2));
  if (overflow >= 0) {
    const chi = theory ? ` (chi_1 = ${fmt(theory.chi1)}, ${theory.activation})` : '';
    const toCritical = theory ? 'to reach the critical line ' : '';
    advice.push(`values overflow float64 by layer ${overflow}${chi}: gradients explode; ${toCritical}${use}`);
  } else if (theory) {
    const where = `over ${L} layers (chi_1 = ${fmt(theory.chi1)}, ${theory.activation}`;
    if (report.verdict === 'healthy') {
      advice.push(
        `gradients keep their scale ${where}, ${theory.phase} phase; measured change ${about(measured)}, predicted ` +
          `${about(theory.gradRatio)}); nothing to change`,
      );
      const reach = Math.log(GRADIENT_RATIO_LIMIT) / Math.abs(Math.log(theory.chi1));
      if (theory.phase !== 'critical' && Number.isFinite(reach)) {
        advice.push(
          `at chi_1 = ${fmt(theory.chi1)} a stack stays within a factor ${GRADIENT_RATIO_LIMIT} up to about ${Math.round(reach)} layers`,
        );
      }
    } else {
      advice.push(
        `gradients will ${change(theory.gradRatio)} ${where}; measured ${about(measured)}); to reach the critical line ${use}`,
      );
    }
  } else if (report.verdict === 'healthy') {
    advice.push(
      `gradients keep their scale over ${L} layers (measured change ${about(measured)}); nothing to change`,
    );
  } else {
    const batch =
      report.verdict === 'exploding' && model.norm === 'batch'
        ? 'batch norm makes gradients explode with depth at initialisation (Yang et al. 2019); '
        : '';
    advice.push(`gradients ${change(measured)} over ${L} layers (measured); ${batch}${use}`);
  }
  const whereLine = overflow >= 0 ? null : whereItCrosses(report);
  if (whereLine) advice.push(whereLine);
  if (theory && report.verdict !== 'healthy') {
    advice.push(
      `depth scale 1/|ln chi_1| = ${fmt(theory.depthScale)} layers (Schoenholz et al. 2017): gradients cross a few depth scales at most, ` +
        `and this stack is ${fmt(L / theory.depthScale)} of them deep`,
    );
  }
  if (theory && report.verdict !== 'exploding' && theory.gradRatio > 0 && measured > 0) {
    const gap = Math.abs(Math.log(measured / theory.gradRatio));
    if (gap > Math.max(1, 0.25 * Math.abs(Math.log(theory.gradRatio)))) {
      advice.push(
        `the measurement differs from the mean-field prediction by a factor ${about(measured / theory.gradRatio)}: finite width ` +
          `(sum of 1/width = ${fmt(report.beta)}, Hanin 2018) or correlations the theory neglects; trust the measurement for this network`,
      );
    }
  }
  if (report.spread.varLogGrad > 1) {
    advice.push(
      `networks drawn from this config differ widely (variance of ln ||dL/dh_0||^2 = ${fmt(report.spread.varLogGrad)} across ` +
        `${report.networks}); fluctuations grow with the sum of 1/width = ${fmt(report.beta)} (Hanin 2018): wider layers make one ` +
        `network behave like the mean`,
    );
  }
  if (theory && report.inputs === 'gaussian-unit') {
    advice.push(
      `the length map has no positive fixed point q* (${theory.fixedPoint}); the probe's inputs have unit variance`,
    );
  }
  if (report.inputs === 'task') {
    const q0 = fmt(report.layers[0]?.q ?? NaN);
    advice.push(
      theory
        ? `inputs are the task's own; the prediction starts from their first-layer q_0 = ${q0}`
        : `inputs are the task's own (first-layer q_0 = ${q0})`,
    );
  }
  if (model.dropout > 0) advice.push(`dropout (${model.dropout}) is off in the probe`);
  return advice;
}

/** The first layer, counted back from the top, where the squared gradient norm leaves the factor-100 band. */
function whereItCrosses(report: PreflightReport): string | null {
  if (report.verdict === 'healthy') return null;
  const L = report.layers.length;
  const top = report.layers[L - 1]?.gradNorm2 ?? NaN;
  for (let l = L - 2; l >= 0; l--) {
    const ratio = (report.layers[l] as PreflightLayer).gradNorm2 / top;
    if (report.verdict === 'vanishing' && !(ratio >= 1 / GRADIENT_RATIO_LIMIT)) {
      return `the squared gradient norm falls below 1/${GRADIENT_RATIO_LIMIT} of the last hidden layer's at layer ${l} (layer 0 is the input side)`;
    }
    if (report.verdict === 'exploding' && !(ratio <= GRADIENT_RATIO_LIMIT)) {
      return `the squared gradient norm exceeds ${GRADIENT_RATIO_LIMIT} times the last hidden layer's at layer ${l} (layer 0 is the input side)`;
    }
  }
  return null;
}

function recurrentAdvice(report: PreflightReport, model: RecurrentModelConfig): string[] {
  const kind = model.kind;
  const advice: string[] = [];
  const recurrent = report.recurrent as RecurrentReport;
  const T = recurrent.steps;
  const perStep = report.fit.perStepFactor;
  const total = Math.sqrt(report.gradRatio);
  if (report.theoryNote) advice.push(report.theoryNote);
  const factor = perStep === null ? '' : ` (fitted factor ${fmt(perStep)} per step back in time)`;
  if (!Number.isFinite(total)) {
    advice.push(`||dL/dh_t|| overflows float64 within ${T} steps; ${remedy(report.fixes)}`);
  } else if (report.verdict === 'vanishing') {
    const now = kind === 'lstm' ? ` (forgetBias now ${model.forgetBias})` : '';
    advice.push(
      `||dL/dh_t|| shrinks about ${about(total)} over ${T} steps${factor}; ${remedy(report.fixes, 'shorter sequences')}${now}`,
    );
  } else if (report.verdict === 'exploding') {
    advice.push(`||dL/dh_t|| grows about ${about(total)} over ${T} steps${factor}; ${remedy(report.fixes)}`);
  } else {
    advice.push(
      `||dL/dh_t|| keeps its scale over ${T} steps (change ${about(total)}${factor}); nothing to change`,
    );
  }
  const bound = recurrent.bounds[recurrent.bounds.length - 1] ?? null;
  if (bound) {
    advice.push(
      `Pascanu et al. 2013: a step multiplies the gradient by at most gamma sigma_max(W_hh) = ${fmt(bound.derivativeBound)} x ` +
        `${fmt(bound.largestSingular)} = ${fmt(bound.perStepBound)}${perStep === null ? '' : ` (measured ${fmt(perStep)})`}; below 1 ` +
        `vanishing is certain, above 1 is necessary for explosion; the spectral radius of W_hh is ${fmt(bound.spectralRadius)}`,
    );
  } else {
    advice.push(
      `gated cells (${kind}) carry gradients through their gates; the Pascanu et al. 2013 bound covers vanilla RNNs only`,
    );
  }
  if (recurrent.bptt > 0)
    advice.push(
      `training truncates backpropagation to ${recurrent.bptt} steps; the probe follows the full sequence`,
    );
  return advice;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/** Element-wise mean of equal-length arrays. */
function meanOver(arrays: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(arrays[0]?.length ?? 0);
  for (const a of arrays)
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (a[i] as number) / arrays.length;
  return out;
}

/** Unbiased sample variance; 0 for fewer than two values. */
function sampleVariance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
}

/** Three significant digits. */
function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}

/** An order of magnitude for large changes ("1e-12"), two digits for small ones. */
function about(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  if (x >= 0.01 && x < 100) return String(Number(x.toPrecision(2)));
  return `1e${Math.round(Math.log10(x))}`;
}
