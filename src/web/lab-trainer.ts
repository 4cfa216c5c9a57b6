/**
 * The lab's in-browser trainer: runs A and B (lab-run.ts) stepped in slices, driven by commands and reporting by
 * snapshots. The page runs it in a Web Worker (lab-worker.ts), so training never blocks the page; where a worker
 * cannot start (a page opened from disk) the page runs the same class on its own thread. Browser-safe, no DOM.
 *
 * Snapshots carry only what is new: the records logged since the last snapshot of that run (`records`, to append),
 * with `id` telling a rebuilt run apart from the one it replaced.
 *
 * @example
 * const trainer = new LabTrainer((message) => worker.postMessage(message));
 * trainer.handle({ type: 'start', text: configText, name: 'deep-sigmoid' });
 */
import type { Fix, JsonObject, Verdict } from '../doctor/findings.js';
import type { ResolvedConfig } from '../config/types.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import {
  advanceRuns,
  buildRun,
  withFix,
  type LabRun,
  type RunLabel,
  type RunProblem,
  type SeenFinding,
} from './lab-run.js';
import { STEPS_PER_SECOND, type Speed } from './lab-query.js';
import { kernels } from '../kernels/index.js';

/** What the page asks of the trainer. */
export type TrainerCommand =
  /** Build run A from config text (dropping B) and play. */
  | { type: 'start'; text: string; name: string }
  | { type: 'play' }
  | { type: 'pause' }
  /** Advance every unfinished run to its next logged step, then pause. */
  | { type: 'step' }
  | { type: 'speed'; speed: Speed }
  /** Run B: run `from`'s config with fix `index` of its finding `code` applied, named `${base}-b`. */
  | { type: 'fix'; from: RunLabel; code: string; index: number }
  | { type: 'reset' };

/** One run as the page sees it. */
export interface RunSnapshot {
  /** Changes when the run is rebuilt: the page then drops the records it holds for this label. */
  id: number;
  label: RunLabel;
  config: ResolvedConfig;
  raw: JsonObject;
  applied: readonly Fix[];
  /** Records logged since the previous snapshot of this run id. */
  records: MetricsRecord[];
  stepsTaken: number;
  totalSteps: number;
  trainingSeconds: number;
  verdict: Verdict;
  findings: SeenFinding[];
  summary: Summary | null;
  error: string | null;
  done: boolean;
  baselineLoss: number | null;
}

/** What the trainer tells the page. */
export type TrainerMessage =
  | {
      type: 'snapshot';
      runs: RunSnapshot[];
      playing: boolean;
      where: 'worker' | 'page';
      /** The kernels the runs train on (`wasm-simd` where WebAssembly SIMD runs, else `typescript`). */
      kernels: string;
    }
  | { type: 'problem'; problem: RunProblem; during: 'start' | 'fix' };

/** Wall time one slice of training may take before the trainer lets messages in (milliseconds). */
const SLICE_MS = 40;
/** At most this often a snapshot is sent while training (milliseconds), and always when a run finishes. */
const SNAPSHOT_MS = 100;

