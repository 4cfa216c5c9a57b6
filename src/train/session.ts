/**
 * One training run in memory, a step at a time: sample, forward, loss, backward, measure, guard, transform (clip +
 * optimiser), apply, record. No file access, so the same loop drives the CLI's runs and the browser lab.
 * Measuring is separate from changing: the monitor only reads; the transforms report what they measured.
 */
import { backward, noGrad, topologicalOrder } from '../autograd/tape.js';
import type { ResolvedConfig } from '../config/types.js';
import { createTask } from '../data/index.js';
import type { Batch, Task } from '../data/task.js';
import { diagnose, diagnoseOnline } from '../doctor/diagnosis.js';
import { useThreads } from '../kernels/threads.js';
import { briefFindings } from '../doctor/findings.js';
import type { ActivationRecord, MetricsRecord, ParamRecord, Summary } from '../io/runlog.js';
import { histogramsDue, weightHistograms } from '../monitor/histogram.js';
import { residualBlocks, measureBranches, residualRecords, type WatchedBlock } from '../monitor/residual.js';
import {
  activationStats,
  channelStats,
  firstNonFinite,
  fitDecayFactor,
  paramStats,
} from '../monitor/stats.js';
import type { LayeredModel } from '../nn/index.js';
import { crossEntropy, mse } from '../ops/index.js';
import {
  applyUpdates,
  chain,
  globalNorm,
  clipFromConfig,
  optimizerFromConfig,
  scheduleFromConfig,
} from '../optim/index.js';
import type { AnyGradientTransformation, ParamInfo, Schedule } from '../optim/types.js';
import { Rng, type RngState } from '../tensor/rng.js';
import { BufferArena, withArena, type Buffer, type Tensor } from '../tensor/tensor.js';
import { buildModel } from './build.js';
import { captureModelState, restoreModelState, stateMismatch, type ModelState } from './model-state.js';

export interface SessionOptions {
  /** Train on this task instead of the config's (benchmarks with a fixed batch; the config's task is not built). */
  task?: Task;
  /** Testing and demonstrations: corrupt the gradient of the first parameter on these steps with NaN. */
  injectNonFiniteAt?: readonly number[];
  /**
   * Called with each logged record while the step's tensors are still alive: `parameters` hold this step's
   * gradients, `outputs` each observed layer's activation (TensorBoard histograms read them).
   */
  onRecord?: (
    record: MetricsRecord,
    detail: { parameters: readonly Tensor[]; outputs: ReadonlyArray<Tensor | null> },
  ) => void;
}

export interface StepResult {
  step: number;
  loss: number;
  /** The record when this step was logged (step 1, every `monitor.every` steps, the last, and guarded steps). */
  record: MetricsRecord | null;
}

interface Snapshot {
  values: Buffer[];
  state: unknown;
  schedule: unknown;
  lrFactor: number;
}

/**
 * Why the guard ended a run: `stop` mode at the first non-finite step, or `stuck` when `skip`/`rollback` met
 * `train.guardPatience` non-finite steps in a row (the weights themselves are broken, so every later step fails).
 */
export type GuardStopKind = 'stop' | 'stuck';

export interface GuardStop {
  step: number;
  source: string;
  kind: GuardStopKind;
}

/** The default of `train.guardPatience`, used when a config written before the field has none. */
export const DEFAULT_GUARD_PATIENCE = 10;

/**
 * Everything a run needs to continue bit for bit, as plain data (typed arrays, numbers, objects): weights,
 * optimiser, schedule and guard state, the data stream, the model's own state and the counters, with the seconds
 * spent training so far (so a resumed run's summary times the whole run; no result depends on it).
 * `train/checkpoint` writes it to disk.
 */
