/**
 * `train`: a `TrainingSession` run to the end, writing the run directory of ../shared/CONTRACT.md as it goes:
 * config.json first, then metrics.jsonl and TensorBoard events line by line (a killed run keeps every line
 * written), checkpoint.bin every `train.checkpointEvery` steps, at the end and when interrupted, summary.json
 * last. `trainAsync` is the same loop yielding to the event loop between steps, so SIGINT/SIGTERM handlers run
 * and stop it at a step boundary. `resume` continues a run directory from its checkpoint, bit for bit.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ResolvedConfig } from '../config/types.js';
import type { Task } from '../data/task.js';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint, writeCheckpoint } from '../io/checkpoint.js';
import { JsonlWriter, parseJsonl, stringifyFinite, writeJson } from '../io/jsonl.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { EventWriter } from '../io/tfevents.js';
import type { LayeredModel } from '../nn/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { GradscopeError } from '../util/errors.js';
import { TrainingSession, type GuardStop, type SessionOptions, type SessionState } from './session.js';

export { accuracy, computeLoss, evaluate, locateNonFinite, TrainingSession } from './session.js';
export type { GuardStop, GuardStopKind, SessionState } from './session.js';

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
  /**
   * Write `checkpoint.bin` (weights, optimiser, schedule, guard and data-stream state) every
   * `train.checkpointEvery` steps, at the end and when interrupted. Needs `outDir`.
   */
  checkpoints?: boolean;
  /** Continue the run in `outDir` from its checkpoint; `config` must be that run's config.json. */
  resume?: boolean;
  /** Once aborted, training stops at the next step boundary and the summary says "interrupted". */
  signal?: AbortSignal;
}

export interface TrainResult {
  summary: Summary;
  /** Set when the guard ended training (`stop` mode, or `skip`/`rollback` stuck). */
  stopped: GuardStop | null;
  /** Whether `signal` stopped the run before its last step. */
  interrupted: boolean;
  /** The step the run continued from (`resume`), or null. */
  resumedFrom: number | null;
  model: LayeredModel;
  task: Task;
}

/** What checkpoint.bin's header says about the files beside it, so a resume can cut them back to that moment. */
interface CheckpointHeader {
  format: 1;
  step: number;
  /** SHA-256 of the resolved config the run trains (config.json), so a changed config is refused. */
  config: string;
  metrics: { bytes: number; records: number };
  events: { file: string; bytes: number } | null;
}

function configDigest(config: ResolvedConfig): string {
  return createHash('sha256').update(stringifyFinite(config)).digest('hex');
}

/** The first `bytes` bytes of a file as text. */
function readPrefix(path: string, bytes: number): string {
  const buffer = new Uint8Array(bytes);
  const fd = openSync(path, 'r');
  try {
    for (let offset = 0; offset < bytes;) {
      const n = readSync(fd, buffer, offset, bytes - offset, offset);
      if (n === 0) break;
      offset += n;
    }
  } finally {
    closeSync(fd);
  }
  return new TextDecoder().decode(buffer);
}

/** One run being trained: its session, its open files and its checkpoints. */
class RunInProgress {
  readonly session: TrainingSession;
  readonly resumedFrom: number | null;
  private readonly metrics: JsonlWriter | null;
  private readonly events: EventWriter | null;
  private recordsWritten = 0;
  private closed = false;

