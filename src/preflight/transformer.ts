/**
 * Preflight for Transformers: the per-block gradients of a freshly initialised stack, Post-LN or Pre-LN, without
 * training. No mean-field theory of the q-map kind covers a Transformer; what is known is the scale of the last
 * block's feed-forward gradient at initialisation (Xiong et al. 2020, "On Layer Normalization in the Transformer
 * Architecture"): for Post-LN, ||dL/dW^{2,L}||_F = O(d sqrt(ln d)), the same at every depth (Theorem 1); for Pre-LN,
 * O(d sqrt(ln d / L)), shrinking as 1 / sqrt(L) (Theorem 2), because the final LayerNorm divides by the residual
 * stream's norm, which grows as sqrt(L). So Post-LN's output-side updates are large from the first step, and
 * Adam at a fixed learning rate needs a warm-up there; Pre-LN's are not.
 *
 * The probe (the preflight contract's, on the residual stream): a batch of the task's own sequences; loss
 * L = v . y with v a random unit vector and y the stack's output (after the final LayerNorm for Pre-LN, the last
 * block's normalised output for Post-LN); per block l, q_l = the mean square of its output x_l and
 * gradNorm2 = ||dL/dx_l||^2, plus ||dL/dW^{2,l}||_F of its second feed-forward weight, the quantity of the theorems.
 * `depthScan` repeats the last of these at other depths with everything else fixed.
 *
 * @example
 * const report = preflight(resolveConfig(findPreset('post-ln-6')!.config, { defaultName: 'post-ln-6' }));
 * report.transformer?.depthScan; // [{ layers: 3, lastWeightGrad: ... }, { layers: 6, ... }, { layers: 12, ... }]
 */
import { backward } from '../autograd/tape.js';
import type { ResolvedConfig, TransformerModelConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import { describeInit } from '../init/index.js';
import { slopeOfLog } from '../monitor/stats.js';
import { mul, reshape, sum } from '../ops/index.js';
import { Transformer } from '../nn/transformer.js';
import { Tensor } from '../tensor/tensor.js';
import { modelFacts } from '../doctor/facts.js';
import * as fix from '../doctor/fixes.js';
import { remedy, usefulFixes } from './fixes.js';
import { probeNetwork } from './probe.js';
import type { PreflightLayer, PreflightReport, PreflightVerdict } from './index.js';

/** Sequences per probed network: the gradient scales compared here are per-example averages already. */
const PROBE_BATCH = 4;

export interface TransformerPreflight {
  norm: 'pre' | 'post';
  /** Mean over networks of ||dL/dW^{2,l}||_F per block, input side first. */
  weightGrad: number[];
  /** The last block's ||dL/dW^{2,L}||_F at other depths, everything else the same (means over networks). */
  depthScan: Array<{ layers: number; lastWeightGrad: number }>;
  /** What Xiong et al. 2020 predict for this norm placement as the depth grows. */
  expectation: string;
}

/** One network's measurement. */
interface Measured {
  q: Float64Array;
  gradNorm2: Float64Array;
  weightGrad: Float64Array;
  signal: number;
}

/** Build one network of `model` at `seed` and measure it on the probe batch (see the file comment). */
function measure(config: ResolvedConfig, model: TransformerModelConfig, task: Task, seed: number): Measured {
  const { net, x, rng } = probeNetwork(config, model, task, seed, PROBE_BATCH, Transformer);
  const L = net.layers.length;
  const q = new Float64Array(L);
  const gradNorm2 = new Float64Array(L);
  let h = net.input.forward(x);
  net.layers.forEach((block, l) => {
    h = block.forward(h);
    let s = 0;
    for (const v of h.data) s += v * v;
    q[l] = s / h.size;
    h.onGrad((g) => {
      let n = 0;
      for (const v of g) n += v * v;
      gradNorm2[l] = n;
    });
  });
  const [B, T, D] = h.shape as [number, number, number];
  const finalNorm = net.head.finalNorm;
  const y = finalNorm ? finalNorm.forward(reshape(h, [B * T, D])) : h;
  let signal = 0;
  for (const v of y.data) signal += v * v;
  const direction = Tensor.zeros(y.shape, 'float64');
  rng.fork('direction').fillNormal(direction.data, 0, 1);
  let norm = 0;
  for (const v of direction.data) norm += v * v;
  direction.data.forEach((v, i, a) => (a[i] = v / Math.sqrt(norm)));
  net.zeroGrad();
  backward(sum(mul(y, direction)));
  const weightGrad = Float64Array.from(net.layers, (block) => {
    const down = block.feedForward.namedParameters().find((p) => p.name === '1.weight');
    let n = 0;
    for (const v of down?.tensor.grad ?? []) n += v * v;
    return Math.sqrt(n);
  });
  return { q, gradNorm2, weightGrad, signal };
}

function meanOf(rows: readonly Float64Array[]): number[] {
  const first = rows[0];
  if (!first) return [];
  return Array.from(first, (_, i) => rows.reduce((s, r) => s + (r[i] as number), 0) / rows.length);
}

function variance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  return values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1);
}

