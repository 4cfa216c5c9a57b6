/**
 * Config errors are `GradscopeError`s (src/util/errors.ts): `ConfigError` is the same class under the name
 * config callers know. Every problem with a config (or a config file) names where it is (`path`, e.g.
 * `model.activation`), the bad value, what is accepted there and, when a close valid spelling exists, a suggestion.
 *
 * @example
 * try {
 *   resolveConfig({ model: { activation: 'sigmod' } }, { defaultName: 'x' });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.message);
 *   // model.activation: "sigmod" is not accepted; expected one of sigmoid|tanh|relu|...; did you mean "sigmoid"?
 * }
 */
import { GradscopeError, type ErrorCode, type ErrorDetails } from '../util/errors.js';

export { GradscopeError, oneOf, showValue, type TextPosition } from '../util/errors.js';
/** The config's name for `GradscopeError` (the same class: `instanceof` either holds for both). */
export const ConfigError = GradscopeError;
export type ConfigError = GradscopeError;
export type ConfigErrorCode = ErrorCode;
export type ConfigErrorDetails = ErrorDetails & { accepted: string };

export { editDistance, nearest } from '../util/nearest.js';
