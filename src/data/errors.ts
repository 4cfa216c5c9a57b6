import { GradscopeError, type ErrorCode } from '../util/errors.js';
import { nearest } from '../util/nearest.js';
/**
 * Errors raised while building a task from its config. Callers switch on `code`, never on the message; the
 * message names the path, the bad value and what is accepted, so the CLI can print it as is (exit 2).
 */

export type TaskConfigErrorCode = Extract<
  ErrorCode,
  'invalid_value' | 'missing' | 'unknown_key' | 'not_applicable'
>;

/** A `GradscopeError` raised while building a task (the message is written at the raise). */
export class TaskConfigError extends GradscopeError {
  override name = 'TaskConfigError';

  constructor(code: TaskConfigErrorCode, path: string, value: unknown, accepted: string, message: string) {
    super({ code, path, value, accepted, message });
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
