/** `gradscope run`, `compare` and `demo`: train, write run directories and reports, print a short account. */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ResolvedConfig } from '../../config/types.js';
import type { Finding } from '../../doctor/findings.js';
import { fixFlags } from '../../doctor/format.js';
import { stringifyFinite, writeJson } from '../../io/jsonl.js';
import { preflight } from '../../preflight/index.js';
import { loadRun, writeComparison, writeRunReport, type Comparison } from '../../report/index.js';
import { train, type TrainResult } from '../../train/trainer.js';
import { integerFlag, parseArgs, UsageError, type ParsedArgs } from '../args.js';
import { chooseOutDir, EXIT, loadConfig, type Command } from '../common.js';
import { progressPrinter } from '../progress.js';
import { verifyRunDir } from './fix.js';

function overridesFrom(args: ParsedArgs): { steps?: number; seed?: number } {
  const steps = integerFlag(args, 'steps', 1);
  const seed = integerFlag(args, 'seed', 0);
  return { ...(steps === undefined ? {} : { steps }), ...(seed === undefined ? {} : { seed }) };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

/** Train one run into `outDir` (config.json, metrics.jsonl, summary.json, events, report.html). */
function trainRun(config: ResolvedConfig, outDir: string): TrainResult {
  // Gradient flow at initialisation, for the report's preflight panel (a fraction of a second for most models).
  mkdirSync(outDir, { recursive: true });
  try {
    writeJson(join(outDir, 'preflight.json'), preflight(config, { networks: 4 }));
  } catch (error) {
    // The run does not depend on it: train anyway, and say why the panel is missing.
    process.stderr.write(
      `gradscope: no preflight for ${config.name}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  const progress = progressPrinter(config.name);
  const result = train(config, { outDir, onProgress: (p) => progress.update(p) });
  progress.done();
  writeRunReport(outDir);
  return result;
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
  if (!lead) return '  healthy: gradients reach every layer at a workable scale and the run learned\n';
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
  return result.stopped
    ? `gradscope: ${result.summary.name} stopped at step ${result.stopped.step} by the non-finite guard: ${result.stopped.source}\n`
    : '';
}

export const runCommand: Command = {
  summary:
    'run <config.json or preset> [--out DIR] [--steps N] [--seed S] [--verify] [--json]  train one run (--verify: then train its fixes)',
  run(argv) {
    const args = parseArgs(argv, { values: ['out', 'steps', 'seed'], switches: ['json', 'verify'] }, 'run');
    if (args.positionals.length !== 1) {
      throw new UsageError(
        'run needs exactly one config file or preset name: gradscope run <config.json or preset>.',
      );
    }
    const config = loadConfig(args.positionals[0] as string, overridesFrom(args));
    const outDir = chooseOutDir(args.values['out'], config.name);
    const result = trainRun(config, outDir);
    if (args.switches.has('json') && !args.switches.has('verify'))
      process.stdout.write(stringifyFinite(result.summary, 2) + '\n');
    else if (!args.switches.has('json'))
      process.stderr.write(
        describe(result, outDir) +
          `  report: ${join(outDir, 'report.html')}\n` +
          prescription(result.summary, outDir),
      );
    process.stderr.write(stopMessage(result));
    if (args.switches.has('verify')) {
      // After training: the doctor's fixes trained beside the run (fixes/ in the run directory); the summary
      // printed with --json then carries the verification.
      verifyRunDir(outDir, { json: false });
      if (args.switches.has('json')) process.stdout.write(readFileSync(join(outDir, 'summary.json'), 'utf8'));
    }
    return result.stopped ? EXIT.stopped : EXIT.ok;
  },
};

/** Train each config into `outDir/<name>` and write the side-by-side report; names are made unique. */
export function compareConfigs(
  configs: readonly ResolvedConfig[],
  outDir: string,
): { comparison: Comparison; stopped: boolean } {
  mkdirSync(outDir, { recursive: true });
  const used = new Set<string>();
  const dirs: string[] = [];
  let stopped = false;
  for (const config of configs) {
    let name = config.name;
    for (let k = 2; used.has(name); k++) name = `${config.name}-${k}`;
    used.add(name);
    const dir = chooseOutDir(join(outDir, name), name);
    const result = trainRun(config, dir);
    process.stderr.write(describe(result, dir) + stopMessage(result));
    stopped ||= result.stopped !== null;
    dirs.push(dir);
  }
  return {
    comparison: writeComparison(
      outDir,
      dirs.map((d) => loadRun(d)),
    ),
    stopped,
  };
}

export const compareCommand: Command = {
  summary:
    'compare <config or preset>... [--out DIR] [--steps N] [--seed S] [--json]  side-by-side runs and one report',
  run(argv) {
    const args = parseArgs(argv, { values: ['out', 'steps', 'seed'], switches: ['json'] }, 'compare');
    if (args.positionals.length < 1)
      throw new UsageError(
        'compare needs one or more configs or presets: gradscope compare adding-rnn adding-lstm.',
      );
    const overrides = overridesFrom(args);
    // Validate every config before training any, so a typo in the last one costs nothing.
    const configs = args.positionals.map((source) => loadConfig(source, overrides));
    const outDir = args.values['out']
      ? resolve(args.values['out'])
      : chooseOutDir(undefined, `compare-${configs.map((c) => c.name).join('-vs-')}`.slice(0, 80));
    const { comparison, stopped } = compareConfigs(configs, outDir);
    if (args.switches.has('json')) process.stdout.write(stringifyFinite(comparison, 2) + '\n');
    else process.stderr.write(`best: ${comparison.best ?? 'none'}\nreport: ${join(outDir, 'report.html')}\n`);
    return stopped ? EXIT.stopped : EXIT.ok;
  },
};

/** The flagship contrasts: depth with saturating units vs ReLU + He, and a vanilla RNN vs an LSTM through time. */
export const DEMO_PRESETS = ['deep-sigmoid', 'deep-relu-he', 'adding-rnn', 'adding-lstm'] as const;

export const demoCommand: Command = {
  summary: 'demo [--out DIR]  run the flagship contrasts and write their report',
  run(argv) {
    const args = parseArgs(argv, { values: ['out'], switches: [] }, 'demo');
    const configs = DEMO_PRESETS.map((name) => loadConfig(name, {}));
    const outDir = args.values['out'] ? resolve(args.values['out']) : chooseOutDir(undefined, 'demo');
    const { comparison } = compareConfigs(configs, outDir);
    process.stderr.write(
      `\n${comparison.runs.map((r) => `  ${r.name.padEnd(14)} ${String(r.verdict).padEnd(12)} eval loss ${fmt(r.eval.loss)}`).join('\n')}\n` +
        `report: ${join(outDir, 'report.html')}\nrun directories: ${outDir}\n`,
    );
    return EXIT.ok;
  },
};
