/**
 * Composition and the buffers around it: `chain` (optax's `chain`), `identity`, `applyUpdates`, and helpers the
 * loop uses to hold the update buffers.
 */
import { addInPlace } from '../kernels/index.js';
import type { Buffer } from '../tensor/tensor.js';
import { OptimError } from './errors.js';
import type {
  AnyGradientTransformation,
  EmptyState,
  GradientTransformation,
  ParamInfo,
  TransformReport,
  UpdateContext,
} from './types.js';

/** The state type a transformation keeps. */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;

/** `chain`'s state: the tuple of its links' states, in order. */
export type ChainState<T extends readonly AnyGradientTransformation[]> = {
  -readonly [K in keyof T]: StateOf<T[K]>;
};

/**
 * Runs transformations one after another on the same update buffers; its state is the tuple of their states
 * and its report merges theirs (a later link's key wins). Order matters: `chain(clipByGlobalNorm(1), adam(...))`
 * clips the raw gradient, `chain(adam(...), clipByGlobalNorm(1))` clips Adam's step.
 *
 * @example
 * const opt = chain(addWeightDecay(5e-4), traceMomentum(0.9), scaleByLearningRate(constantSchedule(0.1)));
 */
export function chain<const T extends readonly AnyGradientTransformation[]>(
  ...transforms: T
): GradientTransformation<ChainState<T>> {
  const links: readonly AnyGradientTransformation[] = transforms;
  return {
    name: `chain(${links.map((t) => t.name).join(', ')})`,
    init(params, info) {
      return links.map((t) => t.init(params, info)) as ChainState<T>;
    },
    update(updates, state, ctx) {
      const states = state as readonly unknown[];
      if (states.length !== links.length) {
        throw new OptimError(
          'size_mismatch',
          `chain state has ${states.length} entries but the chain has ${links.length} links; pass the state returned by this chain's init`,
        );
      }
      const report: Record<string, number> = {};
      for (let i = 0; i < links.length; i++) Object.assign(report, links[i].update(updates, states[i], ctx));
      return report;
    },
  };
}

/** The report of a transform that measures nothing (shared and frozen: no allocation per step). */
export const EMPTY_REPORT: TransformReport = Object.freeze({});

/** Leaves the updates as they are (clip `none`). */
export function identity(): GradientTransformation<EmptyState> {
  return {
    name: 'identity',
    init: () => ({}),
    update: () => EMPTY_REPORT,
  };
}

/** p += u for every parameter (the final update already carries the minus sign of descent). */
export function applyUpdates(params: readonly Buffer[], updates: readonly Buffer[]): void {
  checkAligned('updates', updates, params);
  for (let i = 0; i < params.length; i++) addInPlace(params[i], updates[i]);
}

/** Zero buffers shaped and typed like `params`, to hold the updates; allocate once, reuse every step. */
export function allocateUpdates(params: readonly Buffer[]): Buffer[] {
  return params.map(zerosLike);
}

/** Copies the gradients into the update buffers (the start of every step). */
export function copyInto(target: readonly Buffer[], source: readonly Buffer[]): void {
  checkAligned('target', target, source);
  for (let i = 0; i < source.length; i++) target[i].set(source[i]);
}

/** A zero buffer of the same length and precision as `b`; optimiser state matches its parameter's dtype. */
export function zerosLike(b: Buffer): Buffer {
  return b instanceof Float64Array ? new Float64Array(b.length) : new Float32Array(b.length);
}

/** Throws unless `buffers` line up one-to-one, length for length, with `reference`. */
export function checkAligned(what: string, buffers: readonly Buffer[], reference: readonly Buffer[]): void {
  if (buffers.length !== reference.length) {
    throw new OptimError(
      'size_mismatch',
      `${what} holds ${buffers.length} buffers but there are ${reference.length} parameters; pass one per parameter, in the same order`,
    );
  }
  for (let i = 0; i < buffers.length; i++) {
    if (buffers[i].length !== reference[i].length) {
      throw new OptimError(
        'size_mismatch',
        `${what}[${i}] has ${buffers[i].length} elements but parameter ${i} has ${reference[i].length}; the buffers must match the parameters they were initialised for`,
      );
    }
  }
}

/** Throws unless the parameter facts match the buffers (count and element count of each shape). */
export function checkInfo(params: readonly Buffer[], info: readonly ParamInfo[]): void {
  if (info.length !== params.length) {
    throw new OptimError(
      'size_mismatch',
      `got ${info.length} ParamInfo entries for ${params.length} parameters; pass one ParamInfo per parameter, in the same order`,
    );
  }
  for (let i = 0; i < params.length; i++) {
    const size = info[i].shape.reduce((a, b) => a * b, 1);
    if (size !== params[i].length) {
      throw new OptimError(
        'size_mismatch',
        `${info[i].name || `parameter ${i}`} has shape [${info[i].shape.join(', ')}] (${size} elements) but its buffer has ${params[i].length}; fix the ParamInfo shape`,
      );
    }
  }
}

/** Reads the context's parameters, checked against the update buffers (used by transforms that need p). */
export function contextParams(ctx: UpdateContext, updates: readonly Buffer[]): readonly Buffer[] {
  checkAligned('updates', updates, ctx.params);
  return ctx.params;
}
