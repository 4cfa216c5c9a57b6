/**
 * Algorithmic sequence-to-sequence tasks whose difficulty grows with length: read n symbols, then write them
 * reversed (`reverse`, the task of Sutskever et al. 2014's source-reversal observation and Graves et al. 2014's
 * Neural Turing Machine experiments) or sorted (`sort`, Vinyals et al. 2015, "Pointer Networks" and "Order Matters").
 * One implementation; the output order is its setting.
 *
 * Categories: 0 = blank, 1..C = symbols (C = `classes`), C + 1 = delimiter. With n = `length`, a sequence has
 * T = 2n + 1 steps (t from 0):
 *
 *   input:  s_0 .. s_(n-1) (uniform over 1..C, with replacement) | delimiter | n blanks
 *   target: n + 1 blanks                                                     | a_0 .. a_(n-1)
 *
 * where a is s reversed, sorted ascending, or translated (`translate`, a toy translation with reordering: each
 * symbol through a fixed dictionary, v -> v mod C + 1, and each consecutive pair of words swapped, as an
 * adjective-noun pair changes order between English and French; an odd last word stays in place). The
 * plain encoder-decoder must hold the whole source in one state, which fails as n grows (Sutskever et al. 2014;
 * Bahdanau et al. 2015), while attention reads each source word where the reordering puts it. Answer a_k is due
 * at step n + 1 + k; for `reverse` it was read at step
 * n - 1 - k, so the gap grows from 2 to 2n steps: what a recurrent encoder must carry, and what attention reads
 * directly (Bahdanau et al. 2015). Inputs and outputs are one-hot over the C + 2 categories; every step is scored.
 *
 * Baseline: a model that knows the step but not the input. Blanks are certain; at answer k it can only guess the
 * distribution of a_k: uniform over C for `reverse`; for `sort` the distribution of the (k+1)-th smallest of n
 * uniform draws, P(a_k <= v) = sum_(j > k) C(n, j) F^j (1 - F)^(n - j) with F = v / C. The baseline loss is
 * the mean entropy over all T steps, its accuracy the mean best-guess probability.
 */
import { Rng } from '../tensor/rng.js';
import { checkBatchSize, oneHot } from './batch.js';
import type { Baseline, Batch, LossKind, SequenceSpec, Task } from './task.js';

export const TRANSDUCTIONS = ['reverse', 'sort', 'translate'] as const;
export type Transduction = (typeof TRANSDUCTIONS)[number];

export interface TransductionOptions {
  /** Symbols to read, n; the sequence has 2n + 1 steps. */
  length: number;
  /** Distinct symbols, C. */
  classes: number;
}

export const TRANSDUCTION_EVAL_SIZE = 512;

export class TransductionTask implements Task {
  readonly loss: LossKind = 'cross-entropy';
  readonly inputSize: number;
  readonly outputSize: number;
  readonly tokens = true;
  readonly sequence: SequenceSpec;
  readonly baseline: Baseline;
  readonly symbols: number;
  readonly delimiter: number;
  readonly sourceLength: number;
  private cachedEval: Batch | null = null;

  constructor(
    readonly name: Transduction,
    readonly options: TransductionOptions,
    private readonly seed: number,
  ) {
    const { length: n, classes: C } = options;
    this.symbols = n;
    this.delimiter = C + 1;
    this.sourceLength = n + 1;
    this.inputSize = C + 2;
    this.outputSize = C + 2;
    this.sequence = { length: 2 * n + 1, scored: 'every' };
    this.baseline = positionOnlyBaseline(name, n, C);
  }

  trainBatch(batchSize: number, rng: Rng): Batch {
    checkBatchSize(this.name, batchSize);
    return this.sequences(batchSize, rng);
  }

  evalSet(): Batch {
    return (this.cachedEval ??= this.sequences(
      TRANSDUCTION_EVAL_SIZE,
      new Rng(this.seed).fork(`${this.name}/eval`),
    ));
  }

