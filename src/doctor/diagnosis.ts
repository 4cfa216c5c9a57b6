/** The doctor on records in memory: no file access, so it runs in the browser lab as well as in the trainer. */
import type { ResolvedConfig } from '../config/types.js';
import type { MetricsRecord } from '../io/runlog.js';
import { explain } from './cause.js';
import { verdictOfFinding, type Finding, type Verdict } from './findings.js';
import { makeContext, runRules, THRESHOLDS, type DoctorInput } from './rules.js';

export interface Diagnosis {
  verdict: Verdict;
  /** Most serious first. */
  findings: Finding[];
}

/**
 * The verdict and the findings for a run's records.
 *
 * @example
 * const { verdict, findings } = diagnose({ records, config });
 */
export function diagnose(input: DoctorInput): Diagnosis {
  const ctx = makeContext(input);
  const findings = explain(ctx, runRules(ctx));
  return { verdict: leadingVerdict(findings), findings };
}

/**
 * The verdict of the first finding, in the doctor's ranking (root cause first), that stands for one: the word and
 * the first fix a user reads then always agree. Info findings and clipping advice never set it.
 */
export function leadingVerdict(findings: readonly Finding[]): Verdict {
  for (const finding of findings) {
    if (finding.severity === 'info') continue;
    const verdict = verdictOfFinding(finding);
    if (verdict !== null) return verdict;
  }
  return 'healthy';
}

/**
 * The findings at the latest logged step, for the trainer to store in each record's `findings`. It looks at the
 * first record (the state at initialisation) and the last `THRESHOLDS.onlineWindow` records only, so each call
 * costs O(layers), whatever the length of the history.
 *
 * @example
 * history.push(record);
 * record.findings = diagnoseOnline(history, config);
 */
export function diagnoseOnline(history: readonly MetricsRecord[], config: ResolvedConfig | null): Finding[] {
  if (history.length === 0) return [];
  const tail = history.slice(-THRESHOLDS.onlineWindow);
  const ctx = makeContext({ records: tail, config, mode: 'online', initial: history[0] ?? null });
  return explain(ctx, runRules(ctx));
}
