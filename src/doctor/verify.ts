/**
 * Verified fixes: the doctor's candidate fixes, each trained from the same seed (so the same initial weights where
 * the architecture is unchanged and the same batches) beside the unchanged config as the control, then ranked by
 * what they measured. A fix that does not beat the control is reported as such, never as a cure. No file access
 * here: the caller says how a trial is trained (the CLI writes run directories, tests train in memory).
 */
import { resolveConfig } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/types.js';
import type { Summary } from '../io/runlog.js';
import { applyMergePatch, type Finding, type Fix, type JsonObject } from './findings.js';

/** The union of the findings' fixes in the doctor's order, deduplicated by patch, at most `top`. */
export function candidateFixes(findings: readonly Finding[], top: number): Fix[] {
  const seen = new Set<string>();
  const out: Fix[] = [];
  // Round-robin over the findings' ranked lists would favour breadth; the doctor's order already puts the root
  // cause's finding first, so its fixes go first, then each later finding's in turn.
  for (const finding of findings) {
    for (const fix of finding.fixes) {
      const key = JSON.stringify(fix.patch);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(fix);
    }
  }
  return out.slice(0, top);
}

/** How a trial is scored: the eval accuracy where the task has one, else the eval loss (lower is better). */
export interface Outcome {
  metric: 'accuracy' | 'loss';
  /** Higher is better: accuracy, or minus the eval loss. Non-finite losses score -Infinity. */
  score: number;
  evalLoss: number;
  accuracy?: number;
  verdict: string;
  steps: number;
}

export function outcomeOf(summary: Summary): Outcome {
  const accuracy = summary.eval.accuracy;
  const loss = summary.eval.loss;
  const base = {
    evalLoss: loss,
    verdict: summary.verdict ?? 'healthy',
    steps: summary.steps,
  };
  if (accuracy !== undefined && Number.isFinite(accuracy))
    return { metric: 'accuracy', score: accuracy, accuracy, ...base };
  return { metric: 'loss', score: Number.isFinite(loss) ? -loss : -Infinity, ...base };
}

/**
 * Whether a trial beats the control by the stated margin: 2 points of accuracy, or an eval loss at least 10% lower
 * (a NaN control loses to any finite loss). The margin is what `fix` and the clinic call a cure.
 */
export const CURE_MARGIN = { accuracy: 0.02, lossFraction: 0.1 } as const;

export function beats(trial: Outcome, control: Outcome): boolean {
  if (trial.metric === 'accuracy' && control.metric === 'accuracy')
    return trial.score >= control.score + CURE_MARGIN.accuracy;
  const t = trial.evalLoss;
  const c = control.evalLoss;
  if (!Number.isFinite(t)) return false;
  if (!Number.isFinite(c)) return true;
  return t <= (1 - CURE_MARGIN.lossFraction) * c;
}

export interface Trial {
  /** `control`, or the fix's change. */
  label: string;
  fix: Fix | null;
  patch: JsonObject | null;
  /** The doctor's rank before verification (1-based; 0 for the control). */
  doctorRank: number;
  outcome: Outcome;
  /** Beats the control by CURE_MARGIN. */
  cures: boolean;
  /** Measured minus the control's score (accuracy points, or the loss reduction). */
  gain: number;
  config: ResolvedConfig;
}

export interface Verification {
  budget: number;
  control: Trial;
  /** Fix trials, best measured first. */
  trials: Trial[];
  /** The best trial if it cures, else null. */
  best: Trial | null;
  /** The findings whose fixes were tried (the run's, or the control's own diagnosis). */
  findings: readonly Finding[];
  /** One line: `verified: +62 points accuracy in 600 steps with model.activation "relu"` or why nothing cured. */
  headline: string;
}

export interface VerifyOptions {
  /** Steps for every trial (default: the config's own steps). */
  budget?: number;
  /** How many candidate fixes (default 4). */
  top?: number;
  /** Trains one trial: its label (a directory name) and config; returns its summary. */
  runTrial: (config: ResolvedConfig, label: string) => Summary;
}

