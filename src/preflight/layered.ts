/**
 * The preflight probe for any `LayeredModel` (a conv stack, a ResNet, ... built from nn, or from a config whose kind
 * builds one): per layer the mean square of its output and the squared gradient norm there, ||dL/dy_l||^2, at
 * initialisation, for the probe's loss L = v . y_top on the representation the output layer reads (v a random unit
 * vector). Layers are the model's own layer indices (the run log's), those that declare facts (conv, dense, residual
 * blocks: pooling and flatten have none), the output layer excluded. Residual blocks also report their shortcut and
 * branch mean squares (the branch/shortcut variance ratio, 1 per block in a healthy un-normalised stack only when
 * the branch is scaled down). No exact mean-field theory is applied here (Xiao et al. 2018 have one for conv
 * stacks at the critical line); the measurement is the report.
 */
import { backward, noGrad } from '../autograd/tape.js';
import type { InitSpec, ResolvedConfig } from '../config/types.js';
import { describeInit } from '../init/index.js';
import type { ActivationName } from '../kernels/activations.js';
import type { Task } from '../data/task.js';
import { asImages } from '../nn/conv.js';
import { BatchNorm, Dense, Dropout, ResidualBlock, type LayeredModel, type Module } from '../nn/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { buildModel } from '../train/build.js';
import type { JacobianOperator, JacobianOptions, JacobianStats } from './jacobian.js';
import { jacobianStats } from './jacobian.js';
import { jacobianSummary, spreadOf, verdictOf, type PreflightReport } from './index.js';
import { networkRng, probeRng } from './probe.js';
import { usefulFixes } from './fixes.js';
import { modelFacts } from '../doctor/facts.js';
import type { Fix } from '../doctor/findings.js';
import * as fix from '../doctor/fixes.js';

/** Examples per probe when a batch norm needs batch statistics. */
const BATCH_NORM_BATCH = 32;

function meanSquareOf(t: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < t.length; i++) s += (t[i] as number) ** 2;
  return t.length > 0 ? s / t.length : 0;
}

/** Whether any module in the tree normalises over the batch. */
export function usesBatchStatistics(model: Module): boolean {
  // BatchNorm2d is a BatchNorm.
  if (model instanceof BatchNorm) return true;
  if (model instanceof Dense && model.normName === 'batch') return true;
  return model.children().some(([, child]) => usesBatchStatistics(child));
}

/** Parameters frozen, norms in training mode (batch statistics, as in training), dropout off. */
export function prepareForProbe(model: LayeredModel): void {
  for (const p of model.parameters()) p.requiresGrad = false;
  model.setTraining(true);
  const visit = (m: Module): void => {
    // Dense's own flag only switches dropout; its norm keeps batch statistics.
    if (m instanceof Dense || m instanceof Dropout) m.training = false;
    for (const [, child] of m.children()) visit(child);
  };
  visit(model);
}

/**
 * J = d y / d x of example 0 of a batch as an operator, for a forward map `forward` on [rows, inSize] inputs: Jᵀ
 * exact by backward passes (all rows at once when the examples are independent; one pass of the whole batch per
 * row when a batch norm couples them), J by central differences in float64.
 */
