import { nearest } from '../util/nearest.js';
/**
 * The one error type `src/optim` raises. Callers branch on `code`, never on message text; the message names the
 * option, the bad value and a fix.
 */

export type OptimErrorCode =
  /** A numeric setting (learning rate, beta, eps, max norm, percentile...) is out of range. */
  | 'bad-value'
  /** An optimiser, schedule or clip name is not one of the accepted ones. */
  | 'bad-name'
  /** Buffers, parameter facts or state do not line up (count or length). */
  | 'size-mismatch'
  /** A gradient norm was non-finite and the transform was asked to raise (`errorIfNonfinite`). */
  | 'non-finite';

export class OptimError extends Error {
  override readonly name = 'OptimError';
  readonly code: OptimErrorCode;

  constructor(code: OptimErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** `name` must be a finite number > 0. */
export function checkPositive(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptimError(
      'bad-value',
      `${name} must be a positive finite number, got ${show(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be a finite number >= 0. */
export function checkNonNegative(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new OptimError(
      'bad-value',
      `${name} must be a finite number >= 0, got ${show(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must lie in [0, 1) (betas and decay rates: 1 would never forget, and never learn). */
export function checkUnitInterval(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new OptimError('bad-value', `${name} must be in [0, 1), got ${show(value)}; try ${suggestion}`);
  }
  return value;
}

/** `name` must lie in the closed range [low, high]. */
export function checkRange(
  name: string,
  value: number,
  low: number,
  high: number,
  suggestion: number | string,
): number {
  if (typeof value !== 'number' || !(value >= low && value <= high)) {
    throw new OptimError(
      'bad-value',
      `${name} must be in [${low}, ${high}], got ${show(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be an integer >= `min`. */
export function checkInteger(name: string, value: number, min: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OptimError(
      'bad-value',
      `${name} must be an integer >= ${min}, got ${show(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be one of `accepted` (the keys of a rule table). */
export function checkName<K extends string>(path: string, value: string, accepted: readonly K[]): K {
  if ((accepted as readonly string[]).includes(value)) return value as K;
  throw new OptimError(
    'bad-name',
    `${path} must be one of ${accepted.join('|')}, got ${show(value)}; try '${nearest(value, accepted) ?? accepted[0]}'`,
  );
}
