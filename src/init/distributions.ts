/**
 * Initialisers with a fixed scale that ignore the fans, so they also fit biases and vectors of any rank.
 */
import type { Rng } from '../tensor/rng.js';
import type { Buffer, Shape } from '../tensor/tensor.js';
import { checkNonNegative, checkTarget, InitError, type Initializer } from './initializer.js';

/**
 * w ~ N(0, std^2), independently.
 *
 * @example
 * normal(0.01)(w, [64, 32], rng);
 */
export function normal(std: number): Initializer {
  checkNonNegative('normal', 'std', std);
  return (out: Buffer, shape: Shape, rng: Rng): void => {
    checkTarget('normal', out, shape);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal(0, std);
  };
}

/**
 * w ~ U[-limit, limit], independently (standard deviation limit / sqrt(3)).
 *
 * @example
 * uniform(0.05)(w, [64, 32], rng);
 */
export function uniform(limit: number): Initializer {
  checkNonNegative('uniform', 'limit', limit);
  return (out: Buffer, shape: Shape, rng: Rng): void => {
    checkTarget('uniform', out, shape);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
  };
}

/**
 * Every entry equal to `value` (an LSTM's forget-gate bias of 1, Jozefowicz et al. 2015). Draws nothing.
 *
 * @example
 * constant(1)(bias, [128], rng);
 */
export function constant(value: number): Initializer {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InitError(
      'invalid_value',
      `constant: value must be a finite number, got ${String(value)}; use e.g. 0.`,
    );
  }
  return (out: Buffer, shape: Shape): void => {
    checkTarget('constant', out, shape);
    out.fill(value);
  };
}

/**
 * Every entry 0. Draws nothing.
 *
 * @example
 * zeros()(bias, [128], rng);
 */
export function zeros(): Initializer {
  return constant(0);
}
