/**
 * The shapes every link in `src/optim` shares: gradient transformations in the style of optax
 * (`init(params) -> state`, `update(updates, state) -> report`), the facts the training loop hands them about
 * each parameter, and learning-rate schedules.
 *
 * One departure from optax, for speed: `update` transforms the update buffers and the state IN PLACE and returns
 * only what it measured, so a steady-state step allocates no buffers. State is plain data (typed arrays, numbers,
 * arrays, plain objects), so `structuredClone(state)` is a complete snapshot and continuing from the clone
 * reproduces the run bit for bit (the non-finite guard's rollback relies on this).
 */
import type { Buffer } from '../tensor/tensor.js';

/** What the loop knows about one parameter tensor; transforms that need structure (AGC) read it, never guess. */
export interface ParamInfo {
  /** Dotted path, e.g. `layers.2.weight`. */
  name: string;
  /** Row-major shape. A weight is [out, in] (PyTorch layout): one output unit per row. */
  shape: readonly number[];
  /** 0-based index of the owning layer, counted from the input side. */
  layer: number;
  role: 'weight' | 'bias' | 'norm' | 'other';
  /** True for the parameters of the final (output) layer; AGC leaves them alone (Brock et al. 2021). */
  isOutput: boolean;
}

/** Passed to every `update`; `step` is 1-based and counts the optimiser steps the loop has attempted. */
export interface UpdateContext {
  step: number;
  /** The parameters before this step's update is applied (read-only for transforms). */
  params: readonly Buffer[];
  info: readonly ParamInfo[];
  /** The loss of the batch that produced the gradients, when the loop knows it. */
  loss?: number;
}

/**
 * What a transform measured this step, as numbers (flags are 0/1), e.g. clipping's
 * `{ normBefore, normAfter, factor, clipped }` or the learning rate's `{ learningRate }`. `chain` merges the
 * reports of its links; a later link's key overwrites an earlier one's.
 */
export type TransformReport = Readonly<Record<string, number>>;

/**
 * A gradient transformation (optax's `GradientTransformation`).
 *
 * `updates` starts as a copy of the gradients (the loop owns the gradient buffers) and `update` rewrites it in
 * place, along with `state`; after the whole chain has run, `applyUpdates(params, updates)` adds it to the
 * parameters. Methods (not function-valued properties) keep `GradientTransformation<AdamState>` assignable to
 * `GradientTransformation<unknown>`, which is what `chain` and the loop hold.
 *
 * @example
 * const opt = chain(clipByGlobalNorm(1), adam({ learningRate: 1e-3 }));
 * const state = opt.init(params, info);
 * // each step: copy the gradients into `updates`, then
 * const report = opt.update(updates, state, { step, params, info });
 * applyUpdates(params, updates);
 */
export interface GradientTransformation<S> {
  readonly name: string;
  init(params: readonly Buffer[], info: readonly ParamInfo[]): S;
  update(updates: Buffer[], state: S, ctx: UpdateContext): TransformReport;
}

/** A transformation whose state the holder treats as opaque (what the loop keeps). */
export type AnyGradientTransformation = GradientTransformation<unknown>;

/** State of a transformation that keeps none. */
export type EmptyState = Record<string, never>;

/**
 * A learning-rate schedule: `value(step)` is the rate used by the 1-based optimiser step `step`, a pure function
 * of the step for every schedule except reduce-on-plateau, which also `observe`s the loss (the loop decides how
 * often: the config counts logged steps). A stateful schedule exposes `getState`/`setState` with plain data so
 * the loop can snapshot it beside the optimiser state.
 */
export interface Schedule {
  readonly name: string;
  value(step: number): number;
  observe?(loss: number, step: number): void;
  getState?(): ScheduleState;
  setState?(state: ScheduleState): void;
}

/** A schedule's snapshot: plain numbers, safe to `structuredClone` or JSON-encode (non-finite aside). */
export type ScheduleState = Readonly<Record<string, number>>;
