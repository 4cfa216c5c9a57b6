/**
 * The `gradscope` command line (../shared/CONTRACT.md): argument parsing, file reading and terminal output only.
 * Exit codes: 0 completed, 2 invalid input, 3 stopped by the non-finite guard, 1 anything else.
 */
import { PRESETS, resolveConfig } from '../config/index.js';
import { stringifyFinite } from '../io/jsonl.js';
import { GradscopeError } from '../util/errors.js';
import { nearest } from '../util/nearest.js';
import { HelpRequest, packageVersion, parseArgs, UsageError } from './args.js';
import {
  applyOverridesToRaw,
  configOverridesFrom,
  EXIT,
  OVERRIDE_USAGE,
  requirePresetForCli,
  type Command,
} from './common.js';

export { EXIT, chooseOutDir, loadConfig, type Command } from './common.js';

const PRESETS_USAGE = [
  'usage: gradscope presets [NAME] [--json] [--set path=value] [--patch JSON]',
  '  (no NAME)          one line per built-in experiment: its name and what it shows',
  '  NAME               print that preset as its full resolved config (JSON), to copy into a file and edit',
  '  --json             the list as JSON (name, description)',
  OVERRIDE_USAGE,
  'examples:',
  '  gradscope presets',
  '  gradscope presets deep-sigmoid --set model.activation=relu > my-config.json',
].join('\n');

/**
 * Each command is imported when it is run, so a command loads only its own modules (`gradscope doctor` does not
 * load the engine's training code or the lab's server: 8 MB less resident memory, measured 2026-12-04).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/train.js')).runCommand,
  compare: async () => (await import('./commands/train.js')).compareCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  fix: async () => (await import('./commands/fix.js')).fixCommand,
  preflight: async () => (await import('./commands/preflight.js')).preflightCommand,
  lab: async () => (await import('./commands/lab.js')).labCommand,
  presets: () =>
    Promise.resolve({
      summary: 'presets [NAME] [--json]  list the built-in experiments, or print one as a full config',
      run: commandPresets,
    }),
  demo: async () => (await import('./commands/train.js')).demoCommand,
  torch: async () => (await import('./commands/torch.js')).torchCommand,
};

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return [
    'usage: gradscope <command> ...',
    ...commands.map((c) => `  gradscope ${c.summary}`),
    '  gradscope --version | gradscope <command> --help',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      process.stderr.write((await usage()) + '\n');
      return EXIT.invalid;
    }
    if (command === '--help' || command === '-h' || (command === 'help' && rest.length === 0)) {
      process.stdout.write((await usage()) + '\n');
      return EXIT.ok;
    }
    if (command === '--version' || command === '-v') {
      process.stdout.write(packageVersion() + '\n');
      return EXIT.ok;
    }
    // `gradscope help run` is `gradscope run --help`.
    const [name, args] = command === 'help' ? [rest[0] as string, ['--help']] : [command, rest];
    const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!load) {
      const guess = nearest(name, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command "${name}"${guess ? `; did you mean ${guess}?` : '.'}\n${await usage()}`,
      );
    }
    const entry = await load();
    try {
      return await entry.run(args);
    } catch (error) {
      if (!(error instanceof HelpRequest)) throw error;
      process.stdout.write(error.text.endsWith('\n') ? error.text : error.text + '\n');
      return EXIT.ok;
    }
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
  return error instanceof GradscopeError;
}

function commandPresets(argv: string[]): number {
  const args = parseArgs(
    argv,
    { values: ['patch'], lists: ['set'], switches: ['json'], usage: PRESETS_USAGE },
    'presets',
  );
  if (args.positionals.length > 1)
    throw new UsageError(`presets takes at most one preset name, got ${args.positionals.length}.`);
  const name = args.positionals[0];
  if (name !== undefined) {
    // One preset as the complete config a run would use, every default filled in: a starting point to edit.
    const preset = requirePresetForCli(name);
    const overrides = configOverridesFrom(args);
    const raw = applyOverridesToRaw(preset.config, overrides);
    process.stdout.write(stringifyFinite(resolveConfig(raw, { defaultName: preset.name }), 2) + '\n');
    return EXIT.ok;
  }
  if (args.lists['set'] || args.values['patch'] !== undefined)
    throw new UsageError(
      '--set and --patch need a preset to change: gradscope presets NAME --set path=value.',
    );
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
