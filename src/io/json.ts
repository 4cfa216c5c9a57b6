/**
 * The run log's JSON conventions: non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity"
 * (JSON has no such numbers and JSON.stringify would turn them into null), and read back as numbers, but only in
 * fields that hold numbers: a run named "NaN", or a finding whose text is "Infinity", stays a string.
 */

/** The markers the writer puts where a number is not finite. */
const MARKERS: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/**
 * Fields of gradscope's files (config.json, metrics.jsonl, summary.json, preflight.json, fixes.json, the
 * comparison) whose values are text, never numbers. A marker string in one of them, or in an array one of them
 * holds (`evidence`, `params`, `advice`), is that text. One list, read by every reader through `parseFinite`.
 */
export const TEXT_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'source',
  'nonFiniteSource',
  'code',
  'severity',
  'title',
  'evidence',
  'cause',
  'causeKind',
  'text',
  'change',
  'why',
  'signal',
  'params',
  'description',
  'verdict',
  'advice',
  'phase',
  'kind',
  'activation',
  'init',
  'base',
  'recurrentInit',
  'norm',
  'mode',
  'guard',
  'path',
  'message',
  'role',
  'problems',
  'reason',
  'stoppedEarly',
  'warnings',
]);

/** JSON with non-finite numbers kept as strings. */
export function stringifyFinite(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v))
        return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
      return v;
    },
    indent,
  );
}

/**
 * Non-finite markers back into numbers, in place, wherever the field is not text. An array's elements are read
 * as its field is (`timeGrad: ["NaN", 1]` holds numbers, `evidence: ["NaN"]` text).
 */
function decodeMarkers(value: unknown, text: boolean): unknown {
  if (typeof value === 'string') return !text && Object.hasOwn(MARKERS, value) ? MARKERS[value] : value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeMarkers(value[i], text);
  } else if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) object[key] = decodeMarkers(object[key], TEXT_FIELDS.has(key));
  }
  return value;
}

/** Parse JSON, turning "NaN" / "Infinity" / "-Infinity" strings back into numbers where the field is a number. */
export function parseFinite(text: string): unknown {
  return decodeMarkers(JSON.parse(text), false);
}

export interface JsonlReadResult<T> {
  records: T[];
  /** 1-based line numbers that could not be parsed, with the reason. */
  errors: Array<{ line: number; message: string }>;
  /** The 1-based line each record came from, in the order of `records`. */
  lines: number[];
}

/** One JSONL line: the object it holds, or why it is not one. */
export function parseJsonlLine<T>(line: string): { record: T } | { error: string } {
  try {
    const value = parseFinite(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { error: 'not a JSON object' };
    return { record: value as T };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Read every valid line; bad lines are reported, not fatal. */
export function parseJsonl<T>(text: string): JsonlReadResult<T> {
  const records: T[] = [];
  const errors: Array<{ line: number; message: string }> = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const parsed = parseJsonlLine<T>(line);
    if ('record' in parsed) {
      records.push(parsed.record);
      lines.push(i + 1);
    } else errors.push({ line: i + 1, message: parsed.error });
  });
  return { records, errors, lines };
}