export class LabTrainer {
  private runs: Record<RunLabel, LabRun | null> = { A: null, B: null };
  private ids: Record<RunLabel, number> = { A: 0, B: 0 };
  private sent: Record<RunLabel, number> = { A: 0, B: 0 };
  private nextId = 1;
  private playing = false;
  private speed: Speed = 'fast';
  private credit = 0;
  private lastTick = 0;
  private lastSnapshot = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly post: (message: TrainerMessage) => void,
    private readonly where: 'worker' | 'page' = 'worker',
    private readonly now: () => number = () => performance.now(),
  ) {}

  handle(command: TrainerCommand): void {
    switch (command.type) {
      case 'start': {
        const built = buildRun({ label: 'A', text: command.text, name: command.name });
        if (!built.ok) {
          this.pause();
          this.post({ type: 'problem', problem: built.problem, during: 'start' });
          return;
        }
        this.setRun('A', built.run);
        this.setRun('B', null);
        this.play();
        break;
      }
      case 'play':
        this.play();
        break;
      case 'pause':
        this.pause();
        break;
      case 'step':
        this.pause();
        for (const run of this.live()) {
          for (let i = 0; i < run.config.monitor.every && !run.done; i++) if (run.advance() !== null) break;
        }
        break;
      case 'speed':
        this.speed = command.speed;
        this.credit = 0;
        break;
      case 'fix': {
        const source = this.runs[command.from];
        const a = this.runs.A;
        const fix = source
          ? [...source.seen.values()].find((s) => s.finding.code === command.code)?.finding.fixes[
              command.index
            ]
          : undefined;
        if (!source || !a || !fix) {
          this.post({
            type: 'problem',
            problem: {
              kind: 'setup',
              message: `run ${command.from} has no fix ${command.index + 1} for ${command.code}.`,
            },
            during: 'fix',
          });
          return;
        }
        const built = withFix(source, fix, a.config.name);
        if (!built.ok) {
          this.post({ type: 'problem', problem: built.problem, during: 'fix' });
          return;
        }
        this.setRun('B', built.run);
        this.play();
        break;
      }
      case 'reset':
        this.pause();
        this.setRun('A', null);
        this.setRun('B', null);
        break;
      default:
        command satisfies never;
    }
    this.snapshot();
  }

  private setRun(label: RunLabel, run: LabRun | null): void {
    this.runs[label] = run;
    this.ids[label] = run ? this.nextId++ : 0;
    this.sent[label] = 0;
  }

  private live(): LabRun[] {
    return [this.runs.A, this.runs.B].filter((run): run is LabRun => run !== null && !run.done);
  }

  private play(): void {
    this.playing = true;
    this.lastTick = this.now();
    this.credit = 0;
    this.schedule();
  }

  private pause(): void {
    this.playing = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null || !this.playing) return;
    this.timer = setTimeout(() => this.tick(), STEPS_PER_SECOND[this.speed] === Infinity ? 0 : 16);
  }

  private tick(): void {
    this.timer = null;
    if (!this.playing) return;
    const live = this.live();
    if (live.length === 0) {
      this.playing = false;
      this.snapshot();
      return;
    }
    const now = this.now();
    const rate = STEPS_PER_SECOND[this.speed];
    let maxSteps = 1_000_000;
    if (Number.isFinite(rate)) {
      this.credit = Math.min(this.credit + (rate * (now - this.lastTick)) / 1000, Math.max(1, rate / 4));
      maxSteps = Math.floor(this.credit);
      this.credit -= maxSteps;
    }
    this.lastTick = now;
    if (maxSteps > 0) advanceRuns(live, { budgetMs: SLICE_MS, maxSteps, now: this.now });
    const finished = live.some((run) => run.done);
    if (finished || this.now() - this.lastSnapshot >= SNAPSHOT_MS) this.snapshot();
    this.schedule();
  }

  private snapshot(): void {
    this.lastSnapshot = this.now();
    const runs: RunSnapshot[] = [];
    for (const label of ['A', 'B'] as const) {
      const run = this.runs[label];
      if (!run) continue;
      const records = run.records.slice(this.sent[label]);
      this.sent[label] = run.records.length;
      runs.push({
        id: this.ids[label],
        label,
        config: run.config,
        raw: run.raw,
        applied: run.applied,
        records,
        stepsTaken: run.stepsTaken,
        totalSteps: run.totalSteps,
        trainingSeconds: run.session.trainingSeconds,
        verdict: run.verdict,
        findings: run.findings(),
        summary: run.summary,
        error: run.error,
        done: run.done,
        baselineLoss: run.summary?.baseline.loss ?? run.session.task.baseline.loss ?? null,
      });
    }
    this.post({
      type: 'snapshot',
      runs,
      playing: this.playing && this.live().length > 0,
      where: this.where,
      kernels: kernels().name,
    });
  }
}
