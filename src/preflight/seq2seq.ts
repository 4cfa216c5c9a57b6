/**
 * Preflight for sequence-to-sequence models (architecture rnn): how much of the gradient reaches each source step at
 * initialisation, with and without attention. In the plain encoder-decoder (Sutskever et al. 2014) everything the
 * decoder learns about source symbol t passes through the encoder's final state, so the gradient reaching h_t must
 * travel back S - t encoder steps, and it shrinks with the distance like any recurrent gradient (Bengio et al. 1994;
 * Pascanu et al. 2013). With attention the decoder reads every encoder state through a softmax over them (Bahdanau et
 * al. 2015, "Neural Machine Translation by Jointly Learning to Align and Translate", section 3.1; Luong et al. 2015),
 * a path one step long to every source position, so ||dL/dh_1|| stays near ||dL/dh_S||.
 *
 * The probe: a batch of the task's own sequences, teacher forcing; the loss is the cross-entropy of the answer steps
 * only (the source steps' blank targets would give each encoder state a gradient of its own, which is no path from
 * the answer); ||dL/dh_t|| of each encoder layer over the source steps t = 1..S, means over networks. The same
 * networks with attention switched (none <-> additive; the encoder and decoder weights are the same, their random
 * streams are the layers') are measured beside them, so one report shows what attention does to the path.
 *
 * @example
 * const report = preflight(resolveConfig(findPreset('seq2seq-reverse-plain')!.config, { defaultName: 'x' }));
 * report.seq2seq?.firstOverLast;         // ||dL/dh_1|| / ||dL/dh_S|| of the plain model: small
 * report.seq2seq?.twin.firstOverLast;    // the same with additive attention: near 1
 */