  constructor(
    readonly config: ResolvedConfig,
    private readonly options: TrainOptions,
  ) {
    const outDir = options.outDir;
    const sessionOptions: SessionOptions = {
      ...(options.injectNonFiniteAt ? { injectNonFiniteAt: options.injectNonFiniteAt } : {}),
      onRecord: (record, detail) => {
        this.metrics?.append(record);
        this.recordsWritten++;
        if (this.events) writeEvents(this.events, record, detail.parameters, detail.outputs);
        options.onRecord?.(record);
      },
    };
    if (options.resume) {
      if (!outDir) throw new Error('resume needs the run directory (outDir).');
      const restored = this.restore(outDir, sessionOptions);
      this.session = restored.session;
      this.metrics = restored.metrics;
      this.events = restored.events;
      this.resumedFrom = restored.step;
      return;
    }
    this.resumedFrom = null;
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeJson(join(outDir, 'config.json'), config);
      this.metrics = new JsonlWriter(join(outDir, 'metrics.jsonl'));
      this.events = EventWriter.open(outDir);
    } else {
      this.metrics = null;
      this.events = null;
    }
    try {
      this.session = new TrainingSession(config, sessionOptions);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** The session, the log and the events as they were when the checkpoint was written. */
  private restore(
    outDir: string,
    sessionOptions: SessionOptions,
  ): { session: TrainingSession; metrics: JsonlWriter; events: EventWriter; step: number } {
    const path = join(outDir, CHECKPOINT_FILE);
    if (!existsSync(path))
      throw new CheckpointError(
        path,
        'does not exist: the run wrote no checkpoint (killed before its first one; set train.checkpointEvery to write them during training)',
        'not_found',
      );
    const { header, payload } = readCheckpoint<CheckpointHeader>(path);
    if (header?.format !== 1 || typeof header.step !== 'number')
      throw new CheckpointError(
        path,
        `has an unknown format (${JSON.stringify(header?.format)}); expected 1`,
      );
    if (header.config !== configDigest(this.config))
      throw new CheckpointError(
        path,
        `was written for another config: ${join(outDir, 'config.json')} changed since; put it back, or start a new run`,
        'conflict',
      );
    const metricsPath = join(outDir, 'metrics.jsonl');
    const size = existsSync(metricsPath) ? statSync(metricsPath).size : -1;
    if (size < header.metrics.bytes)
      throw new CheckpointError(
        path,
        `does not match ${metricsPath}: ${size < 0 ? 'it is missing' : `it holds ${size} bytes, fewer than the ${header.metrics.bytes} the checkpoint saw`}`,
      );
    const { records, errors } = parseJsonl<MetricsRecord>(readPrefix(metricsPath, header.metrics.bytes));
    if (errors.length > 0 || records.length !== header.metrics.records)
      throw new CheckpointError(
        path,
        `does not match ${metricsPath}: its first ${header.metrics.bytes} bytes hold ${records.length} readable records${errors.length ? ` and ${errors.length} bad lines` : ''}, the checkpoint saw ${header.metrics.records}`,
      );
    const state = payload as SessionState;
    if (state === null || typeof state !== 'object' || state.step !== header.step)
      throw new CheckpointError(path, 'is corrupt (its state does not match its header)');
    const session = new TrainingSession(this.config, sessionOptions);
    try {
      session.restore(state, records);
    } catch (error) {
      if (error instanceof GradscopeError && error.code === 'size_mismatch')
        throw new CheckpointError(
          path,
          `does not fit the model of config.json (${error.problem ?? error.message})`,
          'size_mismatch',
        );
      throw error;
    }
    if (session.stopped)
      throw new CheckpointError(
        path,
        `belongs to a run the guard stopped at step ${session.stopped.step} (${session.stopped.source}); resuming would stop again: change the config (gradscope fix) and start a new run`,
        'invalid_state',
      );
    if (session.done)
      throw new CheckpointError(
        path,
        `belongs to a run that completed all ${this.config.train.steps} steps; nothing to resume`,
        'invalid_state',
      );
    this.recordsWritten = records.length;
    const metrics = JsonlWriter.resume(metricsPath, header.metrics.bytes);
    const eventsPath = header.events ? join(outDir, basename(header.events.file)) : null;
    const events =
      header.events && eventsPath && existsSync(eventsPath)
        ? EventWriter.resume(eventsPath, header.events.bytes)
        : EventWriter.open(outDir);
    return { session, metrics, events, step: header.step };
  }

  get done(): boolean {
    return this.session.done;
  }

  step(): void {
    const { step, loss } = this.session.step();
    this.options.onProgress?.({
      step,
      steps: this.config.train.steps,
      loss,
      elapsedSeconds: this.session.trainingSeconds,
    });
    const every = this.config.train.checkpointEvery ?? 0;
    if (every > 0 && step % every === 0 && !this.session.done) this.checkpoint();
  }

  /** Flush the log and events, then write the session's state with their sizes, atomically. */
  checkpoint(): void {
    const outDir = this.options.outDir;
    if (!this.options.checkpoints || !outDir || !this.metrics) return;
    this.metrics.sync();
    this.events?.flush();
    const header: CheckpointHeader = {
      format: 1,
      step: this.session.stepsTaken,
      config: configDigest(this.config),
      metrics: { bytes: this.metrics.size(), records: this.recordsWritten },
      events: this.events ? { file: basename(this.events.path), bytes: this.events.size() } : null,
    };
    writeCheckpoint(join(outDir, CHECKPOINT_FILE), header, this.session.captureState());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.metrics?.close();
    } finally {
      this.events?.close();
    }
  }

  /** The last checkpoint, the files closed, the summary written. */
  finish(interrupted: boolean): TrainResult {
    try {
      this.checkpoint();
    } finally {
      this.close();
    }
    const summary = this.session.finish({ interrupted });
    if (this.options.outDir) writeJson(join(this.options.outDir, 'summary.json'), summary);
    return {
      summary,
      stopped: this.session.stopped,
      interrupted,
      resumedFrom: this.resumedFrom,
      model: this.session.model,
      task: this.session.task,
    };
  }
}

/**
 * Train one run as the config says, writing the run directory when `outDir` is given.
 * @example const { summary } = train(resolveConfig({ task: { name: 'spirals' } }, { defaultName: 'demo' }), { outDir: 'runs/demo' });
 */
export function train(config: ResolvedConfig, options: TrainOptions): TrainResult {
  const run = new RunInProgress(config, options);
  try {
    while (!run.done && !options.signal?.aborted) run.step();
  } catch (error) {
    // Every line written so far stays; the files are closed (flushed) before the error goes on.
    run.close();
    throw error;
  }
  return run.finish(!run.done);
}

/** How long the loop runs between yields to the event loop (signals, timers): short enough to feel immediate. */
const YIELD_MS = 20;

/**
 * `train`, yielding to the event loop between steps (at most every 20 ms) so that a signal handler can abort
 * `options.signal`; the run then stops at the next step boundary, checkpoints and writes its summary.
 * @example
 * const controller = new AbortController();
 * process.once('SIGINT', () => controller.abort());
 * const result = await trainAsync(config, { outDir, signal: controller.signal, checkpoints: true });
 */
export async function trainAsync(config: ResolvedConfig, options: TrainOptions): Promise<TrainResult> {
  const run = new RunInProgress(config, options);
  try {
    let last = performance.now();
    while (!run.done && !options.signal?.aborted) {
      run.step();
      if (performance.now() - last >= YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        last = performance.now();
      }
    }
  } catch (error) {
    run.close();
    throw error;
  }
  return run.finish(!run.done);
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
  // Weights on the steps whose record carries histograms (monitor.histograms), tagged by the parameter's name as
  // PyTorch's `add_histogram(name, param)` is (the doctor's TensorBoard reader takes that tag as the weights).
  const weights = new Set(record.histograms?.map((h) => h.name));
  for (const t of tensors) if (weights.has(t.name)) events.histogram(t.name, t.data, record.step);
  outputs.forEach((y, i) => {
    if (y) events.histogram(`activation/layers.${i}`, y.data, record.step);
  });
}
