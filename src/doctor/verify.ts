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

/** The control's config at the budget, and how the candidates are chosen once findings are known. */
export interface TrialPlan {
  budget: number;
  control: ResolvedConfig;
  /** Each candidate fix with its label (`fix-1`, ...) and patched config. */
  trials: { label: string; fix: Fix; config: ResolvedConfig }[];
  findings: readonly Finding[];
}

/** The control's config: the run's own at the budget. */
export function controlConfig(config: ResolvedConfig, budget = config.train.steps): ResolvedConfig {
  const base = resolveConfig(
    { ...structuredClone(config), train: { ...config.train, steps: budget } },
    { defaultName: config.name },
  );
  return { ...base, name: `${config.name}-control` };
}

/** The trials for these findings: the top candidate fixes, each applied to the control's config. */
export function planTrials(
  config: ResolvedConfig,
  findings: readonly Finding[],
  options: { budget?: number; top?: number } = {},
): TrialPlan {
  const budget = options.budget ?? config.train.steps;
  const control = controlConfig(config, budget);
  const fixes = candidateFixes(
    findings.filter((f) => f.severity !== 'info'),
    options.top ?? 4,
  );
  const base = { ...control, name: config.name };
  // A fix that changes the number of steps (train longer) keeps its own count; every other trial gets the budget.
  const trials = fixes.map((fix, i) => {
    const label = `fix-${i + 1}`;
    return { label, fix, config: patchedConfig(base, fix.patch, `${config.name}-${label}`) };
  });
  return { budget, control, trials, findings };
}

/** Score every trial against the control and rank them: eval metric, then gradient health, then the doctor's order. */
export function rankTrials(
  plan: TrialPlan,
  control: Summary,
  trialSummaries: readonly Summary[],
): Verification {
  const controlOutcome = outcomeOf(control);
  const controlTrial: Trial = {
    label: 'control',
    fix: null,
    patch: null,
    doctorRank: 0,
    outcome: controlOutcome,
    cures: false,
    gain: 0,
    config: plan.control,
  };
  const trials: Trial[] = plan.trials.map((t, i) => {
    const outcome = outcomeOf(trialSummaries[i] as Summary);
    const gain =
      outcome.metric === 'accuracy'
        ? outcome.score - controlOutcome.score
        : controlOutcome.evalLoss - outcome.evalLoss;
    return {
      label: t.label,
      fix: t.fix,
      patch: t.fix.patch,
      doctorRank: i + 1,
      outcome,
      cures: beats(outcome, controlOutcome),
      gain: Number.isFinite(gain) ? gain : outcome.score > controlOutcome.score ? Infinity : -Infinity,
      config: t.config,
    };
  });
  const health = (t: Trial): number => (t.outcome.verdict === 'healthy' ? 0 : 1);
  trials.sort(
    (a, b) => b.outcome.score - a.outcome.score || health(a) - health(b) || a.doctorRank - b.doctorRank,
  );
  const best = trials[0] && trials[0].cures ? trials[0] : null;
  const controlText =
    controlOutcome.metric === 'accuracy'
      ? `${(100 * controlOutcome.score).toFixed(1)}%`
      : `eval loss ${controlOutcome.evalLoss.toPrecision(3)}`;
  const headline =
    plan.trials.length === 0
      ? `nothing to verify: the run is healthy (${controlOutcome.metric === 'accuracy' ? 'accuracy ' : ''}${controlText} in ${plan.budget} steps); only the control was trained`
      : best
        ? `verified: ${gainText(best)} in ${plan.budget} steps with ${best.fix?.change} (control: ${controlText})`
        : `not verified: none of ${plan.trials.length} fixes beat the control by the margin in ${plan.budget} steps`;
  return { budget: plan.budget, control: controlTrial, trials, best, headline, findings: plan.findings };
}

/**
 * Train the control and each candidate fix for the budget, one after another through `runTrial`, and rank them.
 * With `findings` null (a config rather than a diagnosed run) the control's own diagnosis names the candidates.
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
  const control = options.runTrial(controlConfig(config, budget), 'control');
  const plan = planTrials(config, findings ?? control.findings, {
    budget,
    ...(options.top === undefined ? {} : { top: options.top }),
  });
  const summaries = plan.trials.map((t) => options.runTrial(t.config, t.label));
  return rankTrials(plan, control, summaries);
}