/** The config with a fix's patch applied and re-resolved (so the patched config is validated like any other). */
export function patchedConfig(config: ResolvedConfig, patch: JsonObject, name: string): ResolvedConfig {
  const raw = applyMergePatch(structuredClone(config) as unknown as JsonObject, patch);
  return resolveConfig({ ...(raw as object), name }, { defaultName: name });
}

function gainText(trial: Trial): string {
  if (trial.outcome.metric === 'accuracy')
    return `${trial.gain >= 0 ? '+' : ''}${(100 * trial.gain).toFixed(1)} points accuracy`;
  return `eval loss ${trial.outcome.evalLoss.toPrecision(3)}`;
}

/**
 * Train the control and each candidate fix for the budget; rank the fixes by measured score (ties: the doctor's
 * order). Trials run one after another through `runTrial`.
 *
 * @example
 * const v = verifyFixes(config, findings, { top: 4, runTrial: (c) => train(c, { outDir: null }).summary });
 * v.best?.fix?.change; // the cure, if any
 */
export function verifyFixes(
  config: ResolvedConfig,
  findings: readonly Finding[] | null,
  options: VerifyOptions,
): Verification {
  const budget = options.budget ?? config.train.steps;
  const top = options.top ?? 4;
  const base = resolveConfig(
    { ...structuredClone(config), train: { ...config.train, steps: budget } },
    { defaultName: config.name },
  );
  const controlConfig = { ...base, name: `${config.name}-control` };
  const controlSummary = options.runTrial(controlConfig, 'control');
  const controlOutcome = outcomeOf(controlSummary);
  const control: Trial = {
    label: 'control',
    fix: null,
    patch: null,
    doctorRank: 0,
    outcome: controlOutcome,
    cures: false,
    gain: 0,
    config: controlConfig,
  };
  // Without findings of its own (a config, not a diagnosed run), the control's diagnosis names the candidates.
  const diagnosed = findings ?? (controlSummary.findings as Finding[]);
  const fixes = candidateFixes(
    diagnosed.filter((f) => f.severity !== 'info'),
    top,
  );
  const trials: Trial[] = fixes.map((fix, i) => {
    const label = `fix-${i + 1}`;
    // A fix that changes the number of steps (train longer) keeps its own count; every other trial gets the budget.
    const patch = fix.patch;
    const trialConfig = patchedConfig(base, patch, `${config.name}-${label}`);
    const outcome = outcomeOf(options.runTrial(trialConfig, label));
    const gain =
      outcome.metric === 'accuracy'
        ? outcome.score - controlOutcome.score
        : controlOutcome.evalLoss - outcome.evalLoss;
    return {
      label,
      fix,
      patch,
      doctorRank: i + 1,
      outcome,
      cures: beats(outcome, controlOutcome),
      gain: Number.isFinite(gain) ? gain : outcome.score > controlOutcome.score ? Infinity : -Infinity,
      config: trialConfig,
    };
  });
  // Eval metric first, gradient health second (a healthy verdict before a sick one), then the doctor's order.
  const health = (t: Trial): number => (t.outcome.verdict === 'healthy' ? 0 : 1);
  trials.sort(
    (a, b) => b.outcome.score - a.outcome.score || health(a) - health(b) || a.doctorRank - b.doctorRank,
  );
  const best = trials[0] && trials[0].cures ? trials[0] : null;
  const headline =
    fixes.length === 0
      ? `nothing to verify: the run is healthy (${controlOutcome.metric === 'accuracy' ? `accuracy ${(100 * controlOutcome.score).toFixed(1)}%` : `eval loss ${controlOutcome.evalLoss.toPrecision(3)}`} in ${budget} steps); only the control was trained`
      : best
        ? `verified: ${gainText(best)} in ${budget} steps with ${best.fix?.change} (control: ${controlOutcome.metric === 'accuracy' ? `${(100 * controlOutcome.score).toFixed(1)}%` : `eval loss ${controlOutcome.evalLoss.toPrecision(3)}`})`
        : `not verified: none of ${fixes.length} fixes beat the control by the margin in ${budget} steps`;
  return { budget, control, trials, best, headline, findings: diagnosed };
}
