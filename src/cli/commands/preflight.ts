/**
 * `gradscope preflight <config or preset> [--networks N] [--data] [--seed S] [--json]`: gradient flow at
 * initialisation, measured on sampled networks beside the mean-field prediction (src/preflight). Parsing and
 * printing only; the maths lives in src/preflight.
 */
import { stringifyFinite } from '../../io/jsonl.js';
import { DEFAULT_NETWORKS, formatReport, preflight } from '../../preflight/index.js';
import { integerFlag, parseArgs, UsageError } from '../args.js';
import { loadConfig, type Command } from '../common.js';

/** More networks than this is a typo, not a wish: each one is a full network in float64. */
const MAX_NETWORKS = 1000;

const USAGE = 'gradscope preflight <config.json or preset> [--networks N] [--data] [--seed S] [--json]';

/**
 * Runs the command, writing the report to `write` (stdout in the CLI). Throws UsageError (or ConfigError) on
 * invalid input, which the CLI turns into exit code 2 with the message on stderr.
 *
 * @example
 * runPreflight(['deep-sigmoid', '--json'], (text) => process.stdout.write(text));
 */
export function runPreflight(argv: readonly string[], write: (text: string) => void): number {
  const args = parseArgs(argv, { values: ['networks', 'seed'], switches: ['json', 'data'] }, 'preflight');
  if (args.positionals.length !== 1) {
    throw new UsageError(
      `preflight needs exactly one config file or preset name, got ${args.positionals.length}: ${USAGE}.`,
    );
  }
  const networks = integerFlag(args, 'networks', 1) ?? DEFAULT_NETWORKS;
  if (networks > MAX_NETWORKS)
    throw new UsageError(`--networks must be at most ${MAX_NETWORKS}, got ${networks}.`);
  const seed = integerFlag(args, 'seed', 0);
  const config = loadConfig(args.positionals[0] as string, seed === undefined ? {} : { seed });
  // Errors the config carries into task or model construction (TaskConfigError, InitError) are input errors too;
  // the CLI's main maps them to exit 2.
  const report = preflight(config, { networks, data: args.switches.has('data') });
  write(args.switches.has('json') ? stringifyFinite(report, 2) + '\n' : formatReport(report));
  return 0;
}

export const preflightCommand: Command = {
  summary:
    'preflight <config.json or preset> [--networks N] [--data] [--seed S] [--json]  check gradient flow at initialisation, no training',
  run: (argv) => runPreflight(argv, (text) => process.stdout.write(text)),
};
