/**
 * Command-line parsing: `gradscope <command> [positionals] [--flag value] [--switch] [--list a --list b]`, on top
 * of `node:util`'s parseArgs in strict mode. `-h`/`--help` on any command throws HelpRequest, which the CLI's main
 * prints to stdout with exit 0. No maths here.
 */
import { readFileSync } from 'node:fs';
import { parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util';
import { GradscopeError } from '../util/errors.js';
import { nearest } from '../util/nearest.js';

/** A `GradscopeError` for a wrong command line (unknown command or flag, a bad flag value). */
export class UsageError extends GradscopeError {
  override name = 'UsageError';
  constructor(message: string, path = '') {
    super({ code: 'usage', path, message });
  }
}

/** Thrown by parseArgs when the command line asks for `--help`: not an error; main prints `text` and exits 0. */
export class HelpRequest extends Error {
  override readonly name = 'HelpRequest';
  constructor(
    readonly command: string,
    /** The command's usage text, or one generated from its flags when the command gave none. */
    readonly text: string,
  ) {
    super(`gradscope ${command} --help`);
  }
}

export interface FlagSpec {
  /** flags that take a value */
  values: readonly string[];
  /** flags that take none */
  switches: readonly string[];
  /** flags that take a value and may be repeated (`--set a=1 --set b=2`) */
  lists?: readonly string[];
  /** what `--help` prints: the usage line, one line per option, an example or two */
  usage?: string;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string>;
  switches: Set<string>;
  /** each repeatable flag that was given, with its values in order */
  lists: Record<string, string[]>;
}

const HELP = 'help';

function generatedUsage(spec: FlagSpec, command: string): string {
  const flags = [
    ...spec.values.map((f) => `--${f} VALUE`),
    ...(spec.lists ?? []).map((f) => `--${f} VALUE (repeatable)`),
    ...spec.switches.map((f) => `--${f}`),
  ];
  return [`usage: gradscope ${command} [options]`, ...flags.map((f) => `  ${f}`), '  -h, --help'].join('\n');
}

/**
 * Parse `argv` against `spec`. Throws UsageError for an unknown flag (with the nearest known one), a switch given
 * a value or a value flag given none; throws HelpRequest for `-h`/`--help`.
 *
 * @example
 * parseArgs(['deep-sigmoid', '--steps', '2', '--set', 'model.depth=3'], { values: ['steps'], switches: [], lists: ['set'] }, 'run');
 * // { positionals: ['deep-sigmoid'], values: { steps: '2' }, switches: Set {}, lists: { set: ['model.depth=3'] } }
 */
export function parseArgs(argv: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const lists = spec.lists ?? [];
  const options: NonNullable<ParseArgsConfig['options']> = {
    [HELP]: { type: 'boolean', short: 'h' },
  };
  for (const flag of spec.values) options[flag] = { type: 'string' };
  for (const flag of lists) options[flag] = { type: 'string', multiple: true };
  for (const flag of spec.switches) options[flag] = { type: 'boolean' };

  // A lenient pass first, to find --help anywhere and to word each mistake in gradscope's terms.
  const { tokens } = parseNodeArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const optionTokens = tokens.filter((t) => t.kind === 'option');
  if (optionTokens.some((t) => t.name === HELP)) {
    throw new HelpRequest(command, spec.usage ?? generatedUsage(spec, command));
  }
  const known = [...spec.values, ...spec.switches, ...lists];
  for (const token of optionTokens) {
    const flag = token.name;
    if (!Object.hasOwn(options, flag)) {
      const guess = nearest(flag, known);
      const accepted = [...known, HELP].map((f) => `--${f}`).join(', ');
      // `--preset NAME` / `--config FILE` as other tools spell them: here the name or file is the argument itself.
      const positional =
        flag === 'preset' || flag === 'config'
          ? `; a ${flag === 'preset' ? 'preset name' : 'config file'} is given as a plain argument: gradscope ${command} ${token.value ?? (flag === 'preset' ? 'NAME' : 'FILE')}`
          : '';
      throw new UsageError(
        `gradscope ${command}: unknown option ${token.rawName}${positional}; accepted: ${accepted}${guess ? `; did you mean --${guess}?` : '.'}`,
      );
    }
    if (spec.switches.includes(flag) && token.value !== undefined) {
      throw new UsageError(`--${flag} takes no value, got "${token.value}".`);
    }
    if (spec.switches.includes(flag)) continue;
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new UsageError(`--${flag} needs a value (gradscope ${command} ... --${flag} VALUE).`);
    }
    if (!token.inlineValue && token.value.startsWith('-')) {
      throw new UsageError(
        `--${flag} ${token.value}: a value that starts with "-" must be attached: --${flag}=${token.value}.`,
      );
    }
  }

  let parsed: ReturnType<typeof parseNodeArgs>;
  try {
    parsed = parseNodeArgs({ args: [...argv], options, strict: true, allowPositionals: true });
  } catch (error) {
    // What the lenient pass let through: a value that starts with a dash (`--steps -3`) and the like.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`gradscope ${command}: ${message}`);
  }
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  const listValues: Record<string, string[]> = {};
  for (const [flag, value] of Object.entries(parsed.values)) {
    if (value === undefined) continue;
    if (lists.includes(flag)) listValues[flag] = (value as Array<string | boolean>).map(String);
    else if (spec.switches.includes(flag)) {
      if (value === true) switches.add(flag);
    } else values[flag] = String(value);
  }
  return { positionals: [...parsed.positionals], values, switches, lists: listValues };
}

/** A non-negative integer flag, or undefined when absent. */
export function integerFlag(args: ParsedArgs, flag: string, min: number): number | undefined {
  const raw = args.values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${flag} must be an integer >= ${min}, got "${raw}".`);
  return n;
}

/** gradscope's version, from the package.json beside dist/ (dist/cli/args.js -> ../../package.json). */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}
