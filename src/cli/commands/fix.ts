/**
 * `gradscope fix <config, preset or run dir> [--budget STEPS] [--top K] [--out DIR] [--json]`: the doctor's top K
 * fixes, each trained from the same seed beside the unchanged config (the control); fixes.json ranks them by what
 * they measured and report.html shows them side by side. `run --verify` calls `verifyRunDir` after training.
 * Parsing, files and printing only: the trials and the ranking live in doctor/verify.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveConfig } from '../../config/index.js';
import type { ResolvedConfig } from '../../config/types.js';
import { diagnoseRunDir } from '../../doctor/diagnose.js';
import type { Finding } from '../../doctor/findings.js';
import { controlConfig, planTrials, rankTrials, type Trial, type Verification } from '../../doctor/verify.js';
import { checkOutputRoot } from '../../io/output-path.js';
import type { Summary } from '../../io/runlog.js';
import { parseFinite, stringifyFinite, writeJson } from '../../io/jsonl.js';
import { loadRun, writeComparison, writeRunReport } from '../../report/index.js';
import { checkMemoryBudget, defaultMemoryLimit } from '../../train/budget.js';
import { train } from '../../train/trainer.js';
import { integerFlag, parseArgs, UsageError, type ParsedArgs } from '../args.js';
import { chooseOutDir, configOverridesFrom, EXIT, loadConfig, memoryLimit, type Command } from '../common.js';

/** A run's own steps are the default budget, capped so `fix` on a long run stays a quick check. */
export const MAX_DEFAULT_BUDGET = 2000;
export const DEFAULT_TOP = 4;

const USAGE =
  'fix <config, preset or run dir> [--budget STEPS] [--top K] [--out DIR] [--set path=value] [--patch JSON] [--max-memory SIZE] [--json]';

interface FixOptions {
  budget?: number;
  top: number;
  outDir: string;
  json: boolean;
  /** Bytes the runs may hold at once (default: half the machine's memory). */
  memoryLimit?: number;
}

function outcomeText(trial: Trial): string {
  const o = trial.outcome;
  const score = o.metric === 'accuracy' ? `accuracy ${(100 * (o.accuracy ?? 0)).toFixed(1)}%` : '';
  return `${score}${score ? ', ' : ''}eval loss ${Number.isFinite(o.evalLoss) ? o.evalLoss.toPrecision(4) : String(o.evalLoss)}, verdict ${o.verdict}`;
}

/** fixes.json: the control, then every trial best first, each with its patch, outcome and whether it cures. */
function fixesJson(v: Verification): object {
  const entry = (t: Trial, rank: number): object => ({
    rank,
    label: t.label,
    change: t.fix?.change ?? 'control (unchanged config)',
    patch: t.patch,
    why: t.fix?.why ?? null,
    doctorRank: t.doctorRank,
    outcome: t.outcome,
    cures: t.cures,
    gain: t.gain,
    dir: t.label,
  });
  return {
    budget: v.budget,
    headline: v.headline,
    best: v.best ? v.best.label : null,
    control: entry(v.control, 0),
    trials: v.trials.map((t, i) => entry(t, i + 1)),
  };
}

/** Trials at once: the machine's cores, at most this many (each trial holds a model and its data). */
export const MAX_PARALLEL_TRIALS = 4;

function trainInWorker(config: ResolvedConfig, dir: string): Promise<Summary> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(new URL('./fix-worker.js', import.meta.url), { workerData: { config, dir } });
    worker.once('message', (message: { ok: boolean; summary?: Summary; message?: string }) => {
      if (message.ok && message.summary) resolvePromise(message.summary);
      else reject(new Error(`trial ${config.name} failed: ${message.message ?? 'no summary'}`));
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** Train every job, `parallel` at a time in worker threads (in this thread when parallel is 1), in job order. */
export async function trainAll(
  jobs: readonly { config: ResolvedConfig; dir: string }[],
  parallel: number,
): Promise<Summary[]> {
  if (parallel <= 1) return jobs.map((j) => train(j.config, { outDir: j.dir }).summary);
  const results: Summary[] = new Array<Summary>(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i] as { config: ResolvedConfig; dir: string };
      results[i] = await trainInWorker(job.config, job.dir);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, lane));
  return results;
}

/**
 * Train the control and the trials into `outDir/<label>` (in parallel worker threads where there are cores), write
 * fixes.json and the side-by-side report.html. Without findings, the control is trained first and its diagnosis
 * names the candidates.
 */
export async function runFixes(
  config: ResolvedConfig,
  findings: readonly Finding[] | null,
  options: FixOptions,
): Promise<Verification> {
  mkdirSync(options.outDir, { recursive: true });
  const budget = options.budget ?? config.train.steps;
  const limit = options.memoryLimit ?? defaultMemoryLimit();
  const control = { config: controlConfig(config, budget), dir: join(options.outDir, 'control') };
  // Each run must fit alone: refused before any is trained, naming the field to lower (exit 2).
  const controlBytes = checkMemoryBudget(control.config, limit).bytes;
  const say = (label: string, steps: number): void => {
    process.stderr.write(`gradscope fix: training ${label} (${steps} steps)\n`);
  };
  let controlSummary: Summary | null = null;
  if (findings === null) {
    say('control', budget);
    controlSummary = train(control.config, { outDir: control.dir }).summary;
  }
  const plan = planTrials(config, findings ?? (controlSummary as Summary).findings, {
    budget,
    top: options.top,
  });
  const jobs = plan.trials.map((t) => ({ config: t.config, dir: join(options.outDir, t.label) }));
  const largest = Math.max(controlBytes, ...jobs.map((j) => checkMemoryBudget(j.config, limit).bytes));
  // Trials run side by side only as far as they fit in the limit together.
  const parallel = Math.max(
    1,
    Math.min(availableParallelism(), MAX_PARALLEL_TRIALS, Math.floor(limit / largest)),
  );
  if (controlSummary === null) jobs.unshift(control);
  for (const j of jobs) say(j.dir.slice(options.outDir.length + 1), j.config.train.steps);
  const summaries = await trainAll(jobs, parallel);
  if (controlSummary === null) controlSummary = summaries.shift() as Summary;
  const verification = rankTrials(plan, controlSummary, summaries);
  writeJson(join(options.outDir, 'fixes.json'), fixesJson(verification));
  writeComparison(
    options.outDir,
    [control.dir, ...plan.trials.map((t) => join(options.outDir, t.label))].map((d) => loadRun(d)),
  );
  return verification;
}

