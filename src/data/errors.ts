/**
 * Errors raised while building a task's data (a CSV file that cannot be used, a text too short): the task's
 * fields themselves are checked by the config schema (`resolveTask`). Callers switch on `code`, never on the
 * message; the one formatter (`util/errors`) writes the message from the path, the value, what is accepted and
 * the fix, so the CLI can print it as is (exit 2).
 */
import { GradscopeError, type ErrorCode, type ErrorDetails } from '../util/errors.js';

export type TaskConfigErrorCode = Extract<
  ErrorCode,
  'invalid_value' | 'missing' | 'unknown_key' | 'not_applicable' | 'unreadable'
>;

/** A `GradscopeError` raised while building a task; `path` is a config field or a place in a file (`f.csv line 3`). */
export class TaskConfigError extends GradscopeError {
  override name = 'TaskConfigError';

  constructor(details: Omit<ErrorDetails, 'code' | 'message'> & { code: TaskConfigErrorCode }) {
    super(details);
  }
}
