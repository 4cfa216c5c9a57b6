/**
 * Layout helpers shared by the tasks: one-hot targets, the time-major transpose and batch-size checks.
 */
import type { Rng } from '../tensor/rng.js';
import { Tensor, type Shape } from '../tensor/tensor.js';

/** Labelled examples stored row by row: row r's features are `x[r * features .. (r + 1) * features)`. */
export interface Examples {
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** Throws unless `batchSize` is a positive integer. */
export function checkBatchSize(task: string, batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `${task}.trainBatch needs a positive integer batch size, got ${batchSize}; set train.batchSize to e.g. 64.`,
    );
  }
}

/** The one-hot float32 encoding of `labels`, shaped `shape` (whose last dimension is `classes`). */
export function oneHot(labels: Int32Array, classes: number, shape: Shape): Tensor {
  const data = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) data[i * classes + (labels[i] as number)] = 1;
  return new Tensor(data, shape);
}

/**
 * Reorders `batch` sequences stored example-major ([batch, steps, inputs]) into time-major
 * ([steps, batch, inputs]), the layout recurrent models unroll over.
 */
export function toTimeMajor(x: Float32Array, batch: number, steps: number, inputs: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const from = (b * steps + t) * inputs;
      const to = (t * batch + b) * inputs;
      for (let i = 0; i < inputs; i++) out[to + i] = x[from + i] as number;
    }
  }
  return out;
}

/**
 * `batchSize` rows drawn uniformly with replacement from `rows` of `pool` (all rows when `rows` is null).
 * Sampling with replacement keeps a batch a function of the rng state alone, with no epoch bookkeeping.
 */
export function sampleRows(
  pool: Examples,
  rows: Int32Array | null,
  features: number,
  batchSize: number,
  rng: Rng,
): Examples {
  const x = new Float32Array(batchSize * features);
  const labels = new Int32Array(batchSize);
  const available = rows === null ? pool.count : rows.length;
  for (let b = 0; b < batchSize; b++) {
    const pick = rng.int(available);
    const row = rows === null ? pick : (rows[pick] as number);
    x.set(pool.x.subarray(row * features, (row + 1) * features), b * features);
    labels[b] = pool.labels[row] as number;
  }
  return { x, labels, count: batchSize };
}

/** Copies the listed rows of `pool` into their own examples, in the given order. */
export function takeRows(pool: Examples, rows: Int32Array, features: number): Examples {
  const x = new Float32Array(rows.length * features);
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as number;
    x.set(pool.x.subarray(row * features, (row + 1) * features), i * features);
    labels[i] = pool.labels[row] as number;
  }
  return { x, labels, count: rows.length };
}

/** How many times each class occurs. */
export function classCounts(labels: Int32Array, classes: number): Int32Array {
  const counts = new Int32Array(classes);
  for (const label of labels) counts[label] = (counts[label] as number) + 1;
  return counts;
}

/**
 * The accuracy, on `evalLabels`, of always answering the most frequent class of `trainLabels` (the lowest id
 * on ties): what a classifier that learned only the class prior scores.
 */
export function majorityAccuracy(trainLabels: Int32Array, evalLabels: Int32Array, classes: number): number {
  const counts = classCounts(trainLabels, classes);
  let majority = 0;
  for (let c = 1; c < classes; c++) if ((counts[c] as number) > (counts[majority] as number)) majority = c;
  let hits = 0;
  for (const label of evalLabels) if (label === majority) hits++;
  return evalLabels.length === 0 ? 0 : hits / evalLabels.length;
}
