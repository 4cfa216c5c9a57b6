/**
 * The root cause: which signal went wrong first. The rules say what is wrong at the end of a run (vanishing,
 * saturated, dead units); this module reads the run's timeline, the first logged step at which each signal crossed
 * its threshold, and names the earliest event that explains the later ones as the cause. The classic case: a
 * learning rate that is too high leaves the gradients healthy at step 1, then the loss rises and the weights grow,
 * then units saturate or die and only then does the gradient vanish. Following the symptom's fix (ReLU + He) does
 * nothing there; lowering the learning rate cures it. AUTOTRAINER (Zhang et al. 2021) and DeepDiagnosis (Wardat et
 * al. 2022) order their checks the same way, symptoms after the conditions that produce them. docs/DOCTOR.md.
 */
import type { MetricsRecord } from '../io/runlog.js';
import type { ModelFacts } from './facts.js';
import type { CauseKind, Finding, FindingCode, Fix, TimelineEvent } from './findings.js';
import * as fix from './fixes.js';
import { THRESHOLDS, initFarOff, unscaledResidual, type DoctorContext, type RuleFinding } from './rules.js';
import {
  firstLastRatio,
  hiddenActivations,
  layerGrads,
  maxUpdateRatio,
  median,
  num,
  pct,
  recordNonFinite,
  timeRatio,
} from './stats.js';

/** Thresholds of the timeline's own signals (the rest are the rules' THRESHOLDS). */
export const TIMELINE_THRESHOLDS = {
  /** Loss this many times its value over the first logged steps: rising (calibrated on the clinic, docs/DOCTOR.md). */
  lossRise: 1.5,
  /** Sum of the weight matrices' norms this many times its initial value: growing (calibrated on the clinic). */
  weightGrowth: 3,
  /** A layer's update/weight ratio above this at one logged step: huge updates (healthy presets stay <= 0.06). */
  updateRatioHuge: 0.1,
} as const;

function weightNorm(record: MetricsRecord): number {
  let sum = 0;
  for (const l of layerGrads(record)) sum += l.weightNorm;
  return sum;
}

function worstUnits(record: MetricsRecord, field: 'saturated' | 'dead'): number {
  let worst = 0;
  for (const a of hiddenActivations(record)) if (a[field] > worst) worst = a[field];
  return worst;
}

/**
 * Every watched signal's first crossing, earliest first. Each is judged per logged record, so the step is the
 * first logged step at or after which it happened (the log period bounds the error).
 */
