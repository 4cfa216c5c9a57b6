/**
 * The one error type of gradscope. Every refusal (a bad config value, a tensor of the wrong shape, an unreadable
 * run directory, a bad command line) is a `GradscopeError` that names where it is (`path`), the bad value, what is
 * accepted there and, when it helps, a hint or a close valid spelling. Callers switch on `code`, never on the
 * message; the CLI prints `message` and exits 2 for any of them (one `instanceof`).
 *
 * @example
 * throw new GradscopeError({ code: 'invalid_value', path: 'optimizer.learningRate', value: -1, accepted: 'a number > 0' });
 * // message: 'optimizer.learningRate: -1 is not accepted; expected a number > 0'
 */

/**
 * - `invalid_value`: the value has the wrong type, is out of range or is not one of the names accepted.
 * - `missing`: a required field or file entry is absent (e.g. `clip.max` for `{"name": "norm"}`).
 * - `unknown_key`: the key exists nowhere at this level.
 * - `not_applicable`: the key exists, but not for this kind/name (e.g. `forgetBias` on an MLP).
 * - `conflict`: two fields disagree (e.g. `depth` and `hidden`, an MLP on a sequence task).
 * - `invalid_json`: the text is not JSON; `path` is `file:line:column`.
 * - `invalid_shape`: a shape has the wrong rank or a dimension that is not a non-negative integer.
 * - `size_mismatch`: buffers, parameter facts or state do not line up (count or length).
 * - `non_finite`: a value that must be finite was NaN or infinite at run time (e.g. `errorIfNonfinite`).
 * - `not_found`: a file or directory is not there.
 * - `unreadable`: a file exists but cannot be read or decoded (a bad event file, a log of another format).
 * - `invalid_state`: the call does not fit the object's state (a closed writer).
 * - `usage`: the command line is wrong (an unknown command or flag).
 */
export type ErrorCode =
  | 'invalid_value'
  | 'missing'
  | 'unknown_key'
  | 'not_applicable'
  | 'conflict'
  | 'invalid_json'
  | 'invalid_shape'
  | 'size_mismatch'
  | 'non_finite'
  | 'not_found'
  | 'unreadable'
  | 'invalid_state'
  | 'usage';

/** Where in a text an error is: 1-based line and column, 0-based UTF-16 offset. */
export interface TextPosition {
  line: number;
  column: number;
  offset: number;
}

export interface ErrorDetails {
  code: ErrorCode;
  /** Dotted path of the field (`optimizer.learningRate`, `model.hidden.2`), a file path, or '' for the whole input. */
  path: string;
  /** The offending value; for `unknown_key` and `not_applicable` the key itself. */
  value?: unknown;
  /** What is accepted at `path`, in words: `one of a|b|c`, `a number > 0`. */
  accepted?: string;
  /** What went wrong, when `<value> is not accepted` does not say it well. */
  problem?: string;
  /** A close valid spelling; rendered as `did you mean "x"?`. */
  suggestion?: string;
  /** One more sentence: why, or how to fix it. */
  hint?: string;
  position?: TextPosition;
  /**
   * A whole message written by the raiser, for errors whose words were settled before this type (the numeric
   * checks of the engine); new code gives the parts above and lets `formatError` write it.
   */
  message?: string;
}

export class GradscopeError extends Error {
  override name = 'GradscopeError';
  readonly code: ErrorCode;
  readonly path: string;
  readonly value: unknown;
  readonly accepted: string;
  /** What went wrong in words, when the raiser gave it (a caller may put it in a message of its own). */
  readonly problem?: string;
  readonly suggestion?: string;
  readonly hint?: string;
  readonly position?: TextPosition;

  constructor(details: ErrorDetails) {
    super(details.message ?? formatError(details));
    this.code = details.code;
    this.path = details.path;
    this.value = details.value;
    this.accepted = details.accepted ?? '';
    if (details.problem !== undefined) this.problem = details.problem;
    if (details.suggestion !== undefined) this.suggestion = details.suggestion;
    if (details.hint !== undefined) this.hint = details.hint;
    if (details.position !== undefined) this.position = details.position;
  }
}

/** The one formatter: `path: problem; expected accepted; did you mean "x"?; hint`. */
export function formatError(details: ErrorDetails): string {
  const where = details.path === '' ? 'config' : details.path;
  const problem = details.problem ?? defaultProblem(details);
  let message = `${where}: ${problem}`;
  if (details.accepted !== undefined && details.accepted !== '') message += `; expected ${details.accepted}`;
  if (details.suggestion !== undefined) message += `; did you mean ${JSON.stringify(details.suggestion)}?`;
  if (details.hint !== undefined) message += `; ${details.hint}`;
  return message;
}

function defaultProblem(details: ErrorDetails): string {
  switch (details.code) {
    case 'missing':
      return 'missing';
    case 'unknown_key':
      return `unknown key ${showValue(details.value)}`;
    case 'not_applicable':
      return `key ${showValue(details.value)} does not apply here`;
    case 'not_found':
      return 'not found';
    default:
      return `${showValue(details.value)} is not accepted`;
  }
}

/** A short, unambiguous rendering of a value for an error message: strings quoted, NaN and Infinity spelled out. */
export function showValue(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return typeof value;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[array]' : '{object}';
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `one of a|b|c` for a list of names. */
export function oneOf(names: readonly string[]): string {
  return names.length === 1 ? JSON.stringify(names[0]) : `one of ${names.join('|')}`;
}
