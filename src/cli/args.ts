/** Command-line parsing: `gradscope <command> [positionals] [--flag value] [--switch]`. No maths here. */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** flags that take a value */
  values: readonly string[];
  /** flags that take none */
  switches: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string>;
  switches: Set<string>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const positionals: string[] = [];
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [flag, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (spec.switches.includes(flag)) {
      if (inline !== undefined) throw new UsageError(`--${flag} takes no value, got "${inline}".`);
      switches.add(flag);
    } else if (spec.values.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`--${flag} needs a value (gradscope ${command} ... --${flag} VALUE).`);
      values[flag] = value;
    } else {
      const known = [...spec.values, ...spec.switches].map((f) => `--${f}`).join(', ');
      throw new UsageError(`gradscope ${command}: unknown option --${flag}; accepted: ${known || 'none'}.`);
    }
  }
  return { positionals, values, switches };
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