export function timelineOf(records: readonly MetricsRecord[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  if (records.length === 0) return events;
  const seen = new Set<string>();
  const emit = (event: TimelineEvent): void => {
    if (seen.has(event.signal)) return;
    seen.add(event.signal);
    events.push(event);
  };
  const finiteRecords = records.filter((r) => !recordNonFinite(r));
  const start = finiteRecords.slice(0, 3);
  // The loss at the first logged step: later ones are compared with it (the first three would hide a rise by step 10).
  const initialLoss = start[0]?.loss ?? NaN;
  const initialWeights = start[0] ? weightNorm(start[0]) : NaN;
  const initialGrad = median(start.map((r) => r.gradNorm));
  const recent: number[] = [];
  for (const r of records) {
    if (recordNonFinite(r)) {
      emit({ step: r.step, signal: 'non-finite', value: NaN, text: `non-finite values at step ${r.step}` });
      continue;
    }
    // One batch's loss is noisy: the median of the last three logged losses is what must rise.
    recent.push(r.loss);
    if (recent.length > 3) recent.shift();
    const loss = median(recent);
    if (loss > TIMELINE_THRESHOLDS.lossRise * initialLoss && r !== start[0])
      emit({
        step: r.step,
        signal: 'loss-rising',
        value: loss,
        text: `the loss rose to ${num(loss)} (from ${num(initialLoss)}) by step ${r.step}`,
      });
    const w = weightNorm(r);
    if (w > TIMELINE_THRESHOLDS.weightGrowth * initialWeights)
      emit({
        step: r.step,
        signal: 'weight-growth',
        value: w / initialWeights,
        text: `weight norms grew ${num(w / initialWeights)}x by step ${r.step}`,
      });
    const update = maxUpdateRatio(r);
    if (update > TIMELINE_THRESHOLDS.updateRatioHuge)
      emit({
        step: r.step,
        signal: 'huge-updates',
        value: update,
        text: `at step ${r.step} a layer moved by ${num(update)} of its norm in one step`,
      });
    if (update < THRESHOLDS.updateRatioTiny)
      emit({
        step: r.step,
        signal: 'tiny-updates',
        value: update,
        text: `at step ${r.step} no layer moved by more than ${num(update)} of its norm`,
      });
    const layers = layerGrads(r);
    const ratio = layers.length >= 3 ? firstLastRatio(r) : NaN;
    if (ratio < THRESHOLDS.vanishingRatio)
      emit({
        step: r.step,
        signal: 'gradient-vanishing',
        value: ratio,
        text: `the first layer's gradient fell to ${num(ratio)} of the last layer's at step ${r.step}`,
      });
    if (
      ratio > THRESHOLDS.explodingRatio ||
      r.gradNorm > THRESHOLDS.explodingNorm ||
      (!start.includes(r) && r.gradNorm > THRESHOLDS.gradientGrowth * initialGrad)
    )
      emit({
        step: r.step,
        signal: 'gradient-exploding',
        value: r.gradNorm,
        text: `the gradient norm reached ${num(r.gradNorm)} at step ${r.step}`,
      });
    const saturated = worstUnits(r, 'saturated');
    if (saturated > THRESHOLDS.unitFraction)
      emit({
        step: r.step,
        signal: 'saturated',
        value: saturated,
        text: `${pct(saturated)} of a layer's units saturated at step ${r.step}`,
      });
    const dead = worstUnits(r, 'dead');
    if (dead > THRESHOLDS.deadFractionWarning)
      emit({
        step: r.step,
        signal: 'dead-units',
        value: dead,
        text: `${pct(dead)} of a layer's units dead at step ${r.step}`,
      });
    const time = timeRatio(r);
    if (time < THRESHOLDS.timeVanishing)
      emit({
        step: r.step,
        signal: 'time-vanishing',
        value: time,
        text: `the first time step received ${num(time)} of the last one's gradient at step ${r.step}`,
      });
    if (time > THRESHOLDS.timeExploding)
      emit({
        step: r.step,
        signal: 'time-exploding',
        value: time,
        text: `the first time step received ${num(time)}x the last one's gradient at step ${r.step}`,
      });
  }
  return events.sort((a, b) => a.step - b.step);
}

/** The cause kind each code stands for when the timeline shows nothing earlier; keyed by code, so none is missed. */
const DEFAULT_CAUSE: { [C in FindingCode]: (facts: ModelFacts) => CauseKind } = {
  vanishing_gradient: (f) =>
    f.recurrent
      ? 'recurrence'
      : initRatio(f) < 0.8 || negativeBias(f)
        ? 'initialisation'
        : f.family === 'saturating'
          ? 'activation'
          : 'depth',
  exploding_gradient: (f) =>
    f.recurrent
      ? 'recurrence'
      : initRatio(f) > 1.5
        ? 'initialisation'
        : f.residual && f.norm === 'none'
          ? 'normalisation'
          : 'learning-rate',
  vanishing_through_time: () => 'recurrence',
  exploding_through_time: () => 'recurrence',
  non_finite: (f) => (f.recurrent ? 'recurrence' : initRatio(f) > 1.5 ? 'initialisation' : 'learning-rate'),
  guard_stuck: (f) => (f.recurrent ? 'recurrence' : initRatio(f) > 1.5 ? 'initialisation' : 'learning-rate'),
  poor_initialization: (f) => (f.residual && f.norm === 'none' ? 'normalisation' : 'initialisation'),
  loss_divergence: () => 'learning-rate',
  tiny_updates: (f) => (initRatio(f) < 0.8 ? 'initialisation' : 'learning-rate'),
  huge_updates: (f) => (initRatio(f) > 1.5 ? 'initialisation' : 'learning-rate'),
  saturated_activation: (f) => (initRatio(f) > 1.5 ? 'initialisation' : 'activation'),
  dead_units: (f) => (initRatio(f) < 0.8 || negativeBias(f) ? 'initialisation' : 'activation'),
  clipping_always_on: () => 'optimizer',
  clipping_inactive: () => 'optimizer',
  rank_collapse: () => 'learning-rate',
  attention_entropy_collapse: () => 'learning-rate',
  not_learning: () => 'learning-rate',
};

/** Biases initialised below 0: rectifiers start switched off. */
export function negativeBias(f: ModelFacts): boolean {
  const bias = f.config?.model.kind === 'mlp' ? f.config.model.bias : undefined;
  return typeof bias === 'number' && bias < 0;
}

/** sigma_w^2 over the variance-preserving value (1 when unknown). */
function initRatio(f: ModelFacts): number {
  return f.sigmaW2 !== null && f.preservingSigmaW2 !== null ? f.sigmaW2 / f.preservingSigmaW2 : 1;
}

/** Signals that a too-large step produces. */
const INSTABILITY = new Set<string>([
  'loss-rising',
  'weight-growth',
  'huge-updates',
  'gradient-exploding',
  'non-finite',
]);
/** Signals that are symptoms a too-large step can leave behind. */
const SYMPTOMS = new Set<string>([
  'gradient-vanishing',
  'saturated',
  'dead-units',
  'tiny-updates',
  'time-vanishing',
]);
/** Codes that an unstable step size explains. */
const LEARNING_RATE_EXPLAINS = new Set<FindingCode>([
  'vanishing_gradient',
  'exploding_gradient',
  'non_finite',
  'loss_divergence',
  'huge_updates',
  'saturated_activation',
  'dead_units',
  'tiny_updates',
  'not_learning',
]);
/** Among codes a learning-rate cause explains, these name it directly and lead the list. */
const LEARNING_RATE_FIRST: readonly FindingCode[] = [
  'loss_divergence',
  'huge_updates',
  'exploding_gradient',
  'non_finite',
];

/**
 * The state at initialisation was healthy: no symptom at the first logged step and a sane gradient ratio, and a
 * configured init near variance-preserving (one far off is a cause before any step is taken, whatever the
 * thresholds saw at step 1).
 */
function healthyAtStart(
  timeline: readonly TimelineEvent[],
  first: MetricsRecord | undefined,
  facts: ModelFacts,
): boolean {
  if (!first || initFarOff(facts)) return false;
  // The update made at the first step is a consequence of the learning rate, not of the state at initialisation.
  return !timeline.some((e) => e.step <= first.step && e.signal !== 'huge-updates');
}

/** The timeline signal each code is first seen by (null: judged on the whole run, never earliest). */
const SIGNAL_OF: { [C in FindingCode]: TimelineEvent['signal'] | 'initial' | null } = {
  poor_initialization: 'initial',
  exploding_gradient: 'gradient-exploding',
  exploding_through_time: 'time-exploding',
  huge_updates: 'huge-updates',
  loss_divergence: 'loss-rising',
  dead_units: 'dead-units',
  saturated_activation: 'saturated',
  vanishing_gradient: 'gradient-vanishing',
  vanishing_through_time: 'time-vanishing',
  tiny_updates: 'tiny-updates',
  non_finite: 'non-finite',
  guard_stuck: 'non-finite',
  // Judged on the window, and before not_learning at a tie: they name why the loss stays flat.
  rank_collapse: null,
  attention_entropy_collapse: null,
  not_learning: null,
  clipping_always_on: null,
  clipping_inactive: null,
};
/** At the same logged step, conditions before the symptoms they produce (the order of SIGNAL_OF). */
const TIE_ORDER = Object.keys(SIGNAL_OF) as FindingCode[];

/**
 * Warning and critical findings ordered by when their signal first crossed its threshold, earliest first (the
 * state at initialisation before everything); at the same logged step, conditions before the symptoms they produce
 * (dead or saturated units before the vanishing gradient they cause). Info findings keep their place at the end.
 */
function byFirstEvent(
  findings: readonly Finding[],
  timeline: readonly TimelineEvent[],
  firstStep: number,
): Finding[] {
  const stepOf = (f: Finding): number => {
    const signal = SIGNAL_OF[f.code];
    if (signal === 'initial') return firstStep - 1;
    if (signal === null) return Infinity;
    return timeline.find((e) => e.signal === signal)?.step ?? Infinity;
  };
  const rank = (f: Finding): number => (f.severity === 'info' ? 1 : 0);
  return [...findings].sort(
    (a, b) =>
      rank(a) - rank(b) || stepOf(a) - stepOf(b) || TIE_ORDER.indexOf(a.code) - TIE_ORDER.indexOf(b.code),
  );
}

export interface RootCause {
  kind: CauseKind;
  /** The narrative: the earliest event, its consequences, the cause. */
  story: string;
}

/**
 * The learning rate as the root cause: the run started healthy and became unstable (loss rising, weights growing,
 * huge updates, exploding gradients) no later than the first symptom. Null when the timeline shows no such order.
 */
export function learningRateCause(ctx: DoctorContext, timeline: readonly TimelineEvent[]): RootCause | null {
  if (ctx.facts.recurrent) return null;
  if (!healthyAtStart(timeline, ctx.records[0], ctx.facts)) return null;
  const unstable = timeline.find((e) => INSTABILITY.has(e.signal));
  if (!unstable) return null;
  const symptom = timeline.find((e) => SYMPTOMS.has(e.signal));
  if (symptom && symptom.step < unstable.step) return null;
  const first = ctx.records[0] as MetricsRecord;
  const ratio = firstLastRatio(first);
  const start = `gradients were healthy at step ${first.step}${Number.isFinite(ratio) ? ` (first/last layer ratio ${num(ratio)})` : ''}`;
  const instability = timeline
    .filter((e) => INSTABILITY.has(e.signal))
    .slice(0, 2)
    .map((e) => e.text);
  const symptoms = timeline
    .filter((e) => SYMPTOMS.has(e.signal))
    .slice(0, 2)
    .map((e) => e.text);
  const lr = ctx.facts.learningRate;
  const story =
    `${start}; ${instability.join(' and ')}${symptoms.length > 0 ? `; then ${symptoms.join(' and ')}` : ''}: ` +
    `the learning rate${lr !== null ? ` (${num(lr)})` : ''} is the cause, the rest are its consequences.`;
  return { kind: 'learning-rate', story };
}

/** What raw inputs on very different scales, or far from zero mean, drive in the first layers. */
const DATA_EXPLAINS = new Set<FindingCode>([
  'exploding_gradient',
  'non_finite',
  'loss_divergence',
  'huge_updates',
  'saturated_activation',
  'dead_units',
  'poor_initialization',
  'not_learning',
]);

/**
 * The data as the root cause: a table of the user's own (task csv) read without standardising. Features on very
 * different scales or far from zero mean put the first layer's pre-activations on the widest feature's scale, so it
 * saturates, dies or explodes whatever the initialisation (LeCun et al. 1998, "Efficient BackProp" §4.3). Null for
 * other tasks and for standardised inputs.
 */
export function dataCause(ctx: DoctorContext, raw: readonly RuleFinding[]): RootCause | null {
  const task = ctx.facts.config?.task;
  if (task?.name !== 'csv' || task.standardize === true) return null;
  // The first layer is where raw inputs act: a finding about other layers only is not theirs.
  const firstLayer = (f: RuleFinding): boolean => {
    const layers = (f.where as { layers?: readonly number[] } | undefined)?.layers;
    return layers === undefined || layers.length === 0 || layers.includes(0);
  };
  if (!raw.some((f) => DATA_EXPLAINS.has(f.code) && f.severity !== 'info' && firstLayer(f))) return null;
  const story =
    `the inputs are the raw columns of ${task.path ?? 'the CSV file'} (task.standardize is false): features on very ` +
    "different scales or far from zero mean put the first layer's pre-activations on the widest feature's scale; " +
    'the data is the cause, the rest are its consequences.';
  return { kind: 'data', story };
}

/** What an unnormalised residual stream that grows at initialisation drives: the overflow and its symptoms. */
const STREAM_EXPLAINS = new Set<FindingCode>([
  'exploding_gradient',
  'non_finite',
  'guard_stuck',
  'loss_divergence',
  'huge_updates',
  'poor_initialization',
  'dead_units',
  'not_learning',
]);
/**
 * How far beyond linear growth a residual stream may grow over its blocks at initialisation. With a norm in each
 * branch every block adds about one unit of variance, so the stream's mean square grows about blocks + 1 times;
 * without one each x + F(x) adds the branch's variance to the stream's, which doubles it per block under a
 * variance-preserving init (Yang & Schoenholz 2017; Zhang et al. 2019).
 */
const STREAM_GROWTH_BEYOND_LINEAR = 4;

/**
 * A missing normalisation as the root cause: a residual net without norm, Fixup or a zero-started branch scale
 * whose stream, at the first logged step, grows far beyond linearly over its blocks (the monitor's branch/shortcut
 * records). Null otherwise, and for models the monitor records no blocks of.
 */
export function residualStreamCause(ctx: DoctorContext): RootCause | null {
  if (!unscaledResidual(ctx.facts)) return null;
  const blocks = (ctx.records[0]?.residual ?? []).filter(
    (b) => Number.isFinite(b.shortcut) && b.shortcut > 0,
  );
  const first = blocks[0];
  const last = blocks[blocks.length - 1];
  if (!first || !last || blocks.length < 3) return null;
  const growth = last.shortcut / first.shortcut;
  if (!(growth > STREAM_GROWTH_BEYOND_LINEAR * (blocks.length + 1))) return null;
  const story =
    `at step ${ctx.records[0]?.step} the residual stream's mean square grows from ${num(first.shortcut)} at block ${first.layer} ` +
    `to ${num(last.shortcut)} at block ${last.layer} (x${num(growth)} over ${blocks.length} blocks, where a normalised stream grows about ${blocks.length + 1} times): ` +
    'each unnormalised x + F(x) adds its branch to the stream, so the signal and the gradient grow block after block (Zhang et al. 2019); ' +
    'the missing normalisation is the cause, the rest are its consequences.';
  return { kind: 'normalisation', story };
}

function withFirst(fixes: readonly Fix[], first: Fix): Fix[] {
  const same = (f: Fix): boolean =>
    f.change === first.change || JSON.stringify(f.patch) === JSON.stringify(first.patch);
  return [first, ...fixes.filter((f) => !same(f))];
}

/**
 * Complete the rules' findings with the timeline and a cause kind, and rank them by the root cause: when the
 * learning rate came first, every finding it explains says so and puts the lower learning rate first, and the
 * findings that name the instability lead the list.
 */
export function explain(ctx: DoctorContext, raw: readonly RuleFinding[]): Finding[] {
  const timeline = timelineOf(ctx.records);
  const data = dataCause(ctx, raw);
  const stream = data ? null : residualStreamCause(ctx);
  const root = ctx.mode === 'run' && !data && !stream ? learningRateCause(ctx, timeline) : null;
  const completed = raw.map((finding) => {
    const rule = DEFAULT_CAUSE[finding.code] as (facts: ModelFacts) => CauseKind;
    const base = { ...finding, causeKind: finding.causeKind ?? rule(ctx.facts), timeline } as Finding;
    if (data && DATA_EXPLAINS.has(base.code))
      return {
        ...base,
        causeKind: data.kind,
        cause: `${data.story} ${base.cause}`,
        fixes: withFirst(base.fixes, fix.standardizeInputs()),
      } as Finding;
    // Batch norm first: on resnet-nobn and three variants (2026-12-04) it cured 4/4 and scored best; Fixup and
    // ReZero cured 4/4 too; a 10x lower learning rate 1/4.
    if (stream && STREAM_EXPLAINS.has(base.code))
      return {
        ...base,
        causeKind: stream.kind,
        cause: `${stream.story} ${base.cause}`,
        fixes: withFirst(withFirst(withFirst(base.fixes, fix.rezero()), fix.fixup()), fix.batchNorm()),
      } as Finding;
    if (!root || !LEARNING_RATE_EXPLAINS.has(base.code)) return base;
    return {
      ...base,
      causeKind: root.kind,
      cause: `${root.story} ${base.cause}`,
      fixes: withFirst(base.fixes, fix.lowerLearningRate(ctx.facts)),
    } as Finding;
  });
  const ordered = byFirstEvent(completed, timeline, ctx.records[0]?.step ?? 1);
  if (!root) return ordered;
  const leads = (f: Finding): number => {
    const i = LEARNING_RATE_FIRST.indexOf(f.code);
    return f.severity === 'info' ? 99 : i >= 0 ? i : 10;
  };
  return [...ordered].sort((a, b) => leads(a) - leads(b));
}