/**
 * The last block's ||dL/dW^{2,L}||_F, mean over `networks`, at each depth in `depths` (the config otherwise fixed).
 * @example lastLayerGradientByDepth(config, task, [3, 6, 12], 4) // Post-LN: about equal; Pre-LN: falling
 */
export function lastLayerGradientByDepth(
  config: ResolvedConfig,
  task: Task,
  depths: readonly number[],
  networks: number,
): Array<{ layers: number; lastWeightGrad: number }> {
  const model = config.model;
  if (model.kind !== 'transformer') throw new Error('lastLayerGradientByDepth needs a transformer config.');
  return depths.map((layers) => {
    let total = 0;
    for (let n = 0; n < networks; n++) {
      const { weightGrad } = measure(config, { ...model, layers }, task, n);
      total += weightGrad[layers - 1] as number;
    }
    return { layers, lastWeightGrad: total / networks };
  });
}

/** The preflight report of a transformer config: measured per block, no mean-field theory (see the file comment). */
export function transformerReport(
  config: ResolvedConfig,
  task: Task,
  networks: number,
  verdictOf: (gradRatio: number, measured: readonly number[]) => PreflightVerdict,
): PreflightReport {
  const model = config.model;
  if (model.kind !== 'transformer') throw new Error('transformerReport needs a transformer config.');
  const runs = Array.from({ length: networks }, (_, n) => measure(config, model, task, n));
  const q = meanOf(runs.map((r) => r.q));
  const gradNorm2 = meanOf(runs.map((r) => r.gradNorm2));
  const weightGrad = meanOf(runs.map((r) => r.weightGrad));
  const L = model.layers;
  // Blocks are layers 1..L of the run log (layer 0 is the embedding).
  const layers: PreflightLayer[] = q.map((value, l) => ({
    layer: l + 1,
    q: value,
    gradNorm2: gradNorm2[l] as number,
    width: model.dModel,
    qTheory: null,
    gradNorm2Theory: null,
  }));
  const gradRatio = (gradNorm2[0] as number) / (gradNorm2[L - 1] as number);
  const depths = [...new Set([Math.max(1, Math.floor(L / 2)), L, 2 * L])];
  const depthScan = lastLayerGradientByDepth(config, task, depths, Math.min(networks, 4));
  const post = model.norm === 'post';
  const expectation = post
    ? "Post-LN: the last block's gradient stays the same as the stack deepens (Xiong et al. 2020, Theorem 1)"
    : "Pre-LN: the last block's gradient shrinks as 1/sqrt(layers) (Xiong et al. 2020, Theorem 2)";
  const scan = depthScan.map((d) => `${d.layers} layers ${fmt(d.lastWeightGrad)}`).join(', ');
  // Post-LN's large output-side gradients call for Pre-LN or a warm-up (Xiong et al. 2020); Pre-LN needs neither.
  const facts = modelFacts(config);
  const fixes = post ? usefulFixes(config, [fix.preLayerNorm(), fix.warmup(facts)]) : [];
  const advice = [
    `${expectation}; measured ||dL/dW2|| of the last block: ${scan}.`,
    post
      ? `Post-LN puts the largest gradients next to the output from the first step, so Adam at a fixed learning rate takes large steps there; Pre-LN or a learning-rate warm-up avoids them: ${remedy(fixes)}.`
      : 'Pre-LN keeps the output-side gradients small at initialisation, so it trains without a learning-rate warm-up.',
  ];
  return {
    networks,
    layers,
    spread: {
      varLogGrad: variance(runs.map((r) => Math.log(r.gradNorm2[0] as number))),
      varLogSignal: variance(runs.map((r) => Math.log(r.signal))),
    },
    jacobian: {
      meanSquaredSingular: NaN,
      varianceSquaredSingular: NaN,
      maxSingular: NaN,
      method: 'none',
      singularValues: 0,
    },
    theory: null,
    timeGrad: [],
    verdict: verdictOf(gradRatio, [...q, ...gradNorm2]),
    advice,
    fixes,
    name: config.name,
    model: {
      kind: 'transformer',
      widths: layers.map(() => model.dModel),
      activation: model.activation,
      init: describeInit(model.init, { activation: model.activation }),
      norm: `${model.norm}-LN layer`,
      residual: true,
    },
    inputs: 'task',
    gradRatio,
    fit: { perLayerFactor: L >= 2 ? Math.exp(-slopeOfLog(gradNorm2)) : null, perStepFactor: null },
    beta: L / model.dModel,
    theoryNote:
      "no mean-field theory covers attention blocks; Xiong et al. 2020 bound the last block's gradient by depth (see the advice)",
    recurrent: null,
    transformer: { norm: model.norm, weightGrad, depthScan, expectation },
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}
