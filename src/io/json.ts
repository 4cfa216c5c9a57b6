/**
 * The run log's JSON conventions: non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity"
 * (JSON has no such numbers and JSON.stringify would turn them into null), and read back as numbers.
 */
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

/** Parse JSON, turning "NaN" / "Infinity" / "-Infinity" strings back into numbers. */
export function parseFinite(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    return v;
  });
}

export interface JsonlReadResult<T> {
  records: T[];
  /** 1-based line numbers that could not be parsed, with the reason. */
  errors: Array<{ line: number; message: string }>;
}

/** Read every valid line; bad lines are reported, not fatal. */
export function parseJsonl<T>(text: string): JsonlReadResult<T> {
  const records: T[] = [];
  const errors: Array<{ line: number; message: string }> = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const value = parseFinite(line);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new Error('not a JSON object');
      records.push(value as T);
    } catch (error) {
      errors.push({ line: i + 1, message: error instanceof Error ? error.message : String(error) });
    }
  });
  return { records, errors };
}
