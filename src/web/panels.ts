/**
 * The lab's live plots as SVG strings, drawn with the report's chart primitives (src/report/svg.ts) from a run's
 * logged records. Pure and browser-safe: the page calls them each time a run logs a step.
 *
 * @example
 * element.innerHTML = heatMapPanel(run.records);
 */
import type { MetricsRecord } from '../io/runlog.js';
import {
  activationProfile,
  depthProfile,
  edgeLayerLines,
  lossLine,
  skippedSteps,
  timeProfile,
  timeReachLine,
  type Moment,
} from '../report/figures.js';
import { layerGradNorm, layerUpdateRatio } from '../report/data.js';
import { formatNumber } from '../report/format.js';
import { gradientHeatMap } from '../report/run-report.js';
import { barChart, lineChart, type Series, type XMarker } from '../report/svg.js';
import { OKABE_ITO } from './series.js';

/** Run colours: A blue, B orange (Okabe and Ito's palette, series.ts), everywhere in the lab. */
export const RUN_COLORS = { A: OKABE_ITO[0] as string, B: OKABE_ITO[1] as string } as const;

/** Colours for the first logged step and the latest one in the depth and time profiles. */
const START = '#9aa5b1';
const MIDDLE = '#f28e2b';
const LATEST = '#4e79a7';

const WIDTH = 560;
const HEIGHT = 290;
/** Panels that span the page's width are drawn wider, so their text keeps its size when scaled. */
const WIDE = 1000;

/** A run as a chart series source. */
export interface PlottedRun {
  label: 'A' | 'B';
  records: readonly MetricsRecord[];
}

function skippedMarkers(records: readonly MetricsRecord[]): XMarker[] {
  return skippedSteps(records).map((step) => ({ x: step, kind: 'skipped' as const }));
}

const MOMENT_COLOR: { readonly [M in Moment]: string } = { start: START, middle: MIDDLE, end: LATEST };

/** A profile's legend in the lab, where the last record of a live run is "the latest". */
function labName(
  line: { moment: Moment; step: number; name: string },
  records: readonly MetricsRecord[],
): string {
  if (line.moment !== 'end') return line.name;
  return `step ${line.step}${line.step === records[records.length - 1]?.step ? ' (latest)' : ' (latest not skipped)'}`;
}

/** Loss at each logged step, one line per run, with the baseline loss when there is one. */
export function lossPanel(
  runs: readonly PlottedRun[],
  options: { id?: string; baseline?: number } = {},
): string {
  const baseline = options.baseline;
  return lineChart({
    id: options.id ?? 'lab-loss',
    title: 'Training loss',
    xLabel: 'step',
    yLabel: 'loss',
    integerX: true,
    width: WIDTH,
    height: HEIGHT,
    series: runs.map((run) => ({
      name: `run ${run.label}`,
      points: lossLine(run.records),
      color: RUN_COLORS[run.label],
    })),
    markers: runs.flatMap((run) => skippedMarkers(run.records)),
    references:
      baseline !== undefined && Number.isFinite(baseline)
        ? [{ y: baseline, label: `baseline ${formatNumber(baseline)}` }]
        : [],
    yScale: 'auto',
    emptyMessage: 'press Start: the loss appears at the first logged step',
  });
}

/**
 * The gradient norm of the layer nearest the input (and, dashed, of the output layer) over the steps, one colour
 * per run: the number a vanishing gradient drives toward zero.
 */
export function firstLayerPanel(runs: readonly PlottedRun[], options: { id?: string } = {}): string {
  const series: Series[] = [];
  for (const run of runs) {
    const { first, last } = edgeLayerLines(run.records);
    if (first === null) continue;
    series.push({
      name: `${run.label}: layer ${first.layer} (input)`,
      points: first.points,
      color: RUN_COLORS[run.label],
    });
    if (last !== null)
      series.push({
        name: `${run.label}: layer ${last.layer} (output)`,
        points: last.points,
        color: RUN_COLORS[run.label],
        dashed: true,
      });
  }
  return lineChart({
    id: options.id ?? 'lab-first-layer',
    title: 'Gradient norm of the first and last layer',
    xLabel: 'step',
    yLabel: '‖g‖ per layer',
    integerX: true,
    width: WIDTH,
    height: HEIGHT,
    series,
    markers: runs.flatMap((run) => skippedMarkers(run.records)),
    yScale: 'log',
    emptyMessage: 'no gradients logged yet',
  });
}

