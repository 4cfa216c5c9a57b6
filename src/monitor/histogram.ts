/**
 * Distributions of weights and gradients over time (TensorBoard's histogram "mountains"): on the logged steps
 * that `monitor.histograms` selects, each weight tensor's values and its gradient are bucketed into a fixed number
 * of equal-width buckets over [min, max] of their finite entries, with NaN and ±Infinity counted beside them
 * (never dropped). Read-only, like the rest of the monitor; browser-safe.
 *
 * Thirty equal-width buckets over [min, max] is what TensorBoard shows: `tf.summary.histogram` (TF2,
 * tensorboard/plugins/histogram/summary_v2.py, `DEFAULT_BUCKET_COUNT = 30`) buckets that way, and the histogram
 * dashboard re-bins TF1/PyTorch histograms into uniform-width bins before drawing, assuming values spread evenly
 * inside each old bin (its frontend's `rebinHistogram`); {@link rebinHistogram} does the same here.
 *
 * @example
 * const h = histogram(Float32Array.from([0, 1, 1, NaN]), 2);
 * // { min: 0, max: 1, counts: [1, 2], nan: 1, posInf: 0, negInf: 0 }
 */
import { histogramOf } from '../kernels/index.js';
import { histogramReference } from '../kernels/ts.js';
import type { Buffer } from '../tensor/tensor.js';

/** The bucket count of every histogram the monitor records (TensorBoard's `DEFAULT_BUCKET_COUNT`). */
export const HISTOGRAM_BUCKETS = 30;

/** Equal-width buckets over [min, max] of the finite entries, and the entries no bucket can hold. */
export interface Histogram {
  /** Smallest finite entry (0 when there is none). */
  min: number;
  /** Largest finite entry (0 when there is none). */
  max: number;
  /**
   * Bucket i holds the finite entries in [min + i w, min + (i + 1) w) with w = (max - min) / counts.length; the
   * last bucket also holds max. When min equals max every finite entry is in the last bucket.
   */
  counts: number[];
  nan: number;
  posInf: number;
  negInf: number;
}

/** What a logged record carries per weight tensor: its name and layer (as in `params`), weights or gradients. */
export interface HistogramRecord extends Histogram {
  name: string;
  layer: number;
  of: 'weight' | 'grad';
}

/**
 * Buckets `values` into `buckets` equal-width buckets over the range of their finite entries. Two passes: the
 * range, then the counts (the kernels' `histogram`: WebAssembly SIMD for float32, `histogramReference` otherwise,
 * the same counts either way). An empty or all-non-finite input gives min = max = 0 and zero counts.
 */
export function histogram(values: ArrayLike<number>, buckets: number = HISTOGRAM_BUCKETS): Histogram {
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new RangeError(`histogram: buckets must be an integer >= 1, got ${buckets}`);
  return values instanceof Float32Array || values instanceof Float64Array
    ? histogramOf(values, buckets)
    : histogramReference(values, values.length, buckets);
}

/**
 * Whether a logged step records histograms: `monitor.histograms` false never, true on every logged step, N on
 * step 1, every N-th logged period (steps that are multiples of N x `monitor.every`) and the last step.
 */
export function histogramsDue(
  step: number,
  monitor: { every: number; histograms?: boolean | number },
  steps: number,
): boolean {
  const setting = monitor.histograms ?? DEFAULT_HISTOGRAMS;
  if (setting === false) return false;
  const period = setting === true ? monitor.every : setting * monitor.every;
  return step === 1 || step === steps || step % period === 0;
}

/** The default of `monitor.histograms`, used too when a config written before the field has none. */
export const DEFAULT_HISTOGRAMS = 5;

/**
 * The histograms of a logged step: for each weight tensor (role `weight`: the matrices and kernels; biases and
 * norm gains are left out to bound the cost), its values and, when it has one, its gradient.
 */
export function weightHistograms(
  parameters: ReadonlyArray<{ data: Buffer; grad: Buffer | null }>,
  info: ReadonlyArray<{ name: string; layer: number; role: string }>,
  buckets: number = HISTOGRAM_BUCKETS,
): HistogramRecord[] {
  const out: HistogramRecord[] = [];
  parameters.forEach((t, i) => {
    const p = info[i];
    if (!p || p.role !== 'weight') return;
    out.push({ name: p.name, layer: p.layer, of: 'weight', ...histogram(t.data, buckets) });
    if (t.grad) out.push({ name: p.name, layer: p.layer, of: 'grad', ...histogram(t.grad, buckets) });
  });
  return out;
}

