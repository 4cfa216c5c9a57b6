/**
 * Text helpers shared by the charts and the pages: escaping and number formatting. Every string that reaches the
 * HTML passes through `escapeHtml`, including run names and finding text from the run directory.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escape text for HTML and SVG text nodes and attribute values (the two need the same five characters).
 *
 * @example escapeHtml('<script>') // '&lt;script&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/**
 * A number for people: three significant digits, exponent notation outside [1e-3, 1e5), and the non-finite values
 * named rather than hidden.
 *
 * @example formatNumber(0.000012345) // '1.23e-5'
 */
export function formatNumber(x: number, digits = 3): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '∞';
  if (x === -Infinity) return '−∞';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) {
    const [mantissa = '', exponent = ''] = x.toExponential(digits - 1).split('e');
    return `${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
  }
  if (abs >= 10 ** digits) return String(Math.round(x));
  return trimZeros(x.toPrecision(digits));
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** A fraction in 0..1 as a percentage: '45%', '0.4%', '0%'. */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return formatNumber(fraction);
  const percent = 100 * fraction;
  if (percent === 0) return '0%';
  if (Math.abs(percent) < 1) return `${trimZeros(percent.toFixed(1))}%`;
  return `${Math.round(percent)}%`;
}

/** Seconds as '5.3 s' or '2 min 13 s'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return formatNumber(seconds);
  if (seconds < 60) return `${formatNumber(seconds, seconds < 10 ? 2 : 3)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - 60 * minutes)} s`;
}

const SUPERSCRIPT: Readonly<Record<string, string>> = {
  '-': '⁻',
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
};

/**
 * The label of a power of ten: plain for 0.01 .. 1000, `10⁻⁷` otherwise.
 *
 * @example formatPower10(-7) // '10⁻⁷'
 */
export function formatPower10(exponent: number): string {
  if (exponent >= -2 && exponent <= 3) return formatNumber(10 ** exponent);
  return `10${[...String(exponent)].map((c) => SUPERSCRIPT[c] ?? c).join('')}`;
}

/**
 * Integers as compact ranges: [0, 1, 2, 3, 7, 9, 10] -> '0–3, 7, 9–10'.
 */
export function formatRanges(values: readonly number[]): string {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && sorted[i] === (sorted[i - 1] as number) + 1) continue;
    const first = sorted[start] as number;
    const last = sorted[i - 1] as number;
    parts.push(first === last ? String(first) : `${first}–${last}`);
    start = i;
  }
  return parts.join(', ');
}

function leaf(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
  return JSON.stringify(value) ?? 'null';
}

/**
 * JSON for reading: indented like `JSON.stringify(value, null, 2)`, but arrays of plain values and small flat
 * objects stay on one line, so a 20-layer `hidden` list is one line instead of twenty. Non-finite numbers are
 * written as strings, as in the run log.
 */
export function readableJson(value: unknown, indent = ''): string {
  const isLeaf = (v: unknown): boolean => v === null || typeof v !== 'object';
  if (isLeaf(value)) return leaf(value);
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every(isLeaf)) return `[${value.map(leaf).join(', ')}]`;
    return `[\n${value.map((v) => inner + readableJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  const flat = `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${leaf(v)}`).join(', ')} }`;
  if (entries.every(([, v]) => isLeaf(v)) && flat.length + indent.length <= 72) return flat;
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${readableJson(v, inner)}`).join(',\n')}\n${indent}}`;
}
