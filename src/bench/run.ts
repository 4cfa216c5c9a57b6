/**
 * `npm run bench` / `node dist/bench/run.js [--json] [--quick] [--only W1,W2] [--no-peers] [--rounds N]`
 *
 * Runs issue 5's workloads for gradscope (on every kernels backend this build has) and, in the same run, for the
 * peers that are installed, then prints one report: steps/s (W1, W2), GFLOPS (W3), the monitor's overhead (W4),
 * ratios to PyTorch and to the best JavaScript peer, peak RSS, and the targets. `--json` prints the same as JSON.
 *
 * Method: every (runner, workload) runs in its own child process (its memory is its own), once per round. A child
 * warms up, then times a fixed number of iterations: the first round picks the count from the warm-up (about
 * `targetSeconds` of work), later rounds reuse it. Rounds interleave the runners, and each round rotates their order,
 * so a burst of load from other processes on a shared machine falls on all of them; reported values are medians
 * over the rounds. `--quick` is the CI smoke test: gradscope only, one round, two iterations, no timing claims.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../cli/args.js';
import { GradscopeError } from '../util/errors.js';
import {
  RESULT_MARKER,
  gradscopeRunnerId,
  SHAPES,
  WORKLOAD_IDS,
  type RunResult,
  type RunSpec,
  type Shapes,
  type WorkloadId,
} from './protocol.js';
import { buildReport, formatReport, type Report, type RunnerInfo } from './report.js';
import { BENCH_THREADS, discoverRunners, isReady, PYTORCH_HELP, type Runner } from './runners.js';

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  only: readonly WorkloadId[];
  peers: boolean;
  rounds: number;
}

/** A wrong bench command line: the CLI's `UsageError`, a `GradscopeError` of code `usage` (exit 2). */
export { UsageError };

const USAGE = `usage: node dist/bench/run.js [--json] [--quick] [--only W1,W2,W3,W4,W5,W6] [--no-peers] [--rounds N]
  --json       print the report as JSON (progress goes to stderr)
  --quick      smoke test: gradscope only, one round, a few iterations (no timing claims)
  --only LIST  workloads to run: W1, W2, W3, W4 (= W4-W1,W4-W2), W4-W1, W4-W2, W5 (conv), W6 (Transformer)
  --no-peers   skip PyTorch, jax-js, TensorFlow.js and brain.js
  --rounds N   repetitions (default 5; medians are reported)`;

/** Parse the command line; throws UsageError with what was wrong. */
export function parseArgs(argv: readonly string[]): BenchOptions & { help: boolean } {
  const options = {
    json: false,
    quick: false,
    only: [...WORKLOAD_IDS] as WorkloadId[],
    peers: true,
    rounds: 5,
    help: false,
  };
  let roundsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value.\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--json':
        options.json = true;
        break;
      case '--quick':
        options.quick = true;
        break;
      case '--no-peers':
        options.peers = false;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      case '--only': {
        const picked = new Set<WorkloadId>();
        for (const raw of value().split(',')) {
          const name = raw.trim().toUpperCase();
          if (name === 'W4') {
            picked.add('W4-W1');
            picked.add('W4-W2');
          } else if ((WORKLOAD_IDS as readonly string[]).includes(name)) {
            picked.add(name as WorkloadId);
          } else {
            throw new UsageError(
              `--only: unknown workload "${raw}"; choose from W1, W2, W3, W4, W4-W1, W4-W2, W5, W6.`,
            );
          }
        }
        options.only = WORKLOAD_IDS.filter((w) => picked.has(w));
        break;
      }
      case '--rounds': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1)
          throw new UsageError(`--rounds must be a whole number >= 1, got ${inline ?? argv[i]}.`);
        options.rounds = n;
        roundsGiven = true;
        break;
      }
      default:
        throw new UsageError(`unknown option "${arg}".\n${USAGE}`);
    }
  }
  if (options.quick) {
    options.peers = false;
    if (!roundsGiven) options.rounds = 1;
  }
  return options;
}

/**
 * The smoke test runs the relaxed-SIMD build and the threaded runner on W1 and W3 only (their step code is the
 * plain build's; their kernels are what differs), so `npm test` stays short.
 */