export interface SessionState {
  step: number;
  parameters: Array<{ name: string; shape: readonly number[]; values: Buffer }>;
  optimizer: unknown;
  schedule: unknown;
  lrFactor: number;
  snapshot: Snapshot | null;
  dataRng: RngState;
  model: ModelState;
  counters: {
    skippedSteps: number;
    clippedSteps: number;
    rolledBackSteps: number;
    consecutiveGuarded: number;
    finalLoss: number;
    bestLoss: number;
    /** Absent in checkpoints written before it was kept: the resumed run then times only its own part. */
    trainingSeconds?: number;
  };
  firstNonFinite: { step: number; source: string } | null;
  stopped: GuardStop | null;
}

/** The task's loss on a model output. */
export function computeLoss(task: Task, output: Tensor, batch: Batch): Tensor {
  if (task.loss === 'cross-entropy') {
    if (!batch.labels)
      throw new Error(`task "${task.name}" is scored by cross-entropy but its batch has no labels.`);
    return crossEntropy(output, batch.labels);
  }
  return mse(output, batch.y);
}

/** Accuracy of logits [rows, classes] against class ids. */
export function accuracy(logits: Tensor, labels: Int32Array): number {
  const classes = logits.shape[logits.rank - 1] as number;
  const rows = logits.size / classes;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++)
      if ((logits.data[r * classes + j] as number) > (logits.data[r * classes + best] as number)) best = j;
    if (best === labels[r]) correct++;
  }
  return rows > 0 ? correct / rows : NaN;
}

/** Loss (and accuracy for classification) on the task's fixed evaluation set, in eval mode without a graph. */
export function evaluate(model: LayeredModel, task: Task): { loss: number; accuracy?: number } {
  const batch = task.evalSet();
  model.setTraining(false);
  // A sequence-to-sequence model decodes from its own predictions here, never from the answers.
  model.setTargets?.(null);
  try {
    return noGrad(() => {
      const out = model.forward(batch.x);
      const loss = computeLoss(task, out, batch).item();
      return batch.labels ? { loss, accuracy: accuracy(out, batch.labels) } : { loss };
    });
  } finally {
    model.setTraining(true);
  }
}

function paramInfo(model: LayeredModel): { tensors: Tensor[]; info: ParamInfo[] } {
  const named = model.namedParameters();
  const tensors: Tensor[] = [];
  const info: ParamInfo[] = [];
  const lastLayer = model.blocks.length - 1;
  for (const p of named) {
    const match = /^layers\.(\d+)\./.exec(p.name);
    const layer = match ? Number(match[1]) : 0;
    tensors.push(p.tensor);
    info.push({ name: p.name, shape: p.tensor.shape, layer, role: p.role, isOutput: layer === lastLayer });
  }
  return { tensors, info };
}

/** Name the first place a non-finite value appears: a weight, an op of the forward pass, the loss, or a gradient. */
export function locateNonFinite(
  tensors: readonly Tensor[],
  loss: Tensor | null,
  order: readonly Tensor[] | null,
): string {
  for (const t of tensors) {
    const bad = firstNonFinite(t.data);
    if (bad)
      return `parameter ${t.name} holds ${bad.count} non-finite value(s) (first at index ${bad.index})`;
  }
  if (order) {
    for (const t of order) {
      if (t.op === 'leaf') continue;
      const bad = firstNonFinite(t.data);
      if (bad)
        return `op ${t.op}${t.name ? ` in ${t.name}` : ''} produced ${bad.count} non-finite value(s) in its output [${t.shape.join(', ')}] (first at index ${bad.index})`;
    }
  }
  if (loss && !Number.isFinite(loss.data[0] as number)) return `the loss is ${loss.data[0]}`;
  for (let i = tensors.length - 1; i >= 0; i--) {
    const t = tensors[i] as Tensor;
    const bad = t.grad ? firstNonFinite(t.grad) : null;
    if (bad) return `gradient of ${t.name} (${bad.count} non-finite value(s), first at index ${bad.index})`;
  }
  return 'unknown';
}

/**
 * A run that advances one step per `step()` call.
 * @example
 * const session = new TrainingSession(config);
 * while (!session.done) session.step();
 * const summary = session.finish();
 */
