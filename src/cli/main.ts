/**
 * The `gradscope` command line (../shared/CONTRACT.md): argument parsing, file reading and terminal output only.
 * Exit codes: 0 completed, 2 invalid input, 3 stopped by the non-finite guard, 1 anything else.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError, findPreset, parseConfigText, PRESETS, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { TaskConfigError } from '../data/index.js';
import { InitError } from '../init/index.js';
import { stringifyFinite } from '../io/jsonl.js';
import { OptimError } from '../optim/index.js';
import { train } from '../train/trainer.js';
import { integerFlag, parseArgs, UsageError, type ParsedArgs } from './args.js';
import { progressPrinter } from './progress.js';

export const EXIT = { ok: 0, failure: 1, invalid: 2, stopped: 3 } as const;

/** Each command is one entry; a command's own module parses its flags and prints its output. */
export type Command = { summary: string; run: (argv: string[]) => number | Promise<number> };

const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'run <config.json or preset> [--out DIR] [--steps N] [--seed S] [--json]  train one run',
    run: commandRun,
  },
  presets: { summary: 'presets [--json]  list the built-in experiments', run: commandPresets },
  demo: { summary: 'demo [--out DIR]  run the flagship example', run: commandDemo },
};

function usage(): string {
  return [
    'usage: gradscope <command> ...',
    ...Object.values(COMMANDS).map((c) => `  gradscope ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === 'help') {
      process.stdout.write(usage() + '\n');
      return command === undefined ? EXIT.invalid : EXIT.ok;
    }
    const entry = COMMANDS[command];
    if (!entry) throw new UsageError(`unknown command "${command}".\n${usage()}`);
    return await entry.run(rest);
  } catch (error) {
    if (isInputError(error)) {
      process.stderr.write(`gradscope: ${error.message}\n`);
      return EXIT.invalid;
    }
    process.stderr.write(
      `gradscope: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failure;
  }
}

/** Errors that mean the user's input was wrong (exit 2, one message, no stack trace). */
function isInputError(error: unknown): error is Error {
  return (
    error instanceof UsageError ||
    error instanceof ConfigError ||
    error instanceof TaskConfigError ||
    error instanceof InitError ||
    error instanceof OptimError
  );
}

/** A config file path or a preset name, resolved and validated. */
export function loadConfig(source: string, overrides: { steps?: number; seed?: number }): ResolvedConfig {
  const looksLikeFile = source.endsWith('.json') || source.includes('/') || existsSync(source);
  if (looksLikeFile) {
    if (!existsSync(source) || !statSync(source).isFile()) {
      throw new UsageError(
        `config file "${source}" does not exist; give a JSON file or a preset name (gradscope presets).`,
      );
    }
    const raw = parseConfigText(readFileSync(source, 'utf8'), source);
    return resolveConfig(raw, { defaultName: basename(source).replace(/\.json$/, ''), overrides });
  }
  const preset = findPreset(source);
  if (!preset) {
    throw new UsageError(
      `"${source}" is neither a config file nor a preset; presets: ${PRESETS.map((p) => p.name).join(', ')}.`,
    );
  }
  return resolveConfig(preset.config, { defaultName: preset.name, overrides });
}

/** A fresh directory under runs/ (never reuses one that holds files), or the --out the user chose. */
export function chooseOutDir(requested: string | undefined, name: string): string {
  if (requested !== undefined) {
    const dir = resolve(requested);
    if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).includes('metrics.jsonl'))) {
      throw new UsageError(
        `--out ${requested} already holds a run (metrics.jsonl); choose another directory or remove it.`,
      );
    }
    return dir;
  }
  const base = resolve('runs', name);
  let dir = base;
  for (let k = 2; existsSync(dir); k++) dir = `${base}-${k}`;
  return dir;
}

function overridesFrom(args: ParsedArgs): { steps?: number; seed?: number } {
  const steps = integerFlag(args, 'steps', 1);
  const seed = integerFlag(args, 'seed', 0);
  return { ...(steps === undefined ? {} : { steps }), ...(seed === undefined ? {} : { seed }) };
}

function commandRun(argv: string[]): number {
  const args = parseArgs(argv, { values: ['out', 'steps', 'seed'], switches: ['json'] }, 'run');
  if (args.positionals.length !== 1)
    throw new UsageError(
      'run needs exactly one config file or preset name: gradscope run <config.json or preset>.',
    );
  const config = loadConfig(args.positionals[0] as string, overridesFrom(args));
  const outDir = chooseOutDir(args.values['out'], config.name);
  return trainAndReport(config, outDir, args.switches.has('json'));
}

function trainAndReport(config: ResolvedConfig, outDir: string, json: boolean): number {
  const progress = progressPrinter(config.name);
  const result = train(config, { outDir, onProgress: (p) => progress.update(p) });
  progress.done();
  const s = result.summary;
  if (json) process.stdout.write(stringifyFinite(s, 2) + '\n');
  else {
    const acc = s.eval.accuracy === undefined ? '' : `, accuracy ${(100 * s.eval.accuracy).toFixed(1)}%`;
    process.stderr.write(
      `${config.name}: ${s.steps} steps in ${s.wallSeconds.toFixed(1)}s (${s.stepsPerSecond.toFixed(1)} steps/s); ` +
        `final loss ${fmt(s.finalLoss)}, eval loss ${fmt(s.eval.loss)}${acc} (baseline loss ${fmt(s.baseline.loss)}); ` +
        `skipped ${s.skippedSteps}, clipped ${s.clippedSteps}\nrun directory: ${outDir}\n`,
    );
  }
  if (result.stopped) {
    process.stderr.write(
      `gradscope: stopped at step ${result.stopped.step} by the non-finite guard: ${result.stopped.source}\n`,
    );
    return EXIT.stopped;
  }
  return EXIT.ok;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

function commandPresets(argv: string[]): number {
  const args = parseArgs(argv, { values: [], switches: ['json'] }, 'presets');
  if (args.switches.has('json')) {
    process.stdout.write(
      JSON.stringify(
        PRESETS.map((p) => ({ name: p.name, description: p.description })),
        null,
        2,
      ) + '\n',
    );
  } else {
    const width = Math.max(...PRESETS.map((p) => p.name.length));
    for (const p of PRESETS) process.stdout.write(`${p.name.padEnd(width)}  ${p.description}\n`);
  }
  return EXIT.ok;
}

function commandDemo(argv: string[]): number {
  const args = parseArgs(argv, { values: ['out'], switches: [] }, 'demo');
  const config = loadConfig('deep-relu-he', {});
  const outDir = args.values['out']
    ? join(resolve(args.values['out']), config.name)
    : chooseOutDir(undefined, config.name);
  return trainAndReport(config, outDir, false);
}
