/**
 * How preflight turns candidate fixes into the report's `fixes` and its advice's remedy clause: each candidate is
 * the doctor's `Fix` (a JSON merge patch of the config); one that does not resolve, leaves the config as it is, or
 * makes the same config as an earlier one is left out, so every fix listed applies (`--patch`, the lab) and changes
 * something.
 *
 * @example
 * usefulFixes(config, [fix.reluHe(facts), fix.residual()]); // the ones that change this config, best first
 * remedy(fixes); // 'use model.activation "relu" + model.init "he-normal", or model.residual true'
 */
import { resolveConfig } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/types.js';
import { applyMergePatch, type Fix } from '../doctor/findings.js';

/**
 * `candidates` without the missing ones, those whose patched config the schema refuses, those that change nothing
 * in `config`, and those that make the same config as an earlier one (ReLU + He is only He on a ReLU net); none
 * when the schema refuses `config` itself.
 */
export function usefulFixes(config: ResolvedConfig, candidates: ReadonlyArray<Fix | null>): Fix[] {
  const resolve = (raw: unknown): string => JSON.stringify(resolveConfig(raw, { defaultName: config.name }));
  // The baseline as the schema writes it (key order included), so a patch that changes nothing compares equal. A
  // config the schema refuses (built by hand for a probe) gets no fixes: no patch of it would resolve either.
  let baseline: string;
  try {
    baseline = resolve(config);
  } catch {
    return [];
  }
  const seen = new Set<string>([baseline]);
  return candidates.filter((candidate): candidate is Fix => {
    if (candidate === null) return false;
    let outcome: string;
    try {
      // A resolved config resolves to itself, so the patched one is exactly what a run would use.
      outcome = resolve(applyMergePatch(config, candidate.patch));
    } catch {
      return false;
    }
    if (seen.has(outcome)) return false;
    seen.add(outcome);
    return true;
  });
}

/** The remedy clause of an advice line: the fixes by their change, best first (and `also`, a change in words). */
export function remedy(fixes: readonly Fix[], also?: string): string {
  const changes = [...fixes.map((f) => f.change), ...(also === undefined ? [] : [also])];
  return changes.length === 0 ? 'no change of the model alone addresses it' : `use ${changes.join(', or ')}`;
}
