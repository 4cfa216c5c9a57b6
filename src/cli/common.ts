/** What every command shares: exit codes, the command shape, loading a config or preset, choosing a run directory. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { findPreset, parseConfigText, PRESETS, resolveConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { UsageError } from './args.js';

export const EXIT = { ok: 0, failure: 1, invalid: 2, stopped: 3 } as const;

/** Each command is one entry; a command's own module parses its flags and prints its output. */
export type Command = { summary: string; run: (argv: string[]) => number | Promise<number> };

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
