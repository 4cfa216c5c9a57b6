/**
 * The adding problem (Hochreiter & Schmidhuber 1997), in the two-channel form of Le et al. 2015 and Arjovsky
 * et al. 2016: at each of T steps the input is [value ~ U[0, 1], marker in {0, 1}]; exactly one marker is set
 * in the first half (steps 0 .. floor(T/2) - 1) and one in the second half (floor(T/2) .. T - 1); the target,
 * read at the last step, is the sum of the two marked values. Solving it means carrying a value across up to
 * T steps, so it exposes vanishing gradients through time.
 *
 * Baseline: always answering 1 (the mean of the sum) has mean squared error Var(U1 + U2) = 2 / 12 = 1/6, the
 * line both papers draw. The loss is the plain mean of squared errors (no factor 1/2).
 */
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkBatchSize } from './batch.js';
import type { Baseline, Batch, LossKind, SequenceSpec, Task } from './task.js';

export interface AddingOptions {
  /** Sequence length T (at least 2: one step per half). */
  length: number;
}

export const ADDING_EVAL_SIZE = 1000;

export class AddingTask implements Task {
  readonly name = 'adding';
  readonly loss: LossKind = 'mse';
  readonly inputSize = 2;
  readonly outputSize = 1;
  readonly sequence: SequenceSpec;
  readonly baseline: Baseline = {
    loss: 1 / 6,
    description: 'always answering 1, the mean of the sum of two U[0, 1] values: MSE = Var = 1/6',
  };
  private cachedEval: Batch | null = null;

  constructor(
    options: AddingOptions,
    private readonly seed: number,
  ) {
    this.sequence = { length: options.length, scored: 'last' };
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize(this.name, batchSize);
    return addingSequences(this.sequence.length, batchSize, rng);
  }

  evalSet(): Batch {
    const rng = new Rng(this.seed).fork('adding/eval');
    return (this.cachedEval ??= addingSequences(this.sequence.length, ADDING_EVAL_SIZE, rng));
  }
}

/**
 * The adding task; the seed fixes the 1000 evaluation sequences.
 *
 * @example
 * const task = createAddingTask({ length: 50 }, 0);
 * const { x, y } = task.trainBatch(32, new Rng(1)); // x: [50, 32, 2], y: [32, 1]
 */
export function createAddingTask(options: AddingOptions, seed: number): AddingTask {
  return new AddingTask(options, seed);
}

/** `batch` sequences, time-major x [T, batch, 2] and targets y [batch, 1]. */
export function addingSequences(length: number, batch: number, rng: Rng): Batch {
  const x = new Float32Array(length * batch * 2);
  const y = new Float32Array(batch);
  const half = Math.floor(length / 2);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) x[(t * batch + b) * 2] = rng.next();
    const first = rng.int(half);
    const second = half + rng.int(length - half);
    x[(first * batch + b) * 2 + 1] = 1;
    x[(second * batch + b) * 2 + 1] = 1;
    // Sum the stored float32 values, so the target is exactly what the model can read.
    y[b] = (x[(first * batch + b) * 2] as number) + (x[(second * batch + b) * 2] as number);
  }
  return { x: new Tensor(x, [length, batch, 2]), y: new Tensor(y, [batch, 1]), labels: null };
}