/**
 * A histogram with arbitrary bucket edges (TensorBoard's `HistogramProto`: bucket i holds the entries in
 * (limit[i-1], limit[i]], the first from min) re-bucketed into `buckets` equal-width buckets over [min, max], each
 * old bucket's count spread over the new ones in proportion to their overlap, as TensorBoard's dashboard does
 * before drawing. Edges of ±DBL_MAX (TensorFlow's outermost buckets) are clipped to min and max.
 */
export function rebinHistogram(
  source: {
    min: number;
    max: number;
    bucketLimit: ArrayLike<number>;
    bucket: ArrayLike<number>;
  },
  buckets: number = HISTOGRAM_BUCKETS,
): Histogram {
  const counts = new Array<number>(buckets).fill(0);
  const { min, max } = source;
  const empty = { min: 0, max: 0, counts, nan: 0, posInf: 0, negInf: 0 };
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) return empty;
  const width = max - min;
  let left = min;
  for (let i = 0; i < source.bucket.length; i++) {
    const count = source.bucket[i] as number;
    const right = Math.min(Math.max(source.bucketLimit[i] as number, min), max);
    const lo = Math.max(left, min);
    left = Math.max(left, right);
    if (!(count > 0)) continue;
    if (width === 0) {
      counts[buckets - 1] = (counts[buckets - 1] as number) + count;
      continue;
    }
    const span = right - lo;
    const first = Math.min(buckets - 1, Math.floor(((lo - min) / width) * buckets));
    const lastBucket = Math.min(buckets - 1, Math.floor(((right - min) / width) * buckets));
    // Overlaps below a billionth of the old bucket are rounding at a shared edge, not a share of its count;
    // the count is spread over the rest in proportion, so the total is kept exactly.
    const overlaps: number[] = [];
    let total = 0;
    for (let b = first; b <= lastBucket && span > 0; b++) {
      const bLo = min + (b / buckets) * width;
      const bHi = min + ((b + 1) / buckets) * width;
      const overlap = Math.min(bHi, right) - Math.max(bLo, lo);
      const kept = overlap > 1e-9 * span ? overlap : 0;
      overlaps.push(kept);
      total += kept;
    }
    if (total === 0) {
      counts[first] = (counts[first] as number) + count;
      continue;
    }
    overlaps.forEach((overlap, j) => {
      if (overlap > 0) counts[first + j] = (counts[first + j] as number) + (count * overlap) / total;
    });
  }
  return { min, max, counts, nan: 0, posInf: 0, negInf: 0 };
}

/**
 * The `histograms` of a record read from a file, checked entry by entry: a well-formed entry is kept, anything else
 * (a log of another writer, a damaged line) is dropped; null when nothing usable is there.
 */
export function readHistogramRecords(value: unknown): HistogramRecord[] | null {
  if (!Array.isArray(value)) return null;
  const count = (v: unknown): number => (typeof v === 'number' && v >= 0 ? v : 0);
  const out: HistogramRecord[] = [];
  for (const raw of value as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue;
    const h = raw as Record<string, unknown>;
    const { name, layer, of, min, max, counts } = h;
    if (
      typeof name !== 'string' ||
      typeof layer !== 'number' ||
      !Number.isInteger(layer) ||
      layer < 0 ||
      (of !== 'weight' && of !== 'grad') ||
      typeof min !== 'number' ||
      typeof max !== 'number' ||
      !Number.isFinite(min) ||
      !Number.isFinite(max) ||
      min > max ||
      !Array.isArray(counts) ||
      counts.length === 0 ||
      !counts.every((c) => typeof c === 'number' && c >= 0 && Number.isFinite(c))
    )
      continue;
    out.push({
      name,
      layer,
      of,
      min,
      max,
      counts: counts as number[],
      nan: count(h['nan']),
      posInf: count(h['posInf']),
      negInf: count(h['negInf']),
    });
  }
  return out.length > 0 ? out : null;
}