/**
 * How much of the gradient at the last time step reaches the first, ‖∂L/∂h₁‖ / ‖∂L/∂h_T‖, over the steps, one
 * line per recurrent run.
 */
export function timeReachPanel(runs: readonly PlottedRun[], options: { id?: string } = {}): string {
  return lineChart({
    id: options.id ?? 'lab-time-reach',
    title: 'Share of the gradient that reaches the first time step',
    xLabel: 'step',
    yLabel: '‖∂L/∂h₁‖ / ‖∂L/∂h_T‖',
    integerX: true,
    width: WIDTH,
    height: HEIGHT,
    series: runs.map((run) => ({
      name: `run ${run.label}`,
      points: timeReachLine(run.records),
      color: RUN_COLORS[run.label],
    })),
    references: [{ y: 0.01, label: '1% (vanishing below)' }],
    yScale: 'log',
    emptyMessage: 'no per-time-step gradients logged (recurrent models only)',
  });
}

/** log10 of each layer's gradient norm, layers (input at the bottom) by logged steps (the report's drawing). */
export function heatMapPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return gradientHeatMap(records, { id: options.id ?? 'lab-heatmap', maxColumns: 200, width: WIDE });
}

function depthSeries(
  records: readonly MetricsRecord[],
  value: (r: MetricsRecord, layer: number) => number,
): Series[] {
  return depthProfile(records, value).map((line) => ({
    name: labName(line, records),
    points: line.points,
    color: MOMENT_COLOR[line.moment],
    dots: true,
  }));
}

/** Each layer's gradient norm at initialisation and at the latest logged step. */
export function depthPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return lineChart({
    id: options.id ?? 'lab-depth',
    title: 'Gradient norm over depth',
    xLabel: 'layer (0 = input side)',
    yLabel: '‖g‖ per layer',
    integerX: true,
    width: WIDTH,
    height: HEIGHT,
    series: depthSeries(records, layerGradNorm),
    yScale: 'log',
    emptyMessage: 'no gradients logged yet',
  });
}

/** Each layer's update/weight ratio at initialisation and at the latest logged step, beside the 10⁻³ rule of thumb. */
export function updateRatioPanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return lineChart({
    id: options.id ?? 'lab-update-ratio',
    title: 'Update to weight ratio per layer',
    xLabel: 'layer (0 = input side)',
    yLabel: '‖Δw‖ / ‖w‖',
    integerX: true,
    width: WIDTH,
    height: HEIGHT,
    series: depthSeries(records, layerUpdateRatio),
    references: [{ y: 1e-3, label: '10⁻³ (rule of thumb)' }],
    yScale: 'log',
    emptyMessage: 'no updates logged yet',
  });
}

/** Saturated or dead units per layer at initialisation and at the latest logged step, as bars. */
export function activationPanel(
  records: readonly MetricsRecord[],
  field: 'saturated' | 'dead',
  options: { id?: string } = {},
): string {
  const { layers, bars } = activationProfile(records, field);
  return barChart({
    id: options.id ?? `lab-${field}`,
    title: field === 'saturated' ? 'Saturated units per layer' : 'Dead units per layer',
    groups: layers.map(String),
    series: bars.map((bar) => ({
      name: labName(bar, records),
      values: bar.values,
      color: MOMENT_COLOR[bar.moment],
    })),
    xLabel: 'layer (0 = input side)',
    yLabel: field === 'saturated' ? 'saturated units' : 'dead units',
    width: WIDTH,
    height: 210,
  });
}

/** ‖∂L/∂h_t‖ over the time steps at the first, a middle and the latest logged step (recurrent models). */
export function timePanel(records: readonly MetricsRecord[], options: { id?: string } = {}): string {
  return lineChart({
    id: options.id ?? 'lab-time',
    title: 'Gradient through time',
    xLabel: 'time step t (the loss is read at the end)',
    yLabel: '‖∂L/∂hₜ‖',
    integerX: true,
    width: WIDE,
    height: HEIGHT,
    series: timeProfile(records).map((line) => ({
      name: line.name,
      points: line.points,
      color: MOMENT_COLOR[line.moment],
    })),
    yScale: 'log',
    emptyMessage: 'no per-time-step gradients logged yet',
  });
}
