/**
 * The doctor's verified fixes in the lab: what `gradscope fix` does on the command line, beside run A in the page.
 * The doctor's top K fixes are applied to run A's config as JSON merge patches (`planTrials`), each trained from the
 * same seed in its own Web Worker, and ranked against run A as the control (`rankTrials`, which also decides what
 * "cures" means). Planning and ranking are doctor/verify.ts's; this file only moves trials between workers.
 *
 * Run A is the control: it is the control's config at the same steps and seed (the same initial weights and
 * batches), so it is not trained a second time. Browser-safe, no DOM: tested in Node with in-process "workers".
 *
 * @example
 * const set = new TrialSet(runA.config, runA.summary, { top: 3, spawn: () => new LabWorkerPort() });
 * set.start(); // ... set.verification?.best?.fix?.change
 */
import type { ResolvedConfig } from '../config/types.js';
import { planTrials, rankTrials, type TrialPlan, type Verification } from '../doctor/verify.js';
import type { MetricsRecord, Summary } from '../io/runlog.js';
import { TrainingSession } from '../train/session.js';
import { kernels } from '../kernels/index.js';

/** What the page asks of a trial worker. */
export type TrialCommand =
  { type: 'trial'; id: number; config: ResolvedConfig } | { type: 'cancel'; id: number };

/** What a trial worker tells the page. */
export type TrialMessage =
  | { type: 'trial-progress'; id: number; records: MetricsRecord[]; stepsTaken: number; kernels: string }
  | { type: 'trial-done'; id: number; records: MetricsRecord[]; summary: Summary; kernels: string }
  | { type: 'trial-error'; id: number; message: string };

/** Wall time one slice of a trial takes before the worker lets a `cancel` in, and the progress period (ms). */
const SLICE_MS = 40;
const PROGRESS_MS = 200;

/**
 * The worker side: trains each trial it is sent to the end in slices, posting the records logged since the last
 * message, then the summary. One worker usually holds one trial; several are trained in turn.
 */
export class TrialRunner {
  private readonly sessions = new Map<number, { session: TrainingSession; sent: number }>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastProgress = 0;