  /** `batch` sequences: x one-hot [T, batch, C + 2], labels [T * batch] time-major, y their one-hot. */
  private sequences(batch: number, rng: Rng): Batch {
    const n = this.symbols;
    const C = this.options.classes;
    const T = 2 * n + 1;
    const inputs = new Int32Array(T * batch);
    const labels = new Int32Array(T * batch);
    const read = new Int32Array(n);
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < n; k++) {
        read[k] = 1 + rng.int(C);
        inputs[k * batch + b] = read[k] as number;
      }
      inputs[n * batch + b] = this.delimiter;
      const answer = ANSWERS[this.name](read, C);
      for (let k = 0; k < n; k++) labels[(n + 1 + k) * batch + b] = answer[k] as number;
    }
    const K = C + 2;
    return { x: oneHot(inputs, K, [T, batch, K]), y: oneHot(labels, K, [T, batch, K]), labels };
  }
}

/** What each task writes for the symbols it read (1..C): one rule per task, keyed so none can be missing. */
const ANSWERS: { readonly [K in Transduction]: (read: Int32Array, C: number) => Int32Array } = {
  reverse: (read) => read.slice().reverse(),
  sort: (read) => read.slice().sort(),
  translate: (read, C) => {
    const out = new Int32Array(read.length);
    for (let k = 0; k < read.length; k++) {
      // Pairs (0 1), (2 3), ... swapped; an odd last word keeps its place.
      const from = k % 2 === 0 ? (k + 1 < read.length ? k + 1 : k) : k - 1;
      out[k] = ((read[from] as number) % C) + 1;
    }
    return out;
  },
};

/** log C(n, j), exact enough for the n of these tasks. */
function logChoose(n: number, j: number): number {
  let s = 0;
  for (let i = 1; i <= j; i++) s += Math.log(n - j + i) - Math.log(i);
  return s;
}

/** P(the (k+1)-th smallest of n uniform draws over 1..C is <= v). */
function orderStatisticCdf(n: number, C: number, k: number, v: number): number {
  if (v <= 0) return 0;
  if (v >= C) return 1;
  const F = v / C;
  let p = 0;
  for (let j = k + 1; j <= n; j++)
    p += Math.exp(logChoose(n, j) + j * Math.log(F) + (n - j) * Math.log(1 - F));
  return p;
}

/** What a model that knows the step but not the input scores (see the file comment). */
export function positionOnlyBaseline(order: Transduction, n: number, C: number): Baseline {
  const T = 2 * n + 1;
  let entropy = 0;
  let best = n + 1; // the blank steps are certain
  for (let k = 0; k < n; k++) {
    // A dictionary permutes uniform symbols into uniform symbols: translate's answers are uniform as reverse's are.
    if (order === 'reverse' || order === 'translate') {
      entropy += Math.log(C);
      best += 1 / C;
      continue;
    }
    let top = 0;
    for (let v = 1; v <= C; v++) {
      const p = orderStatisticCdf(n, C, k, v) - orderStatisticCdf(n, C, k, v - 1);
      if (p > 0) entropy -= p * Math.log(p);
      top = Math.max(top, p);
    }
    best += top;
  }
  return {
    loss: entropy / T,
    accuracy: best / T,
    description:
      order !== 'sort'
        ? `no memory of the input: blanks, then a uniform guess among ${C} symbols (loss ${n} ln ${C} / ${T})`
        : `no memory of the input: blanks, then each sorted position's order-statistic distribution over ${C} symbols`,
  };
}

/**
 * A reversal, sorting or toy translation task; the seed fixes the 512 evaluation sequences.
 * @example
 * const task = createTransductionTask('reverse', { length: 10, classes: 8 }, 0);
 * task.trainBatch(32, new Rng(1)).x.shape; // [21, 32, 10]
 */
export function createTransductionTask(
  order: Transduction,
  options: TransductionOptions,
  seed: number,
): TransductionTask {
  return new TransductionTask(order, options, seed);
}
