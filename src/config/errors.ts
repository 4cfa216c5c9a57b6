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

/** Case, `-`, `_` and spaces do not count when comparing spellings: `batch_size` is `batchSize`. */
function normalise(word: string): string {
  return word.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The optimal-string-alignment distance (Levenshtein with adjacent transpositions, Damerau 1964): the number of
 * single-character insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b`.
 *
 * @example
 * editDistance('tahn', 'tanh'); // 1 (one swap)
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (d[(i - 1) * cols + j] as number) + 1,
        (d[i * cols + j - 1] as number) + 1,
        (d[(i - 1) * cols + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (d[(i - 2) * cols + j - 2] as number) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1] as number;
}

/**
 * The valid spelling the user most likely meant, or undefined when none is close. In order: a known alias
 * (`lr` -> `learningRate`, keys compared without case and separators); the same word up to case and `-`/`_`
 * (`batch_size` -> `batchSize`); the smallest edit distance, if at most a third of the word's length (at least 1);
 * a candidate the word starts (`xavier` -> `xavier-uniform`) or that starts the word (`batchnorm` -> `batch`).
 * Ties go to the earlier candidate.
 *
 * @example
 * nearest('sigmod', ['sigmoid', 'tanh', 'relu']); // 'sigmoid'
 * nearest('banana', ['sigmoid', 'tanh', 'relu']); // undefined
 */
export function nearest(
  word: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const target = normalise(word);
  if (target === '') return undefined;
  for (const [alias, meant] of Object.entries(aliases)) {
    if (normalise(alias) === target && candidates.includes(meant)) return meant;
  }
  const normalised = candidates.map(normalise);
  const exact = normalised.indexOf(target);
  if (exact >= 0) return candidates[exact];

  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(target.length / 3)) + 1;
  normalised.forEach((candidate, index) => {
    const distance = editDistance(target, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidates[index];
    }
  });
  if (best !== undefined) return best;

  if (target.length >= 2) {
    const prefixOf = normalised.findIndex((candidate) => candidate.startsWith(target));
    if (prefixOf >= 0) return candidates[prefixOf];
  }
  const startsWord = normalised.findIndex(
    (candidate) => candidate.length >= 3 && target.startsWith(candidate),
  );
  return startsWord >= 0 ? candidates[startsWord] : undefined;
}