function print(v: Verification, outDir: string, json: boolean): void {
  if (json) {
    process.stdout.write(stringifyFinite(fixesJson(v), 2) + '\n');
    return;
  }
  const lines = [`control: ${outcomeText(v.control)}`];
  v.trials.forEach((t, i) =>
    lines.push(
      `${i + 1}. ${t.fix?.change} -> ${outcomeText(t)}${t.cures ? '  CURES' : '  (does not beat the control)'}`,
    ),
  );
  lines.push(v.headline, `fixes: ${join(outDir, 'fixes.json')}`, `report: ${join(outDir, 'report.html')}`);
  process.stderr.write(lines.join('\n') + '\n');
}

function isRunDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function budgetFor(args: ParsedArgs, config: ResolvedConfig): number {
  return integerFlag(args, 'budget', 1) ?? Math.min(config.train.steps, MAX_DEFAULT_BUDGET);
}

/** Verify the fixes of a finished run directory (its config.json and its diagnosis). */
export async function verifyRunDir(
  dir: string,
  options: { json: boolean; budget?: number; top?: number; outDir?: string; memoryLimit?: number },
): Promise<number> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new UsageError(
      `${dir} has no config.json (a TensorBoard log or a bare metrics.jsonl): gradscope cannot re-train it, so its fixes cannot be verified; run gradscope doctor ${dir} for the unverified diagnosis.`,
    );
  }
  const raw = parseFinite(readFileSync(configPath, 'utf8'));
  const config = resolveConfig(raw, { defaultName: basename(resolve(dir)) });
  const report = diagnoseRunDir(dir);
  const outDir = options.outDir ?? join(dir, 'fixes');
  const verification = await runFixes(config, report.findings, {
    ...(options.budget === undefined ? {} : { budget: options.budget }),
    top: options.top ?? DEFAULT_TOP,
    outDir,
    json: options.json,
    ...(options.memoryLimit === undefined ? {} : { memoryLimit: options.memoryLimit }),
  });
  appendVerifiedToSummary(dir, verification);
  // The run's own report says what verification found.
  if (existsSync(join(dir, 'metrics.jsonl'))) writeRunReport(dir);
  print(verification, outDir, options.json);
  return EXIT.ok;
}

/** The run's summary says what verification found ("verified: +62 points accuracy in 600 steps ..."). */
function appendVerifiedToSummary(dir: string, v: Verification): void {
  const path = join(dir, 'summary.json');
  if (!existsSync(path)) return;
  const summary = parseFinite(readFileSync(path, 'utf8')) as Record<string, unknown>;
  summary['verified'] = {
    headline: v.headline,
    best: v.best ? { change: v.best.fix?.change, patch: v.best.patch, gain: v.best.gain } : null,
    fixes: 'fixes/fixes.json',
  };
  writeFileSync(path, stringifyFinite(summary, 2) + '\n');
}

export const fixCommand: Command = {
  summary: `${USAGE}  train the doctor's top fixes beside the control and rank them by what they measured`,
  async run(argv) {
    const args = parseArgs(
      argv,
      {
        values: ['budget', 'top', 'out', 'steps', 'seed', 'patch', 'max-memory'],
        lists: ['set'],
        switches: ['json'],
      },
      'fix',
    );
    if (args.positionals.length !== 1)
      throw new UsageError(`fix needs exactly one config, preset or run directory: gradscope ${USAGE}.`);
    const source = args.positionals[0] as string;
    const top = integerFlag(args, 'top', 1) ?? DEFAULT_TOP;
    const json = args.switches.has('json');
    if (isRunDir(source)) {
      if (args.lists['set'] || args.values['patch'] !== undefined)
        throw new UsageError(
          `--set and --patch change a config or preset, not a finished run (${source}); run gradscope fix on the edited config instead.`,
        );
      const budget = integerFlag(args, 'budget', 1);
      return verifyRunDir(source, {
        json,
        top,
        memoryLimit: memoryLimit(args),
        ...(budget === undefined ? {} : { budget }),
        ...(args.values['out'] ? { outDir: checkOutputRoot(args.values['out']) } : {}),
      });
    }
    const config = loadConfig(source, configOverridesFrom(args));
    const outDir = args.values['out']
      ? checkOutputRoot(args.values['out'])
      : chooseOutDir(undefined, `${config.name}-fix`);
    const verification = await runFixes(config, null, {
      budget: budgetFor(args, config),
      top,
      outDir,
      json,
      memoryLimit: memoryLimit(args),
    });
    print(verification, outDir, json);
    return EXIT.ok;
  },
};
