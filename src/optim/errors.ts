import { GradscopeError, showValue, type ErrorCode } from '../util/errors.js';
import { nearest } from '../util/nearest.js';
/**
 * The one error type `src/optim` raises. Callers branch on `code`, never on message text; the message names the
 * option, the bad value and a fix.
 */

export type OptimErrorCode = Extract<ErrorCode, 'invalid_value' | 'size_mismatch' | 'non_finite'>;

/** A `GradscopeError` raised in `src/optim` (the message is written at the raise). */
export class OptimError extends GradscopeError {
  override name = 'OptimError';

  constructor(code: OptimErrorCode, message: string, path = '') {
    super({ code, path, message });
  }
}

/** `name` must be a finite number > 0. */
export function checkPositive(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptimError(
      'invalid_value',
      `${name} must be a positive finite number, got ${showValue(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be a finite number >= 0. */
export function checkNonNegative(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new OptimError(
      'invalid_value',
      `${name} must be a finite number >= 0, got ${showValue(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must lie in [0, 1) (betas and decay rates: 1 would never forget, and never learn). */
export function checkUnitInterval(name: string, value: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new OptimError(
      'invalid_value',
      `${name} must be in [0, 1), got ${showValue(value)}; try ${suggestion}`,
    );
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
      'invalid_value',
      `${name} must be in [${low}, ${high}], got ${showValue(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be an integer >= `min`. */
export function checkInteger(name: string, value: number, min: number, suggestion: number | string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OptimError(
      'invalid_value',
      `${name} must be an integer >= ${min}, got ${showValue(value)}; try ${suggestion}`,
    );
  }
  return value;
}

/** `name` must be one of `accepted` (the keys of a rule table). */
export function checkName<K extends string>(path: string, value: string, accepted: readonly K[]): K {
  if ((accepted as readonly string[]).includes(value)) return value as K;
  throw new OptimError(
    'invalid_value',
    `${path} must be one of ${accepted.join('|')}, got ${showValue(value)}; try '${nearest(value, accepted) ?? accepted[0]}'`,
  );
}