export function forwardJacobian(
  forward: (x: Tensor) => Tensor,
  x: Float64Array,
  batch: number,
  inSize: number,
  outSize: number,
  costPerRow: number,
): JacobianOperator {
  const example = x.subarray(0, inSize);
  const run = (input: Float64Array): Float64Array =>
    noGrad(() => Float64Array.from(forward(new Tensor(input, [batch, inSize])).data));
  return {
    inputSize: inSize,
    outputSize: outSize,
    costPerRow: batch * costPerRow,
    applyIsExact: false,
    applyTranspose(rows, m) {
      if (batch === 1) {
        const input = new Float64Array(m * inSize);
        for (let r = 0; r < m; r++) input.set(example, r * inSize);
        const t = new Tensor(input, [m, inSize], { requiresGrad: true });
        backward(forward(t), { seed: Float64Array.from(rows) });
        return Float64Array.from(t.grad ?? new Float64Array(m * inSize));
      }
      const out = new Float64Array(m * inSize);
      for (let r = 0; r < m; r++) {
        const t = new Tensor(Float64Array.from(x), [batch, inSize], { requiresGrad: true });
        const seed = new Float64Array(batch * outSize);
        seed.set(rows.subarray(r * outSize, (r + 1) * outSize), 0);
        backward(forward(t), { seed });
        out.set((t.grad ?? new Float64Array(batch * inSize)).subarray(0, inSize), r * inSize);
      }
      return out;
    },
    apply(rows, m) {
      const out = new Float64Array(m * outSize);
      const scale = Math.sqrt(meanSquareOf(example) * inSize);
      for (let r = 0; r < m; r++) {
        const t = rows.subarray(r * inSize, (r + 1) * inSize);
        const length = Math.sqrt(meanSquareOf(t) * inSize);
        if (length === 0) continue;
        // Central differences: a step ~ cbrt(machine epsilon) relative to the input.
        const e = (6e-6 * Math.max(scale, 1)) / length;
        const plus = Float64Array.from(x);
        const minus = Float64Array.from(x);
        for (let i = 0; i < inSize; i++) {
          plus[i] = (plus[i] as number) + e * (t[i] as number);
          minus[i] = (minus[i] as number) - e * (t[i] as number);
        }
        const yPlus = run(plus);
        const yMinus = run(minus);
        for (let j = 0; j < outSize; j++)
          out[r * outSize + j] = ((yPlus[j] as number) - (yMinus[j] as number)) / (2 * e);
      }
      return out;
    },
  };
}

/** One probed layer of one network. */
export interface LayeredLayerProbe {
  /** The model's layer index (`layers.<i>`). */
  layer: number;
  /** The layer's declared kind (`conv`, `dense`, ...; residual blocks their branch's kind). */
  kind: string;
  residual: boolean;
  /** Mean square of the layer's output. */
  q: number;
  /** ||dL/dy_l||^2 at the layer's output, per example. */
  gradNorm2: number;
  width: number;
  /** Residual blocks: mean squares of the shortcut and of the scaled branch at the sum. */
  shortcut: number | null;
  branch: number | null;
}

export interface LayeredNetworkProbe {
  layers: LayeredLayerProbe[];
  /** ||y_top||^2 per example */
  signal: number;
  inputGradNorm2: number;
  jacobian: JacobianStats | null;
}

export interface LayeredProbeOptions {
  /** Examples per probe (default 1, or 32 when a batch norm needs batch statistics). */
  batch?: number;
  /** Input features per example (the model reads flat inputs, as the task gives them). */
  inputSize: number;
  /** Draws the inputs and the direction v. */
  rng: Rng;
  /** Inputs to use instead of unit Gaussians ([batch, inputSize]). */
  inputs?: Float64Array;
  /** false: skip the Jacobian statistics (default: computed). */
  jacobian?: boolean | JacobianOptions;
}

/**
 * One forward and backward pass of the probe through a LayeredModel (float64 weights are used as they are).
 *
 * @example
 * const net = new ResNet({ ...options, dtype: 'float64' });
 * probeLayered(net, { inputSize: 144, rng: new Rng(0) }).layers.map((l) => l.gradNorm2);
 */
