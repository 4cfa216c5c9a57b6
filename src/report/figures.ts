/**
 * The figures of a run, as data: which logged records a chart shows and the (x, y) points it draws from them, for
 * every chart the report (`run-report`, `comparison`) and the lab (`web/panels`, `web/series`) have in common. The
 * drawings add only colours, sizes and titles, so a figure is computed once, in one place, for both. Pure and
 * browser-safe.
 *
 * @example
 * depthProfile(records, layerGradNorm);
 * // [{ moment: 'start', step: 1, name: 'step 1 (initialisation)', points: [[0, 3e-9], [1, 2e-7], ...] },
 * //  { moment: 'end', step: 500, name: 'step 500', points: [...] }]
 */
import type { MetricsRecord } from '../io/runlog.js';
import {
  activationFraction,
  activationLayers,
  firstMiddleLast,
  layerGradNorm,
  paramLayers,
  startAndEnd,
  stepLabel,
  timeGradRecords,
} from './data.js';

/** A line's points: x (a step, a layer or a time step) and y. */
export type Points = Array<readonly [number, number]>;

/** Which logged record a profile shows: the first, one in the middle, the last the guard did not skip. */
export type Moment = 'start' | 'middle' | 'end';

/** A profile over layers or time steps at one logged record. */
export interface MomentLine {
  moment: Moment;
  step: number;
  /** The legend: `step 1 (initialisation)`, `step 480 (last not skipped)`, `step 500`. */
  name: string;
  points: Points;
}

/** A per-step metric: one point per logged record. */
export function perStep(records: readonly MetricsRecord[], value: (r: MetricsRecord) => number): Points {
  return records.map((r) => [r.step, value(r)] as const);
}

/** The training loss at each logged step. */
export function lossLine(records: readonly MetricsRecord[]): Points {
  return perStep(records, (r) => r.loss);
}

/** The global gradient norm before clipping and after it, at each logged step. */
export function gradNormLines(records: readonly MetricsRecord[]): { before: Points; after: Points } {
  return { before: perStep(records, (r) => r.gradNorm), after: perStep(records, (r) => r.gradNormClipped) };
}

/** The steps the guard skipped (a non-finite loss or gradient), for the charts' markers. */
export function skippedSteps(records: readonly MetricsRecord[]): number[] {
  return records.filter((r) => r.skipped).map((r) => r.step);
}

/**
 * The gradient norm of the input-side layer and of the output-side layer at each logged step (`last` is null for
 * a model of one layer, `first` too when no parameter gradient was logged).
 */
export function edgeLayerLines(records: readonly MetricsRecord[]): {
  first: { layer: number; points: Points } | null;
  last: { layer: number; points: Points } | null;
} {
  const layers = paramLayers(records);
  const line = (layer: number | undefined): { layer: number; points: Points } | null =>
    layer === undefined ? null : { layer, points: perStep(records, (r) => layerGradNorm(r, layer)) };
  const first = layers[0];
  const last = layers[layers.length - 1];
  return { first: line(first), last: last === first ? null : line(last) };
}

/**
 * A per-layer value at the first logged record and at the last one the guard did not skip (a skipped step's
 * gradients are not a picture of training): the depth profile of the gradient norm or the update ratio.
 */
export function depthProfile(
  records: readonly MetricsRecord[],
  value: (r: MetricsRecord, layer: number) => number,
): MomentLine[] {
  const layers = paramLayers(records);
  return startEndRecords(records).map(({ moment, record }) => ({
    moment,
    step: record.step,
    name: stepLabel(record, records),
    points: layers.map((l) => [l, value(record, l)] as const),
  }));
}

/** Saturated or dead units per layer at the first logged record and at the last one the guard did not skip. */
export function activationProfile(
  records: readonly MetricsRecord[],
  field: 'saturated' | 'dead',
): { layers: number[]; bars: Array<{ moment: Moment; step: number; name: string; values: number[] }> } {
  const layers = activationLayers(records);
  return {
    layers,
    bars: startEndRecords(records).map(({ moment, record }) => ({
      moment,
      step: record.step,
      name: stepLabel(record, records),
      values: layers.map((l) => activationFraction(record, l, field)),
    })),
  };
}

