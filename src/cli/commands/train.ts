/** `gradscope run`, `compare` and `demo`: train, write run directories and reports, print a short account. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../../config/types.js';
import { TaskConfigError } from '../../data/errors.js';
import { GradscopeError } from '../../util/errors.js';
import type { Finding } from '../../doctor/findings.js';
import { fixFlags } from '../../doctor/format.js';
import { stringifyFinite, writeJson } from '../../io/jsonl.js';
import { checkOutputRoot, runDirInside } from '../../io/output-path.js';
import { preflight, preflightProbes } from '../../preflight/index.js';
import { loadRun, writeComparison, writeRunReport, type Comparison } from '../../report/index.js';
import { checkMemoryBudget, dominantField } from '../../train/budget.js';
import { trainAsync, type TrainResult } from '../../train/trainer.js';
import { parseArgs, UsageError } from '../args.js';
import {
  chooseOutDir,
  configOverridesFrom,
  EXIT,
  loadConfig,
  MAX_MEMORY_USAGE,
  memoryLimit,
  OVERRIDE_USAGE,
  type Command,
} from '../common.js';
import { progressPrinter } from '../progress.js';
import { verifyRunDir } from './fix.js';

const RUN_USAGE = [
  'usage: gradscope run <config.json or preset> [options]',
  '  --out DIR          the run directory (default runs/<name>, never reused)',
  "  --steps N          train N steps instead of the config's train.steps",
  '  --seed S           the seed for data, initialisation and batches',
  MAX_MEMORY_USAGE,
  OVERRIDE_USAGE,
  "  --verify           then train the doctor's top fixes beside the run (fixes/ in the run directory)",
  '  --resume DIR       continue an interrupted run from its last checkpoint (train.checkpointEvery), bit for bit',
  '  --json             print the summary as JSON on stdout',
  'examples:',
  '  gradscope run deep-sigmoid --steps 300',
  '  gradscope run deep-sigmoid --set model.activation=relu --set model.init=he-normal --out runs/relu',
  '  gradscope run --resume runs/relu',
].join('\n');

const COMPARE_USAGE = [
  'usage: gradscope compare <config or preset>... [options]',
  '  --out DIR          where the runs and the side-by-side report go (default runs/compare-...)',
  '  --steps N          train each run N steps',
  '  --seed S           the same seed for every run',
  MAX_MEMORY_USAGE,
  OVERRIDE_USAGE.replace('change one config field', 'change one field of every config'),
  '  --json             print the comparison as JSON on stdout',
  'examples:',
  '  gradscope compare adding-rnn adding-lstm',
  '  gradscope compare deep-sigmoid deep-relu-he --steps 200 --out runs/depth',
].join('\n');

const DEMO_USAGE = [
  'usage: gradscope demo [--out DIR]',
  '  --out DIR          where the runs and their report go (default runs/demo)',
  'example:',
  '  gradscope demo',
].join('\n');

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

/** How a run is trained from the command line: interruptible, checkpointed, maybe continued. */
interface RunOptions {
  signal: AbortSignal;
  /** Continue the run in `outDir` from its checkpoint (`run --resume`). */
  resume?: boolean;
}

