/**
 * Errors raised while building a task from its config. Callers switch on `code`, never on the message; the
 * message names the path, the bad value and what is accepted, so the CLI can print it as is (exit 2).
 */

export type TaskConfigErrorCode =
  /** `task.name` is not one of the known tasks. */
  | 'unknown_task'
  /** `task.name` is absent or not a string. */
  | 'missing_name'
  /** A known field holds a value outside what it accepts. */
  | 'invalid_value'
  /** A key that no task knows. */
  | 'unknown_field'
  /** A field of another task (e.g. `length` given to `spirals`). */
  | 'inapplicable_field';

export class TaskConfigError extends Error {
  override readonly name = 'TaskConfigError';

  constructor(
    readonly code: TaskConfigErrorCode,
    /** Dotted config path, e.g. `task.length`. */
    readonly path: string,
    readonly value: unknown,
    /** What the path accepts, in words. */
    readonly accepted: string,
    message: string,
  ) {
    super(message);
  }
}

/** A value as it would appear in the user's JSON: strings quoted, numbers plain. */
export function formatValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The candidate closest to `word` by edit distance (Levenshtein 1966), or null when none is close enough to be
 * a plausible typo (distance at most a third of the word, and at least 2 allowed).
 */
export function closestName(word: string, candidates: readonly string[]): string | null {
  const target = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(target.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(target, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
