/**
 * The training loop: sample, forward, loss, backward, measure, guard, transform (clip + optimiser), apply, log.
 * Measuring is separate from changing: the monitor only reads; the transforms report what they measured.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { backward, noGrad, topologicalOrder } from '../autograd/tape.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Batch, Task } from '../data/task.js';
import { createTask } from '../data/index.js';
import { briefFindings, diagnose, diagnoseOnline } from '../doctor/index.js';
import { JsonlWriter, writeJson } from '../io/jsonl.js';
import { EventWriter } from '../io/tfevents.js';
import type { ActivationRecord, MetricsRecord, ParamRecord, Summary } from '../io/runlog.js';
import { activationStats, firstNonFinite, fitDecayFactor, l2Norm, paramStats } from '../monitor/stats.js';
import type { LayeredModel } from '../nn/index.js';
import { crossEntropy, mse } from '../ops/index.js';
import {
  applyUpdates,
  chain,
  clipFromConfig,
  optimizerFromConfig,
  scheduleFromConfig,
} from '../optim/index.js';
import type { ParamInfo } from '../optim/types.js';
import { Rng } from '../tensor/rng.js';
import { BufferArena, withArena, type Buffer, type Tensor } from '../tensor/tensor.js';
import { buildModel } from './build.js';

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  elapsedSeconds: number;
}

export interface TrainOptions {
  /** The run directory; null trains without writing files. */
  outDir: string | null;
  onProgress?: (progress: Progress) => void;
  /** Called with each metrics record as it is written. */
  onRecord?: (record: MetricsRecord) => void;
  /** Testing and demonstrations: corrupt the gradient of the first parameter on these steps with NaN. */
  injectNonFiniteAt?: readonly number[];
}

export interface TrainResult {
  summary: Summary;
  /** Set when the guard in `stop` mode ended training. */
  stopped: { step: number; source: string } | null;
  model: LayeredModel;
  task: Task;
}

/** Thrown nowhere: training never throws for a non-finite step; `stop` mode returns `stopped` instead. */
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
 * Train one run as the config says, writing the run directory when `outDir` is given.
 * @example const { summary } = train(resolveConfig({ task: { name: 'spirals' } }, { defaultName: 'demo' }), { outDir: 'runs/demo' });
 */
