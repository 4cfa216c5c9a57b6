/** What every command shares: exit codes, the command shape, loading a config or preset, choosing a run directory. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { findPreset, parseConfigText, PRESETS, resolveConfig, type Preset } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { applyMergePatch, type JsonObject } from '../doctor/findings.js';
import { checkOutputRoot, runDirInside } from '../io/output-path.js';
import { defaultMemoryLimit, parseByteSize } from '../train/budget.js';
import { nearest } from '../util/nearest.js';
import { integerFlag, UsageError, type ParsedArgs } from './args.js';

export const EXIT = { ok: 0, failure: 1, invalid: 2, stopped: 3 } as const;

/** Each command is one entry; a command's own module parses its flags and prints its output. */
export type Command = { summary: string; run: (argv: string[]) => number | Promise<number> };

/** What the command line changes in a config: `--steps`, `--seed`, `--patch` and each `--set`. */
export interface ConfigOverrides {
  steps?: number;
  seed?: number;
  /** `path=value` strings, applied in order after the patch. */
  sets?: readonly string[];
  /** A JSON merge patch (RFC 7396) as text. */
  patch?: string;
}

/** The overrides the shared flags ask for (`--steps`, `--seed`, `--set`, `--patch`). */
export function configOverridesFrom(args: ParsedArgs): ConfigOverrides {
  const steps = integerFlag(args, 'steps', 1);
  const seed = integerFlag(args, 'seed', 0);
  const sets = args.lists['set'];
  const patch = args.values['patch'];
  return {
    ...(steps === undefined ? {} : { steps }),
    ...(seed === undefined ? {} : { seed }),
    ...(sets && sets.length > 0 ? { sets } : {}),
    ...(patch === undefined ? {} : { patch }),
  };
}

/** The flags every config-taking command accepts for overrides. */
export const OVERRIDE_FLAGS = { values: ['steps', 'seed', 'patch'], lists: ['set'] } as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A raw config with `--patch` merged in (RFC 7396), then each `--set path=value` (the value parsed as JSON, else
 * taken as a string), creating objects along the path. The result is validated by resolveConfig like any config,
 * so an unknown path or a wrong type is reported there, naming the field.
 *
 * @example
 * applyOverridesToRaw({ model: { depth: 20 } }, { sets: ['model.depth=4', 'model.activation=relu'] });
 * // { model: { depth: 4, activation: 'relu' } }
 */
export function applyOverridesToRaw(
  raw: unknown,
  overrides: Pick<ConfigOverrides, 'sets' | 'patch'>,
): unknown {
  let config: unknown = structuredClone(raw);
  if (overrides.patch !== undefined) {
    let patch: unknown;
    try {
      patch = JSON.parse(overrides.patch);
    } catch (error) {
      throw new UsageError(
        `--patch is not JSON (${error instanceof Error ? error.message : String(error)}): give a JSON merge patch such as --patch '{"optimizer": {"learningRate": 0.01}}'.`,
      );
    }
    if (!isObject(patch))
      throw new UsageError(
        `--patch must be a JSON object (a merge patch), got ${JSON.stringify(patch)}; e.g. --patch '{"model": {"norm": "batch"}}'.`,
      );
    config = applyMergePatch(config, patch as JsonObject);
  }
  for (const set of overrides.sets ?? []) {
    const eq = set.indexOf('=');
    const path = eq > 0 ? set.slice(0, eq) : '';
    if (path === '' || path.split('.').some((k) => k === ''))
      throw new UsageError(`--set needs path=value, got "${set}"; e.g. --set optimizer.learningRate=0.01.`);
    const text = set.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    if (!isObject(config)) config = {};
    const keys = path.split('.');
    let node = config as Record<string, unknown>;
    keys.slice(0, -1).forEach((key, i) => {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (!isObject(next))
        throw new UsageError(
          `--set ${set}: ${keys.slice(0, i + 1).join('.')} is ${JSON.stringify(next)}, not an object, so it has no field "${keys[i + 1]}".`,
        );
      node = node[key] as Record<string, unknown>;
    });
    node[keys[keys.length - 1] as string] = value;
  }
  return config;
}

/** The `--help` lines for the override flags, for every command that takes a config. */
export const OVERRIDE_USAGE = [
  '  --set PATH=VALUE   change one config field (repeatable); VALUE is JSON, else a string: --set model.depth=3',
  '  --patch JSON       a JSON merge patch applied before any --set: --patch \'{"optimizer":{"name":"adam"}}\'',
].join('\n');

/** A config file path or a preset name, with the command line's overrides applied, resolved and validated. */
export function loadConfig(source: string, overrides: ConfigOverrides): ResolvedConfig {
  const resolveOverrides = {
    ...(overrides.steps === undefined ? {} : { steps: overrides.steps }),
    ...(overrides.seed === undefined ? {} : { seed: overrides.seed }),
  };
  const looksLikeFile = source.endsWith('.json') || source.includes('/') || existsSync(source);
  if (looksLikeFile) {
    if (!existsSync(source) || !statSync(source).isFile()) {
      throw new UsageError(
        `config file "${source}" does not exist; give a JSON file or a preset name (gradscope presets).`,
      );
    }
    const raw = parseConfigText(readFileSync(source, 'utf8'), source);
    return resolveConfig(applyOverridesToRaw(raw, overrides), {
      defaultName: basename(source).replace(/\.json$/, ''),
      overrides: resolveOverrides,
    });
  }
  const preset = requirePresetForCli(source);
  return resolveConfig(applyOverridesToRaw(preset.config, overrides), {
    defaultName: preset.name,
    overrides: resolveOverrides,
  });
}

/** The preset with this name, or a UsageError with the nearest name ("did you mean deep-sigmoid?"). */
export function requirePresetForCli(name: string): Preset {
  const preset = findPreset(name);
  if (preset) return preset;
  const names = PRESETS.map((p) => p.name);
  const guess = nearest(name, names);
  throw new UsageError(
    guess
      ? `"${name}" is neither a config file nor a preset; did you mean ${guess}? (gradscope presets lists them)`
      : `"${name}" is neither a config file nor a preset; presets: ${names.join(', ')}.`,
  );
}

/** A fresh directory under runs/ (never reuses one that holds files), or the --out the user chose. */
export function chooseOutDir(requested: string | undefined, name: string): string {
  // io/output-path's refusals are GradscopeErrors: the CLI prints them as exit 2 as they are.
  if (requested !== undefined) {
    const dir = checkOutputRoot(requested);
    if (existsSync(dir) && readdirSync(dir).includes('metrics.jsonl')) {
      throw new UsageError(
        `--out ${requested} already holds a run (metrics.jsonl); choose another directory or remove it.`,
      );
    }
    return dir;
  }
  // The default folder and each run's directory inside it: the name cannot lead anywhere else (io/output-path).
  const root = checkOutputRoot('runs', 'the default output folder');
  let dir = runDirInside(root, name);
  for (let k = 2; existsSync(dir); k++) dir = runDirInside(root, `${name}-${k}`);
  return dir;
}

export const MAX_MEMORY_USAGE =
  '  --max-memory SIZE  refuse a run estimated to need more (e.g. 4GiB, 512MB; default half the machine memory)';

/** The --max-memory limit in bytes (default: half the machine's memory). */
export function memoryLimit(args: ParsedArgs): number {
  const text = args.values['max-memory'];
  if (text === undefined) return defaultMemoryLimit();
  const bytes = parseByteSize(text);
  if (bytes === null)
    throw new UsageError(
      `--max-memory must be a size such as 4GiB, 512MB, 2g or a byte count, got "${text}".`,
    );
  return bytes;
}
