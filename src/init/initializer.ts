/**
 * The shape every initialiser shares, and the one error type they raise.
 *
 * An initialiser fills a parameter's buffer in place and draws only from the generator it is handed, so the
 * same seed gives the same weights bit for bit, and adding a layer elsewhere never shifts these draws as long
 * as the caller forks a stream per parameter (`rng.fork('layers.0.weight')`).
 */
import type { Rng } from '../tensor/rng.js';
import { GradscopeError, type ErrorCode } from '../util/errors.js';
import type { Buffer, Shape } from '../tensor/tensor.js';

/**
 * Fills `out` (row-major, `shape`'s size) in place with initial values drawn from `rng`.
 *
 * @example
 * const w = new Float32Array(256 * 128);
 * heNormal()(w, [256, 128], new Rng(0).fork('layers.0.weight'));
 */
export type Initializer = (out: Buffer, shape: Shape, rng: Rng) => void;

/** What went wrong, for callers that branch on it (never on message text). */
export type InitErrorCode = Extract<ErrorCode, 'invalid_shape' | 'size_mismatch' | 'invalid_value'>;

/** A `GradscopeError` raised in `src/init`; the message names the bad value and how to fix it. */
export class InitError extends GradscopeError {
  override name = 'InitError';

  constructor(code: InitErrorCode, message: string, path = '') {
    super({ code, path, message });
  }
}

/** `[a, b, c]` as text for error messages. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless every dimension is a non-negative integer; returns the element count. */
export function checkShape(who: string, shape: Shape): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new InitError(
        'invalid_shape',
        `${who}: shape ${formatShape(shape)} has dimension ${dim}; every dimension must be a non-negative integer.`,
      );
    }
    size *= dim;
  }
  return size;
}

/** Throws unless `out` holds exactly as many elements as `shape` describes. */
export function checkTarget(who: string, out: Buffer, shape: Shape): void {
  const size = checkShape(who, shape);
  if (out.length !== size) {
    throw new InitError(
      'size_mismatch',
      `${who}: buffer has ${out.length} elements but shape ${formatShape(shape)} needs ${size}; ` +
        `pass the parameter's own shape or allocate a buffer of ${size}.`,
    );
  }
}

/** Throws unless `value` is finite and at least 0 (a std, limit, gain or scale). */
export function checkNonNegative(who: string, label: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InitError(
      'invalid_value',
      `${who}: ${label} must be a finite number >= 0, got ${String(value)}; use e.g. ${label} 1.`,
    );
  }
}
