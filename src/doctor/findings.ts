/**
 * What the doctor says, as data: a `Finding` is a union tagged by `code`, so callers (the trainer, the report,
 * the lab, tests) switch on `code`, never on message text. Every finding carries where it was seen, the numbers
 * that triggered it with what they were compared to, the cause in terms of this model, and fixes ranked for this
 * model, each a concrete config change with a JSON merge patch (RFC 7396) that applies it.
 *
 * @example
 * const { findings } = diagnose({ records, config });
 * verdictOf(findings); // 'vanishing'
 * applyMergePatch(config, findings[0].fixes[0].patch); // the config with the first fix applied
 */

export const FINDING_CODES = [
  'vanishing_gradient',
  'exploding_gradient',
  'vanishing_through_time',
  'exploding_through_time',
  'non_finite',
  'guard_stuck',
  'poor_initialization',
  'loss_divergence',
  'tiny_updates',
  'huge_updates',
  'saturated_activation',
  'dead_units',
  'clipping_always_on',
  'clipping_inactive',
  'rank_collapse',
  'attention_entropy_collapse',
  'not_learning',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export type Severity = 'info' | 'warning' | 'critical';

/** The run's one-word state (../shared/CONTRACT.md), in the contract's order. */
export const VERDICTS = [
  'healthy',
  'vanishing',
  'exploding',
  'non-finite',
  'saturated',
  'dead-units',
  'not-learning',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One concrete change to the run's config. */
export interface Fix {
  /** The change in config terms, e.g. `model.activation "relu" + model.init "he-normal"`. */
  change: string;
  /** A JSON merge patch (RFC 7396) for the config, e.g. `{"model": {"activation": "relu", "init": "he-normal"}}`. */
  patch: JsonObject;
  /** Why it helps this model. */
  why: string;
}

/**
 * The root cause in one machine-readable word (../shared/CONTRACT.md v2): what the first fix changes. A rule gives
 * its finding a default kind; `doctor/cause` overrides it when the run's timeline shows an earlier cause.
 */
export const CAUSE_KINDS = [
  'learning-rate',
  'initialisation',
  'activation',
  'depth',
  'normalisation',
  'recurrence',
  'optimizer',
  'data',
  'steps',
  'unknown',
] as const;
export type CauseKind = (typeof CAUSE_KINDS)[number];

/** The signals the timeline watches; each event is the first logged step at which one crossed its threshold. */
export const TIMELINE_SIGNALS = [
  'gradient-vanishing',
  'gradient-exploding',
  'loss-rising',
  'loss-flat',
  'weight-growth',
  'huge-updates',
  'tiny-updates',
  'saturated',
  'dead-units',
  'time-vanishing',
  'time-exploding',
  'non-finite',
] as const;
export type TimelineSignal = (typeof TIMELINE_SIGNALS)[number];

export interface TimelineEvent {
  step: number;
  signal: TimelineSignal;
  /** The value that crossed the threshold (a ratio, a fraction, a loss). */
  value: number;
  /** One line: what crossed which threshold. */
  text: string;
}

export interface Where {
  /** 0-based layer indices from the input side, as in metrics.jsonl. */
  layers?: number[];
  /** The first and last training step the finding covers. */
  steps?: [number, number];
  /** 1-based time steps (recurrent models). */
  timeSteps?: number[];
  /** Parameter names, when a finding is about particular tensors. */
  params?: string[];
}

interface FindingBase<C extends FindingCode> {
  code: C;
  severity: Severity;
  /** One line. */
  title: string;
  where: Where;
  /** The numbers, each with what it was compared to and the threshold's source. */
  evidence: string[];
  /** Why it happens in this model: its activation, init, depth, normalisation, residuals, learning rate, recurrence. */
  cause: string;
  /** The root cause in one word: what the first fix changes. */
  causeKind: CauseKind;
  /** The run's timeline, earliest first: every signal's first crossing (the same for all findings of a run). */
  timeline: TimelineEvent[];
  /** Ranked, most likely to work first. */
  fixes: Fix[];
}

/** Extra fields a code carries beyond the common ones. */
interface FindingDetails {
  vanishing_gradient: object;
  exploding_gradient: object;
  vanishing_through_time: object;
  exploding_through_time: object;
  non_finite: object;
  guard_stuck: object;
  /** Whether the signal shrinks or grows layer by layer. */
  poor_initialization: { direction: 'collapsing' | 'growing' };
  loss_divergence: object;
  tiny_updates: object;
  huge_updates: object;
  saturated_activation: object;
  dead_units: object;
  clipping_always_on: object;
  clipping_inactive: object;
  rank_collapse: object;
  attention_entropy_collapse: object;
  not_learning: object;
}

export type FindingOf<C extends FindingCode> = FindingBase<C> & FindingDetails[C];
export type Finding = { [C in FindingCode]: FindingOf<C> }[FindingCode];

/**
 * Which verdict each code stands for (null: advice that never changes the verdict). A record keyed by the code, so
 * a new code cannot be forgotten.
 */
const VERDICT_OF: { [C in FindingCode]: (finding: FindingOf<C>) => Verdict | null } = {
  vanishing_gradient: () => 'vanishing',
  exploding_gradient: () => 'exploding',
  vanishing_through_time: () => 'vanishing',
  exploding_through_time: () => 'exploding',
  non_finite: () => 'non-finite',
  guard_stuck: () => 'non-finite',
  poor_initialization: (f) => (f.direction === 'collapsing' ? 'vanishing' : 'exploding'),
  loss_divergence: () => 'exploding',
  tiny_updates: () => 'vanishing',
  huge_updates: () => 'exploding',
  saturated_activation: () => 'saturated',
  dead_units: () => 'dead-units',
  clipping_always_on: () => null,
  clipping_inactive: () => null,
  // Noci et al. 2022: under rank collapse the gradients of the queries and keys vanish.
  rank_collapse: () => 'vanishing',
  // A one-hot softmax is saturated: it passes almost no gradient (Zhai et al. 2023).
  attention_entropy_collapse: () => 'saturated',
  not_learning: () => 'not-learning',
};

/** The verdict a finding stands for, or null when it is advice only. */
export function verdictOfFinding(finding: Finding): Verdict | null {
  const rule = VERDICT_OF[finding.code] as (f: Finding) => Verdict | null;
  return rule(finding);
}

const SEVERITY_RANK: { [S in Severity]: number } = { critical: 0, warning: 1, info: 2 };

/** Among findings of equal severity: root causes before their symptoms; within a verdict, the contract's order. */
const IMPORTANCE: { [C in FindingCode]: number } = Object.fromEntries(
  FINDING_CODES.map((code, i) => [code, i]),
) as {
  [C in FindingCode]: number;
};

/** Most serious first: by severity, then by importance (the order of FINDING_CODES). Returns a new array. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || IMPORTANCE[a.code] - IMPORTANCE[b.code],
  );
}

/**
 * The run's verdict: that of the most serious warning or critical finding (severity first, then the contract's
 * order healthy < vanishing < exploding < non-finite < saturated < dead-units among equals), or 'healthy'.
 * Info findings and clipping advice never change it.
 *
 * @example
 * verdictOf([]); // 'healthy'
 */
export function verdictOf(findings: readonly Finding[]): Verdict {
  let best: { verdict: Verdict; severity: number; order: number } | null = null;
  for (const finding of findings) {
    if (finding.severity === 'info') continue;
    const verdict = verdictOfFinding(finding);
    if (verdict === null) continue;
    const candidate = {
      verdict,
      severity: SEVERITY_RANK[finding.severity],
      order: VERDICTS.indexOf(verdict),
    };
    if (
      best === null ||
      candidate.severity < best.severity ||
      (candidate.severity === best.severity && candidate.order < best.order)
    ) {
      best = candidate;
    }
  }
  return best?.verdict ?? 'healthy';
}

/** The short form of a finding, for places that repeat it often (each metrics record's `findings`). */
export interface BriefFinding {
  code: FindingCode;
  severity: Severity;
  title: string;
  where: Where;
}

/**
 * Findings without evidence, cause and fixes: what the trainer can store in every logged record without making
 * metrics.jsonl lines kilobytes long (summary.json and `gradscope doctor` carry the full findings).
 */
export function briefFindings(findings: readonly Finding[]): BriefFinding[] {
  return findings.map(({ code, severity, title, where }) => ({ code, severity, title, where }));
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7396 JSON merge patch: objects merge key by key, `null` deletes a key, anything else replaces. Returns a new
 * value; neither argument is changed.
 *
 * @example
 * applyMergePatch({ model: { kind: 'mlp', activation: 'sigmoid' } }, { model: { activation: 'relu' } });
 * // { model: { kind: 'mlp', activation: 'relu' } }
 */
export function applyMergePatch<T>(target: T, patch: JsonValue): T {
  return mergePatch(target, patch) as T;
}

function mergePatch(target: unknown, patch: JsonValue): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: Record<string, unknown> = isJsonObject(target)
    ? { ...(target as Record<string, unknown>) }
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