export function train(config: ResolvedConfig, options: TrainOptions): TrainResult {
  const rng = new Rng(config.seed);
  const task = createTask(config.task, config.seed);
  const model = buildModel(config.model, task, rng.fork('init'), { bptt: config.train.bptt });
  const dataRng = rng.fork('data');
  const { tensors, info } = paramInfo(model);
  const values = tensors.map((t) => t.data);
  const updates: Buffer[] = values.map((v) =>
    v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length),
  );
  const steps = config.train.steps;
  const schedule = scheduleFromConfig(config.schedule, config.optimizer.learningRate, steps);
  const transform = chain(clipFromConfig(config.clip), optimizerFromConfig(config.optimizer, schedule));
  let state = transform.init(values, info);
  let lrFactor = 1;

  let metrics: JsonlWriter | null = null;
  let events: EventWriter | null = null;
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    writeJson(join(options.outDir, 'config.json'), config);
    metrics = new JsonlWriter(join(options.outDir, 'metrics.jsonl'));
    events = EventWriter.open(options.outDir);
  }

  // Rollback keeps the last weights and optimiser state known to be good.
  type Snapshot = { values: Buffer[]; state: unknown; schedule: unknown; lrFactor: number };
  let snapshot: Snapshot | null = null;
  const takeSnapshot = (): void => {
    snapshot = {
      values: values.map((v) => v.slice()),
      state: structuredClone(state),
      schedule: schedule.getState?.() ?? null,
      lrFactor,
    };
  };
  if (config.guard === 'rollback') takeSnapshot();

  const every = config.monitor.every;
  const start = performance.now();
  let finalLoss = NaN;
  let bestLoss = Infinity;
  let skipped = 0;
  let clippedSteps = 0;
  let rolledBack = 0;
  let stopped = null as TrainResult['stopped'];
  let firstNonFiniteStep = null as { step: number; source: string } | null;
  const history: MetricsRecord[] = [];
  const observedOutputs: Array<Tensor | null> = model.observed.map(() => null);
  const inject = new Set(options.injectNonFiniteAt ?? []);

  try {
    const arena = new BufferArena();
    for (let step = 1; step <= steps; step++) {
      // The previous step's op buffers are free again: nothing below keeps a tensor across steps.
      arena.reset();
      withArena(arena, () => {
        const monitored = step === 1 || step % every === 0 || step === steps;
        const traceTime = monitored && config.monitor.timesteps && model.setTraceTimeGrad !== undefined;
        if (monitored) model.observed.forEach((m, i) => (m.observer = (y) => (observedOutputs[i] = y)));
        if (traceTime) model.setTraceTimeGrad?.(true);
        const batch = task.trainBatch(config.train.batchSize, dataRng);
        model.zeroGrad();
        const output = model.forward(batch.x);
        const lossTensor = computeLoss(task, output, batch);
        const loss = lossTensor.item();
        let order: Tensor[] | null = null;
        const lossFinite = Number.isFinite(loss);
        if (!lossFinite && firstNonFiniteStep === null) order = topologicalOrder(lossTensor);
        backward(lossTensor);
        if (inject.has(step) && tensors[0]?.grad) tensors[0].grad[0] = NaN;
        if (monitored) model.observed.forEach((m) => (m.observer = null));
        if (traceTime) model.setTraceTimeGrad?.(false);

        const grads = tensors.map((t) => t.gradBuffer());
        const gradNorm = l2Norm(grads);
        const finite = lossFinite && Number.isFinite(gradNorm);
        let skippedStep = false;
        let rolledBackThisStep = false;
        let nonFiniteSource: string | undefined;
        let report: Readonly<Record<string, number>> = {};

        if (!finite && firstNonFiniteStep === null) {
          // Named once, at the first bad step, in every guard mode (off included).
          nonFiniteSource = locateNonFinite(tensors, lossTensor, order);
          firstNonFiniteStep = { step, source: nonFiniteSource };
        } else if (!finite && config.guard !== 'off') {
          nonFiniteSource = locateNonFinite(tensors, lossTensor, null);
        }
        if (!finite && config.guard !== 'off') {
          skippedStep = true;
          skipped++;
          if (config.guard === 'rollback' && snapshot) {
            const snap: Snapshot = snapshot;
            values.forEach((v, i) => v.set(snap.values[i] as Buffer));
            state = structuredClone(snap.state) as typeof state;
            if (snap.schedule && schedule.setState)
              schedule.setState(snap.schedule as Parameters<typeof schedule.setState>[0]);
            lrFactor = snap.lrFactor * 0.5;
            snap.lrFactor = lrFactor;
            rolledBack++;
            rolledBackThisStep = true;
          }
          if (config.guard === 'stop') stopped = { step, source: nonFiniteSource ?? 'unknown' };
          for (const u of updates) u.fill(0);
        } else {
          updates.forEach((u, i) => u.set(grads[i] as Buffer));
          report = transform.update(updates, state, { step, params: values, info, loss });
          if (lrFactor !== 1)
            for (const u of updates) for (let j = 0; j < u.length; j++) u[j] = (u[j] as number) * lrFactor;
          applyUpdates(values, updates);
          // Reduce-on-plateau counts logged steps (the config's `patience`), not every batch.
          if (monitored) schedule.observe?.(loss, step);
          if (report['clipped']) clippedSteps++;
        }
        if (lossFinite) {
          finalLoss = loss;
          bestLoss = Math.min(bestLoss, loss);
        } else {
          finalLoss = loss;
        }

        if (monitored || skippedStep) {
          const params: ParamRecord[] = tensors.map((t, i) => {
            const s = paramStats(t.data, t.grad, skippedStep ? null : (updates[i] as Buffer));
            const p = info[i] as ParamInfo;
            return { name: p.name, layer: p.layer, role: p.role, ...s };
          });
          const activations: ActivationRecord[] = [];
          model.observed.forEach((m, i) => {
            const y = observedOutputs[i];
            const facts = m.facts();
            if (!y || !facts) return;
            const s = activationStats(y.data, y.shape[y.rank - 1] as number, facts.activation);
            activations.push({
              name: `layers.${i}`,
              layer: i,
              mean: s.mean,
              std: s.std,
              saturated: s.saturated,
              dead: s.dead,
            });
          });
          const timeGradByLayer = traceTime ? (model.timeGrad?.() ?? []) : [];
          const record: MetricsRecord = {
            step,
            loss,
            lr: (report['learningRate'] ?? schedule.value(step)) * lrFactor,
            gradNorm,
            gradNormClipped: report['normAfter'] ?? gradNorm,
            clipped: Boolean(report['clipped']),
            skipped: skippedStep,
            params,
            activations,
            ...(timeGradByLayer.length > 0
              ? {
                  timeGrad: timeGradByLayer[timeGradByLayer.length - 1] as number[],
                  timeGradFactor: fitDecayFactor(timeGradByLayer[timeGradByLayer.length - 1] as number[]),
                }
              : {}),
            ...(timeGradByLayer.length > 1 ? { timeGradByLayer } : {}),
            findings: [],
            ...(nonFiniteSource ? { nonFiniteSource } : {}),
            ...(rolledBackThisStep ? { rolledBack: true } : {}),
          };
          history.push(record);
          record.findings = briefFindings(diagnoseOnline(history, config));
          metrics?.append(record);
          if (events) writeEvents(events, record, tensors, observedOutputs);
          options.onRecord?.(record);
          observedOutputs.fill(null);
          if (config.guard === 'rollback' && !skippedStep) takeSnapshot();
        }
        options.onProgress?.({ step, steps, loss, elapsedSeconds: (performance.now() - start) / 1000 });
      });
      if (stopped) break;
    }
  } finally {
    metrics?.close();
    events?.close();
  }

  const wallSeconds = (performance.now() - start) / 1000;
  const stepsDone = stopped ? stopped.step : steps;
  const evalResult = evaluate(model, task);
  const summary: Summary = {
    name: config.name,
    steps: stepsDone,
    wallSeconds,
    stepsPerSecond: stepsDone / Math.max(wallSeconds, 1e-9),
    finalLoss,
    bestLoss: Number.isFinite(bestLoss) ? bestLoss : NaN,
    eval: evalResult,
    baseline: task.baseline,
    skippedSteps: skipped,
    clippedSteps,
    rolledBackSteps: rolledBack,
    stoppedEarly: stopped !== null,
    firstNonFinite: firstNonFiniteStep,
    findings: [],
  };
  const diagnosis = diagnose({
    records: history,
    config,
    summary: { steps: stepsDone, skippedSteps: skipped, clippedSteps },
  });
  summary.verdict = diagnosis.verdict;
  summary.findings = diagnosis.findings;
  if (options.outDir) writeJson(join(options.outDir, 'summary.json'), summary);
  return { summary, stopped, model, task };
}

/** The logged step as TensorBoard scalars and histograms (the same numbers as metrics.jsonl). */
function writeEvents(
  events: EventWriter,
  record: MetricsRecord,
  tensors: readonly Tensor[],
  outputs: ReadonlyArray<Tensor | null>,
): void {
  const scalars: Record<string, number> = {
    loss: record.loss,
    lr: record.lr,
    'grad_norm/global': record.gradNorm,
    'grad_norm/global_clipped': record.gradNormClipped,
  };
  for (const p of record.params) {
    scalars[`grad_norm/${p.name}`] = p.gradNorm;
    scalars[`weight_norm/${p.name}`] = p.weightNorm;
    if (Number.isFinite(p.updateRatio)) scalars[`update_ratio/${p.name}`] = p.updateRatio;
  }
  for (const a of record.activations) {
    scalars[`saturated/${a.name}`] = a.saturated;
    scalars[`dead/${a.name}`] = a.dead;
  }
  events.scalars(scalars, record.step);
  for (const t of tensors) if (t.grad) events.histogram(`grad/${t.name}`, t.grad, record.step);
  outputs.forEach((y, i) => {
    if (y) events.histogram(`activation/layers.${i}`, y.data, record.step);
  });
}
