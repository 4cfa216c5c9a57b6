/**
 * What logging EVERY step costs, and the monitor's share at any period, measured the way a loaded shared machine
 * allows: two `TrainingSession`s of one workload in one process, one logging every step (`monitor.every: 1`), one
 * never, stepped in alternating blocks, each block timed in this process's CPU time (`process.cpuUsage`, which other
 * processes' load does not inflate the way it inflates wall time) and in wall time. The extra time of a logged
 * step is the median over blocks of (logged - unlogged); at period N the monitor costs extra / (N x unlogged).
 * Logging every step also selects histograms on every 5th step (`monitor.histograms` 5), as at the default period.
 *
 *   node dist/bench/monitor-every-step.js W1 [blocks] [steps per block]
 *   node dist/bench/monitor-every-step.js W2
 *
 * Not part of `npm run bench` (W4 is, through `train()`); a tool to compare builds and kernels quickly.
 */
import { MONITOR_DEFAULTS } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { TrainingSession } from '../train/session.js';
import { SHAPES } from './protocol.js';
import { lstmConfig, mlpConfig } from './training.js';

export interface EveryStepCost {
  readonly workload: 'W1' | 'W2';
  /** Medians over the blocks, ms per step. */
  readonly plainCpuMs: number;
  readonly extraCpuMs: number;
  readonly plainWallMs: number;
  readonly extraWallMs: number;
  /** extra / plain in CPU time, in percent: the cost of logging every step. */
  readonly everyStepPercent: number;
  /** The same at the default period (`monitor.every`). */
  readonly defaultPeriodPercent: number;
  readonly blocks: number;
  readonly stepsPerBlock: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? NaN;
}

/** Times `steps` steps of `session`: [CPU ms, wall ms] per step. */
function timeSteps(session: TrainingSession, steps: number): [number, number] {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < steps; i++) session.step();
  const used = process.cpuUsage(cpu);
  return [(used.user + used.system) / 1000 / steps, (performance.now() - wall) / steps];
}

/** See the file comment. */
export function measureEveryStepCost(
  workload: 'W1' | 'W2',
  options: { blocks?: number; stepsPerBlock?: number; seed?: number } = {},
): EveryStepCost {
  const blocks = options.blocks ?? 10;
  const stepsPerBlock = options.stepsPerBlock ?? (workload === 'W1' ? 10 : 3);
  const steps = 1_000_000;
  const make = (monitor: object): ResolvedConfig =>
    workload === 'W1'
      ? mlpConfig(SHAPES.mlp, options.seed ?? 1, { steps, monitor })
      : lstmConfig(SHAPES.lstm, options.seed ?? 1, { steps, monitor });
  const logged = new TrainingSession(make({ every: 1 }));
  const plain = new TrainingSession(make({ every: steps + 1, timesteps: false }));
  // Warm-up: V8 keeps optimising for a second or more.
  for (let i = 0; i < 3; i++) {
    timeSteps(logged, stepsPerBlock);
    timeSteps(plain, stepsPerBlock);
  }
  const plainCpu: number[] = [];
  const extraCpu: number[] = [];
  const plainWall: number[] = [];
  const extraWall: number[] = [];
  for (let b = 0; b < blocks; b++) {
    // Alternate which session goes first, so drift in the load cancels.
    const first = b % 2 === 0 ? logged : plain;
    const second = first === logged ? plain : logged;
    const a = timeSteps(first, stepsPerBlock);
    const c = timeSteps(second, stepsPerBlock);
    const [on, off] = first === logged ? [a, c] : [c, a];
    plainCpu.push(off[0]);
    extraCpu.push(on[0] - off[0]);
    plainWall.push(off[1]);
    extraWall.push(on[1] - off[1]);
  }
  const plainCpuMs = median(plainCpu);
  const extraCpuMs = median(extraCpu);
  return {
    workload,
    plainCpuMs,
    extraCpuMs,
    plainWallMs: median(plainWall),
    extraWallMs: median(extraWall),
    everyStepPercent: (100 * extraCpuMs) / plainCpuMs,
    defaultPeriodPercent: (100 * extraCpuMs) / (MONITOR_DEFAULTS.every * plainCpuMs),
    blocks,
    stepsPerBlock,
  };
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'));
if (invokedDirectly) {
  const [workload = 'W1', blocks, stepsPerBlock] = process.argv.slice(2);
  if (workload !== 'W1' && workload !== 'W2') {
    process.stderr.write(`usage: node dist/bench/monitor-every-step.js W1|W2 [blocks] [steps per block]\n`);
    process.exit(2);
  }
  const r = measureEveryStepCost(workload, {
    ...(blocks ? { blocks: Number(blocks) } : {}),
    ...(stepsPerBlock ? { stepsPerBlock: Number(stepsPerBlock) } : {}),
  });
  process.stdout.write(
    `${r.workload}: unlogged step ${r.plainCpuMs.toFixed(2)} ms CPU (${r.plainWallMs.toFixed(2)} wall); a logged step costs ${r.extraCpuMs.toFixed(2)} ms CPU more (${r.extraWallMs.toFixed(2)} wall): logging every step +${r.everyStepPercent.toFixed(1)}%, at the default period (${MONITOR_DEFAULTS.every}) ${r.defaultPeriodPercent.toFixed(2)}%; medians of ${r.blocks} blocks of ${r.stepsPerBlock} steps\n`,
  );
}
