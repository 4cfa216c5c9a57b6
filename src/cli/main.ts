/**
 * The `gradscope` command line (../shared/CONTRACT.md): argument parsing, file reading and terminal output only.
 * Exit codes: 0 completed, 2 invalid input, 3 stopped by the non-finite guard, 1 anything else.
 */
import { ConfigError, PRESETS } from '../config/index.js';
import { TaskConfigError } from '../data/index.js';
import { InitError } from '../init/index.js';
import { OptimError } from '../optim/index.js';
import { RunLoadError } from '../report/index.js';
import { parseArgs, UsageError } from './args.js';
import { doctorCommand } from './commands/doctor.js';
import { fixCommand } from './commands/fix.js';
import { labCommand } from './commands/lab.js';
import { preflightCommand } from './commands/preflight.js';
import { compareCommand, demoCommand, runCommand } from './commands/train.js';
import { EXIT, type Command } from './common.js';

export { EXIT, chooseOutDir, loadConfig, type Command } from './common.js';

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  compare: compareCommand,
  doctor: doctorCommand,
  fix: fixCommand,
  preflight: preflightCommand,
  lab: labCommand,
  presets: { summary: 'presets [--json]  list the built-in experiments', run: commandPresets },
  demo: demoCommand,
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
    error instanceof OptimError ||
    error instanceof RunLoadError
  );
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
