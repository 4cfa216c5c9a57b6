/**
 * The numbers behind the lab's charts, apart from any drawing: smoothing, the alignment of several runs on one
 * step axis, what a log axis can show, and the layer x step grid of the heat map with its one fixed colour scale.
 * Pure and browser-safe, so it is tested in Node.
 *
 * @example
 * const data = alignRuns([{ points: [[1, 2.3], [10, 1.1]] }, { points: [[1, 2.2], [5, 9]] }]);
 * // data.x = [1, 5, 10]; data.ys[1] = [2.2, 9, null]
 * smooth([1, 1, 4], 0.5); // [1, 1, 2.714...]
 */
import type { MetricsRecord } from '../io/runlog.js';
import { layerGradNorm } from '../report/data.js';
import { gradientGrid, type LayerGrid } from '../report/figures.js';

/**
 * Okabe and Ito's colour-blind-safe palette ("Color Universal Design", 2008), black left out: every run in the lab
 * takes its colour from here, in order.
 */
export const OKABE_ITO: readonly string[] = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
];

/** The colour of the n-th run shown (wrapping around). */
export function runColor(index: number): string {
  return OKABE_ITO[((index % OKABE_ITO.length) + OKABE_ITO.length) % OKABE_ITO.length] as string;
}

/**
 * Exponential moving average with TensorBoard's debiasing: s_t = w s_{t-1} + (1 - w) x_t, shown as
 * s_t / (1 - w^n) where n counts the finite values so far, the bias correction of Adam (Kingma and Ba 2015, sec. 3)
 * that keeps the start of the curve from being pulled toward 0. Non-finite values are kept as they are (a NaN
 * stays visible) and do not enter the average. `weight` 0 returns the values unchanged.
 *
 * @example smooth([1, 1, 4], 0.5) // [1, 1, 2.7142857142857144]
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (!(weight >= 0 && weight < 1))
    throw new RangeError(`smoothing weight must be in [0, 1), got ${weight}.`);
  if (weight === 0) return [...values];
  let last = 0;
  let n = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return value;
    last = last * weight + (1 - weight) * value;
    n++;
    return last / (1 - weight ** n);
  });
}

/** What a logarithmic axis can plot: positive finite values; the rest become gaps (null). */
export function forLogAxis(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v !== null && Number.isFinite(v) && v > 0 ? v : null));
}

/** What a linear axis can plot: finite values; NaN and infinities become gaps (they are marked apart). */
export function forLinearAxis(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v !== null && Number.isFinite(v) ? v : null));
}

/** Several runs' (step, value) points on one shared, sorted step axis: a run without a value at a step gets null. */
export function alignRuns(runs: ReadonlyArray<{ points: ReadonlyArray<readonly [number, number]> }>): {
  x: number[];
  ys: (number | null)[][];
} {
  const steps = new Set<number>();
  for (const run of runs) for (const [x] of run.points) steps.add(x);
  const x = [...steps].sort((a, b) => a - b);
  const index = new Map(x.map((step, i) => [step, i]));
  const ys = runs.map((run) => {
    const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
    for (const [step, value] of run.points) y[index.get(step) as number] = value;
    return y;
  });
  return { x, ys };
}

/** Each layer's gradient norm (all its parameters together) at every record, one series per layer, input first. */
export const layerGradSeries = gradientGrid;

/** The metrics the overlay chart can show for every run, keyed by their address name (`metric=`). */
export const METRICS = {
  loss: { title: 'Training loss', yLabel: 'loss', value: (r: MetricsRecord): number => r.loss },
  gradNorm: {
    title: 'Global gradient norm (before clipping)',
    yLabel: '‖∂L/∂θ‖ (L2 norm)',
    value: (r: MetricsRecord): number => r.gradNorm,
  },
  inputGradNorm: {
    title: 'Gradient norm of the input-side layer',
    yLabel: '‖∂L/∂W₀‖ (L2 norm)',
    value: (r: MetricsRecord): number => layerGradNorm(r, Math.min(...r.params.map((p) => p.layer))),
  },
  lr: { title: 'Learning rate', yLabel: 'learning rate', value: (r: MetricsRecord): number => r.lr },
} as const satisfies Record<string, { title: string; yLabel: string; value: (r: MetricsRecord) => number }>;

export type MetricName = keyof typeof METRICS;

/** Whether `name` is one of `METRICS` (for the address). */
export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** The heat map's fixed colour scale, in log10 of the gradient norm: one scale for every run, so colours compare. */
export const HEAT_SCALE = { min: -10, max: 2 } as const;

/** The colour of a cell whose value is NaN or infinite: outside the scale's hues, and hatched by the drawing. */
export const NON_FINITE_COLOR = '#ff2a6d';

/** The colour of a cell whose gradient is exactly 0 (log10 has no value there). */
export const ZERO_COLOR = '#000000';

/** Viridis (van der Walt and Smith, matplotlib 2015): perceptually uniform and readable with colour-blindness. */
const VIRIDIS: ReadonlyArray<readonly [number, number, number]> = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

/** The colour of a gradient norm on the fixed scale (clamped at its ends), as `rgb(r, g, b)`. */
export function heatColor(value: number): string {
  if (!Number.isFinite(value)) return NON_FINITE_COLOR;
  if (value === 0) return ZERO_COLOR;
  const t = Math.min(
    1,
    Math.max(0, (Math.log10(Math.abs(value)) - HEAT_SCALE.min) / (HEAT_SCALE.max - HEAT_SCALE.min)),
  );
  const at = t * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(at));
  const f = at - i;
  const a = VIRIDIS[i] as readonly [number, number, number];
  const b = VIRIDIS[i + 1] as readonly [number, number, number];
  const mix = (k: 0 | 1 | 2): number => Math.round(a[k] + (b[k] - a[k]) * f);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

/** The colour of layer `index` of `count` on the viridis ramp: input side dark, output side light. */
export function depthColor(index: number, count: number): string {
  const t = count <= 1 ? 0 : index / (count - 1);
  return heatColor(10 ** (HEAT_SCALE.min + t * 0.92 * (HEAT_SCALE.max - HEAT_SCALE.min)));
}

/** The heat map's grid: `values[layer][column]`, columns in step order, layers input side first. */
export type HeatGrid = LayerGrid;

/** The layer x step grid of gradient norms (NaN where a layer has no parameter gradient at a step): the report's. */
export const heatGrid = gradientGrid;

/**
 * The column of the grid under a horizontal position, for the tooltip: `fraction` of the width, 0 to 1.
 *
 * @example columnAt(10, 0.05) // 0
 */
export function columnAt(columns: number, fraction: number): number {
  if (columns <= 0) return -1;
  return Math.max(0, Math.min(columns - 1, Math.floor(fraction * columns)));
}

/** A time in words: "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ageText(mtime: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - mtime) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}
