/**
 * The doctor's rules: one pure function per finding code, `(ctx) => finding | null`, in a table keyed by the code
 * so that none can be forgotten. Every threshold is in `THRESHOLDS` with its source; docs/DOCTOR.md lists them
 * with the preset measurements they were calibrated on.
 *
 * Sustained conditions (vanishing, saturation, dead units) are judged on the later part of the run, the "window"
 * (the last quarter of the logged steps): a gated RNN starts with a vanishing time gradient and learns to hold it,
 * so step 1 alone would misjudge it. Explosions are judged on every record, because one step can wreck the
 * weights. The state at initialisation (step 1) is judged on its own for poor initialisation and tiny updates.
 */
import type { ResolvedConfig } from '../config/types.js';
import type { MetricsRecord } from '../io/runlog.js';
import { describeModel, modelFacts, peakSlope, type ModelFacts } from './facts.js';
import type { CauseKind, FindingCode, FindingOf, Fix, Severity } from './findings.js';
import { negativeBias } from './cause.js';
import * as fix from './fixes.js';
import {
  fine,
  firstLastRatio,
  hiddenActivations,
  layerGrads,
  logMedian,
  maxUpdateRatio,
  median,
  num,
  pct,
  ranges,
  recordNonFinite,
  spanOf,
  stepSpan,
  timeProfile,
  timeRatio,
  type LayerGrad,
} from './stats.js';

const SAGEMAKER = 'SageMaker Debugger';
const AUTOTRAINER = 'AUTOTRAINER';
const CALIBRATED = 'calibrated on our presets, docs/DOCTOR.md';

/** Every threshold the rules use, with where it comes from. */
export const THRESHOLDS = {
  /** |g_first| / |g_last| below this (with |g_first| below `vanishingFirstNorm`): vanishing. AUTOTRAINER. */
  vanishingRatio: 1e-3,
  vanishingFirstNorm: 1e-4,
  /** The ratio below which vanishing is critical (deep-sigmoid: 3e-14). */
  vanishingRatioCritical: 1e-6,
  /** Mean |g| below this: vanishing (SageMaker VanishingGradient). We test the max |g| entry, an upper bound. */
  vanishingMeanAbs: 1e-7,
  /** |g_first| / |g_last| above this: exploding. AUTOTRAINER. */
  explodingRatio: 70,
  /** Global gradient norm above this: exploding (calibrated: healthy presets <= 55, relu-normal1 3.8e10). */
  explodingNorm: 1e4,
  /** Global gradient norm this many times its value over the first records: exploding (calibrated). */
  gradientGrowth: 1e3,
  /** Update/weight ratio below this: the layer does not learn (SageMaker WeightUpdateRatio small_threshold). */
  updateRatioFrozen: 1e-8,
  /** Every weight matrix's update/weight ratio below this: the net cannot learn (calibrated: 30-layer ReLU/Xavier <= 1.1e-7, He >= 1.5e-4). */
  updateRatioTiny: 1e-6,
  /** A layer's update/weight ratio sustained above this: huge updates (calibrated; healthy presets <= 0.06). */
  updateRatioLarge: 0.1,
  /** Above this the step rewrites the weights (the ratio is measured against the updated weights, so ~1 is the most). */
  updateRatioHuge: 0.5,
  /** Fraction of a layer's units saturated / dead for the whole batch (SageMaker SaturatedActivation, DeadRelu threshold_layer 50%). */
  unitFraction: 0.5,
  unitFractionCritical: 0.9,
  /**
   * Dead units between 50% and this are information only (calibrated: spirals-mlp reaches 94.6% accuracy with 58%
   * of a layer dead; deep-relu-he peaks at 44%; the 30-layer ReLU/Xavier net that cannot learn reaches 97%).
   */
  deadFractionWarning: 0.7,
  /**
   * The held-out loss at or above this fraction of the guessing baseline: nothing the run learned carries to unseen
   * inputs (calibrated 2026-12-04: a 20-layer plain CNN whose dead channels stall it ends at 1.004x the baseline, the
   * spirals control that reaches 62.5% held-out accuracy with 63% of a layer dead at 0.912x).
   */
  heldOutGuessing: 0.98,
  /** Signal variance ratio last/first hidden layer at step 1 beyond 1e-4..1e4: poor initialisation (calibrated; SageMaker PoorWeightInitialization uses 10). */
  signalVarianceRatio: 1e4,
  signalVarianceRatioCritical: 1e8,
  /** ||dL/dh_1|| / ||dL/dh_T|| below this over the window: vanishing through time (calibrated: RNN <= 7e-5, solved LSTM 0.03-0.3). */
  timeVanishing: 1e-2,
  timeVanishingCritical: 1e-4,
  /** ||dL/dh_1|| / ||dL/dh_T|| above this: exploding through time (AUTOTRAINER's layer ratio, applied across time). */
  timeExploding: 70,
  /** Loss over the window this many times its initial value: divergence (calibrated). */
  lossDivergence: 2,
  lossDivergenceCritical: 10,
  /** The loss over the window above this fraction of the baseline (or initial) loss: not learning (calibrated). */
  notLearningFraction: 0.9,
  /** The largest update/weight ratio below this over the window: steps too small to learn in a run's length. */
  updateRatioSmall: 1e-4,
  /**
   * The largest plain-SGD learning rate a user would try (Bengio 2012, "Practical recommendations": rates above 1
   * are rarely useful): tiny updates whose gradients would need more than this for a healthy step are the
   * gradients' fault, not the learning rate's.
   */
  plausibleSgdLearningRate: 1,
  /** A configured init this factor or more away from variance-preserving (either way) is a cause in itself. */
  initFarOff: 4,
  /** Clipping engaged at this fraction of the logged steps: always on. */
  clippingAlwaysOn: 0.9,
  /** Logged steps needed before clipping is judged. */
  clippingMinRecords: 10,
  /** The judged window: the last quarter of the logged steps, at least 3 records. */
  windowFraction: 0.25,
  windowMinRecords: 3,
  /** Records the online hook looks at. */
  onlineWindow: 8,
  /** Online findings about time gradients are informational in the first tenth of the planned steps. */
  earlyFraction: 0.1,
  /**
   * Mean cosine similarity of a block's output tokens above this over the window: rank collapse (Noci et al. 2022;
   * calibrated: the char-LM presets that learn stay <= 0.5 in every block, Post-LN without warm-up reaches 1.00).
   */
  rankCollapse: 0.95,
  rankCollapseCritical: 0.99,
  /**
   * A head's mean attention entropy below this (nats) over the window, and below `entropyDrop` of its value at the
   * first record: entropy collapse (Zhai et al. 2023; calibrated: heads of the learning char-LM presets stay >= 0.7).
   */
  entropyCollapse: 0.1,
  entropyDrop: 0.2,
} as const;

export interface RunCounts {
  steps?: number;
  skippedSteps?: number;
  clippedSteps?: number;
  baselineLoss?: number;
  /** The loss on the task's held-out split at the end of the run (summary.json's eval.loss), when known. */
  evalLoss?: number;
}

export interface DoctorInput {
  /** Metrics records in step order. */
  records: readonly MetricsRecord[];
  /** The resolved config, or null (TensorBoard logs, a bare metrics.jsonl): causes and fixes are then generic. */
  config: ResolvedConfig | null;
  /**
   * Whole-run counts from summary.json, when known (records hold only the logged steps), and the task's guessing
   * baseline loss (what a model that learned nothing scores), against which "not learning" is judged.
   */
  summary?: RunCounts | null;
  /** 'run' (default): the whole log; 'online': a bounded tail during training. */
  mode?: 'run' | 'online';
  /** The step-1 record when `records` is a tail that no longer holds it (online). */
  initial?: MetricsRecord | null;
}

export interface DoctorContext {
  records: readonly MetricsRecord[];
  config: ResolvedConfig | null;
  summary: RunCounts | null;
  mode: 'run' | 'online';
  /** The judged part of the run: its last quarter (run) or the last few records (online). */
  window: readonly MetricsRecord[];
  /** The first record, the state at initialisation when its step is 1. */
  initial: MetricsRecord | null;
  facts: ModelFacts;
  /** Online, within the first tenth of the planned steps: too early to judge learned behaviour. */
  early: boolean;
}

/** The judged window of `records`: the last quarter of the logged steps, at least `windowMinRecords` records. */
export function judgedWindow(
  records: readonly MetricsRecord[],
  mode: 'run' | 'online' = 'run',
): MetricsRecord[] {
  if (records.length === 0) return [];
  if (mode === 'online') return records.slice(-THRESHOLDS.onlineWindow);
  const first = (records[0] as MetricsRecord).step;
  const last = (records[records.length - 1] as MetricsRecord).step;
  const from = last - (last - first) * THRESHOLDS.windowFraction;
  const window = records.filter((r) => r.step >= from);
  return window.length >= THRESHOLDS.windowMinRecords ? window : records.slice(-THRESHOLDS.windowMinRecords);
}

export function makeContext(input: DoctorInput): DoctorContext {
  const records = input.records;
  const mode = input.mode ?? 'run';
  const window = judgedWindow(records, mode);
  const initial = input.initial ?? records[0] ?? null;
  const planned = input.config?.train.steps ?? null;
  const lastStep = records[records.length - 1]?.step ?? 0;
  return {
    records,
    config: input.config,
    summary: input.summary ?? null,
    mode,
    window,
    initial,
    facts: modelFacts(input.config),
    early: mode === 'online' && planned !== null && lastStep <= planned * THRESHOLDS.earlyFraction,
  };
}

/**
 * What a rule returns: a finding without the run's timeline, and with a cause kind only where the rule knows better
 * than `doctor/cause`'s default for its code. `doctor/cause` completes it.
 */
export type RuleFinding<C extends FindingCode = FindingCode> = C extends FindingCode
  ? Omit<FindingOf<C>, 'causeKind' | 'timeline'> & { causeKind?: CauseKind }
  : never;

export type Rule<C extends FindingCode> = (ctx: DoctorContext) => RuleFinding<C> | null;

// ---------------------------------------------------------------------------------------------------------
// Helpers shared by the rules

function finite(records: readonly MetricsRecord[]): MetricsRecord[] {
  return records.filter((r) => !recordNonFinite(r));
}