  constructor(
    private readonly post: (message: TrialMessage) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  handle(command: TrialCommand): void {
    if (command.type === 'cancel') {
      this.sessions.delete(command.id);
      return;
    }
    try {
      this.sessions.set(command.id, { session: new TrainingSession(command.config), sent: 0 });
    } catch (error) {
      this.post({ type: 'trial-error', id: command.id, message: messageOf(error) });
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer === null && this.sessions.size > 0) this.timer = setTimeout(() => this.tick(), 0);
  }

  private tick(): void {
    this.timer = null;
    const entry = this.sessions.entries().next().value;
    if (entry === undefined) return;
    const [id, trial] = entry;
    const started = this.now();
    try {
      do trial.session.step();
      while (!trial.session.done && this.now() - started < SLICE_MS);
      const records = trial.session.history.slice(trial.sent);
      if (trial.session.done) {
        this.sessions.delete(id);
        const summary = trial.session.finish();
        this.post({ type: 'trial-done', id, records, summary, kernels: kernels().name });
      } else if (this.now() - this.lastProgress >= PROGRESS_MS) {
        this.lastProgress = this.now();
        trial.sent = trial.session.history.length;
        this.post({
          type: 'trial-progress',
          id,
          records,
          stepsTaken: trial.session.stepsTaken,
          kernels: kernels().name,
        });
      }
    } catch (error) {
      this.sessions.delete(id);
      this.post({
        type: 'trial-error',
        id,
        message: `step ${trial.session.stepsTaken + 1} failed: ${messageOf(error)}`,
      });
    }
    this.schedule();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A worker as the page holds it (a Web Worker, or a TrialRunner on the page's thread where none can start). */
export interface TrialPort {
  post(command: TrialCommand): void;
  /** Called once, before the first command. */
  listen(onMessage: (message: TrialMessage) => void): void;
  terminate(): void;
}

/** One trial as the page shows it. */
export interface TrialState {
  /** `fix-1`, ... in the doctor's order. */
  label: string;
  /** The fix's change, as the doctor words it. */
  change: string;
  config: ResolvedConfig;
  status: 'waiting' | 'training' | 'done' | 'failed';
  records: MetricsRecord[];
  stepsTaken: number;
  summary: Summary | null;
  error: string | null;
  /** The kernels the worker trained on (`wasm-simd`, ...), once it said. */
  kernels: string | null;
}

/** Fixes verified by the page's button, as `gradscope fix` verifies by default (`--top 4`). */
export const DEFAULT_TRIALS = 4;

/** Trials trained at once by default: the page's cores less one for the page, at most 4 (as `gradscope fix`). */
export function defaultParallel(cores: number): number {
  return Math.max(1, Math.min(4, cores - 1));
}

/**
 * The page side: the plan for run A's findings, its trials spread over `parallel` workers, and, once every trial
 * is over, the verification (ranked, each marked as curing or not against run A).
 */
export class TrialSet {
  readonly plan: TrialPlan;
  readonly trials: TrialState[];
  /** Set when every trial has finished (a failed trial makes the set fail instead: `error`). */
  verification: Verification | null = null;
  error: string | null = null;
  private readonly ports: TrialPort[] = [];
  private next = 0;
  private cancelled = false;

  /**
   * @param config run A's config; `control` run A's summary (its findings name the candidate fixes).
   */
  constructor(
    config: ResolvedConfig,
    readonly control: Summary,
    private readonly options: {
      top: number;
      parallel: number;
      spawn: () => TrialPort;
      onChange: () => void;
    },
  ) {
    this.plan = planTrials(config, control.findings, { budget: config.train.steps, top: options.top });
    this.trials = this.plan.trials.map((t) => ({
      label: t.label,
      change: t.fix.change,
      config: t.config,
      status: 'waiting',
      records: [],
      stepsTaken: 0,
      summary: null,
      error: null,
      kernels: null,
    }));
  }

  get done(): boolean {
    return this.verification !== null || this.error !== null || this.cancelled;
  }

  /** Starts the workers (none when there is nothing to try: the verification then says so at once). */
  start(): void {
    const lanes = Math.min(this.options.parallel, this.trials.length);
    for (let i = 0; i < lanes; i++) {
      const port = this.options.spawn();
      this.ports.push(port);
      port.listen((message) => this.onMessage(port, message));
      this.feed(port);
    }
    this.settle();
  }

  /** Stops every worker; the set is over without a verification. */
  cancel(): void {
    this.cancelled = true;
    this.stopWorkers();
  }

  private stopWorkers(): void {
    for (const port of this.ports) port.terminate();
    this.ports.length = 0;
  }

  private feed(port: TrialPort): void {
    const id = this.next++;
    const trial = this.trials[id];
    if (trial === undefined) {
      port.terminate();
      return;
    }
    trial.status = 'training';
    port.post({ type: 'trial', id, config: trial.config });
  }

  private onMessage(port: TrialPort, message: TrialMessage): void {
    const trial = this.trials[message.id];
    if (this.cancelled || this.error !== null || trial === undefined) return;
    if (message.type === 'trial-error') {
      trial.status = 'failed';
      trial.error = message.message;
      this.error = `${trial.label} (${trial.change}) failed: ${message.message}`;
      this.stopWorkers();
      this.options.onChange();
      return;
    }
    trial.records.push(...message.records);
    trial.kernels = message.kernels;
    if (message.type === 'trial-progress') trial.stepsTaken = message.stepsTaken;
    else {
      trial.status = 'done';
      trial.summary = message.summary;
      trial.stepsTaken = message.summary.steps;
      this.feed(port);
      this.settle();
    }
    this.options.onChange();
  }

  private settle(): void {
    if (this.verification !== null || !this.trials.every((t) => t.status === 'done')) return;
    this.verification = rankTrials(
      this.plan,
      this.control,
      this.trials.map((t) => t.summary as Summary),
    );
  }
}

/** The verification as the page's result element reports it: the control and every trial, best first. */
export function verificationJson(set: TrialSet): object | null {
  const v = set.verification;
  if (v === null) return set.error === null ? null : { error: set.error };
  const byLabel = new Map(set.trials.map((t) => [t.label, t]));
  return {
    budget: v.budget,
    headline: v.headline,
    best: v.best ? v.best.label : null,
    control: { label: 'A', outcome: v.control.outcome },
    trials: v.trials.map((t, i) => ({
      rank: i + 1,
      label: t.label,
      name: t.config.name,
      change: t.fix?.change ?? null,
      patch: t.patch,
      doctorRank: t.doctorRank,
      outcome: t.outcome,
      cures: t.cures,
      gain: t.gain,
      kernels: byLabel.get(t.label)?.kernels ?? null,
    })),
  };
}
