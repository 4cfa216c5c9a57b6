/**
 * Synthetic runs with known shapes, for the report tests (and for looking at the pages without training):
 * an MLP whose gradient shrinks 10x per layer toward the input, or a recurrent net whose gradient shrinks back
 * through time, optionally with NaN / Infinity values and skipped steps.
 */
import type { Finding, Verdict } from '../doctor/findings.js';
import type { ResolvedConfig } from '../config/types.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import type { RunData } from './data.js';

export interface SampleRunOptions {
  name?: string;
  /** Hidden layers (MLP); the output layer comes on top. */
  hidden?: number;
  /** Logged steps. */
  logged?: number;
  /** Log period in steps. */
  every?: number;
  recurrent?: boolean;
  /** Time steps of a recurrent run. */
  length?: number;
  /** Put NaN / Infinity into the records and skip some steps. */
  nonFinite?: boolean;
  evalLoss?: number;
  /** A verdict word, possibly one this version does not know (old or foreign logs). */
  verdict?: string;
  findings?: unknown[];
}

/**
 * A run whose records are generated, not trained.
 *
 * @example renderRunReport(sampleRun({ hidden: 4, nonFinite: true }))
 */
export function sampleRun(options: SampleRunOptions = {}): RunData {
  const name = options.name ?? (options.recurrent ? 'sample-rnn' : 'sample-mlp');
  const hidden = options.hidden ?? 4;
  const logged = options.logged ?? 12;
  const every = options.every ?? 10;
  const length = options.length ?? 20;
  const recurrent = options.recurrent ?? false;
  const layers = recurrent ? 2 : hidden + 1;
  const config: ResolvedConfig = {
    name,
    seed: 0,
    task: recurrent ? { name: 'adding', length } : { name: 'spirals', size: 2000 },
    model: recurrent
      ? {
          kind: 'rnn',
          hidden: 16,
          layers: 1,
          activation: 'tanh',
          init: 'xavier-uniform',
          recurrentInit: 'orthogonal',
          bias: 0,
          forgetBias: 0,
        }
      : {
          kind: 'mlp',
          hidden: Array.from({ length: hidden }, () => 32),
          activation: 'sigmoid',
          init: 'xavier-uniform',
          bias: 0,
          norm: 'none',
          residual: false,
          dropout: 0,
        },
    optimizer: { name: 'sgd', learningRate: 0.1 },
    schedule: { name: 'constant' },
    clip: recurrent ? { name: 'norm', max: 1 } : { name: 'none' },
    guard: 'skip',
    train: { steps: (logged - 1) * every, batchSize: 32, bptt: 0, checkpointEvery: 0, guardPatience: 10 },
    monitor: { every, timesteps: true, histograms: false },
  };
  const records: MetricsRecord[] = [];
  for (let i = 0; i < logged; i++) {
    const step = i === 0 ? 1 : i * every;
    const broken = options.nonFinite === true && i >= Math.floor(logged / 2) && i % 3 === 0;
    const params = [];
    const activations = [];
    for (let l = 0; l < layers; l++) {
      // 10x smaller per layer toward the input, drifting a little over training.
      const g = 10 ** (-(layers - 1 - l) - 0.02 * i);
      params.push(
        {
          name: `layers.${l}.weight`,
          layer: l,
          gradNorm: broken && l === layers - 1 ? NaN : g,
          weightNorm: 4,
          updateRatio: (0.1 * g) / 4,
          maxAbsGrad: g / 4,
          nonFinite: broken ? 3 : 0,
        },
        {
          name: `layers.${l}.bias`,
          layer: l,
          gradNorm: g / 2,
          weightNorm: 0.1,
          updateRatio: broken ? NaN : (0.05 * g) / 0.1,
          maxAbsGrad: g / 4,
          nonFinite: 0,
        },
      );
      activations.push({
        name: `layers.${l}`,
        layer: l,
        mean: 0.5,
        std: 0.2,
        saturated: Math.min(1, 0.05 * l + 0.01 * i),
        dead: 0,
      });
    }
    const gradNorm = broken
      ? Infinity
      : Math.sqrt(params.reduce((s, p) => s + (Number.isFinite(p.gradNorm) ? p.gradNorm ** 2 : 0), 0));
    const record: MetricsRecord = {
      step,
      loss: broken ? NaN : 0.7 * Math.exp(-0.05 * i) + 0.01,
      lr: 0.1,
      gradNorm,
      gradNormClipped: recurrent ? Math.min(1, gradNorm) : gradNorm,
      clipped: recurrent && gradNorm > 1,
      skipped: broken,
      params,
      activations,
      findings: [],
      ...(broken ? { nonFiniteSource: 'the loss is NaN' } : {}),
    };
    if (recurrent) {
      // ||dL/dh_t|| decays back from t = T, faster as training goes on.
      record.timeGrad = Array.from({ length }, (_, t) => 10 ** (-(length - 1 - t) * (0.1 + 0.02 * i)));
    }
    records.push(record);
  }
  const firstBroken = records.find((r) => r.skipped);
  const finite = records.map((r) => r.loss).filter((x) => Number.isFinite(x));
  const summary: Summary = {
    name,
    steps: config.train.steps,
    wallSeconds: 2.5,
    stepsPerSecond: config.train.steps / 2.5,
    finalLoss: records[records.length - 1]?.loss ?? NaN,
    bestLoss: finite.length ? Math.min(...finite) : NaN,
    eval: recurrent ? { loss: options.evalLoss ?? 0.1 } : { loss: options.evalLoss ?? 0.4, accuracy: 0.8 },
    baseline: recurrent
      ? { loss: 1 / 6, description: 'always answering 1' }
      : { loss: Math.LN2, accuracy: 0.5, description: 'uniform predictions over 2 classes' },
    skippedSteps: records.filter((r) => r.skipped).length,
    clippedSteps: records.filter((r) => r.clipped).length,
    rolledBackSteps: 0,
    stoppedEarly: false,
    firstNonFinite: firstBroken
      ? { step: firstBroken.step, source: firstBroken.nonFiniteSource ?? 'the loss' }
      : null,
    ...(options.verdict !== undefined ? { verdict: options.verdict as Verdict } : {}),
    // Samples may carry partial or malformed findings on purpose: the report reads logs of any age tolerantly.
    findings: (options.findings ?? []) as Finding[],
  };
  return { config, records, summary };
}