function layerList(layers: readonly LayerGrad[]): string {
  return layers.length === 1 ? `layer ${layers[0]?.layer}` : `layers ${ranges(layers.map((l) => l.layer))}`;
}

function dedupe(fixes: readonly (Fix | null | false | undefined)[]): Fix[] {
  const seen = new Set<string>();
  const out: Fix[] = [];
  for (const f of fixes) {
    if (!f || seen.has(f.change)) continue;
    seen.add(f.change);
    out.push(f);
  }
  return out;
}

/** Whether the init gives less (or more) than `factor` times the variance-preserving sigma_w^2. */
function initTooSmall(facts: ModelFacts, factor = 0.8): boolean {
  return (
    facts.sigmaW2 !== null &&
    facts.preservingSigmaW2 !== null &&
    facts.sigmaW2 < factor * facts.preservingSigmaW2
  );
}
function initTooLarge(facts: ModelFacts, factor = 1.5): boolean {
  return (
    facts.sigmaW2 !== null &&
    facts.preservingSigmaW2 !== null &&
    facts.sigmaW2 > factor * facts.preservingSigmaW2
  );
}

/**
 * The configured init is far from variance-preserving (a factor THRESHOLDS.initFarOff in sigma_w^2, either way): the
 * run did not start healthy even when no signal crossed its threshold at step 1 (tanh bounds its outputs, so a
 * chaotic init shows no whole-batch saturation; Poole et al. 2016). One rule for the root cause and not_learning.
 */
/** Model kinds whose weight layers are convolutions: their norm is per-channel batch norm (BatchNorm2d). */
function convKind(f: ModelFacts): boolean {
  return f.kind === 'cnn' || f.kind === 'resnet';
}

/** A model that takes `model.norm "batch"` (mlp, cnn, resnet) and has no norm. */
function unnormalised(f: ModelFacts): boolean {
  return (f.kind === 'mlp' || convKind(f)) && f.norm === 'none';
}

/** A BN-free ResNet whose branches are neither zero-initialised (Fixup) nor scaled from 0 (ReZero, SkipInit). */
export function unscaledResidual(f: ModelFacts): boolean {
  const m = f.config?.model;
  return m?.kind === 'resnet' && m.shortcut && m.norm === 'none' && !m.fixup && m.scale === 'none';
}

/** A ResNet built without its shortcuts (`shortcut: false`, He et al. 2016a's plain twin). */
function plainTwin(f: ModelFacts): boolean {
  const m = f.config?.model;
  return m?.kind === 'resnet' && !m.shortcut;
}

/** Optimisers whose step does not scale with the gradient's magnitude (per-weight second-moment normalisation). */

export function initFarOff(facts: ModelFacts): boolean {
  return initTooSmall(facts, 1 / THRESHOLDS.initFarOff) || initTooLarge(facts, THRESHOLDS.initFarOff);
}

function initSentence(facts: ModelFacts): string {
  if (facts.sigmaW2 === null || facts.preservingSigmaW2 === null) return '';
  const ratio = facts.sigmaW2 / facts.preservingSigmaW2;
  const per = `init ${facts.init} gives sigma_w^2 = Var[w] x fan-in = ${num(facts.sigmaW2)}, where ${facts.activation} keeps the signal's scale at ${num(facts.preservingSigmaW2)}`;
  if (Math.abs(Math.log(ratio)) < Math.log(1.25)) return `${per} (matched)`;
  const depth = facts.depth ?? 1;
  return `${per}: a factor ${num(ratio)} per layer in variance, ${num(ratio)}^${depth} = ${num(ratio ** depth)} over ${depth} layers`;
}

