import { nearest } from '../util/nearest.js';
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

/** The candidate the user most likely meant, or null when none is close (see `util/nearest.ts`). */
export function closestName(word: string, candidates: readonly string[]): string | null {
  return nearest(word, candidates) ?? null;
}