import { backward } from '../autograd/tape.js';
import type { ResolvedConfig, Seq2SeqModelConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import type { Fix } from '../doctor/findings.js';
import { modelFacts } from '../doctor/facts.js';
import * as fix from '../doctor/fixes.js';
import { describeInit } from '../init/index.js';
import { slopeOfLog } from '../monitor/stats.js';
import { Seq2Seq } from '../nn/seq2seq.js';
import { crossEntropy, slice } from '../ops/index.js';
import { GradscopeError } from '../util/errors.js';
import { remedy, usefulFixes } from './fixes.js';
import { probeNetwork } from './probe.js';
import type { PreflightLayer, PreflightReport, PreflightVerdict } from './index.js';

/** Sequences per probed network. */
const PROBE_BATCH = 8;

/** One model's per-source-step gradients, means over networks. */
export interface SourceGradient {
  attention: Seq2SeqModelConfig['attention'];
  /** Mean ||dL/dh_t|| of the top encoder layer, t = 1..S (source steps in time order). */
  timeGrad: number[];
  /** ||dL/dh_1|| / ||dL/dh_S||: how much of the last step's gradient reaches the first source step. */
  firstOverLast: number;
}

export interface Seq2SeqPreflight extends SourceGradient {
  /** Source steps S (the symbols and the delimiter). */
  sourceSteps: number;
  /** The same networks with attention switched (none -> additive, additive or dot -> none). */
  twin: SourceGradient;
  /** ||dL/dh_1|| of the attention model over that of the plain one (whichever of the two this config is). */
  attentionGain: number;
}

/** One network's measurement. */
interface Measured {
  /** Per encoder layer, ||dL/dh_t|| over the source steps. */
  timeGrad: Float64Array[];
  /** Per encoder layer, the mean square of its states. */
  q: Float64Array;
  signal: number;
}

/** Build network `n` of `model` and measure it on the probe batch (see the file comment). */
function measure(config: ResolvedConfig, model: Seq2SeqModelConfig, task: Task, n: number): Measured {
  const { net, batch, x } = probeNetwork(config, model, task, n, PROBE_BATCH, Seq2Seq);
  const labels = batch.labels as Int32Array;
  const B = x.shape[1] as number;
  const S = net.options.sourceLength;
  const T = net.options.steps;
  const q = new Float64Array(net.encoder.length);
  net.encoder.forEach(
    (layer, l) =>
      (layer.observer = (states) => {
        let s = 0;
        for (const v of states.data) s += v * v;
        q[l] = s / states.size;
      }),
  );
  net.setTargets(labels);
  net.setTraceTimeGrad(true);
  const logits = net.forward(x);
  let signal = 0;
  for (const v of logits.data) signal += v * v;
  backward(crossEntropy(slice(logits, 0, S * B, T * B), labels.subarray(S * B, T * B)));
  net.setTraceTimeGrad(false);
  for (const layer of net.encoder) layer.observer = null;
  return { timeGrad: net.encoder.map((layer) => Float64Array.from(layer.timeGrad)), q, signal };
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

function sourceGradient(model: Seq2SeqModelConfig, runs: readonly Measured[]): SourceGradient {
  const top = model.layers - 1;
  const timeGrad = meanOf(runs.map((r) => r.timeGrad[top] as Float64Array));
  return {
    attention: model.attention,
    timeGrad,
    firstOverLast: (timeGrad[0] as number) / (timeGrad[timeGrad.length - 1] as number),
  };
}

/** The config as its twin with attention switched: the plain model gains additive attention; an attentive one loses it. */
function twinOf(model: Seq2SeqModelConfig): Seq2SeqModelConfig {
  return { ...model, attention: model.attention === 'none' ? 'additive' : 'none' };
}

/**
 * The preflight report of a seq2seq config (architecture rnn): ||dL/dh_t|| over the source steps, beside its twin
 * with attention switched (see the file comment).
 */
export function seq2seqReport(
  config: ResolvedConfig,
  task: Task,
  networks: number,
  verdictOf: (gradRatio: number, measured: readonly number[]) => PreflightVerdict,
): PreflightReport {
  const model = config.model;
  if (model.kind !== 'seq2seq') throw new Error('seq2seqReport needs a seq2seq config.');
  if (model.architecture !== 'rnn') {
    throw new GradscopeError({
      code: 'not_applicable',
      path: 'model.architecture',
      value: model.architecture,
      accepted: '"rnn" (a recurrent encoder-decoder, with or without attention)',
      problem:
        "preflight measures the gradient reaching each recurrent encoder step; a Transformer encoder-decoder's blocks are probed by model kind transformer",
      hint: 'use architecture "rnn" for this probe, or "gradscope run" to train the transformer architecture',
    });
  }
  const runs = Array.from({ length: networks }, (_, n) => measure(config, model, task, n));
  const twinModel = twinOf(model);
  const twinRuns = Array.from({ length: networks }, (_, n) => measure(config, twinModel, task, n));
  const own = sourceGradient(model, runs);
  const twin = sourceGradient(twinModel, twinRuns);
  const plain = model.attention === 'none' ? own : twin;
  const attentive = model.attention === 'none' ? twin : own;
  const attentionGain = (attentive.timeGrad[0] as number) / (plain.timeGrad[0] as number);
  const S = own.timeGrad.length;
  const q = meanOf(runs.map((r) => r.q));
  const timeGradByLayer = Array.from({ length: model.layers }, (_, l) =>
    meanOf(runs.map((r) => r.timeGrad[l] as Float64Array)),
  );
  const layers: PreflightLayer[] = q.map((value, l) => ({
    // Encoder layers are layers 1..L of the run log (layer 0 is the source embedding).
    layer: l + 1,
    q: value,
    gradNorm2: (timeGradByLayer[l] as number[]).reduce((s, g) => s + g * g, 0),
    width: model.hidden,
    qTheory: null,
    gradNorm2Theory: null,
  }));
  const gradRatio = own.firstOverLast ** 2;
  const verdict = verdictOf(gradRatio, [...q, ...own.timeGrad, ...twin.timeGrad]);
  const fixes = seq2seqFixes(config, model, verdict);
  const report: PreflightReport = {
    networks,
    layers,
    spread: {
      varLogGrad: variance(runs.map((r) => Math.log(r.timeGrad[model.layers - 1]?.[0] as number))),
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
    timeGrad: own.timeGrad,
    verdict,
    advice: [],
    fixes,
    name: config.name,
    model: {
      kind: 'seq2seq',
      widths: q.map(() => model.hidden),
      activation: 'tanh',
      init: `${describeInit(model.init, { activation: 'tanh' })}; recurrent ${describeInit(model.recurrentInit, { activation: 'tanh' })}`,
      norm: 'none',
      residual: false,
    },
    inputs: 'task',
    gradRatio,
    fit: { perLayerFactor: null, perStepFactor: S >= 2 ? Math.exp(-slopeOfLog(own.timeGrad)) : null },
    beta: model.layers / model.hidden,
    theoryNote:
      'no exact mean-field theory covers an encoder-decoder; measured ||dL/dh_t|| over the source steps, beside the twin with attention switched',
    recurrent: { steps: S, timeGradByLayer, bounds: timeGradByLayer.map(() => null), bptt: 0 },
    seq2seq: { ...own, sourceSteps: S, twin, attentionGain },
  };
  report.advice = seq2seqAdvice(report, model);
  return report;
}

/**
 * The fixes of an unhealthy source gradient: the plain model gets attention first (Bahdanau et al. 2015), then a
 * gated cell for a vanilla one; an attentive model whose gradient still vanishes gets the gated cells.
 */
function seq2seqFixes(config: ResolvedConfig, model: Seq2SeqModelConfig, verdict: PreflightVerdict): Fix[] {
  if (verdict === 'healthy') return [];
  if (verdict === 'exploding') return usefulFixes(config, [fix.clipNorm(modelFacts(config))]);
  return usefulFixes(config, [
    model.attention === 'none' ? fix.attention() : null,
    model.cell === 'rnn' ? fix.seq2seqCell('gru') : null,
    model.cell === 'rnn' ? fix.seq2seqCell('lstm') : null,
  ]);
}

function seq2seqAdvice(report: PreflightReport, model: Seq2SeqModelConfig): string[] {
  const s = report.seq2seq as Seq2SeqPreflight;
  const S = s.sourceSteps;
  const name = (a: Seq2SeqModelConfig['attention']): string =>
    a === 'none' ? 'without attention' : `with ${a} attention`;
  const advice: string[] = [report.theoryNote as string];
  const reach = `||dL/dh_1|| / ||dL/dh_${S}|| = ${fmt(s.firstOverLast)} over the ${S} source steps`;
  if (report.verdict === 'vanishing') {
    advice.push(
      `${name(model.attention)}, the gradient reaching the first source step is small: ${reach}; ${remedy(report.fixes, 'shorter sequences')}`,
    );
  } else if (report.verdict === 'exploding') {
    advice.push(`the gradient grows back through the source: ${reach}; ${remedy(report.fixes)}`);
  } else {
    advice.push(`${name(model.attention)}: ${reach}; it keeps its scale`);
  }
  advice.push(
    `${name(s.twin.attention)} (the same networks): ${fmt(s.twin.firstOverLast)}; attention gives source step 1 ` +
      `${fmt(s.attentionGain)} times the gradient of the plain encoder-decoder, a path one step long to every source ` +
      `state instead of ${S} encoder steps through the final state (Bahdanau et al. 2015)`,
  );
  if (model.attention === 'none' && report.verdict === 'healthy' && s.attentionGain > 2) {
    advice.push(
      'the plain model still hands the decoder one fixed-size vector: as the source grows it fails where attention succeeds (seq2seq-reverse-plain against seq2seq-reverse-attention); consider model.attention "additive"',
    );
  }
  return advice;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : String(x);
}