export function probeLayered(model: LayeredModel, options: LayeredProbeOptions): LayeredNetworkProbe {
  prepareForProbe(model);
  const batch = options.batch ?? (usesBatchStatistics(model) ? BATCH_NORM_BATCH : 1);
  const inSize = options.inputSize;
  const blocks = model.blocks;
  const K = blocks.length;
  let x = options.inputs;
  if (!x) {
    x = new Float64Array(batch * inSize);
    options.rng.fork('input').fillNormal(x);
  }
  // Everything before the output layer, fed flat inputs as the model's own forward does (it reshapes images).
  const hiddenForward = (input: Tensor): { top: Tensor; outputs: Tensor[] } => {
    const outputs: Tensor[] = [];
    let h = input;
    // A LayeredModel's forward may reshape before the first block (images); reuse it on block 0 only.
    for (let i = 0; i < K - 1; i++) {
      h = i === 0 ? firstBlock(model, h) : (blocks[i] as Module).forward(h);
      outputs.push(h);
    }
    return { top: h, outputs };
  };
  const residuals = blocks.map((b) => (b instanceof ResidualBlock ? b : null));
  for (const r of residuals) if (r) r.measureVariances = true;
  const input = new Tensor(x, [batch, inSize], { requiresGrad: true });
  const { top, outputs } = hiddenForward(input);
  for (const r of residuals) if (r) r.measureVariances = false;
  const layers: LayeredLayerProbe[] = [];
  outputs.forEach((y, i) => {
    const facts = (blocks[i] as Module).facts();
    if (!facts) return;
    const variances = residuals[i]?.lastVariances ?? null;
    const entry: LayeredLayerProbe = {
      layer: i,
      kind: facts.kind,
      residual: facts.residual,
      q: meanSquareOf(y.data),
      gradNorm2: 0,
      width: facts.fanOut,
      shortcut: variances ? variances.shortcut : null,
      branch: variances ? variances.branch : null,
    };
    layers.push(entry);
    y.onGrad((g) => {
      let sum = 0;
      for (let k = 0; k < g.length; k++) sum += (g[k] as number) ** 2;
      entry.gradNorm2 = sum / batch;
    });
  });
  const width = top.size / batch;
  const v = new Float64Array(width);
  let norm = 0;
  while (norm === 0) {
    options.rng.fork('direction').fillNormal(v);
    norm = Math.sqrt(meanSquareOf(v) * width);
  }
  for (let j = 0; j < width; j++) v[j] = (v[j] as number) / norm;
  const seed = new Float64Array(batch * width);
  for (let b = 0; b < batch; b++) seed.set(v, b * width);
  const signal = meanSquareOf(top.data) * width;
  backward(top, { seed });
  const inputGradNorm2 = meanSquareOf(input.grad ?? []) * inSize;
  let jacobian: JacobianStats | null = null;
  if (options.jacobian !== false) {
    const cost = model.parameters().reduce((s, p) => s + p.size, 0) * 3;
    jacobian = jacobianStats(
      forwardJacobian((t) => hiddenForward(t).top, x, batch, inSize, width, cost),
      options.rng.fork('jacobian'),
      typeof options.jacobian === 'object' ? options.jacobian : {},
    );
  }
  return { layers, signal, inputGradNorm2, jacobian };
}

/** The first block on flat inputs: image models reshape [N, C*H*W] to [N, C, H, W] in their own forward. */
function firstBlock(model: LayeredModel, x: Tensor): Tensor {
  const image = (model as { options?: { image?: { channels: number; height: number; width: number } } })
    .options?.image;
  const first = model.blocks[0] as Module;
  return first.forward(image ? asImages(x, image) : x);
}

/**
 * Probe `networks` networks of a config whose model kind builds a LayeredModel (network 0 has the training run's
 * own weights, as the other probes).
 */
