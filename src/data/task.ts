/**
 * The contract between a training task and the rest of gradscope. A task only produces data; the model, the
 * loss and the training loop read its facts (`inputSize`, `outputSize`, `loss`, `sequence`) instead of asking
 * which task it is.
 */
import type { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';

export type LossKind = 'cross-entropy' | 'mse';

/**
 * One batch. Every tensor is float32.
 *
 * Layouts:
 * - MLP tasks: `x` is [batch, inputs].
 * - sequence tasks: `x` is time-major [T, batch, inputs], element (t, b, i) at `(t * batch + b) * inputs + i`.
 * - `y`: regression targets for `mse` tasks ([batch, outputs], or [T, batch, outputs] when every step is
 *   scored); for `cross-entropy` tasks the one-hot encoding of `labels` in the same layout.
 * - `labels`: class ids for `cross-entropy` tasks, [batch] or, when every step is scored, [T * batch]
 *   time-major (position `t * batch + b`); `null` for `mse` tasks.
 */
export interface Batch {
  x: Tensor;
  y: Tensor;
  labels: Int32Array | null;
}

/** How a sequence task is read and scored: the loss uses the last step only, or every step (averaged). */
export interface SequenceSpec {
  length: number;
  scored: 'last' | 'every';
}

/** What a model that learns nothing scores, so a user can tell learning from guessing. */
export interface Baseline {
  loss: number;
  /** Classification only: the accuracy of that model (for scored-every tasks, per position). */
  accuracy?: number;
  description: string;
}

/** An image task's examples, flat in row-major [channels, height, width] order (conv models read them so). */
export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

export interface Task {
  readonly name: string;
  readonly loss: LossKind;
  /** Features per example (per time step for sequences). */
  readonly inputSize: number;
  /** Classes or regression outputs. */
  readonly outputSize: number;
  readonly sequence: SequenceSpec | null;
  /**
   * Transduction tasks (reverse, sort): the steps at the start of the time axis that are the source (the symbols and
   * the delimiter); the rest is the target. A sequence-to-sequence model encodes the first and decodes the second.
   */
  readonly sourceLength?: number;
  /** Image tasks: the shape each example's `inputSize` features form (mnist: 1 x 28 x 28). */
  readonly image?: ImageShape;
  /** What a model that learns nothing scores, so a user can tell learning from guessing. */
  readonly baseline: Baseline;
  /** A fresh training batch drawn with `rng` (the caller owns the stream; same rng state → same batch). */
  trainBatch(batchSize: number, rng: Rng): Batch;
  /** The fixed evaluation set (drawn from the task seed apart from the training data; cached). */
  evalSet(): Batch;
}