function lrText(facts: ModelFacts): string {
  return facts.learningRate === null ? '' : ` (${facts.optimizer}, learning rate ${num(facts.learningRate)})`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sev(critical: boolean): Severity {
  return critical ? 'critical' : 'warning';
}

// ---------------------------------------------------------------------------------------------------------
// Gradients across layers

const vanishingGradient: Rule<'vanishing_gradient'> = (ctx) => {
  const judged = finite(ctx.window).filter((r) => layerGrads(r).length >= 2);
  if (judged.length === 0) return null;
  const last = judged[judged.length - 1] as MetricsRecord;
  const layers = layerGrads(last);
  const deep = layers.length >= 3;
  const ratio = logMedian(judged.map(firstLastRatio));
  const firstNorm = logMedian(judged.map((r) => (layerGrads(r)[0] as LayerGrad).gradNorm));
  const firstMax = logMedian(judged.map((r) => (layerGrads(r)[0] as LayerGrad).maxAbsGrad));
  const byRatio = deep && ratio < THRESHOLDS.vanishingRatio && firstNorm < THRESHOLDS.vanishingFirstNorm;
  const byMagnitude = firstMax < THRESHOLDS.vanishingMeanAbs;
  if (!byRatio && !byMagnitude) return null;

  const span = stepSpan(judged);
  const lastLayer = layers[layers.length - 1] as LayerGrad;
  const weak = layers.filter(
    (l) =>
      l !== lastLayer &&
      (l.gradNorm < THRESHOLDS.vanishingRatio * lastLayer.gradNorm ||
        l.maxAbsGrad < THRESHOLDS.vanishingMeanAbs),
  );
  const hops = lastLayer.layer - (layers[0] as LayerGrad).layer;
  const perLayer = Number.isFinite(ratio) && ratio > 0 && hops > 0 ? ratio ** (1 / hops) : NaN;
  const evidence: string[] = [];
  if (Number.isFinite(ratio)) {
    evidence.push(
      `first/last layer gradient norm ratio ${num(ratio)} (median over ${span}; vanishing below ${num(THRESHOLDS.vanishingRatio)}, ${AUTOTRAINER})`,
    );
  }
  evidence.push(
    `layer 0 gradient norm ${num(firstNorm)} (vanishing below ${num(THRESHOLDS.vanishingFirstNorm)}, ${AUTOTRAINER})`,
    `largest |g| entry in layer 0: ${num(firstMax)}, so its mean |g| is at most that (vanishing below ${num(THRESHOLDS.vanishingMeanAbs)}, ${SAGEMAKER} VanishingGradient)`,
  );
  if (Number.isFinite(perLayer)) {
    evidence.push(
      `the gradient shrinks by a factor ${num(perLayer)} per layer on its way back through ${hops} layers`,
    );
  }
  const frozen = layers.filter((l) => l.updateRatio < THRESHOLDS.updateRatioFrozen);
  if (frozen.length > 0) {
    evidence.push(
      `${layerList(frozen)}: update/weight ratio below ${num(THRESHOLDS.updateRatioFrozen)} at step ${last.step} (${SAGEMAKER} WeightUpdateRatio): they do not learn`,
    );
  }
  const initial = ctx.initial;
  if (initial && !judged.includes(initial) && !recordNonFinite(initial)) {
    evidence.push(`at step ${initial.step} the first/last ratio was ${num(firstLastRatio(initial))}`);
  }

  const f = ctx.facts;
  let cause: string;
  let fixes: Fix[];
  const missing =
    f.kind === 'mlp'
      ? [
          f.norm === 'none' ? 'no normalisation resets the scale' : '',
          !f.residual ? 'no residual path lets the gradient bypass the layers' : '',
        ].filter(Boolean)
      : [];
  const tail = missing.length > 0 ? ` ${capitalise(missing.join(' and '))}.` : '';
  if (f.config === null) {
    cause =
      `The gradient shrinks by about ${num(perLayer)} per layer from the output back to the input. Typical causes: ` +
      'saturating activations (sigmoid, tanh) whose slope is below 1, or weights initialised too small for the ' +
      'activation, with no normalisation or residual connection to restore the scale.';
    fixes = dedupe([fix.reluHe(f), fix.batchNorm(), fix.residual()]);
  } else if (f.kind === 'mlp' && f.family === 'saturating' && f.activation) {
    const slope = peakSlope(f.activation);
    cause =
      `${describeModel(f)}: ${f.activation} is a saturating activation whose slope is at most ${num(slope)} (at its centre) ` +
      `and smaller where units saturate, so each of the ${f.depth} ${f.activation} layers multiplies the backward ` +
      `signal by about slope x weight scale (measured: ${num(perLayer)} per layer)` +
      `${f.activation === 'sigmoid' && f.init?.startsWith('xavier') ? "; Xavier init assumes a slope of 1 at the centre (as tanh has), not sigmoid's 0.25" : ''}. ` +
      `After ${f.depth} layers the first layer receives ${num(ratio)} of the output layer's gradient.${tail}`;
    fixes = dedupe([
      initTooSmall(f) && fix.preservingInit(f),
      fix.reluHe(f),
      f.norm === 'none' && fix.batchNorm(),
      !f.residual && fix.residual(),
      f.optimizer === 'sgd' && fix.adam(f),
    ]);
  } else if (f.kind === 'mlp') {
    const init = initSentence(f);
    cause =
      `${describeModel(f)}: the gradient shrinks by ${num(perLayer)} per layer over ${f.depth} layers` +
      `${init ? `; ${init}` : ''}.${tail}`;
    fixes = dedupe([
      negativeBias(f) && fix.zeroBias(),
      initTooSmall(f) && fix.preservingInit(f),
      f.family !== 'rectifier' && fix.reluHe(f),
      f.norm === 'none' && fix.batchNorm(),
      !f.residual && fix.residual(),
      f.optimizer === 'sgd' && fix.adam(f),
    ]);
  } else if (convKind(f)) {
    const plain = f.config?.model.kind === 'cnn' || plainTwin(f);
    const init = initSentence(f);
    cause =
      `${describeModel(f)}: the gradient shrinks by ${num(perLayer)} per layer over ${f.depth} conv layers` +
      `${init ? `; ${init}` : ''}` +
      `${f.norm === 'none' ? '; no batch norm resets the scale of each layer' : ''}` +
      `${plain ? '; no shortcut lets it bypass the layers, the degradation He et al. 2016a show for plain nets this deep' : ''}.`;
    fixes = dedupe([
      negativeBias(f) && fix.zeroBias(),
      initTooSmall(f) && fix.preservingInit(f),
      unnormalised(f) && fix.batchNorm(),
      plainTwin(f) && fix.shortcuts(),
      f.family === 'saturating' && fix.reluHe(f),
      f.optimizer === 'sgd' && fix.adam(f),
    ]);
  } else if (f.kind === 'transformer') {
    const post = postLnWithoutWarmup(f);
    cause =
      `${describeModel(f)}: the gradient reaching the input-side layer is ${num(ratio)} of the output layer's` +
      (post
        ? '; with the LayerNorm after each residual sum and no warm-up, the output-side gradients are large at ' +
          'initialisation and the updates they drive leave the lower blocks behind (Xiong et al. 2020).'
        : '.');
    fixes = dedupe([
      isPostLn(f) && fix.preLayerNorm(),
      post !== null && fix.warmup(f),
      deepNormable(f) && fix.deepNorm(),
      fix.lowerLearningRate(f),
    ]);
  } else {
    cause =
      `${describeModel(f)}: the gradient reaching the input-side layer is ${num(ratio)} of the output layer's; ` +
      'stacked recurrent layers each squash it through their gates and non-linearities.';
    fixes = dedupe([
      f.kind === 'rnn' && fix.lstm(),
      initTooSmall(f) && fix.preservingInit(f),
      f.optimizer === 'sgd' && fix.adam(f),
    ]);
  }
  return {
    code: 'vanishing_gradient',
    // A Post-LN stack's vanishing lower blocks are the norm's placement (Xiong et al. 2020), whatever the init:
    // its first fix is Pre-LN, and the cause kind says the same.
    ...(f.kind === 'transformer' && isPostLn(f) ? { causeKind: 'normalisation' as const } : {}),
    severity: sev(byMagnitude || ratio < THRESHOLDS.vanishingRatioCritical),
    title: `Vanishing gradient: layer 0 receives ${num(ratio)} of the output layer's gradient`,
    where: {
      layers: (weak.length > 0 ? weak : [layers[0] as LayerGrad]).map((l) => l.layer),
      steps: spanOf(judged),
    },
    evidence,
    cause,
    fixes,
  };
};

/** What the explosion looked like in the records, or null. */
interface ExplosionEvent {
  step: number;
  what: string;
}

function explosionEvents(ctx: DoctorContext): { events: ExplosionEvent[]; sustained: string[] } {
  const ok = finite(ctx.records);
  const events: ExplosionEvent[] = [];
  const sustained: string[] = [];
  const baseRecords = ok.slice(0, 3);
  const baseline = logMedian(baseRecords.map((r) => r.gradNorm));
  for (const r of ok) {
    const layers = layerGrads(r);
    const ratio = layers.length >= 3 ? firstLastRatio(r) : NaN;
    if (ratio > THRESHOLDS.explodingRatio) {
      events.push({
        step: r.step,
        what: `first/last layer gradient norm ratio ${num(ratio)} at step ${r.step} (exploding above ${THRESHOLDS.explodingRatio}, ${AUTOTRAINER})`,
      });
    }
    if (r.gradNorm > THRESHOLDS.explodingNorm) {
      events.push({
        step: r.step,
        what: `global gradient norm ${num(r.gradNorm)} at step ${r.step} (exploding above ${num(THRESHOLDS.explodingNorm)}, ${CALIBRATED})`,
      });
    } else if (
      baseline > 0 &&
      r.gradNorm > THRESHOLDS.gradientGrowth * baseline &&
      !baseRecords.includes(r)
    ) {
      events.push({
        step: r.step,
        what: `global gradient norm ${num(r.gradNorm)} at step ${r.step}, ${num(r.gradNorm / baseline)}x its early value ${num(baseline)} (exploding above ${num(THRESHOLDS.gradientGrowth)}x, ${CALIBRATED})`,
      });
    }
  }
  const judged = finite(ctx.window);
  const ratio = logMedian(judged.filter((r) => layerGrads(r).length >= 3).map(firstLastRatio));
  if (ratio > THRESHOLDS.explodingRatio)
    sustained.push(`median first/last ratio ${num(ratio)} over ${stepSpan(judged)}`);
  const norm = logMedian(judged.map((r) => r.gradNorm));
  if (
    norm > THRESHOLDS.explodingNorm ||
    (baseline > 0 && norm > THRESHOLDS.gradientGrowth * baseline && ok.length > 3)
  ) {
    sustained.push(`median global gradient norm ${num(norm)} over ${stepSpan(judged)}`);
  }
  return { events, sustained };
}

function followedByTrouble(ctx: DoctorContext, step: number): MetricsRecord | undefined {
  return ctx.records.find((r) => r.step > step && recordNonFinite(r));
}

const explodingGradient: Rule<'exploding_gradient'> = (ctx) => {
  const { events, sustained } = explosionEvents(ctx);
  if (events.length === 0 && sustained.length === 0) return null;
  const firstStep = events[0]?.step ?? ctx.window[0]?.step ?? 0;
  const overflow = followedByTrouble(ctx, firstStep);
  const evidence = events.slice(0, 3).map((e) => e.what);
  if (events.length > 3) evidence.push(`${events.length - 3} more logged steps beyond the thresholds`);
  for (const s of sustained) evidence.push(`sustained: ${s}`);
  if (overflow) evidence.push(`followed by non-finite values at step ${overflow.step}`);
  const f = ctx.facts;
  const steps: [number, number] = [
    firstStep,
    events[events.length - 1]?.step ?? ctx.window[ctx.window.length - 1]?.step ?? firstStep,
  ];
  const last = ctx.records.find((r) => r.step === steps[1]) ?? ctx.records[ctx.records.length - 1];
  const layers = last ? layerGrads(last) : [];
  const lastLayer = layers[layers.length - 1];
  const hot = lastLayer
    ? layers.filter((l) => l.gradNorm > lastLayer.gradNorm * THRESHOLDS.explodingRatio)
    : [];
  let cause: string;
  if (f.config === null) {
    cause =
      'The gradients grew far beyond their usual scale. Typical causes: weights initialised too large for the ' +
      'activation (each layer multiplies the signal and the gradient by more than 1), a learning rate large enough ' +
      'that each step makes the next gradient larger, and no gradient clipping.';
  } else {
    const init = initSentence(f);
    const parts = [
      init && initTooLarge(f) ? init : '',
      f.clip?.name === 'none' ? 'no gradient clipping bounds a step' : '',
      f.learningRate !== null ? `each step is learning rate ${num(f.learningRate)} x the gradient` : '',
    ].filter(Boolean);
    cause = `${describeModel(f)}: ${parts.join('; ')}.`;
  }
  const fixes = dedupe([
    initTooLarge(f) && fix.preservingInit(f),
    (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    fix.lowerLearningRate(f),
    unnormalised(f) && fix.batchNorm(),
    unscaledResidual(f) && fix.fixup(),
    unscaledResidual(f) && fix.rezero(),
    fix.warmup(f),
  ]);
  return {
    code: 'exploding_gradient',
    severity: sev(sustained.length > 0 || overflow !== undefined || events.length > 1),
    title:
      sustained.length > 0
        ? 'Exploding gradient, sustained over the end of the run'
        : `Exploding gradient at step ${firstStep}${overflow ? `, then non-finite values from step ${overflow.step}` : ''}`,
    where: { ...(hot.length > 0 ? { layers: hot.map((l) => l.layer) } : {}), steps },
    evidence,
    cause,
    fixes,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Updates

/**
 * The power of ten that takes a run's largest update/weight ratio to at least the healthy 1e-3 (Karpathy's rule of
 * thumb; an LR range test, Smith 2017, finds it exactly), between 10x and 1000x. Rounded up, not to the nearest:
 * rounded to the nearest, the cure lands anywhere from 0.3x to 3x of a healthy step, and below it a run that was
 * too slow stays too slow (measured on the conv ward, docs/DOCTOR.md); a step up to 10x too large is what
 * `gradscope fix` verifies and the instability rules catch.
 */
export function healthyStepFactor(ratio: number): number {
  return 10 ** Math.min(3, Math.max(1, Math.ceil(Math.log10(1e-3 / ratio) - 1e-9)));
}

const tinyUpdates: Rule<'tiny_updates'> = (ctx) => {
  const judged = finite(ctx.window).filter((r) => r.step > 0 && !r.skipped);
  const windowMax = logMedian(judged.map(maxUpdateRatio));
  const initial = ctx.initial && !recordNonFinite(ctx.initial) ? ctx.initial : null;
  const initialMax = initial ? maxUpdateRatio(initial) : NaN;
  const sustained = windowMax < THRESHOLDS.updateRatioTiny;
  const atInit = initialMax < THRESHOLDS.updateRatioTiny;
  if (!sustained && !atInit) return null;
  const evidence: string[] = [];
  if (atInit && initial) {
    evidence.push(
      `at step ${initial.step} every weight matrix's update/weight ratio is at most ${num(initialMax)} (all layers below ${num(THRESHOLDS.updateRatioTiny)}, ${CALIBRATED}; about 1e-3 is healthy)`,
    );
  }
  if (sustained) {
    evidence.push(
      `largest update/weight ratio ${num(windowMax)} (median over ${stepSpan(judged)}; below ${num(THRESHOLDS.updateRatioTiny)})`,
    );
  }
  const sample = initial && atInit ? initial : (judged[judged.length - 1] as MetricsRecord);
  const layers = layerGrads(sample);
  const relGrad = median(layers.map((l) => l.gradNorm / Math.max(l.weightNorm, 1e-30)));
  evidence.push(`median gradient/weight norm ratio ${num(relGrad)} at step ${sample.step}`);
  const f = ctx.facts;
  // Whose fault the tiny steps are. SGD's step is the learning rate times the gradient, so the update/weight ratio is
  // lr x |g|/|w|, and 1e-3 / (|g|/|w|) is the learning rate a healthy step (about 1e-3 of the weights) would need
  // with these gradients. An ordinary SGD rate means the gradients are fine and the learning rate is too small; a
  // rate beyond any a user would try means the gradients themselves are too small (initialisation, depth).
  // Adaptive optimisers divide the gradient's scale out (Kingma & Ba 2015, sec. 2.1: the step is about the learning
  // rate per weight), so their tiny steps are the learning rate's.
  const adaptive = fix.isAdaptive(f);
  const neededLr = 1e-3 / relGrad;
  const lrCause =
    f.learningRate !== null &&
    !initFarOff(f) &&
    (adaptive || neededLr <= THRESHOLDS.plausibleSgdLearningRate);
  const causeKind: CauseKind = lrCause ? 'learning-rate' : initTooSmall(f) ? 'initialisation' : 'depth';
  if (lrCause)
    evidence.push(
      adaptive
        ? `${f.optimizer} scales each step to about the learning rate ${num(f.learningRate ?? NaN)} per weight, whatever the gradient`
        : `with these gradients a learning rate of about ${num(neededLr)} would move the weights by 1e-3 of their norm per step`,
    );
  const factor = lrCause ? healthyStepFactor(atInit ? initialMax : windowMax) : 1;
  const cause = lrCause
    ? `${describeModel(f)}: the learning rate ${num(f.learningRate ?? NaN)} is too small for any weight to move${adaptive ? '' : `: the gradients are ${num(relGrad)} of the weights' norm, which a learning rate of about ${num(neededLr)} would turn into healthy steps`}.`
    : f.config === null
      ? 'The gradients are tiny relative to the weights, so no step moves them: the network cannot learn at this step size.'
      : `${describeModel(f)}: the gradients are ${num(relGrad)} of the weights' norm, so a learning rate of ${num(f.learningRate ?? NaN)} moves no layer` +
        `${initSentence(f) ? `; ${initSentence(f)}, so the signal reaching the loss, and with it every gradient, is tiny` : ''}.`;
  const fixes = lrCause
    ? dedupe([fix.raiseLearningRate(f, factor), f.optimizer === 'sgd' && fix.adam(f)])
    : dedupe([
        initTooSmall(f) && fix.preservingInit(f),
        unnormalised(f) && fix.batchNorm(),
        f.optimizer === 'sgd' && fix.adam(f),
        f.config === null && fix.reluHe(f),
      ]);
  return {
    code: 'tiny_updates',
    ...(f.config !== null ? { causeKind } : {}),
    severity: sev(sustained),
    title: `Updates too small to learn: every layer moves by at most ${num(atInit ? initialMax : windowMax)} of its weights per step`,
    where: {
      layers: layers.map((l) => l.layer),
      steps: sustained ? spanOf(judged) : [sample.step, sample.step],
    },
    evidence,
    cause,
    fixes: fixes.length > 0 ? fixes : [fix.adam(f)],
  };
};

const hugeUpdates: Rule<'huge_updates'> = (ctx) => {
  const judged = finite(ctx.window).filter((r) => !r.skipped);
  const windowMax = logMedian(judged.map(maxUpdateRatio));
  const sustained = windowMax > THRESHOLDS.updateRatioLarge;
  let event: MetricsRecord | undefined;
  for (const r of finite(ctx.records)) {
    const ratios = layerGrads(r)
      .map((l) => l.updateRatio)
      .filter(Number.isFinite);
    if (ratios.length > 0 && median(ratios) > THRESHOLDS.updateRatioHuge) {
      event = r;
      break;
    }
  }
  if (!sustained && !event) return null;
  const evidence: string[] = [];
  let layers: number[] = [];
  if (event) {
    const ls = layerGrads(event);
    const big = ls.filter((l) => l.updateRatio > THRESHOLDS.updateRatioHuge);
    layers = big.map((l) => l.layer);
    evidence.push(
      `at step ${event.step} the median update/weight ratio over the weight matrices is ${num(median(ls.map((l) => l.updateRatio)))}: ` +
        `${big.length} of ${ls.length} layers moved by more than ${THRESHOLDS.updateRatioHuge} of their norm in one step ` +
        `(${CALIBRATED}; ${SAGEMAKER} WeightUpdateRatio flags > 10 against the old weights; about 1e-3 is healthy)`,
    );
  }
  if (sustained) {
    const last = judged[judged.length - 1] as MetricsRecord;
    const ls = layerGrads(last).filter((l) => l.updateRatio > THRESHOLDS.updateRatioLarge);
    if (layers.length === 0) layers = ls.map((l) => l.layer);
    evidence.push(
      `largest update/weight ratio ${num(windowMax)} (median over ${stepSpan(judged)}; above ${THRESHOLDS.updateRatioLarge}, ${CALIBRATED}), in ${layerList(ls)}`,
    );
  }
  const f = ctx.facts;
  const cause =
    f.config === null
      ? 'Each step changes the weights by a large fraction of their size: the learning rate is too high for these gradients, or the gradients themselves exploded.'
      : `${describeModel(f)}: learning rate ${num(f.learningRate ?? NaN)} times these gradients rewrites the weights instead of refining them` +
        `${initTooLarge(f) ? `; ${initSentence(f)}, which makes the gradients huge` : ''}.`;
  const fixes = dedupe([
    initTooLarge(f) && fix.preservingInit(f),
    fix.lowerLearningRate(f),
    (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    fix.warmup(f),
  ]);
  const span: [number, number] = event
    ? [event.step, sustained ? spanOf(judged)[1] : event.step]
    : spanOf(judged);
  return {
    code: 'huge_updates',
    severity: sev(event !== undefined || windowMax > THRESHOLDS.updateRatioHuge),
    title: event
      ? `Huge updates: at step ${event.step} most layers moved by more than half their norm in one step`
      : `Huge updates: ${layers.length === 1 ? `layer ${layers[0]}` : 'some layers'} keep${layers.length === 1 ? 's' : ''} moving by ${num(windowMax)} of ${layers.length === 1 ? 'its' : 'their'} norm per step`,
    where: { layers, steps: span },
    evidence,
    cause,
    fixes,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Non-finite values and the loss

const nonFinite: Rule<'non_finite'> = (ctx) => {
  const bad = ctx.records.filter(recordNonFinite);
  if (bad.length === 0) return null;
  const first = bad[0] as MetricsRecord;
  const lastRecord = ctx.records[ctx.records.length - 1] as MetricsRecord;
  const ongoing = recordNonFinite(lastRecord);
  const before = [...ctx.records].reverse().find((r) => r.step < first.step && !recordNonFinite(r));
  const evidence: string[] = [];
  const what = !Number.isFinite(first.loss)
    ? `loss ${num(first.loss)}`
    : !Number.isFinite(first.gradNorm)
      ? `gradient norm ${num(first.gradNorm)}`
      : 'non-finite gradient entries';
  evidence.push(
    `${what} at step ${first.step}${before ? ` (last finite step ${before.step}: loss ${num(before.loss)}, gradient norm ${num(before.gradNorm)})` : ''} (${SAGEMAKER} ExplodingTensor: any NaN/Inf)`,
  );
  if (first.nonFiniteSource)
    evidence.push(`first non-finite value, as the guard traced it: ${first.nonFiniteSource}`);
  const params = first.params.filter((p) => p.nonFinite > 0 || !Number.isFinite(p.gradNorm));
  if (params.length > 0) {
    const shown = params
      .slice(0, 4)
      .map((p) => `${p.name} (${p.nonFinite} entries)`)
      .join(', ');
    evidence.push(
      `non-finite gradients at step ${first.step}, input side first: ${shown}${params.length > 4 ? `, +${params.length - 4} more` : ''}`,
    );
  }
  const skipped = ctx.summary?.skippedSteps ?? ctx.records.filter((r) => r.skipped).length;
  const total = ctx.summary?.steps ?? lastRecord.step;
  evidence.push(
    `${bad.length} of ${ctx.records.length} logged steps non-finite; ${skipped} of ${total} steps skipped by the guard`,
  );
  evidence.push(
    ongoing
      ? `still non-finite at the last logged step ${lastRecord.step}`
      : `finite again from step ${ctx.records.find((r) => r.step > (bad[bad.length - 1] as MetricsRecord).step)?.step ?? '?'}`,
  );

  const f = ctx.facts;
  const overflow =
    before !== undefined &&
    (before.gradNorm > THRESHOLDS.explodingNorm ||
      before.loss > 1e4 ||
      maxUpdateRatio(before) > THRESHOLDS.updateRatioHuge);
  let cause: string;
  if (overflow && before) {
    cause =
      `${f.config ? `${describeModel(f)}: ` : ''}the values overflowed after the gradients exploded: at step ${before.step} the gradient norm was ${num(before.gradNorm)} and the largest update/weight ratio ${num(maxUpdateRatio(before))}` +
      `${f.config && initTooLarge(f) ? `; ${initSentence(f)}` : ''}.`;
  } else if (before === undefined) {
    cause = `${f.config ? `${describeModel(f)}: ` : ''}the very first logged step is already non-finite: the forward pass overflows at initialisation (weights or inputs far too large) or the loss is undefined.`;
  } else {
    cause = `${f.config ? `${describeModel(f)}: ` : ''}a step produced NaN/Inf without a visible explosion before it (logged every few steps): a too-large step between logs, or an undefined operation such as log(0).`;
  }
  if (ongoing && f.guard === 'skip')
    cause += ` The guard skips each failing step, but the weights that cause it stay, so every later step fails too.`;
  const fixes = dedupe([
    initTooLarge(f) && fix.preservingInit(f),
    (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    fix.lowerLearningRate(f),
    ongoing && f.guard !== 'rollback' && fix.guardRollback(),
  ]);
  return {
    code: 'non_finite',
    severity: sev(ongoing || bad.length * 2 > ctx.records.length),
    title: `Non-finite values from step ${first.step}${ongoing ? ' to the end of the run' : ''}`,
    where: {
      steps: [first.step, (bad[bad.length - 1] as MetricsRecord).step],
      ...(params.length > 0
        ? { params: params.map((p) => p.name), layers: [...new Set(params.map((p) => p.layer))] }
        : {}),
    },
    evidence,
    cause,
    fixes,
  };
};

/** The default of `train.guardPatience` (config/resolve), for configs written before the field existed. */
const GUARD_PATIENCE_DEFAULT = 10;

/**
 * The guard is stuck: its last `train.guardPatience` steps were all non-finite and skipped or rolled back (every
 * guarded step is logged, so they are consecutive records). The weights themselves are broken, so skipping the
 * step again cannot help; the trainer stops the run on this.
 */
const guardStuck: Rule<'guard_stuck'> = (ctx) => {
  const patience = ctx.config?.train.guardPatience ?? GUARD_PATIENCE_DEFAULT;
  const records = ctx.records;
  let run = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i] as MetricsRecord;
    const next = records[i + 1];
    if (!r.skipped || !recordNonFinite(r) || (next !== undefined && next.step !== r.step + 1)) break;
    run++;
  }
  if (run < patience) return null;
  const last = records[records.length - 1] as MetricsRecord;
  const first = records[records.length - run] as MetricsRecord;
  const f = ctx.facts;
  const guard = f.guard ?? 'skip';
  return {
    code: 'guard_stuck',
    severity: 'critical',
    title: `Guard stuck: the last ${run} steps (${first.step}-${last.step}) were all non-finite and ${guard === 'rollback' ? 'rolled back' : 'skipped'}`,
    where: { steps: [first.step, last.step] },
    evidence: [
      `${run} consecutive non-finite steps from step ${first.step}, at least train.guardPatience ${patience}`,
      ...(last.nonFiniteSource ? [`at step ${last.step}: ${last.nonFiniteSource}`] : []),
    ],
    cause:
      `${f.config ? `${describeModel(f)}: ` : ''}the weights${guard === 'rollback' ? ' restored by each rollback' : ''} already produce non-finite values, so ` +
      `${guard === 'rollback' ? 'rolling back and halving the learning rate' : 'skipping the step'} cannot recover: every later step fails the same way.`,
    fixes: dedupe([
      initTooLarge(f) && fix.preservingInit(f),
      (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
      fix.lowerLearningRate(f),
      guard !== 'rollback' && fix.guardRollback(),
    ]),
  };
};

const lossDivergence: Rule<'loss_divergence'> = (ctx) => {
  const losses = ctx.records.filter((r) => Number.isFinite(r.loss));
  if (losses.length < 4) return null;
  const initial = median(losses.slice(0, 3).map((r) => r.loss));
  const judged = ctx.window.filter((r) => Number.isFinite(r.loss));
  if (judged.length === 0 || judged[0] === losses[0]) return null;
  const now = median(judged.map((r) => r.loss));
  const best = Math.min(...losses.map((r) => r.loss));
  if (!(initial > 0) || now <= THRESHOLDS.lossDivergence * initial || now <= THRESHOLDS.lossDivergence * best)
    return null;
  const f = ctx.facts;
  return {
    code: 'loss_divergence',
    severity: sev(now > THRESHOLDS.lossDivergenceCritical * initial),
    title: `Loss diverging: ${num(now)} now against ${num(initial)} at the start`,
    where: { steps: spanOf(judged) },
    evidence: [
      `median loss ${num(now)} over ${stepSpan(judged)} vs ${num(initial)} over the first logged steps (diverging above ${THRESHOLDS.lossDivergence}x, ${CALIBRATED})`,
      `best loss so far ${num(best)}`,
    ],
    cause:
      f.config === null
        ? 'The loss rises instead of falling: steps too large for the curvature (learning rate), often with growing gradients.'
        : `${describeModel(f)}: the steps overshoot${lrText(f)}; ${f.clip?.name === 'none' ? 'nothing clips them' : `clip ${f.clip?.name} does not stop it`}.`,
    fixes: dedupe([
      fix.lowerLearningRate(f),
      fix.warmup(f),
      (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    ]),
  };
};

// ---------------------------------------------------------------------------------------------------------
// Initialisation and units

const poorInitialization: Rule<'poor_initialization'> = (ctx) => {
  const initial = ctx.initial;
  if (!initial) return null;
  const acts = hiddenActivations(initial).filter((a) => Number.isFinite(a.std));
  if (acts.length < 3) return null;
  const first = acts[0];
  const last = acts[acts.length - 1];
  if (!first || !last || !(first.std > 0)) return null;
  const varianceRatio = (last.std / first.std) ** 2;
  const collapsing = varianceRatio < 1 / THRESHOLDS.signalVarianceRatio;
  const growing = varianceRatio > THRESHOLDS.signalVarianceRatio;
  if (!collapsing && !growing) return null;
  const hops = last.layer - first.layer;
  const perLayer = hops > 0 && varianceRatio > 0 ? varianceRatio ** (1 / hops) : NaN;
  const f = ctx.facts;
  const init = initSentence(f);
  const predicted =
    f.sigmaW2 !== null && f.preservingSigmaW2 !== null ? f.sigmaW2 / f.preservingSigmaW2 : NaN;
  const evidence = [
    `at step ${initial.step} the activation std goes from ${num(first.std)} (layer ${first.layer}) to ${num(last.std)} (layer ${last.layer}): signal variance ratio ${num(varianceRatio)} ` +
      `(poor beyond ${num(1 / THRESHOLDS.signalVarianceRatio)}..${num(THRESHOLDS.signalVarianceRatio)}, ${CALIBRATED}; ${SAGEMAKER} PoorWeightInitialization uses 10)`,
    `variance ${collapsing ? 'shrinks' : 'grows'} by ${num(perLayer)} per layer${Number.isFinite(predicted) ? ` (the init predicts ${num(predicted)} per layer)` : ''}`,
  ];
  let cause: string;
  if (f.config === null) {
    cause = collapsing
      ? 'The forward signal shrinks layer after layer at initialisation: the weights are too small for the activation (e.g. Xavier under ReLU), so deep layers see almost nothing and their gradients vanish.'
      : 'The forward signal grows layer after layer at initialisation: the weights are too large for the activation (or residual sums accumulate without normalisation), so activations and gradients explode.';
  } else if (growing && f.residual && f.norm === 'none') {
    cause = `${describeModel(f)}: every residual block adds its output to the stream, so without normalisation the variance accumulates over ${f.depth} blocks${init ? `; ${init}` : ''}.`;
  } else {
    cause = `${describeModel(f)}: ${init || `the weight scale of init ${f.init} does not suit ${f.activation}`}.`;
  }
  const fixes = dedupe([
    negativeBias(f) && fix.zeroBias(),
    ((collapsing && initTooSmall(f)) || (growing && initTooLarge(f)) || f.config === null) &&
      fix.preservingInit(f),
    unnormalised(f) && fix.batchNorm(),
    growing && (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    collapsing && f.family === 'saturating' && fix.reluHe(f),
    f.kind === 'mlp' && f.norm === 'none' && fix.layerNorm(),
  ]);
  const extreme =
    varianceRatio < 1 / THRESHOLDS.signalVarianceRatioCritical ||
    varianceRatio > THRESHOLDS.signalVarianceRatioCritical;
  return {
    code: 'poor_initialization',
    direction: collapsing ? 'collapsing' : 'growing',
    severity: sev(extreme),
    title: `Poor initialisation: the signal ${collapsing ? 'collapses' : 'grows'} layer by layer (variance x${num(varianceRatio)} from layer ${first.layer} to ${last.layer})`,
    where: { layers: acts.map((a) => a.layer), steps: [initial.step, initial.step] },
    evidence,
    cause,
    fixes,
  };
};

function unitRule<C extends 'saturated_activation' | 'dead_units'>(
  code: C,
  field: 'saturated' | 'dead',
): Rule<C> {
  return (ctx) => {
    const judged = ctx.window.filter((r) => (r.activations ?? []).length > 0);
    if (judged.length === 0) return null;
    const byLayer = new Map<number, number[]>();
    for (const r of judged) {
      for (const a of hiddenActivations(r)) {
        const v = a[field];
        if (!Number.isFinite(v)) continue;
        let list = byLayer.get(a.layer);
        if (!list) byLayer.set(a.layer, (list = []));
        list.push(v);
      }
    }
    const fractions = [...byLayer.entries()]
      .map(([layer, values]) => ({ layer, fraction: median(values) }))
      .sort((a, b) => a.layer - b.layer);
    const hit = fractions.filter((x) => x.fraction > THRESHOLDS.unitFraction);
    if (hit.length === 0) return null;
    const worst = hit.reduce((a, b) => (b.fraction > a.fraction ? b : a));
    // Saturation is a warning from 50% (SageMaker); dead units only from 70% (calibrated on runs that learn, see
    // THRESHOLDS), unless the run learned nothing at all, its training loss flat and its held-out loss no better
    // than guessing: then the dead units are what the flat loss is made of, and not_learning leaves the
    // explanation to this finding. The training loss alone cannot tell: a control that generalises can have a flat
    // training loss too.
    const stalled = field === 'dead' ? stalledRun(ctx) : null;
    const warnAt =
      field === 'dead' && stalled === null ? THRESHOLDS.deadFractionWarning : THRESHOLDS.unitFraction;
    const serious = hit.filter((x) => x.fraction > warnAt);
    const critical =
      worst.fraction >= THRESHOLDS.unitFractionCritical ||
      (serious.length > 0 && serious.length * 2 >= fractions.length);
    const severity: Severity = critical ? 'critical' : serious.length > 0 ? 'warning' : 'info';
    const source = field === 'saturated' ? 'SaturatedActivation' : 'DeadRelu';
    const noun = field === 'saturated' ? 'saturated' : 'dead';
    const evidence = [
      `${hit.length} of ${fractions.length} layers have more than ${pct(THRESHOLDS.unitFraction)} of their units ${noun} for the whole batch (median over ${stepSpan(judged)}; ${SAGEMAKER} ${source} threshold_layer 50%)`,
      `worst: layer ${worst.layer} with ${pct(worst.fraction)} ${noun}${severity === 'info' ? ` (below ${pct(warnAt)}, information only: ${CALIBRATED})` : ''}`,
    ];
    if (stalled !== null && worst.fraction <= THRESHOLDS.deadFractionWarning)
      evidence.push(
        `the run learned nothing: the training loss stays at ${num(stalled.now)} (${num(stalled.initial)} at the start) and the held-out loss ${fine(stalled.evalLoss)} is no better than guessing's ${fine(stalled.baseline)} (above ${pct(THRESHOLDS.heldOutGuessing)} of it), so dead units under ${pct(THRESHOLDS.deadFractionWarning)} (information only in a run that learns) count`,
      );
    const f = ctx.facts;
    const steps = spanOf(judged);
    const layers = hit.map((x) => x.layer);
    if (field === 'saturated') {
      const finding = {
        code,
        severity,
        title: `Saturated activations: up to ${pct(worst.fraction)} of the units of a layer sit on the flat part of ${f.activation ?? 'the activation'}`,
        where: { layers, steps },
        evidence,
        cause:
          f.config === null
            ? 'Pre-activations are so large that sigmoid/tanh units sit at their asymptotes for every input, where the slope, and so the gradient through them, is almost 0.'
            : `${describeModel(f)}: pre-activations are large enough that ${f.activation} units sit at their asymptotes for every input, where the slope, and so the gradient, is almost 0` +
              `${initTooLarge(f) ? `; ${initSentence(f)}` : ''}${f.norm === 'none' ? '; nothing normalises the pre-activations' : ''}.`,
        fixes: dedupe([
          unnormalised(f) && fix.batchNorm(),
          (f.kind === 'mlp' || f.config === null) && fix.reluHe(f),
          initTooLarge(f) && fix.preservingInit(f),
          fix.lowerLearningRate(f),
        ]),
      };
      return finding as RuleFinding<C>;
    }
    // A deep conv stack without normalisation: each layer's pre-activation scale and mean drift with depth and with
    // every step, so whole channels end negative for every input; batch norm re-centres them (Ioffe & Szegedy
    // 2015). On plain-cnn-deep and two variants (2026-12-04) batch norm cured 3/3, leaky ReLU 0/3.
    const drifting = convKind(f) && f.norm === 'none' && !negativeBias(f) && !initTooSmall(f);
    const finding = {
      code,
      ...(drifting ? { causeKind: 'normalisation' } : {}),
      severity,
      title: `Dead units: up to ${pct(worst.fraction)} of the units of a layer output 0 for every input`,
      where: { layers, steps },
      evidence,
      cause:
        f.config === null
          ? 'Rectifier units whose pre-activation is negative for every input output 0 and get no gradient, so they cannot recover: usually a collapsing signal (init too small) or a step that pushed their biases far negative.'
          : `${describeModel(f)}: ${f.activation} units whose pre-activation is negative for every input output 0 and pass no gradient, so they never recover` +
            (drifting
              ? `; with no normalisation in ${f.depth} conv layers the scale and mean of each layer's pre-activations drift, so whole channels end below 0.`
              : `${initTooSmall(f) ? `; ${initSentence(f)}, so deep layers see almost no signal` : '; a large step can push their biases negative'}.`),
      fixes: dedupe([
        negativeBias(f) && fix.zeroBias(),
        initTooSmall(f) && fix.preservingInit(f),
        drifting && fix.batchNorm(),
        drifting && plainTwin(f) && fix.shortcuts(),
        fix.leakyRelu(f),
        unnormalised(f) && fix.batchNorm(),
        fix.lowerLearningRate(f),
      ]),
    };
    return finding as RuleFinding<C>;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Gradients through time

function timeSeries(records: readonly MetricsRecord[]): MetricsRecord[] {
  return records.filter((r) => Number.isFinite(timeRatio(r)));
}

const vanishingThroughTime: Rule<'vanishing_through_time'> = (ctx) => {
  const judged = timeSeries(ctx.window);
  if (judged.length === 0) return null;
  const ratio = logMedian(judged.map(timeRatio));
  if (!(ratio < THRESHOLDS.timeVanishing)) return null;
  const last = judged[judged.length - 1] as MetricsRecord;
  const profile = timeProfile(last) as number[];
  const T = profile.length;
  const perStep = ratio > 0 ? ratio ** (1 / (T - 1)) : 0;
  const reference = profile[T - 1] as number;
  const faint: number[] = [];
  profile.forEach((g, i) => {
    if (g < THRESHOLDS.timeVanishing * reference) faint.push(i + 1);
  });
  const evidence = [
    `||dL/dh_1|| / ||dL/dh_${T}|| = ${num(ratio)} (median over ${stepSpan(judged)}; vanishing below ${num(THRESHOLDS.timeVanishing)}, ${CALIBRATED})`,
    `the gradient shrinks by a factor ${num(perStep)} per time step going back; at step ${last.step}, ${faint.length} of ${T} time steps get less than 1% of the last step's gradient`,
  ];
  const initial = ctx.initial;
  if (initial && !judged.includes(initial) && Number.isFinite(timeRatio(initial))) {
    evidence.push(
      `at step ${initial.step} the ratio was ${num(timeRatio(initial))}: training has ${timeRatio(initial) < ratio ? 'not brought it above the threshold' : 'made it worse'}`,
    );
  }
  const f = ctx.facts;
  let cause: string;
  let fixes: Fix[];
  if (f.kind === 'rnn') {
    cause =
      `${describeModel(f)}: each step back multiplies the gradient by W_hh^T diag(${f.activation}'(h_t)); the slope is at most 1 and below it wherever units are active, ` +
      `so after ${T} steps the first inputs receive ${num(ratio)} of the gradient and the long-range dependency cannot be learned (Bengio et al. 1994; Pascanu et al. 2013).`;
    // GRU before LSTM: on 18 vanilla-RNN runs outside the clinic (adding-20/50 and copy; hidden 16/64; adam,
    // sgd, rmsprop; 300 steps) a GRU beat the control by the cure margin in 7 and was worse in 1 (by 2%), an LSTM
    // with forget bias 1 in 5 and worse in 5: gated cells help alike in the long run (Chung et al. 2014) but the
    // GRU, with fewer gates to learn, gets there within a short budget. IRNN cured 10 but was worse in 4 (once 3x),
    // so it stays last.
    fixes = dedupe([fix.gru(), fix.lstm(), f.activation === 'tanh' && fix.irnn()]);
  } else if (f.kind === 'lstm') {
    cause =
      `${describeModel(f)}: the cell-state gradient is multiplied by the forget gate at every step; the gates have not learned to stay near 1 ` +
      `for the ${T} steps the task needs (a solved LSTM on adding-50 holds 0.03-0.3).`;
    fixes = dedupe([
      fix.forgetBias(Math.max(2, (f.forgetBias ?? 1) + 1)),
      f.optimizer === 'sgd' && fix.adam(f),
      fix.gru(),
    ]);
  } else if (f.kind === 'seq2seq') {
    const m = f.config?.model.kind === 'seq2seq' ? f.config.model : null;
    const plain = m?.attention === 'none';
    cause =
      `${describeModel(f)}: the encoder's gradient shrinks by ${num(perStep)} per source step going back, so the first of ${T} source steps receive ${num(ratio)} of it` +
      (plain
        ? "; the decoder sees the source only through the encoder's final state, which must carry every symbol to the end (Sutskever et al. 2014; Bahdanau et al. 2015)."
        : '.');
    fixes = dedupe([
      plain && fix.attention(),
      m?.cell === 'rnn' && fix.seq2seqCell('gru'),
      m?.cell === 'rnn' && fix.seq2seqCell('lstm'),
      f.optimizer === 'sgd' && fix.adam(f),
    ]);
  } else if (f.kind === 'gru') {
    cause = `${describeModel(f)}: the update gates have not learned to keep the state, so each step back shrinks the gradient by ${num(perStep)}.`;
    fixes = dedupe([fix.lstm(), f.optimizer === 'sgd' && fix.adam(f)]);
  } else {
    cause = `The gradient shrinks by ${num(perStep)} per time step going back, so the first of ${T} inputs receive ${num(ratio)} of it: typical of a vanilla RNN (tanh slope <= 1 times the recurrent matrix at every step).`;
    fixes = dedupe([fix.lstm(), fix.gru()]);
  }
  return {
    code: 'vanishing_through_time',
    severity: ctx.early ? 'info' : sev(ratio < THRESHOLDS.timeVanishingCritical),
    title: `Vanishing gradient through time: the first of ${T} steps receives ${num(ratio)} of the last step's gradient`,
    where: { timeSteps: faint, steps: spanOf(judged) },
    evidence: ctx.early
      ? [...evidence, 'early in training: gated cells often learn to hold the gradient later']
      : evidence,
    cause,
    fixes,
  };
};

const explodingThroughTime: Rule<'exploding_through_time'> = (ctx) => {
  const series = timeSeries(ctx.records);
  const event = series.find((r) => timeRatio(r) > THRESHOLDS.timeExploding);
  const judged = timeSeries(ctx.window);
  const windowRatio = logMedian(judged.map(timeRatio));
  const sustained = windowRatio > THRESHOLDS.timeExploding;
  if (!event && !sustained) return null;
  const sample = event ?? (judged[judged.length - 1] as MetricsRecord);
  const profile = timeProfile(sample) as number[];
  const T = profile.length;
  const ratio = timeRatio(sample);
  const overflow = followedByTrouble(ctx, sample.step);
  const evidence = [
    `||dL/dh_1|| / ||dL/dh_${T}|| = ${num(ratio)} at step ${sample.step} (exploding above ${THRESHOLDS.timeExploding}, ${AUTOTRAINER}'s layer ratio applied across time)`,
    `the gradient grows by a factor ${num(ratio ** (1 / (T - 1)))} per time step going back`,
  ];
  if (sustained) evidence.push(`sustained: median ratio ${num(windowRatio)} over ${stepSpan(judged)}`);
  if (overflow) evidence.push(`followed by non-finite values at step ${overflow.step}`);
  const f = ctx.facts;
  const cause =
    f.config === null
      ? 'Each step back multiplies the gradient by the recurrent Jacobian; when its largest singular value exceeds 1 the gradient grows exponentially with the distance in time (Pascanu et al. 2013).'
      : `${describeModel(f)}: each step back multiplies the gradient by W_hh^T diag(slope); with recurrent init ${f.recurrentInit}${f.activation === 'relu' ? ' and an unbounded relu' : ''} its largest singular value exceeds 1, so the gradient grows exponentially over the ${T} steps (Pascanu et al. 2013).`;
  const fixes = dedupe([
    (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    f.recurrentInit !== null && f.recurrentInit !== 'orthogonal' && fix.orthogonalRecurrent(),
    f.kind === 'rnn' && fix.lstm(),
    fix.lowerLearningRate(f),
    f.kind !== null && f.kind !== 'mlp' && f.kind !== 'seq2seq' && fix.shorterBptt(f),
  ]);
  const growing: number[] = [];
  profile.forEach((g, i) => {
    if (g > THRESHOLDS.timeExploding * (profile[T - 1] as number)) growing.push(i + 1);
  });
  return {
    code: 'exploding_through_time',
    severity: sev(sustained || overflow !== undefined),
    title: `Exploding gradient through time: the first of ${T} steps receives ${num(ratio)}x the last step's gradient`,
    where: { timeSteps: growing, steps: [sample.step, sustained ? spanOf(judged)[1] : sample.step] },
    evidence,
    cause,
    fixes,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Clipping

const clippingInactive: Rule<'clipping_inactive'> = (ctx) => {
  const clip = ctx.facts.clip;
  if (ctx.mode !== 'run' || clip === null || clip.name === 'none') return null;
  if (ctx.records.length < THRESHOLDS.clippingMinRecords) return null;
  if (ctx.records.some((r) => r.clipped)) return null;
  if (ctx.summary?.clippedSteps !== undefined && ctx.summary.clippedSteps > 0) return null;
  const norms = ctx.records.map((r) => r.gradNorm).filter(Number.isFinite);
  const largest = norms.length > 0 ? Math.max(...norms) : NaN;
  const sorted = [...norms].sort((a, b) => a - b);
  const p90 = sorted[Math.floor(0.9 * (sorted.length - 1))] ?? NaN;
  const span = stepSpan(ctx.records);
  return {
    code: 'clipping_inactive',
    severity: 'info',
    title: `Clipping never engaged: clip ${clip.name}${clip.max !== undefined ? ` max ${num(clip.max)}` : ''} left every logged step unchanged`,
    where: { steps: spanOf(ctx.records) },
    evidence: [
      `0 of ${ctx.records.length} logged steps clipped over ${span}${ctx.summary?.clippedSteps !== undefined ? ` (summary: ${ctx.summary.clippedSteps} clipped steps)` : ''}`,
      `largest logged pre-clip gradient norm ${num(largest)}, 90th percentile ${num(p90)}`,
    ],
    cause:
      'The threshold sits above every gradient norm the run produced, so the clip neither protects against a spike nor costs anything; it is dead configuration.',
    fixes: dedupe([
      clip.name === 'norm' && Number.isFinite(p90) && p90 > 0 && fix.raiseClip(ctx.facts, p90 * 1.5),
      fix.removeClip(),
    ]),
  };
};

const clippingAlwaysOn: Rule<'clipping_always_on'> = (ctx) => {
  const judged = ctx.mode === 'run' ? ctx.records : ctx.window;
  if (judged.length < (ctx.mode === 'run' ? THRESHOLDS.clippingMinRecords : THRESHOLDS.onlineWindow))
    return null;
  const clipped = judged.filter((r) => r.clipped).length;
  const fraction = clipped / judged.length;
  if (fraction < THRESHOLDS.clippingAlwaysOn) return null;
  const normBefore = median(judged.map((r) => r.gradNorm));
  const normAfter = median(judged.map((r) => r.gradNormClipped));
  const f = ctx.facts;
  return {
    code: 'clipping_always_on',
    severity: 'warning',
    title: `Clipping engaged at ${pct(fraction)} of the logged steps`,
    where: { steps: spanOf(judged) },
    evidence: [
      `${clipped} of ${judged.length} logged steps clipped over ${stepSpan(judged)} (always on above ${pct(THRESHOLDS.clippingAlwaysOn)}, ${CALIBRATED})`,
      `median gradient norm ${num(normBefore)} before clipping, ${num(normAfter)} after`,
    ],
    cause:
      'The gradient norm is above the threshold almost every step, so clipping no longer catches outliers: it divides every step by ||g||/max, ' +
      'a hidden learning-rate cut, and the direction of the largest gradients dominates. Either the threshold is too low for this model or the gradients are persistently too large.',
    fixes: dedupe([
      Number.isFinite(normBefore) && normBefore > 0 && fix.raiseClip(f, normBefore * 1.5),
      fix.lowerLearningRate(f),
    ]),
  };
};

// ---------------------------------------------------------------------------------------------------------
// Learning at all

/**
 * The loss over the window has not left its starting level or the task's baseline (the not-learning test), and has
 * not diverged either; null when the run learns (or is not a whole training run).
 */
function flatLoss(ctx: DoctorContext): {
  judged: MetricsRecord[];
  initial: number;
  now: number;
  /** The task's guessing baseline; NaN when it has none. */
  baseline: number;
} | null {
  if (ctx.mode !== 'run') return null;
  const losses = ctx.records.filter((r) => Number.isFinite(r.loss));
  if (losses.length < 4) return null;
  const initial = median(losses.slice(0, 3).map((r) => r.loss));
  const judged = ctx.window.filter((r) => Number.isFinite(r.loss));
  if (judged.length === 0) return null;
  const now = median(judged.map((r) => r.loss));
  const baseline = ctx.summary?.baselineLoss;
  const hasBaseline = baseline !== undefined && Number.isFinite(baseline) && baseline > 0;
  const reference = hasBaseline ? Math.min(baseline, initial) : initial;
  if (!(reference > 0) || now < THRESHOLDS.notLearningFraction * reference) return null;
  if (now > THRESHOLDS.lossDivergence * initial) return null;
  return { judged, initial, now, baseline: hasBaseline ? baseline : NaN };
}

/**
 * A run that learned nothing that carries over: the training loss is flat (flatLoss) and the held-out loss at the
 * end is no better than the task's guessing baseline. Null when either is unknown or the run learned something.
 */
function stalledRun(
  ctx: DoctorContext,
): { initial: number; now: number; evalLoss: number; baseline: number } | null {
  const flat = flatLoss(ctx);
  const evalLoss = ctx.summary?.evalLoss;
  if (flat === null || Number.isNaN(flat.baseline) || evalLoss === undefined || !Number.isFinite(evalLoss))
    return null;
  if (evalLoss < THRESHOLDS.heldOutGuessing * flat.baseline) return null;
  return { initial: flat.initial, now: flat.now, evalLoss, baseline: flat.baseline };
}

/**
 * The loss ends near what a model that learned nothing scores (the task's guessing baseline, else the loss at the
 * start), with no explosion to explain it. Its cause follows the update/weight ratio, the step size relative to the
 * weights (about 1e-3 is healthy; Karpathy's rule of thumb, the same quantity as SageMaker's WeightUpdateRatio):
 * far below, the learning rate is too small (Smith 2017's range test would raise it); far above, too large; in
 * between, the optimiser or the number of steps.
 */
const notLearning: Rule<'not_learning'> = (ctx) => {
  const flat = flatLoss(ctx);
  if (flat === null) return null;
  const { judged, initial, now, baseline } = flat;
  const hasBaseline = !Number.isNaN(baseline);
  // Dead or saturated units and a vanishing gradient explain a flat loss themselves: their findings speak for it.
  const explained = judged.some(
    (r) =>
      firstLastRatio(r) < THRESHOLDS.vanishingRatio ||
      hiddenActivations(r).some(
        (a) => a.dead > THRESHOLDS.unitFraction || a.saturated > THRESHOLDS.unitFraction,
      ),
  );
  // So does rank collapse: its finding names the cause.
  if (explained || rankCollapsed(judged) !== null) return null;
  const updates = finite(judged).filter((r) => !r.skipped);
  const ratio = logMedian(updates.map(maxUpdateRatio));
  const f = ctx.facts;
  const evidence = [
    `median loss ${num(now)} over ${stepSpan(judged)} against ${num(initial)} at the start${hasBaseline ? ` and ${num(baseline)} for a model that learned nothing (the task's baseline)` : ''}: ` +
      `still above ${pct(THRESHOLDS.notLearningFraction)} of ${hasBaseline ? 'the smaller of the two' : 'the initial loss'} (${CALIBRATED})`,
  ];
  if (Number.isFinite(ratio))
    evidence.push(
      `largest update/weight ratio ${num(ratio)} (median over ${stepSpan(updates)}; about 1e-3 is healthy, below ${num(THRESHOLDS.updateRatioSmall)} the steps are too small to move the weights)`,
    );
  let causeKind: CauseKind;
  let cause: string;
  let fixes: Fix[];
  const model = f.config ? `${describeModel(f)}: ` : '';
  if (initFarOff(f)) {
    causeKind = 'initialisation';
    cause = `${model}${initSentence(f)}: the signal ${initTooSmall(f) ? 'fades' : 'saturates or blows up'} before the loss can shape it.`;
    fixes = dedupe([fix.preservingInit(f), unnormalised(f) && fix.batchNorm()]);
  } else if (ratio < THRESHOLDS.updateRatioSmall) {
    causeKind = 'learning-rate';
    const factor = healthyStepFactor(ratio);
    cause = `${model}each step moves the weights by ${num(ratio)} of their norm, ${num(1e-3 / ratio)}x less than a healthy step: the learning rate is too small for the run to learn in ${ctx.summary?.steps ?? 'its'} steps.`;
    fixes = dedupe([fix.raiseLearningRate(f, factor), f.optimizer === 'sgd' && fix.adam(f)]);
  } else if (ratio > THRESHOLDS.updateRatioLarge) {
    causeKind = 'learning-rate';
    cause = `${model}each step moves the weights by ${num(ratio)} of their norm: the steps are so large that the run jumps around instead of descending.`;
    fixes = dedupe([
      fix.lowerLearningRate(f),
      (f.clip === null || f.clip.name === 'none') && fix.clipNorm(f, 1),
    ]);
  } else if (f.optimizer === 'sgd') {
    causeKind = 'optimizer';
    cause = `${model}the gradients and the step sizes look healthy, yet the loss does not fall: plain SGD moves every weight by the same factor of its gradient, which is slow on badly conditioned losses.`;
    fixes = dedupe([fix.adam(f, fix.adamStepFor(f)), fix.longerTraining(f)]);
  } else {
    causeKind = 'steps';
    cause = `${model}the gradients and the step sizes look healthy, yet the loss has not left its starting level: the run may need more steps, or the labels may not depend on the inputs.`;
    fixes = dedupe([fix.longerTraining(f), fix.raiseLearningRate(f, 3)]);
  }
  return {
    code: 'not_learning',
    causeKind,
    severity: 'warning',
    title: `Not learning: the loss ends at ${num(now)}, ${hasBaseline ? `where guessing scores ${num(baseline)}` : `where it started at ${num(initial)}`}`,
    where: { steps: spanOf(judged) },
    evidence,
    cause,
    fixes,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Attention models (records carry `attention`: per-head entropy and per-block token similarity)

/** Post-LN Transformer settings, when the config is one: what the Transformer findings' causes and fixes read. */
function postLnWithoutWarmup(facts: ModelFacts): { layers: number } | null {
  const config = facts.config;
  if (config === null) return null;
  const model: { kind: string; norm?: unknown; layers?: unknown } = config.model;
  if (model.kind !== 'transformer' || model.norm !== 'post') return null;
  if (config.schedule.name === 'warmup-cosine') return null;
  return { layers: typeof model.layers === 'number' ? model.layers : 0 };
}

function isPostLn(facts: ModelFacts): boolean {
  const model: { kind: string; norm?: unknown } | undefined = facts.config?.model;
  return model?.kind === 'transformer' && model.norm === 'post';
}

/** The cause and fixes of an attention pathology: Post-LN without warm-up names itself, else the step size. */
/** A Post-LN transformer model kind without DeepNorm (the setting exists for kind transformer only). */
function deepNormable(f: ModelFacts): boolean {
  const m = f.config?.model;
  return m?.kind === 'transformer' && m.norm === 'post' && !m.deepNorm;
}

/** A transformer model kind without QK normalisation (the setting exists for kind transformer only). */
function qkNormable(f: ModelFacts): boolean {
  const m = f.config?.model;
  return m?.kind === 'transformer' && !m.qkNorm;
}

function attentionCause(f: ModelFacts, what: string): { cause: string; fixes: Fix[] } {
  const post = postLnWithoutWarmup(f);
  if (post) {
    return {
      cause:
        `a ${post.layers}-layer Post-LN Transformer${lrText(f)} without learning-rate warm-up: with the LayerNorm after each residual sum, ` +
        `the gradient of the layers near the output is large at initialisation and does not shrink with depth (Xiong et al. 2020, Theorem 1), ` +
        `so the first full-size steps throw those weights far, and ${what}.`,
      fixes: dedupe([
        fix.warmup(f),
        fix.preLayerNorm(),
        deepNormable(f) && fix.deepNorm(),
        fix.lowerLearningRate(f),
      ]),
    };
  }
  return {
    cause: `the updates${lrText(f)} are too large for the attention logits early in training, and ${what}.`,
    fixes: dedupe([fix.warmup(f), isPostLn(f) && fix.preLayerNorm(), fix.lowerLearningRate(f)]),
  };
}

/**
 * Rank collapse (Noci et al. 2022, "Signal Propagation in Transformers"; Dong et al. 2021): every token of a sequence
 * leaves a block with the same representation, so attention cannot tell positions apart and the gradients of the
 * queries and keys vanish. Measured as the mean cosine similarity of distinct tokens, per block.
 */
export function rankCollapsed(
  records: readonly MetricsRecord[],
): { similarity: number; blocks: number[] } | null {
  const judged = records.filter((r) => r.attention && r.attention.tokenSimilarity.length > 0);
  if (judged.length === 0) return null;
  const top = judged.map((r) => Math.max(...(r.attention?.tokenSimilarity ?? []).filter(Number.isFinite)));
  const similarity = median(top);
  if (!(similarity > THRESHOLDS.rankCollapse)) return null;
  const last = judged[judged.length - 1] as MetricsRecord;
  const blocks = (last.attention?.tokenSimilarity ?? [])
    .map((s, i) => (s > THRESHOLDS.rankCollapse ? i + 1 : -1))
    .filter((i) => i > 0);
  return { similarity, blocks };
}

const rankCollapse: Rule<'rank_collapse'> = (ctx) => {
  const found = rankCollapsed(ctx.window);
  if (!found) return null;
  const last = ctx.window.filter((r) => r.attention).pop() as MetricsRecord;
  const similarities = last.attention?.tokenSimilarity ?? [];
  const initial = ctx.initial?.attention?.tokenSimilarity;
  const evidence = [
    `mean cosine similarity of the tokens of a sequence, highest block: median ${num(found.similarity)} over ${stepSpan(ctx.window)} (collapse above ${num(THRESHOLDS.rankCollapse)}, Noci et al. 2022; ${CALIBRATED})`,
    `per block at step ${last.step}: ${similarities.map((s) => num(s)).join(', ')} (input side first)`,
  ];
  if (initial && ctx.initial && ctx.initial !== last)
    evidence.push(`at step ${ctx.initial.step}: ${initial.map((s) => num(s)).join(', ')}`);
  // A run whose loss has fallen below half of what guessing scores is learning through whatever similarity its
  // tokens keep (a regression read off a few marked positions needs little token diversity): information only.
  // Seen on a Pre-LN Transformer on adding (eval MSE 0.015 against a baseline of 0.167, similarity 0.98).
  const baseline = ctx.summary?.baselineLoss;
  // the loss where the run ends (the last three logged steps): a run that learns late is still learning
  const losses = ctx.window
    .map((r) => r.loss)
    .filter((l) => Number.isFinite(l))
    .slice(-3);
  const now = losses.length > 0 ? median(losses) : NaN;
  const learning = baseline !== undefined && baseline > 0 && now < baseline / 2;
  if (learning)
    evidence.push(
      `the loss ${num(now)} is below half of the task's baseline ${num(baseline)}: the run learns, so this is information only`,
    );
  const { cause, fixes } = attentionCause(
    ctx.facts,
    'the token representations collapse into one direction: attention averages identical vectors, its queries and keys get no gradient, and the model can only learn the output frequencies',
  );
  return {
    code: 'rank_collapse',
    severity: learning ? 'info' : sev(found.similarity > THRESHOLDS.rankCollapseCritical),
    title: `Rank collapse: the tokens leave block${found.blocks.length === 1 ? '' : 's'} ${ranges(found.blocks)} with one representation (similarity ${num(found.similarity)})`,
    where: { layers: found.blocks, steps: spanOf(ctx.window) },
    evidence,
    cause: capitalise(cause),
    fixes,
  };
};

/**
 * Attention entropy collapse (Zhai et al. 2023, "Stabilizing Transformer Training by Preventing Attention Entropy
 * Collapse"): heads whose attention concentrates on one key; their softmax saturates and passes little gradient, and
 * training turns unstable.
 */
const attentionEntropyCollapse: Rule<'attention_entropy_collapse'> = (ctx) => {
  const judged = ctx.window.filter((r) => r.attention && r.attention.entropy.some((h) => h.length > 0));
  if (judged.length === 0) return null;
  const first = ctx.initial?.attention?.entropy;
  const last = judged[judged.length - 1] as MetricsRecord;
  const blocks = last.attention?.entropy ?? [];
  const collapsed: Array<{ block: number; head: number; entropy: number; start: number }> = [];
  blocks.forEach((heads, b) =>
    heads.forEach((_, h) => {
      const entropy = median(judged.map((r) => r.attention?.entropy[b]?.[h] ?? NaN).filter(Number.isFinite));
      const start = first?.[b]?.[h] ?? NaN;
      const dropped = !Number.isFinite(start) || entropy < THRESHOLDS.entropyDrop * start;
      if (entropy < THRESHOLDS.entropyCollapse && dropped)
        collapsed.push({ block: b + 1, head: h, entropy, start });
    }),
  );
  if (collapsed.length === 0) return null;
  const heads = blocks.reduce((n, h) => n + h.length, 0);
  const layers = [...new Set(collapsed.map((c) => c.block))];
  const { cause, fixes } = attentionCause(
    ctx.facts,
    'the attention logits grow until each collapsed head puts nearly all its weight on one key: its softmax saturates and passes almost no gradient',
  );
  // QK normalisation bounds the logits themselves; it cured fewer runs than the step-size fixes (fixes.qkNorm), so it
  // comes after them.
  const ranked = dedupe([...fixes, qkNormable(ctx.facts) && fix.qkNorm()]);
  return {
    code: 'attention_entropy_collapse',
    severity: sev(collapsed.length > heads / 2),
    title: `Attention entropy collapse: ${collapsed.length} of ${heads} heads attend to a single key`,
    where: { layers, steps: spanOf(judged) },
    evidence: [
      ...collapsed
        .slice(0, 4)
        .map(
          (c) =>
            `block ${c.block} head ${c.head}: mean attention entropy ${num(c.entropy)} nats over ${stepSpan(judged)}${Number.isFinite(c.start) ? `, from ${num(c.start)} at step ${ctx.initial?.step}` : ''} (collapse below ${num(THRESHOLDS.entropyCollapse)} and ${pct(THRESHOLDS.entropyDrop)} of the start, Zhai et al. 2023; ${CALIBRATED})`,
        ),
    ],
    cause: capitalise(cause),
    fixes: ranked,
  };
};

/** Every rule, keyed by the code it produces: the type makes a missing rule a compile error. */
export const RULES: { [C in FindingCode]: Rule<C> } = {
  vanishing_gradient: vanishingGradient,
  exploding_gradient: explodingGradient,
  vanishing_through_time: vanishingThroughTime,
  exploding_through_time: explodingThroughTime,
  non_finite: nonFinite,
  guard_stuck: guardStuck,
  poor_initialization: poorInitialization,
  loss_divergence: lossDivergence,
  tiny_updates: tinyUpdates,
  huge_updates: hugeUpdates,
  saturated_activation: unitRule('saturated_activation', 'saturated'),
  dead_units: unitRule('dead_units', 'dead'),
  clipping_always_on: clippingAlwaysOn,
  clipping_inactive: clippingInactive,
  rank_collapse: rankCollapse,
  attention_entropy_collapse: attentionEntropyCollapse,
  not_learning: notLearning,
};

/** Run every rule on a context; findings in table order (sort them with `sortFindings`). */
export function runRules(ctx: DoctorContext): RuleFinding[] {
  const out: RuleFinding[] = [];
  for (const code of Object.keys(RULES) as FindingCode[]) {
    const rule = RULES[code] as Rule<FindingCode>;
    const finding = rule(ctx);
    if (finding) out.push(finding as RuleFinding);
  }
  return out;
}
