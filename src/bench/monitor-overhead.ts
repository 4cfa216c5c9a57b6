/**
 * W4: what monitoring costs in gradscope's real training loop. It runs `train()` itself (so whatever the trainer
 * does on a monitored step is measured: per-parameter statistics, per-layer activation statistics, per-time-step
 * gradient norms for recurrent models, and the doctor's rules once the trainer runs them), once with the monitor
 * at its default period and once with it off, and times every step through the trainer's progress callback.
 *
 * Steps are timed in this process's CPU time (`process.cpuUsage`, user + system, read in the progress callback):
 * on a shared machine other processes' load stretches wall time by 2-10x from one step to the next and drowned a
 * 3% effect (one W4 run at load average 10: 0.2% within run, 25.9% A/B), while a step's CPU time stays within a
 * few percent. The trainer's steps/s with the monitor off stays in wall time, to compare with the bench loop.
 *
 * Two estimates:
 * - within one run (the headline): in the monitor-on run, the mean extra time of the monitored steps over the
 *   mean of the unmonitored steps around them, as a share of the unmonitored step time. Neighbouring steps see
 *   the same machine load, so this holds up on a noisy shared machine.
 * - across runs (A/B): mean step time with the monitor on over the mean with it off, minus 1.
 *
 * A discarded warm-up run comes first. The window: steps 1 .. `warmupSteps` are skipped (step 1 is always monitored and pays for compilation), the
 * rest of the first `periods` whole periods is timed, each period holding exactly one monitored step (its last);
 * the run stops there, before the last step (which the trainer always monitors) and before the trainer's final
 * evaluation. The model and data are W1's and W2's, except that W4-W2 trains on
 * the adding task (2 inputs per step instead of 8) because `train()` draws its data from a real task; the global
 * gradient norm of the non-finite guard is computed on every step in both runs (it is not the monitor).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { MONITOR_DEFAULTS } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { train } from '../train/trainer.js';
import type { MonitorTiming, Shapes } from './protocol.js';
import { lstmConfig, mlpConfig } from './training.js';

export type MonitoredModel = 'W1' | 'W2';

export interface MonitorOverheadOptions {
  /** The monitor period; the trainer's default unless a smoke test shortens it. */
  every?: number;
  periods: number;
  /** Steps skipped before the window (at least step 1). */
  warmupSteps: number;
  /**
   * Seconds of untimed training (monitor off) before the two measured runs, so that neither run pays for the
   * engine's JIT compilation (which takes a second or more under load).
   */
  warmupSeconds: number;
  /** Run the monitor-off training first (alternate between repetitions to cancel drift). */
  offFirst: boolean;
}

/** Thrown from the progress callback to end a run after the window (see `stepDurations`). */
class WindowDone extends Error {}

/** Per-step durations (ms, indexed by step from 2): in wall time and in this process's CPU time. */
interface StepTimes {
  wall: number[];
  cpu: number[];
}

/** This process's CPU time so far (user + system), in ms. */
function cpuMs(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

/**
 * Per-step durations (ms, indexed by step) of `train(config)`. The run is ended by throwing from the progress
 * callback once `lastStep` is done (or `maxSeconds` have passed): that skips the trainer's final evaluation on its full evaluation set, which
 * would cost several steps' worth of time and measure nothing here (the trainer closes its files in `finally`).
 */
function stepDurations(config: ResolvedConfig, lastStep: number, maxSeconds = Infinity): StepTimes {
  const elapsed: number[] = [];
  const cpu: number[] = [];
  try {
    train(config, {
      outDir: null,
      onProgress: (p) => {
        elapsed[p.step] = p.elapsedSeconds;
        cpu[p.step] = cpuMs();
        if (p.step >= lastStep || p.elapsedSeconds >= maxSeconds) throw new WindowDone();
      },
    });
  } catch (error) {
    if (!(error instanceof WindowDone)) throw error;
  }
  const wall: number[] = [];
  const cpuSteps: number[] = [];
  for (let step = 2; step < elapsed.length; step++) {
    wall[step] = ((elapsed[step] as number) - (elapsed[step - 1] as number)) * 1000;
    cpuSteps[step] = (cpu[step] as number) - (cpu[step - 1] as number);
  }
  return { wall, cpu: cpuSteps };
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
}

/** Whether the compiled trainer imports the doctor (then its rules run on monitored steps and are measured). */
function trainerRunsDoctor(): boolean {
  try {
    const dir = new URL('../train/', import.meta.url);
    return readdirSync(dir)
      .filter((name) => name.endsWith('.js') && !name.endsWith('.test.js'))
      .some((name) => readFileSync(new URL(name, dir), 'utf8').includes('../doctor/'));
  } catch {
    return false;
  }
}

/** Time the trainer with the monitor at its default period and with it off; see the file comment. */
export function measureMonitorOverhead(
  which: MonitoredModel,
  shapes: Shapes,
  seed: number,
  options: MonitorOverheadOptions,
): MonitorTiming {
  const every = options.every ?? MONITOR_DEFAULTS.every;
  const first = Math.max(2, options.warmupSteps + 1);
  const last = options.periods * every;
  if (last <= first) {
    throw new RangeError(
      `W4 window is empty: ${options.periods} period(s) of ${every} steps after ${options.warmupSteps} warm-up step(s).`,
    );
  }
  // One step more than the window, so the trainer's always-monitored last step lies outside it (never reached).
  const steps = last + 1;
  const make = (monitor: object): ResolvedConfig =>
    which === 'W1'
      ? mlpConfig(shapes.mlp, seed, { steps, monitor })
      : lstmConfig(shapes.lstm, seed, { steps, monitor });
  const onConfig = make(every === MONITOR_DEFAULTS.every ? {} : { every });
  const offConfig = make({ every: steps + 1, timesteps: false });
  if (options.warmupSeconds > 0) stepDurations(offConfig, steps, options.warmupSeconds);
  let on: StepTimes;
  let off: StepTimes;
  if (options.offFirst) {
    off = stepDurations(offConfig, last);
    on = stepDurations(onConfig, last);
  } else {
    on = stepDurations(onConfig, last);
    off = stepDurations(offConfig, last);
  }
  const plain: number[] = [];
  const monitored: number[] = [];
  const offWindow: number[] = [];
  const offWall: number[] = [];
  for (let step = first; step <= last; step++) {
    (step % every === 0 ? monitored : plain).push(on.cpu[step] as number);
    offWindow.push(off.cpu[step] as number);
    offWall.push(off.wall[step] as number);
  }
  const windowSteps = last - first + 1;
  const plainStepMs = mean(plain);
  const monitoredExtraMs = mean(monitored) - plainStepMs;
  const includes = [
    'per-parameter stats (gradient, weight and update norms, max |gradient|, non-finite count)',
    'per-layer activation stats',
  ];
  if (which === 'W2' && onConfig.monitor.timesteps) includes.push('per-time-step gradient norms');
  includes.push(
    trainerRunsDoctor()
      ? 'doctor rules (the trainer runs them)'
      : 'no doctor rules (the trainer does not run the doctor yet)',
  );
  return {
    every,
    windowSteps,
    monitoredSteps: monitored.length,
    plainStepMs,
    monitoredExtraMs,
    overheadPercent: (100 * monitoredExtraMs * monitored.length) / (plainStepMs * windowSteps),
    abOverheadPercent: 100 * (mean([...plain, ...monitored]) / mean(offWindow) - 1),
    trainerStepsPerSecondOff: 1000 / mean(offWall),
    includes,
  };
}