/** Train one run into `outDir` (config.json, metrics.jsonl, checkpoint.bin, summary.json, events, report.html). */
async function trainRun(config: ResolvedConfig, outDir: string, options: RunOptions): Promise<TrainResult> {
  makeDirectory(outDir);
  if (!options.resume && preflightProbes(config)) {
    // Gradient flow at initialisation, for the report's preflight panel (a fraction of a second for most models).
    try {
      writeJson(join(outDir, 'preflight.json'), preflight(config, { networks: 4 }));
    } catch (error) {
      // A bad task (an unreadable CSV file) or settings that contradict it (a sequence longer than the positional
      // table) stop the run too: say it once, as the run's error.
      if (error instanceof TaskConfigError || (error instanceof GradscopeError && error.code === 'conflict'))
        throw error;
      // The run does not depend on it: train anyway, and say why the panel is missing.
      process.stderr.write(
        `gradscope: no preflight for ${config.name}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
  const progress = progressPrinter(config.name);
  let result: TrainResult;
  try {
    result = await trainAsync(config, {
      outDir,
      checkpoints: true,
      signal: options.signal,
      ...(options.resume ? { resume: true } : {}),
      onProgress: (p) => progress.update(p),
    });
  } catch (error) {
    throw asMemoryError(error, config);
  } finally {
    progress.done();
  }
  writeRunReport(outDir);
  return result;
}

/**
 * SIGINT and SIGTERM while runs train: the first one stops the run at the next step boundary (its checkpoint,
 * summary and report are written); a second one ends the process at once, as usual.
 */
function interruptHandler(): {
  signal: AbortSignal;
  received: () => NodeJS.Signals | null;
  dispose: () => void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = (): void => {
      received = name;
      dispose();
      process.stderr.write(
        `\ngradscope: ${name}: stopping at the end of this step to write the summary (again to quit at once)\n`,
      );
      controller.abort(name);
    };
    process.on(name, handler);
    return { name, handler };
  });
  const dispose = (): void => {
    for (const { name, handler } of handlers) process.off(name, handler);
  };
  return { signal: controller.signal, received: () => received, dispose };
}

/** The exit status of an interrupted command (CONTRACT: 130 after SIGINT, 143 after SIGTERM). */
function interruptedExit(signal: NodeJS.Signals | null): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

function interruptMessage(result: TrainResult, config: ResolvedConfig, outDir: string): string {
  return (
    `gradscope: ${config.name} interrupted at step ${result.summary.steps} of ${config.train.steps}; ` +
    `summary.json and report.html written in ${outDir}\n  continue it with: gradscope run --resume ${outDir}\n`
  );
}

/** Create a run directory, or say why it cannot be one (exit 2). */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new UsageError(
      `cannot create the run directory ${dir} (${error instanceof Error ? error.message : String(error)}); choose another --out.`,
    );
  }
}

/**
 * An allocation that failed despite the budget (the estimate is approximate) as exit 2 naming the field that
 * sizes the run; other errors unchanged.
 */
function asMemoryError(error: unknown, config: ResolvedConfig): unknown {
  if (!(error instanceof RangeError)) return error;
  const { field, value } = dominantField(config, (e) => e.bytes);
  return new UsageError(
    `${config.name}: ran out of memory (${error.message}); lower ${field} (now ${value}) or give the run less to hold.`,
  );
}

function describe(result: TrainResult, outDir: string): string {
  const s = result.summary;
  const acc = s.eval.accuracy === undefined ? '' : `, accuracy ${(100 * s.eval.accuracy).toFixed(1)}%`;
  const verdict = s.verdict ? ` — verdict: ${s.verdict}` : '';
  return (
    `${s.name}: ${s.steps} steps in ${s.wallSeconds.toFixed(1)}s (${s.stepsPerSecond.toFixed(1)} steps/s); ` +
    `final loss ${fmt(s.finalLoss)}, eval loss ${fmt(s.eval.loss)}${acc} (baseline ${fmt(s.baseline.loss)}); ` +
    `skipped ${s.skippedSteps}, clipped ${s.clippedSteps}${verdict}\n  run directory: ${outDir}\n`
  );
}

/** The top finding, its cause and its first fix as a patch and as flags to paste back (or "healthy"). */
export function prescription(summary: TrainResult['summary'], outDir: string): string {
  const findings = summary.findings as Finding[];
  const lead = findings.find((f) => f.severity !== 'info');
  if (!lead) return '  no finding: nothing in the gradients or the loss crossed a threshold\n';
  const fix = lead.fixes[0];
  const lines = [
    `  ${lead.severity}: ${lead.title} (${lead.code}; cause: ${lead.causeKind})`,
    `  cause: ${lead.cause}`,
  ];
  if (fix) {
    lines.push(
      `  fix #1: ${fix.change}`,
      `    patch: ${JSON.stringify(fix.patch)}`,
      `    flags: ${fixFlags(fix.patch)}`,
      `  to verify the fixes by training them: gradscope fix ${outDir} (or run ... --verify)`,
    );
  }
  return lines.join('\n') + '\n';
}

function stopMessage(result: TrainResult): string {
  const stopped = result.stopped;
  const name = result.summary.name;
  const stop = !stopped
    ? ''
    : stopped.kind === 'stuck'
      ? `gradscope: ${name} stopped at step ${stopped.step}: the non-finite guard is stuck (finding guard_stuck)\n`
      : `gradscope: ${name} stopped at step ${stopped.step} by the non-finite guard: ${stopped.source}\n`;
  // A guard that gave up and a non-finite final loss are said even when the run completed: never silently.
  const warnings = (result.summary.warnings ?? []).map((w) => `gradscope: warning: ${name}: ${w}\n`).join('');
  return stop + warnings;
}

export const runCommand: Command = {
  summary:
    'run <config.json or preset> [--out DIR] [--steps N] [--seed S] [--set path=value] [--patch JSON] [--max-memory SIZE] [--verify] [--json] | run --resume DIR  train one run (--verify: then train its fixes)',
  async run(argv) {
    const args = parseArgs(
      argv,
      {
        values: ['out', 'steps', 'seed', 'patch', 'max-memory', 'resume'],
        lists: ['set'],
        switches: ['json', 'verify'],
        usage: RUN_USAGE,
      },
      'run',
    );
    const resumeDir = args.values['resume'];
    if (resumeDir !== undefined) {
      const others = ['out', 'steps', 'seed', 'patch', 'set', 'verify'].filter(
        (flag) => flag in args.values || flag in args.lists || args.switches.has(flag),
      );
      if (args.positionals.length > 0 || others.length > 0)
        throw new UsageError(
          `run --resume DIR continues a run exactly as its config.json says; it takes no config${others.length ? ` and no --${others.join(', --')}` : ''} (only --json and --max-memory).`,
        );
    } else if (args.positionals.length !== 1) {
      throw new UsageError(
        'run needs exactly one config file or preset name: gradscope run <config.json or preset> (or run --resume DIR).',
      );
    }
    const outDir = resumeDir === undefined ? null : resumeRunDir(resumeDir);
    const config =
      outDir === null
        ? loadConfig(args.positionals[0] as string, configOverridesFrom(args))
        : loadConfig(join(outDir, 'config.json'), {});
    checkMemoryBudget(config, memoryLimit(args)); // refused before anything is built (exit 2)
    const dir = outDir ?? chooseOutDir(args.values['out'], config.name);
    const interrupts = interruptHandler();
    let result: TrainResult;
    try {
      result = await trainRun(config, dir, { signal: interrupts.signal, resume: outDir !== null });
    } finally {
      interrupts.dispose();
    }
    if (result.interrupted) {
      if (args.switches.has('json')) process.stdout.write(stringifyFinite(result.summary, 2) + '\n');
      process.stderr.write(interruptMessage(result, config, dir) + stopMessage(result));
      return interruptedExit(interrupts.received());
    }
    if (args.switches.has('json') && !args.switches.has('verify'))
      process.stdout.write(stringifyFinite(result.summary, 2) + '\n');
    else if (!args.switches.has('json'))
      process.stderr.write(
        (result.resumedFrom !== null ? `  resumed from the checkpoint at step ${result.resumedFrom}\n` : '') +
          describe(result, dir) +
          `  report: ${join(dir, 'report.html')}\n` +
          prescription(result.summary, dir),
      );
    process.stderr.write(stopMessage(result));
    if (args.switches.has('verify')) {
      // After training: the doctor's fixes trained beside the run (fixes/ in the run directory); the summary
      // printed with --json then carries the verification.
      await verifyRunDir(dir, { json: false, memoryLimit: memoryLimit(args) });
      if (args.switches.has('json')) process.stdout.write(readFileSync(join(dir, 'summary.json'), 'utf8'));
    }
    return result.stopped ? EXIT.stopped : EXIT.ok;
  },
};

/** The run directory `--resume` names, checked: a directory with config.json and a checkpoint. */
function resumeRunDir(path: string): string {
  const dir = checkOutputRoot(path, '--resume');
  if (!existsSync(join(dir, 'config.json')))
    throw new UsageError(
      `--resume ${path}: not a run directory (no config.json); give the directory gradscope run wrote.`,
    );
  return dir;
}

/** Train each config into `outDir/<name>` and write the side-by-side report; names are made unique. */
export async function compareConfigs(
  configs: readonly ResolvedConfig[],
  outDir: string,
): Promise<{ comparison: Comparison | null; stopped: boolean; interrupted: NodeJS.Signals | null }> {
  const root = checkOutputRoot(outDir);
  // Every run's directory is chosen and checked before any run trains: a clash costs nothing and overwrites nothing.
  const used = new Set<string>();
  const dirs = configs.map((config) => {
    let name = config.name;
    for (let k = 2; used.has(name); k++) name = `${config.name}-${k}`;
    used.add(name);
    return chooseOutDir(runDirInside(root, name), name);
  });
  makeDirectory(root);
  let stopped = false;
  const interrupts = interruptHandler();
  try {
    for (const [i, config] of configs.entries()) {
      const dir = dirs[i] as string;
      const result = await trainRun(config, dir, { signal: interrupts.signal });
      if (result.interrupted) {
        process.stderr.write(interruptMessage(result, config, dir) + stopMessage(result));
        return { comparison: null, stopped, interrupted: interrupts.received() ?? 'SIGINT' };
      }
      process.stderr.write(describe(result, dir) + stopMessage(result));
      stopped ||= result.stopped !== null;
    }
  } finally {
    interrupts.dispose();
  }
  return {
    comparison: writeComparison(
      root,
      dirs.map((d) => loadRun(d)),
    ),
    stopped,
    interrupted: null,
  };
}

export const compareCommand: Command = {
  summary:
    'compare <config or preset>... [--out DIR] [--steps N] [--seed S] [--set path=value] [--patch JSON] [--json]  side-by-side runs and one report',
  async run(argv) {
    const args = parseArgs(
      argv,
      {
        values: ['out', 'steps', 'seed', 'patch', 'max-memory'],
        lists: ['set'],
        switches: ['json'],
        usage: COMPARE_USAGE,
      },
      'compare',
    );
    if (args.positionals.length < 1)
      throw new UsageError(
        'compare needs one or more configs or presets: gradscope compare adding-rnn adding-lstm.',
      );
    const overrides = configOverridesFrom(args);
    // Validate every config before training any, so a typo in the last one costs nothing.
    const configs = args.positionals.map((source) => loadConfig(source, overrides));
    const limit = memoryLimit(args);
    for (const config of configs) checkMemoryBudget(config, limit);
    const outDir = args.values['out']
      ? checkOutputRoot(args.values['out'] as string)
      : chooseOutDir(undefined, `compare-${configs.map((c) => c.name).join('-vs-')}`.slice(0, 80));
    const { comparison, stopped, interrupted } = await compareConfigs(configs, outDir);
    if (comparison === null) return interruptedExit(interrupted);
    if (args.switches.has('json')) process.stdout.write(stringifyFinite(comparison, 2) + '\n');
    else process.stderr.write(`best: ${comparison.best ?? 'none'}\nreport: ${join(outDir, 'report.html')}\n`);
    return stopped ? EXIT.stopped : EXIT.ok;
  },
};

/** The flagship contrasts: depth with saturating units vs ReLU + He, and a vanilla RNN vs an LSTM through time. */
export const DEMO_PRESETS = ['deep-sigmoid', 'deep-relu-he', 'adding-rnn', 'adding-lstm'] as const;

export const demoCommand: Command = {
  summary: 'demo [--out DIR]  run the flagship contrasts and write their report',
  async run(argv) {
    const args = parseArgs(argv, { values: ['out'], switches: [], usage: DEMO_USAGE }, 'demo');
    const configs = DEMO_PRESETS.map((name) => loadConfig(name, {}));
    const outDir = args.values['out']
      ? checkOutputRoot(args.values['out'] as string)
      : chooseOutDir(undefined, 'demo');
    const { comparison, interrupted } = await compareConfigs(configs, outDir);
    if (comparison === null) return interruptedExit(interrupted);
    process.stderr.write(
      `\n${comparison.runs.map((r) => `  ${r.name.padEnd(14)} ${String(r.verdict).padEnd(12)} eval loss ${fmt(r.eval.loss)}`).join('\n')}\n` +
        `report: ${join(outDir, 'report.html')}\nrun directories: ${outDir}\n`,
    );
    return EXIT.ok;
  },
};
