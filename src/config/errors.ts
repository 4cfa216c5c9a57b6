/**
 * The one error type of config handling. Every problem with a config (or a config file) is a `ConfigError` that
 * names where it is (`path`, e.g. `model.activation`), the bad value, what is accepted there and, when a close
 * valid spelling exists, a suggestion. The CLI prints `message` and exits 2; callers that need to branch switch
 * on `code`, never on the message text.
 *
 * @example
 * try {
 *   resolveConfig({ model: { activation: 'sigmod' } }, { defaultName: 'x' });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.message);
 *   // model.activation: "sigmod" is not accepted; expected one of sigmoid|tanh|relu|...; did you mean "sigmoid"?
 * }
 */

/**
 * - `invalid_value`: the value has the wrong type, is out of range or is not one of the names accepted.
 * - `missing`: a required field is absent (e.g. `clip.max` for `{"name": "norm"}`).
 * - `unknown_key`: the key exists nowhere at this level.
 * - `not_applicable`: the key exists, but not for this kind/name (e.g. `forgetBias` on an MLP).
 * - `conflict`: two fields disagree (e.g. `depth` and `hidden`, an MLP on a sequence task).
 * - `invalid_json`: the text is not JSON; `path` is `file:line:column`.
 */
export type ConfigErrorCode =
  'invalid_value' | 'missing' | 'unknown_key' | 'not_applicable' | 'conflict' | 'invalid_json';

/** Where in a text a JSON error is: 1-based line and column, 0-based UTF-16 offset. */
export interface TextPosition {
  line: number;
  column: number;
  offset: number;
}

export interface ConfigErrorDetails {
  code: ConfigErrorCode;
  /** Dotted path of the field (`optimizer.learningRate`, `model.hidden.2`); '' is the whole config. */
  path: string;
  /** The offending value; for `unknown_key` and `not_applicable` the key itself. */
  value: unknown;
  /** What is accepted at `path`, in words: `one of a|b|c`, `a number > 0`. */
  accepted: string;
  /** What went wrong, when `<value> is not accepted` does not say it well. */
  problem?: string;
  /** A close valid spelling; rendered as `did you mean "x"?`. */
  suggestion?: string;
  /** One more sentence: why, or how to fix it. */
  hint?: string;
  position?: TextPosition;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly path: string;
  readonly value: unknown;
  readonly accepted: string;
  readonly suggestion?: string;
  readonly hint?: string;
  readonly position?: TextPosition;

  constructor(details: ConfigErrorDetails) {
    super(formatMessage(details));
    this.code = details.code;
    this.path = details.path;
    this.value = details.value;
    this.accepted = details.accepted;
    if (details.suggestion !== undefined) this.suggestion = details.suggestion;
    if (details.hint !== undefined) this.hint = details.hint;
    if (details.position !== undefined) this.position = details.position;
  }
}

function formatMessage(details: ConfigErrorDetails): string {
  const where = details.path === '' ? 'config' : details.path;
  const problem = details.problem ?? defaultProblem(details);
  let message = `${where}: ${problem}; expected ${details.accepted}`;
  if (details.suggestion !== undefined) message += `; did you mean ${JSON.stringify(details.suggestion)}?`;
  if (details.hint !== undefined) message += `; ${details.hint}`;
  return message;
}

function defaultProblem(details: ConfigErrorDetails): string {
  switch (details.code) {
    case 'missing':
      return 'missing';
    case 'unknown_key':
      return `unknown key ${showValue(details.value)}`;
    case 'not_applicable':
      return `key ${showValue(details.value)} does not apply here`;
    case 'invalid_value':
    case 'conflict':
    case 'invalid_json':
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

export { editDistance, nearest } from '../util/nearest.js';