export function quickRuns(runner: string, workload: WorkloadId): boolean {
  const kernelsOnly =
    runner === 'gradscope-wasm-relaxed' || runner === gradscopeRunnerId('wasm', BENCH_THREADS);
  return !kernelsOnly || workload === 'W1' || workload === 'W3';
}

/** The spec of one child run; `quick` shrinks everything to a smoke test. */
function specFor(
  workload: WorkloadId,
  quick: boolean,
  shapes: Shapes,
  iterations: Record<string, number> | null,
  round: number,
): RunSpec {
  const isW3 = workload === 'W3';
  const isW4 = workload.startsWith('W4');
  // V8 keeps compiling for a second or more under load (a step gets ~30% faster over the first 40 steps), so
  // training workloads warm up for 1.5 s; a matrix product is one function and settles at once.
  const warmup = quick
    ? { minSteps: 1, minSeconds: 0, maxSteps: 1 }
    : isW3
      ? { minSteps: 1, minSeconds: 0.2, maxSteps: 500 }
      : { minSteps: 5, minSeconds: 1.5, maxSteps: 1000 };
  const calibration = quick
    ? { targetSeconds: 0, minIterations: isW3 ? 1 : 2, maxIterations: isW3 ? 1 : 2 }
    : isW3
      ? { targetSeconds: 0.3, minIterations: 1, maxIterations: 20_000 }
      : { targetSeconds: 1.5, minIterations: isW4 ? 1 : 3, maxIterations: isW4 ? 10 : 5000 };
  const spec: RunSpec = {
    workload,
    shapes,
    seed: 1,
    warmup,
    iterations,
    calibration,
    offFirst: round % 2 === 1,
  };
  // The smoke test shortens the monitor period so W4 needs four steps, not eleven; its numbers mean nothing.
  if (quick && isW4) spec.monitorEvery = 2;
  return spec;
}

/** W4's window: enough monitor periods for about `seconds` per training run, from the bench loop's step rate. */
function monitorPeriods(stepsPerSecond: number | undefined, every: number, seconds: number): number {
  if (stepsPerSecond === undefined || !Number.isFinite(stepsPerSecond)) return 2;
  return Math.min(10, Math.max(1, Math.round((seconds * stepsPerSecond) / every)));
}