export class TrainingSession {
  readonly config: ResolvedConfig;
  readonly task: Task;
  readonly model: LayeredModel;
  readonly parameters: readonly Tensor[];
  readonly info: readonly ParamInfo[];
  /** Every logged record so far. */
  readonly history: MetricsRecord[] = [];
  /** Steps taken so far. */
  stepsTaken = 0;
  /** Set when the guard ended training: `stop` mode, or `skip`/`rollback` stuck on non-finite steps. */
  stopped: GuardStop | null = null;
  firstNonFinite: { step: number; source: string } | null = null;
  finalLoss = NaN;
  bestLoss = Infinity;
  skippedSteps = 0;
  clippedSteps = 0;
  rolledBackSteps = 0;
  /** Non-finite steps in a row the guard skipped or rolled back (reset by each finite step). */
  consecutiveGuarded = 0;
  /** Seconds spent inside `step()`. */
  trainingSeconds = 0;

  private readonly dataRng: Rng;
  private readonly values: Buffer[];
  private readonly updates: Buffer[];
  private readonly schedule: Schedule;
  private readonly transform: AnyGradientTransformation;
  private state: unknown;
  private lrFactor = 1;
  private snapshot: Snapshot | null = null;
  private readonly arena = new BufferArena();
  private readonly observedOutputs: Array<Tensor | null>;
  private readonly watchedBlocks: WatchedBlock[];
  private readonly inject: ReadonlySet<number>;
  private readonly onRecord: SessionOptions['onRecord'];

