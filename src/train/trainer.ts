/**
 * `train`: a `TrainingSession` run to the end, writing the run directory of ../shared/CONTRACT.md as it goes:
 * config.json first, then metrics.jsonl and TensorBoard events line by line (a killed run keeps every line
 * written), summary.json last.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import { JsonlWriter, writeJson } from '../io/jsonl.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { EventWriter } from '../io/tfevents.js';
import type { LayeredModel } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { TrainingSession, type SessionOptions } from './session.js';

export { accuracy, computeLoss, evaluate, locateNonFinite, TrainingSession } from './session.js';

export interface Progress {
  step: number;
  steps: number;
  loss: number;
  elapsedSeconds: number;
}

export interface TrainOptions extends Pick<SessionOptions, 'injectNonFiniteAt'> {
  /** The run directory; null trains without writing files. */
  outDir: string | null;
  onProgress?: (progress: Progress) => void;
  /** Called with each metrics record as it is written. */
  onRecord?: (record: MetricsRecord) => void;
}

export interface TrainResult {
  summary: Summary;
  /** Set when the guard in `stop` mode ended training. */
  stopped: { step: number; source: string } | null;
  model: LayeredModel;
  task: Task;
}

/**
 * Train one run as the config says, writing the run directory when `outDir` is given.
 * @example const { summary } = train(resolveConfig({ task: { name: 'spirals' } }, { defaultName: 'demo' }), { outDir: 'runs/demo' });
 */
export function train(config: ResolvedConfig, options: TrainOptions): TrainResult {
  let metrics: JsonlWriter | null = null;
  let events: EventWriter | null = null;
  if (options.outDir) {
    mkdirSync(options.outDir, { recursive: true });
    writeJson(join(options.outDir, 'config.json'), config);
    metrics = new JsonlWriter(join(options.outDir, 'metrics.jsonl'));
    events = EventWriter.open(options.outDir);
  }
  const session = new TrainingSession(config, {
    ...(options.injectNonFiniteAt ? { injectNonFiniteAt: options.injectNonFiniteAt } : {}),
    onRecord: (record, detail) => {
      metrics?.append(record);
      if (events) writeEvents(events, record, detail.parameters, detail.outputs);
      options.onRecord?.(record);
    },
  });
  const steps = config.train.steps;
  try {
    while (!session.done) {
      const { step, loss } = session.step();
      options.onProgress?.({ step, steps, loss, elapsedSeconds: session.trainingSeconds });
    }
  } finally {
    metrics?.close();
    events?.close();
  }
  const summary = session.finish();
  if (options.outDir) writeJson(join(options.outDir, 'summary.json'), summary);
  return { summary, stopped: session.stopped, model: session.model, task: session.task };
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
