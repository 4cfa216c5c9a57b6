/**
 * The copying-memory problem (Hochreiter & Schmidhuber 1997; in the form of Arjovsky et al. 2016): remember 10
 * symbols across a delay and replay them on a cue.
 *
 * Alphabet of 10 categories: 0 = blank, 1..8 = symbols, 9 = delimiter. With delay D (`length`), a sequence has
 * T = D + 20 steps (t counted from 0):
 *
 *   input:  s_0 .. s_9 (uniform over 1..8, with replacement) | D - 1 blanks | delimiter | 10 blanks
 *   target: blank for the first D + 10 steps                                            | s_0 .. s_9
 *
 * so the delimiter arrives at step D + 9 and s_k must be produced at step D + 10 + k, D + 10 steps after it was
 * seen. Inputs are one-hot over the 10 categories; outputs are 10 classes (the delimiter is never a target, but
 * sharing the alphabet keeps input and output the same size). Every step is scored: cross-entropy averaged over
 * all T x batch positions, as in the paper.
 *
 * Baseline (Arjovsky et al. 2016): a memoryless model answers blank until the delimiter, then guesses uniformly
 * among the 8 symbols: loss 10 ln 8 / (D + 20), per-position accuracy (D + 10 + 10/8) / (D + 20).
 *
 * The default delay is 50 (the papers use 100 to 2000) to keep a default run cheap in a CPU engine; raise
 * `length` for a harder memory test.
 */
import { Rng } from '../tensor/rng.js';
import { checkBatchSize, oneHot } from './batch.js';
import type { Baseline, Batch, LossKind, SequenceSpec, Task } from './task.js';

export interface CopyOptions {
  /** The delay D between the last symbol and the delimiter cue; the sequence has D + 20 steps. */
  length: number;
}

export const COPY_EVAL_SIZE = 1000;
/** Symbols to remember. */
export const COPY_SYMBOLS_SHOWN = 10;
/** Distinct symbols (categories 1..8). */
export const COPY_ALPHABET = 8;
export const COPY_BLANK = 0;
export const COPY_DELIMITER = 9;
/** Categories, for both inputs and outputs. */
export const COPY_CATEGORIES = 10;

export class CopyTask implements Task {
  readonly name = 'copy';
  readonly loss: LossKind = 'cross-entropy';
  readonly inputSize = COPY_CATEGORIES;
  readonly outputSize = COPY_CATEGORIES;
  readonly sequence: SequenceSpec;
  readonly baseline: Baseline;
  /** The delay D. */
  readonly delay: number;
  private cachedEval: Batch | null = null;

  constructor(
    options: CopyOptions,
    private readonly seed: number,
  ) {
    this.delay = options.length;
    const steps = options.length + 2 * COPY_SYMBOLS_SHOWN;
    this.sequence = { length: steps, scored: 'every' };
    this.baseline = {
      loss: (COPY_SYMBOLS_SHOWN * Math.log(COPY_ALPHABET)) / steps,
      accuracy: (steps - COPY_SYMBOLS_SHOWN + COPY_SYMBOLS_SHOWN / COPY_ALPHABET) / steps,
      description:
        `memoryless: blank until the delimiter, then a uniform guess among ${COPY_ALPHABET} symbols ` +
        `(loss ${COPY_SYMBOLS_SHOWN} ln ${COPY_ALPHABET} / ${steps}, averaged over all ${steps} steps)`,
    };
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize(this.name, batchSize);
    return copySequences(this.delay, batchSize, rng);
  }

  evalSet(): Batch {
    const rng = new Rng(this.seed).fork('copy/eval');
    return (this.cachedEval ??= copySequences(this.delay, COPY_EVAL_SIZE, rng));
  }
}

/**
 * The copy task with delay `length`; the seed fixes the 1000 evaluation sequences.
 *
 * @example
 * const task = createCopyTask({ length: 50 }, 0);
 * const { x, labels } = task.trainBatch(16, new Rng(1)); // x: [70, 16, 10], labels: [70 * 16]
 */
export function createCopyTask(options: CopyOptions, seed: number): CopyTask {
  return new CopyTask(options, seed);
}

/** `batch` sequences: x one-hot [T, batch, 10], labels [T * batch] time-major, y their one-hot [T, batch, 10]. */
export function copySequences(delay: number, batch: number, rng: Rng): Batch {
  const steps = delay + 2 * COPY_SYMBOLS_SHOWN;
  const cue = delay + COPY_SYMBOLS_SHOWN - 1;
  const inputs = new Int32Array(steps * batch); // COPY_BLANK everywhere to start
  const labels = new Int32Array(steps * batch);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < COPY_SYMBOLS_SHOWN; k++) {
      const symbol = 1 + rng.int(COPY_ALPHABET);
      inputs[k * batch + b] = symbol;
      labels[(cue + 1 + k) * batch + b] = symbol;
    }
    inputs[cue * batch + b] = COPY_DELIMITER;
  }
  return {
    x: oneHot(inputs, COPY_CATEGORIES, [steps, batch, COPY_CATEGORIES]),
    y: oneHot(labels, COPY_CATEGORIES, [steps, batch, COPY_CATEGORIES]),
    labels,
  };
}