function runChild(runner: Runner, spec: RunSpec, timeoutMs: number): Promise<RunResult> {
  const { file, args, env } = runner.command(spec);
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const fail = (error: string): RunResult => ({
      ok: false,
      runner: runner.id,
      workload: spec.workload,
      error,
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve(fail(`could not start ${file}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith(RESULT_MARKER));
      if (line) {
        try {
          resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as RunResult);
          return;
        } catch (error) {
          resolve(fail(`unreadable result line: ${error instanceof Error ? error.message : String(error)}`));
          return;
        }
      }
      const why =
        signal === 'SIGKILL'
          ? `timed out after ${timeoutMs / 1000} s`
          : `exited with ${signal ?? code} and no result`;
      resolve(fail(`${why}; stderr: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

function describe(result: RunResult): string {
  if (!result.ok) return `failed: ${result.error.split('\n')[0] ?? ''}`;
  if (result.steps)
    return `${result.steps.stepsPerSecond.toFixed(2)} steps/s (${result.steps.iterations} steps)`;
  if (result.products)
    return (
      result.products.map((p) => `${p.shape} ${p.product} ${p.gflops.toFixed(1)}`).join(', ') + ' GFLOPS'
    );
  if (result.monitor)
    return `monitor overhead ${result.monitor.overheadPercent.toFixed(1)}% (A/B ${result.monitor.abOverheadPercent.toFixed(1)}%)`;
  return 'done';
}

export interface BenchRun {
  date: string;
  /** `git describe --always --dirty` of the working tree measured, when it is a git checkout. */
  revision: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    loadAverage: { start: number[]; end: number[] };
  };
  options: BenchOptions;
  shapes: Shapes;
  report: Report;
  /** Every child's result, in the order they ran. */
  raw: RunResult[];
  seconds: number;
}

/** Run the benchmark; `log` receives progress lines. */
export async function runBench(options: BenchOptions, log: (line: string) => void): Promise<BenchRun> {
  const start = performance.now();
  const shapes = SHAPES;
  const loadStart = os.loadavg();
  const discovered = await discoverRunners({ peers: options.peers });
  const ready = discovered.filter(isReady);
  for (const r of discovered) if (!isReady(r)) log(`skip ${r.label}: ${r.reason}`);
  const raw: RunResult[] = [];
  /** Iteration counts fixed in round 1, by runner and workload. */
  const fixed = new Map<string, Record<string, number>>();
  const failed = new Set<string>();
  const key = (runner: string, workload: WorkloadId): string => `${runner}\u0000${workload}`;
  for (let round = 0; round < options.rounds; round++) {
    // Rotate the runner order each round, so no runner always goes first (or right after a heavy one).
    const order = ready.map((_, i) => ready[(i + round) % ready.length] as Runner);
    for (const workload of options.only) {
      for (const runner of order) {
        if (!runner.workloads.includes(workload) || failed.has(key(runner.id, workload))) continue;
        if (options.quick && !quickRuns(runner.id, workload)) continue;
        let iterations = fixed.get(key(runner.id, workload)) ?? null;
        if (iterations === null && workload.startsWith('W4')) {
          const base = raw.find(
            (r) => r.ok && r.runner === runner.id && r.workload === (workload === 'W4-W1' ? 'W1' : 'W2'),
          );
          iterations = {
            periods: options.quick
              ? 2
              : monitorPeriods(base?.ok ? base.steps?.stepsPerSecond : undefined, 10, 4),
          };
        }
        const spec = specFor(workload, options.quick, shapes, iterations, round);
        const childStart = performance.now();
        const result: RunResult = { ...(await runChild(runner, spec, 600_000)), round };
        raw.push(result);
        const childSeconds = ((performance.now() - childStart) / 1000).toFixed(1);
        log(
          `round ${round + 1}/${options.rounds} ${workload} ${runner.label}: ${describe(result)} [${childSeconds} s]`,
        );
        if (result.ok) {
          if (!fixed.has(key(runner.id, workload))) fixed.set(key(runner.id, workload), result.iterations);
        } else {
          failed.add(key(runner.id, workload));
        }
      }
    }
  }
  const runners: RunnerInfo[] = discovered.map((r) => {
    if (!isReady(r)) return { id: r.id, label: r.label, group: r.group, available: false, reason: r.reason };
    const failures = raw.filter((x) => !x.ok && x.runner === r.id);
    const ran = raw.some((x) => x.ok && x.runner === r.id);
    const reason = failures
      .map((f) => (f.ok ? '' : `${f.workload}: ${f.error.split('\n')[0] ?? ''}`))
      .join('; ');
    return { id: r.id, label: r.label, group: r.group, available: ran, ...(reason ? { reason } : {}) };
  });
  const cpus = os.cpus();
  const git = spawnSync('git', ['describe', '--always', '--dirty'], {
    encoding: 'utf8',
    cwd: new URL('.', import.meta.url),
  });
  return {
    date: new Date().toISOString(),
    revision: git.status === 0 ? git.stdout.trim() : 'unknown',
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      loadAverage: { start: loadStart, end: os.loadavg() },
    },
    options,
    shapes,
    report: buildReport(runners, raw, shapes),
    raw,
    seconds: (performance.now() - start) / 1000,
  };
}

/** The printed form: a header with the conditions, then the report's tables. */
export function formatRun(run: BenchRun): string {
  const m = run.machine;
  const lines = [
    `gradscope bench, ${run.date.slice(0, 10)}, revision ${run.revision}: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; ` +
      `load average ${m.loadAverage.start.map((v) => v.toFixed(1)).join(' ')} at start; ` +
      `${run.options.rounds} round(s)${run.options.quick ? ', quick smoke test: no timing claims' : ''}; ${run.seconds.toFixed(0)} s.`,
    '',
    formatReport(run.report, run.shapes),
  ];
  if (run.options.peers && !run.report.runners.some((r) => r.id === 'pytorch' && r.available)) {
    lines.push('', PYTORCH_HELP);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof GradscopeError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const run = await runBench(options, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(options.json ? `${JSON.stringify(run, null, 2)}\n` : `${formatRun(run)}\n`);
  // A benchmark reports; it fails only when gradscope itself could not run a workload.
  const gradscopeFailed = run.raw.some((r) => !r.ok && r.runner.startsWith('gradscope-typescript'));
  if (gradscopeFailed) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
