/**
 * `gradscope preflight <config or preset> [--networks N] [--data] [--seed S] [--json]`: gradient flow at
 * initialisation, measured on sampled networks beside the mean-field prediction (src/preflight). Parsing and
 * printing only; the maths lives in src/preflight.
 */
import { stringifyFinite } from '../../io/jsonl.js';
import { DEFAULT_NETWORKS, formatReport, preflight } from '../../preflight/index.js';
import { integerFlag, parseArgs, UsageError } from '../args.js';
import { configOverridesFrom, loadConfig, OVERRIDE_USAGE, type Command } from '../common.js';

/** More networks than this is a typo, not a wish: each one is a full network in float64. */
const MAX_NETWORKS = 1000;

const HELP = [
  'usage: gradscope preflight <config.json or preset> [options]',
  '  --networks N       sample N networks at initialisation (default ' +
    DEFAULT_NETWORKS +
    ', at most ' +
    MAX_NETWORKS +
    ')',
  "  --data             probe with the task's own inputs instead of Gaussian ones",
  '  --seed S           the seed for the sampled networks',
  OVERRIDE_USAGE,
  '  --json             print the report as JSON',
  'examples:',
  '  gradscope preflight deep-sigmoid',
  '  gradscope preflight deep-sigmoid --set model.activation=tanh --networks 16 --json',
].join('\n');

const USAGE =
  'gradscope preflight <config.json or preset> [--networks N] [--data] [--seed S] [--set path=value] [--patch JSON] [--json]';

/**
 * Runs the command, writing the report to `write` (stdout in the CLI). Throws UsageError (or ConfigError) on
 * invalid input, which the CLI turns into exit code 2 with the message on stderr.
 *
 * @example
 * runPreflight(['deep-sigmoid', '--json'], (text) => process.stdout.write(text));
 */
export function runPreflight(argv: readonly string[], write: (text: string) => void): number {
  const args = parseArgs(
    argv,
    { values: ['networks', 'seed', 'patch'], lists: ['set'], switches: ['json', 'data'], usage: HELP },
    'preflight',
  );
  if (args.positionals.length !== 1) {
    throw new UsageError(
      `preflight needs exactly one config file or preset name, got ${args.positionals.length}: ${USAGE}.`,
    );
  }
  const networks = integerFlag(args, 'networks', 1) ?? DEFAULT_NETWORKS;
  if (networks > MAX_NETWORKS)
    throw new UsageError(`--networks must be at most ${MAX_NETWORKS}, got ${networks}.`);
  const config = loadConfig(args.positionals[0] as string, configOverridesFrom(args));
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