/** ||dL/dh_t|| over the time steps t = 1..T at the first, a middle and the last record that has them. */
export function timeProfile(records: readonly MetricsRecord[]): MomentLine[] {
  const picks = firstMiddleLast(timeGradRecords(records));
  const moments: readonly Moment[] =
    picks.length === 3 ? ['start', 'middle', 'end'] : picks.length === 2 ? ['start', 'end'] : ['end'];
  return picks.map((record, i) => ({
    moment: moments[i] ?? 'end',
    step: record.step,
    name: `step ${record.step}`,
    points: (record.timeGrad ?? []).map((g, t) => [t + 1, g] as const),
  }));
}

/** ||dL/dh_1|| / ||dL/dh_T||: how much of the gradient entering at the end reaches the start (NaN without). */
export function timeGradRatio(timeGrad: readonly number[]): number {
  const first = timeGrad[0];
  const last = timeGrad[timeGrad.length - 1];
  if (first === undefined || last === undefined) return NaN;
  return first / last;
}

/** `timeGradRatio` at each logged step that has per-time-step gradients. */
export function timeReachLine(records: readonly MetricsRecord[]): Points {
  return perStep(timeGradRecords(records), (r) => timeGradRatio(r.timeGrad ?? []));
}

/** The heat map's grid of gradient norms: `values[layer][column]`, layers input side first, columns in step order. */
export interface LayerGrid {
  layers: number[];
  steps: number[];
  values: number[][];
}

/** Each layer's gradient norm (all its parameters together) at every logged record (NaN where it has none). */
export function gradientGrid(records: readonly MetricsRecord[]): LayerGrid {
  const layers = paramLayers(records);
  return {
    layers,
    steps: records.map((r) => r.step),
    values: layers.map((layer) => records.map((r) => layerGradNorm(r, layer))),
  };
}

/**
 * ||dL/dh_t|| by time step (rows, t = 1 first) and logged step (columns), with at most `maxRows` rows: blocks of
 * time steps are merged by their geometric mean (the mean of log10) when the sequence is long; a non-finite value
 * makes its block non-finite and a zero makes it 0.
 */
export function timeGrid(
  records: readonly MetricsRecord[],
  maxRows: number,
): { rowLabels: string[]; steps: number[]; values: number[][] } {
  const length = records.reduce((n, r) => Math.max(n, r.timeGrad?.length ?? 0), 0);
  const block = Math.max(1, Math.ceil(length / maxRows));
  const rows = Math.ceil(length / block);
  const rowLabels: string[] = [];
  const values: number[][] = [];
  for (let row = 0; row < rows; row++) {
    const first = row * block;
    const last = Math.min(length, first + block) - 1;
    rowLabels.push(first === last ? `t ${first + 1}` : `t ${first + 1}–${last + 1}`);
    values.push(
      records.map((r) => {
        let sum = 0;
        let count = 0;
        for (let t = first; t <= last; t++) {
          const g = r.timeGrad?.[t] ?? NaN;
          if (!Number.isFinite(g) || g < 0) return NaN;
          if (g === 0) return 0;
          sum += Math.log10(g);
          count++;
        }
        return count ? 10 ** (sum / count) : NaN;
      }),
    );
  }
  return { rowLabels, steps: records.map((r) => r.step), values };
}

function startEndRecords(
  records: readonly MetricsRecord[],
): Array<{ moment: Moment; record: MetricsRecord }> {
  const { start, end } = startAndEnd(records);
  const picks: Array<{ moment: Moment; record: MetricsRecord }> = [];
  if (start) picks.push({ moment: 'start', record: start });
  if (end) picks.push({ moment: 'end', record: end });
  return picks;
}