  constructor(config: ResolvedConfig, options: SessionOptions = {}) {
    this.config = config;
    // The kernels are the process's: every session sets its thread count (the same bits whatever it is).
    useThreads(config.threads ?? 'auto');
    const rng = new Rng(config.seed);
    this.task = options.task ?? createTask(config.task, config.seed);
    this.model = buildModel(config.model, this.task, rng.fork('init'), { bptt: config.train.bptt });
    this.dataRng = rng.fork('data');
    const { tensors, info } = paramInfo(this.model);
    this.parameters = tensors;
    this.info = info;
    this.values = tensors.map((t) => t.data);
    this.updates = this.values.map((v) =>
      v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length),
    );
    this.schedule = scheduleFromConfig(config.schedule, config.optimizer.learningRate, config.train.steps);
    this.transform = chain(clipFromConfig(config.clip), optimizerFromConfig(config.optimizer, this.schedule));
    this.state = this.transform.init(this.values, info);
    this.observedOutputs = this.model.observed.map(() => null);
    this.watchedBlocks = residualBlocks(this.model);
    this.inject = new Set(options.injectNonFiniteAt ?? []);
    this.onRecord = options.onRecord;
    // Rollback keeps the last weights and optimiser state known to be good.
    if (config.guard === 'rollback') this.takeSnapshot();
  }

  get done(): boolean {
    return this.stopped !== null || this.stepsTaken >= this.config.train.steps;
  }

  private takeSnapshot(): void {
    this.snapshot = {
      values: this.values.map((v) => v.slice()),
      state: structuredClone(this.state),
      schedule: this.schedule.getState?.() ?? null,
      lrFactor: this.lrFactor,
    };
  }

  private restoreSnapshot(snap: Snapshot): void {
    this.values.forEach((v, i) => v.set(snap.values[i] as Buffer));
    this.state = structuredClone(snap.state);
    if (snap.schedule && this.schedule.setState) {
      this.schedule.setState(snap.schedule as Parameters<NonNullable<Schedule['setState']>>[0]);
    }
    this.lrFactor = snap.lrFactor * 0.5;
    snap.lrFactor = this.lrFactor;
    this.rolledBackSteps++;
  }

  /** Take one training step. */
  step(): StepResult {
    if (this.done)
      throw new Error(
        `the run is over (${this.stepsTaken} of ${this.config.train.steps} steps${this.stopped ? ', stopped by the guard' : ''}).`,
      );
    const started = performance.now();
    // The previous step's op buffers are free again: nothing kept from one step to the next reads them.
    this.arena.reset();
    const result = withArena(this.arena, () => this.stepInArena(this.stepsTaken + 1));
    this.stepsTaken = result.step;
    this.trainingSeconds += (performance.now() - started) / 1000;
    return result;
  }

  private stepInArena(step: number): StepResult {
    const { config, model, task, parameters: tensors, info, values, updates, observedOutputs } = this;
    const steps = config.train.steps;
    const monitored = step === 1 || step % config.monitor.every === 0 || step === steps;
    const traceTime = monitored && config.monitor.timesteps && model.setTraceTimeGrad !== undefined;
    if (monitored) model.observed.forEach((m, i) => (m.observer = (y) => (observedOutputs[i] = y)));
    if (traceTime) model.setTraceTimeGrad?.(true);
    if (monitored) model.setRecordAttention?.(true);
    if (monitored) measureBranches(this.watchedBlocks, true);
    const batch = task.trainBatch(config.train.batchSize, this.dataRng);
    model.zeroGrad();
    model.setTargets?.(batch.labels);
    const output = model.forward(batch.x);
    if (monitored) measureBranches(this.watchedBlocks, false);
    const lossTensor = computeLoss(task, output, batch);
    const loss = lossTensor.item();
    const lossFinite = Number.isFinite(loss);
    // The graph is released by backward; keep its order only when it is needed to name a non-finite op.
    const order = !lossFinite && this.firstNonFinite === null ? topologicalOrder(lossTensor) : null;
    backward(lossTensor);
    if (this.inject.has(step) && tensors[0]?.grad) tensors[0].grad[0] = NaN;
    if (monitored) model.observed.forEach((m) => (m.observer = null));
    if (traceTime) model.setTraceTimeGrad?.(false);
    const attention = monitored ? model.attentionRecord?.() : undefined;
    if (monitored) model.setRecordAttention?.(false);

    const grads = tensors.map((t) => t.gradBuffer());
    const gradNorm = globalNorm(grads);
    const finite = lossFinite && Number.isFinite(gradNorm);
    let skipped = false;
    let rolledBack = false;
    let nonFiniteSource: string | undefined;
    let report: Readonly<Record<string, number>> = {};

    if (!finite) {
      // Named at every bad step (the first one with the forward graph), in every guard mode, off included.
      nonFiniteSource = locateNonFinite(tensors, lossTensor, order);
      this.firstNonFinite ??= { step, source: nonFiniteSource };
    }
    if (!finite && config.guard !== 'off') {
      skipped = true;
      this.skippedSteps++;
      this.consecutiveGuarded++;
      if (config.guard === 'rollback' && this.snapshot) {
        this.restoreSnapshot(this.snapshot);
        rolledBack = true;
      }
      const source = nonFiniteSource ?? 'unknown';
      if (config.guard === 'stop') this.stopped = { step, source, kind: 'stop' };
      else if (this.consecutiveGuarded >= (config.train.guardPatience ?? DEFAULT_GUARD_PATIENCE))
        this.stopped = { step, source, kind: 'stuck' };
      for (const u of updates) u.fill(0);
    } else {
      this.consecutiveGuarded = 0;
      updates.forEach((u, i) => u.set(grads[i] as Buffer));
      report = this.transform.update(updates, this.state, { step, params: values, info, loss });
      if (this.lrFactor !== 1) {
        for (const u of updates) for (let j = 0; j < u.length; j++) u[j] = (u[j] as number) * this.lrFactor;
      }
      applyUpdates(values, updates);
      // Reduce-on-plateau counts logged steps (the config's `patience`), not every batch.
      if (monitored) this.schedule.observe?.(loss, step);
      if (report['clipped']) this.clippedSteps++;
    }
    this.finalLoss = loss;
    if (lossFinite) this.bestLoss = Math.min(this.bestLoss, loss);

    let record: MetricsRecord | null = null;
    if (monitored || skipped) {
      const params: ParamRecord[] = tensors.map((t, i) => {
        const s = paramStats(t.data, t.grad, skipped ? null : (updates[i] as Buffer));
        const p = info[i] as ParamInfo;
        return { name: p.name, layer: p.layer, role: p.role, ...s };
      });
      const activations: ActivationRecord[] = [];
      model.observed.forEach((m, i) => {
        const y = observedOutputs[i];
        const facts = m.facts();
        if (!y || !facts) return;
        // Conv outputs (NCHW): a channel is the unit, read at every position.
        const image = y.rank === 4;
        const s = activationStats(
          y.data,
          image ? y.size / (y.shape[0] as number) : (y.shape[y.rank - 1] as number),
          facts.activation,
        );
        const c = image ? channelStats(y.data, y.shape, facts.activation) : null;
        activations.push({
          name: `layers.${i}`,
          layer: i,
          mean: s.mean,
          std: s.std,
          saturated: c ? c.saturated : s.saturated,
          dead: c ? c.dead : s.dead,
          ...(c ? { channelDead: c.channelDead, channelSaturated: c.channelSaturated } : {}),
        });
      });
      const residual = monitored ? residualRecords(this.watchedBlocks) : [];
      const histograms =
        monitored && histogramsDue(step, config.monitor, steps) ? weightHistograms(tensors, info) : null;
      const timeGradByLayer = traceTime ? (model.timeGrad?.() ?? []) : [];
      const top = timeGradByLayer[timeGradByLayer.length - 1];
      record = {
        step,
        loss,
        lr: (report['learningRate'] ?? this.schedule.value(step)) * this.lrFactor,
        gradNorm,
        gradNormClipped: report['normAfter'] ?? gradNorm,
        clipped: Boolean(report['clipped']),
        skipped,
        params,
        activations,
        ...(top ? { timeGrad: top, timeGradFactor: fitDecayFactor(top) } : {}),
        ...(timeGradByLayer.length > 1 ? { timeGradByLayer } : {}),
        ...(residual.length > 0 ? { residual } : {}),
        ...(attention ? { attention } : {}),
        ...(histograms ? { histograms } : {}),
        findings: [],
        ...(nonFiniteSource ? { nonFiniteSource } : {}),
        ...(rolledBack ? { rolledBack: true } : {}),
      };
      this.history.push(record);
      record.findings = briefFindings(diagnoseOnline(this.history, config));
      this.onRecord?.(record, { parameters: tensors, outputs: observedOutputs });
      observedOutputs.fill(null);
      if (config.guard === 'rollback' && !skipped) this.takeSnapshot();
    }
    return { step, loss, record };
  }

  /**
   * Evaluate, diagnose the whole run and return its summary. `interrupted`: the run was stopped from outside
   * (SIGINT/SIGTERM) at a step boundary; the summary says so.
   */
  finish(options: { interrupted?: boolean } = {}): Summary {
    const steps = this.stepsTaken;
    const seconds = this.trainingSeconds;
    const summary: Summary = {
      name: this.config.name,
      steps,
      wallSeconds: seconds,
      stepsPerSecond: steps / Math.max(seconds, 1e-9),
      finalLoss: this.finalLoss,
      bestLoss: Number.isFinite(this.bestLoss) ? this.bestLoss : NaN,
      eval: evaluate(this.model, this.task),
      baseline: this.task.baseline,
      skippedSteps: this.skippedSteps,
      clippedSteps: this.clippedSteps,
      rolledBackSteps: this.rolledBackSteps,
      stoppedEarly: options.interrupted
        ? 'interrupted'
        : this.stopped === null
          ? false
          : this.stopped.kind === 'stuck'
            ? 'guard_stuck'
            : true,
      firstNonFinite: this.firstNonFinite,
      findings: [],
    };
    const diagnosis = diagnose({
      records: this.history,
      config: this.config,
      summary: {
        steps,
        skippedSteps: this.skippedSteps,
        clippedSteps: this.clippedSteps,
        baselineLoss: this.task.baseline.loss,
        evalLoss: summary.eval.loss,
      },
    });
    summary.verdict = diagnosis.verdict;
    summary.findings = diagnosis.findings;
    const warnings = this.warnings();
    if (warnings.length > 0) summary.warnings = warnings;
    return summary;
  }

  /** What the summary and the terminal must say beside the verdict: a run never ends non-finite silently. */
  warnings(): string[] {
    const out: string[] = [];
    if (this.stopped?.kind === 'stuck')
      out.push(
        `the ${this.config.guard} guard met ${this.consecutiveGuarded} non-finite steps in a row (train.guardPatience ${this.config.train.guardPatience ?? DEFAULT_GUARD_PATIENCE}) and stopped the run at step ${this.stopped.step}: ${this.stopped.source}`,
      );
    if (this.stepsTaken > 0 && !Number.isFinite(this.finalLoss))
      out.push(
        `the final loss is ${this.finalLoss}${this.firstNonFinite ? ` (non-finite since step ${this.firstNonFinite.step}: ${this.firstNonFinite.source})` : ''}`,
      );
    return out;
  }

  /** The run's state after the last step taken, to continue it later (`restore`) bit for bit. */
  captureState(): SessionState {
    return {
      step: this.stepsTaken,
      parameters: this.parameters.map((t, i) => ({
        name: (this.info[i] as ParamInfo).name,
        shape: [...t.shape],
        values: (this.values[i] as Buffer).slice(),
      })),
      optimizer: structuredClone(this.state),
      schedule: this.schedule.getState?.() ?? null,
      lrFactor: this.lrFactor,
      snapshot: this.snapshot ? structuredClone(this.snapshot) : null,
      dataRng: this.dataRng.getState(),
      model: captureModelState(this.model),
      counters: {
        skippedSteps: this.skippedSteps,
        clippedSteps: this.clippedSteps,
        rolledBackSteps: this.rolledBackSteps,
        consecutiveGuarded: this.consecutiveGuarded,
        finalLoss: this.finalLoss,
        bestLoss: this.bestLoss,
        trainingSeconds: this.trainingSeconds,
      },
      firstNonFinite: this.firstNonFinite,
      stopped: this.stopped,
    };
  }

  /**
   * Continue from a captured state: `history` is the run's records up to that step (metrics.jsonl). Throws
   * a `size_mismatch` `GradscopeError` when the state was captured from another model, before changing anything.
   */
  restore(state: SessionState, history: readonly MetricsRecord[]): void {
    if (this.stepsTaken !== 0) throw new Error('restore() needs a fresh session (no step taken yet).');
    const expected = this.parameters.map(
      (t, i) => `${(this.info[i] as ParamInfo).name} [${t.shape.join(', ')}]`,
    );
    const saved = state.parameters.map((p) => `${p.name} [${p.shape.join(', ')}]`);
    if (expected.join(';') !== saved.join(';'))
      throw stateMismatch(
        `the model's parameters are ${expected.slice(0, 3).join(', ')}${expected.length > 3 ? ', ...' : ''}; the checkpoint's ${saved.slice(0, 3).join(', ')}${saved.length > 3 ? ', ...' : ''}`,
      );
    restoreModelState(this.model, state.model);
    state.parameters.forEach((p, i) => (this.values[i] as Buffer).set(p.values));
    this.state = structuredClone(state.optimizer);
    if (state.schedule !== null && this.schedule.setState)
      this.schedule.setState(state.schedule as Parameters<NonNullable<Schedule['setState']>>[0]);
    this.lrFactor = state.lrFactor;
    this.snapshot = state.snapshot ? structuredClone(state.snapshot) : null;
    this.dataRng.setState(state.dataRng);
    this.stepsTaken = state.step;
    this.skippedSteps = state.counters.skippedSteps;
    this.clippedSteps = state.counters.clippedSteps;
    this.rolledBackSteps = state.counters.rolledBackSteps;
    this.consecutiveGuarded = state.counters.consecutiveGuarded;
    this.finalLoss = state.counters.finalLoss;
    this.bestLoss = state.counters.bestLoss;
    this.trainingSeconds = state.counters.trainingSeconds ?? 0;
    this.firstNonFinite = state.firstNonFinite;
    this.stopped = state.stopped;
    this.history.length = 0;
    this.history.push(...history);
  }
}