export function probeConfigLayered(
  config: ResolvedConfig,
  task: Task,
  options: { networks: number; data: boolean; jacobian?: JacobianOptions },
  rngs: { network(index: number): Rng; probe(index: number): Rng },
): LayeredNetworkProbe[] {
  const out: LayeredNetworkProbe[] = [];
  for (let i = 0; i < options.networks; i++) {
    const model = buildModel(config.model, task, rngs.network(i), { dtype: 'float64' });
    const rng = rngs.probe(i);
    const batch = usesBatchStatistics(model) ? BATCH_NORM_BATCH : 1;
    const inputs = options.data
      ? Float64Array.from(task.trainBatch(batch, rng.fork('data')).x.data)
      : undefined;
    out.push(
      probeLayered(model, {
        batch,
        inputSize: task.inputSize,
        rng,
        ...(inputs ? { inputs } : {}),
        ...(options.jacobian ? { jacobian: options.jacobian } : {}),
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/** A residual block's shortcut and branch mean squares at initialisation (means over networks). */
export interface BranchVariance {
  layer: number;
  shortcut: number;
  branch: number;
  /** branch / shortcut: 0 for a zero branch (ReZero, Fixup); about 1 or more lets the stream's variance compound. */
  ratio: number;
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

/**
 * The preflight report of a LayeredModel's probes (one per network, all of one architecture): the measurement per
 * layer, no theory.
 *
 * @example
 * layeredReport('resnet-20', 'resnet', probes, { activation: 'relu', init: 'he-normal', norm: 'none', inputs: 'gaussian-unit' });
 */
export function layeredReport(
  name: string,
  kind: ResolvedConfig['model']['kind'],
  probes: readonly LayeredNetworkProbe[],
  described: { activation: ActivationName; init: string; norm: string; inputs: PreflightReport['inputs'] },
): PreflightReport {
  const first = probes[0];
  if (!first || first.layers.length === 0)
    throw new Error('layeredReport needs probes with at least one layer.');
  const layers = first.layers.map((layer, k) => ({
    layer: layer.layer,
    q: mean(probes.map((p) => p.layers[k]?.q ?? NaN)),
    gradNorm2: mean(probes.map((p) => p.layers[k]?.gradNorm2 ?? NaN)),
    width: layer.width,
    qTheory: null,
    gradNorm2Theory: null,
  }));
  const L = layers.length;
  const gradRatio = (layers[0]?.gradNorm2 ?? NaN) / (layers[L - 1]?.gradNorm2 ?? NaN);
  const branchVariance: BranchVariance[] = first.layers.flatMap((layer, k) => {
    if (layer.shortcut === null || layer.branch === null) return [];
    const shortcut = mean(probes.map((p) => p.layers[k]?.shortcut ?? NaN));
    const branch = mean(probes.map((p) => p.layers[k]?.branch ?? NaN));
    return [{ layer: layer.layer, shortcut, branch, ratio: branch / shortcut }];
  });
  const verdict = verdictOf(
    gradRatio,
    layers.flatMap((l) => [l.q, l.gradNorm2]),
  );
  const jacobians = probes.map((p) => p.jacobian).filter((j): j is JacobianStats => j !== null);
  const report: PreflightReport = {
    networks: probes.length,
    layers,
    spread: spreadOf({
      networks: probes.map((p) => ({
        gradNorm2: Float64Array.of(p.layers[0]?.gradNorm2 ?? NaN),
        signal: p.signal,
      })),
    }),
    jacobian:
      jacobians.length > 0
        ? jacobianSummary(jacobians)
        : {
            meanSquaredSingular: NaN,
            varianceSquaredSingular: NaN,
            maxSingular: NaN,
            method: 'estimate',
            singularValues: 0,
          },
    theory: null,
    timeGrad: [],
    verdict,
    advice: [],
    // The config's fixes are added by `layeredConfigReport`, which has the config to patch.
    fixes: [],
    name,
    model: {
      kind,
      widths: layers.map((l) => l.width),
      activation: described.activation,
      init: described.init,
      norm: described.norm,
      residual: branchVariance.length > 0,
    },
    inputs: described.inputs,
    gradRatio,
    fit: { perLayerFactor: null, perStepFactor: null },
    beta: layers.reduce((s, l) => s + 1 / l.width, 0),
    theoryNote:
      'no exact mean-field theory is applied to conv and residual stacks here; gradNorm2 is ||dL/dy_l||^2 at each layer output',
    recurrent: null,
    ...(branchVariance.length > 0 ? { branchVariance } : {}),
  };
  const advice = [report.theoryNote as string];
  const change = about(gradRatio);
  if (verdict === 'vanishing')
    advice.push(
      `gradients shrink about ${change} from layer ${layers[L - 1]?.layer} to layer ${layers[0]?.layer}: add residual connections (He et al. 2016), batch norm, or ReLU with He init`,
    );
  else if (verdict === 'exploding')
    advice.push(
      branchVariance.length > 0
        ? `gradients grow about ${change} over ${L} layers: without normalisation each block adds its branch to the stream; start the branch at zero (ReZero, Fixup) or scale it down`
        : `gradients grow about ${change} over ${L} layers: scale the initialisation down (he-normal for ReLU) or add batch norm`,
    );
  else
    advice.push(`gradients keep their scale over ${L} layers (measured change ${change}); nothing to change`);
  const heavy = branchVariance.filter((b) => b.ratio > 0.5);
  if (heavy.length > 0 && verdict !== 'healthy')
    advice.push(
      `the branch carries ${about(mean(heavy.map((b) => b.ratio)))} of the shortcut's mean square in ${heavy.length} of ${branchVariance.length} blocks at initialisation`,
    );
  report.advice = advice;
  return report;
}

/** The report of a config whose kind builds a LayeredModel (conv and residual kinds): its networks probed. */
export function layeredConfigReport(
  config: ResolvedConfig,
  task: Task,
  options: { networks: number; data: boolean; jacobian?: JacobianOptions },
): PreflightReport {
  const probes = probeConfigLayered(config, task, options, {
    network: (i) => networkRng(config, i),
    probe: (i) => probeRng(config, i),
  });
  const model = buildModel(config.model, task, networkRng(config, 0), { dtype: 'float64' });
  const facts = model.blocks.map((b) => b.facts()).find((f) => f !== null) ?? null;
  const activation = (facts?.activation ?? config.model.activation) as ActivationName;
  const spec = (config.model as { init?: InitSpec }).init;
  const report = layeredReport(config.name, config.model.kind, probes, {
    activation,
    init: spec === undefined ? 'default' : describeInit(spec, { activation }),
    norm: facts?.norm ?? 'none',
    inputs: options.data ? 'task' : 'gaussian-unit',
  });
  report.fixes = layeredFixes(report, config);
  return report;
}

/**
 * The doctor's fixes that this kind's schema accepts: batch norm and ReLU + He when vanishing; a zero branch
 * (ReZero, Fixup) for residual stacks, the variance-preserving init and batch norm when exploding.
 */
function layeredFixes(report: PreflightReport, config: ResolvedConfig): Fix[] {
  const facts = modelFacts(config);
  if (report.verdict === 'vanishing') return usefulFixes(config, [fix.batchNorm(), fix.reluHe(facts)]);
  if (report.verdict !== 'exploding') return [];
  const zeroBranch: Fix[] = report.model.residual
    ? [
        {
          change: 'model.scale "rezero"',
          patch: { model: { scale: 'rezero' } },
          why: 'a learnable branch scale starting at 0 makes every block the identity at initialisation, so the stream cannot compound (ReZero, Bachlechner et al. 2020)',
        },
        {
          change: 'model.fixup true',
          patch: { model: { fixup: true } },
          why: "Fixup zeroes each branch's last layer and rescales the others by depth, so the network starts as the identity (Zhang et al. 2019)",
        },
      ]
    : [];
  return usefulFixes(config, [...zeroBranch, fix.preservingInit(facts), fix.batchNorm()]);
}

function about(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  if (x >= 0.01 && x < 100) return String(Number(x.toPrecision(2)));
  return `1e${Math.round(Math.log10(x))}`;
}
