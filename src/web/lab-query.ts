/**
 * The lab's address options, so a teacher can hand out a link that opens (and runs) a given experiment and a test
 * can drive the page without clicking:
 *
 * - `preset=<name>`: the experiment to load (default `deep-sigmoid`); `config=<JSON>` loads a whole config instead.
 * - `steps=<N>`, `seed=<S>`: written into the loaded config (`train.steps`, `seed`).
 * - `autorun=1`: start training at once.
 * - `fix=<K>`: when run A is over, apply fix K (1-based) of its most serious finding and run B beside it.
 * - `speed=slow|medium|fast`.
 * - `runs=a,b`: the runs of the folder (`gradscope lab --runs DIR`) shown and overlaid; `view=NAME` the one the
 *   detail panels show (`A`, `B` for the page's own runs).
 * - `smooth=0.6`: the smoothing weight of the line charts (0 to 0.99); `log=1`: logarithmic y axes.
 * - `metric=loss|gradNorm|inputGradNorm|lr`: the metric overlaid across runs.
 * - `hist=<parameter>`, `histOf=weight|grad`: the weight tensor and the kind the distributions panel shows.
 *
 * @example parseLabQuery('?preset=adding-rnn&steps=60&autorun=1').options.steps // 60
 */

import { isRunName, RUN_NAME_ACCEPTED } from '../config/index.js';
import { isMetricName, METRICS, type MetricName } from './series.js';

export const SPEEDS = ['slow', 'medium', 'fast'] as const;
export type Speed = (typeof SPEEDS)[number];

/** Training steps per second at each speed (fast: as many as the machine allows). */
export const STEPS_PER_SECOND: Readonly<Record<Speed, number>> = { slow: 4, medium: 20, fast: Infinity };

export const DEFAULT_PRESET = 'deep-sigmoid';

export interface LabOptions {
  preset: string;
  /** Config text from `config=`, shown and run instead of the preset. */
  configText: string | null;
  steps: number | null;
  seed: number | null;
  autorun: boolean;
  /** 1-based index of the fix to apply automatically when run A is over. */
  fix: number | null;
  speed: Speed;
  /** Folder runs to show, in order (each a run name). */
  runs: string[];
  /** The run the detail panels show: a folder run's name, or `A` / `B`; null for the default. */
  view: string | null;
  /** Smoothing weight of the line charts, 0 (none) to 0.99. */
  smoothing: number;
  /** Logarithmic y axes. */
  log: boolean;
  /** The metric overlaid across runs. */
  metric: MetricName;
  /** The parameter whose distribution is shown (its first when null or absent from the run). */
  histogram: string | null;
  /** Weights or their gradients in the distributions panel. */
  histogramOf: HistogramOf;
}

export const HISTOGRAM_KINDS = ['weight', 'grad'] as const;
export type HistogramOf = (typeof HISTOGRAM_KINDS)[number];

/** A parameter name as writers spell them (`layers.0.weight`, `dense_1/kernel_0`): no spaces, quotes or markup. */
const PARAMETER_NAME = /^[\w.:/-]{1,200}$/;

/** TensorBoard's default smoothing weight. */
export const DEFAULT_SMOOTHING = 0.6;
export const MAX_SMOOTHING = 0.99;
/** At most this many folder runs in one address (and on one chart). */
export const MAX_SHOWN_RUNS = 24;

function integerParam(
  params: URLSearchParams,
  key: string,
  min: number,
  max: number,
  problems: string[],
): number | null {
  const raw = params.get(key);
  if (raw === null || raw === '') return null;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${key}=${raw} in the address is ignored: expected a whole number from ${min} to ${max}.`);
    return null;
  }
  return value;
}

/** Reads the options from a query string (`location.search`); unusable values are reported and ignored. */
export function parseLabQuery(search: string): { options: LabOptions; problems: string[] } {
  const params = new URLSearchParams(search);
  const problems: string[] = [];
  const speedText = params.get('speed');
  let speed: Speed = 'fast';
  if (speedText !== null) {
    if ((SPEEDS as readonly string[]).includes(speedText)) speed = speedText as Speed;
    else problems.push(`speed=${speedText} in the address is ignored: expected ${SPEEDS.join(', ')}.`);
  }
  const autorun = params.get('autorun');
  const runs: string[] = [];
  for (const name of (params.get('runs') ?? '').split(',').filter((n) => n !== '')) {
    if (!isRunName(name))
      problems.push(`runs=${name} in the address is ignored: a run name is ${RUN_NAME_ACCEPTED}.`);
    else if (runs.length >= MAX_SHOWN_RUNS)
      problems.push(
        `runs=${name} in the address is ignored: at most ${MAX_SHOWN_RUNS} runs are shown at once.`,
      );
    else if (!runs.includes(name)) runs.push(name);
  }
  const viewText = params.get('view');
  let view: string | null = null;
  if (viewText !== null && viewText !== '') {
    if (isRunName(viewText)) view = viewText;
    else problems.push(`view=${viewText} in the address is ignored: a run name is ${RUN_NAME_ACCEPTED}.`);
  }
  const smoothText = params.get('smooth');
  let smoothing = DEFAULT_SMOOTHING;
  if (smoothText !== null && smoothText !== '') {
    const value = Number(smoothText);
    if (Number.isFinite(value) && value >= 0 && value <= MAX_SMOOTHING) smoothing = value;
    else
      problems.push(
        `smooth=${smoothText} in the address is ignored: expected a number from 0 to ${MAX_SMOOTHING}.`,
      );
  }
  const log = params.get('log');
  const metricText = params.get('metric');
  let metric: MetricName = 'loss';
  if (metricText !== null && metricText !== '') {
    if (isMetricName(metricText)) metric = metricText;
    else
      problems.push(
        `metric=${metricText} in the address is ignored: expected ${Object.keys(METRICS).join(', ')}.`,
      );
  }
  const histText = params.get('hist');
  let histogram: string | null = null;
  if (histText !== null && histText !== '') {
    if (PARAMETER_NAME.test(histText)) histogram = histText;
    else
      problems.push(
        `hist=${histText} in the address is ignored: expected a parameter name (letters, digits, . _ - / :).`,
      );
  }
  const histOfText = params.get('histOf');
  let histogramOf: HistogramOf = 'weight';
  if (histOfText !== null && histOfText !== '') {
    if ((HISTOGRAM_KINDS as readonly string[]).includes(histOfText)) histogramOf = histOfText as HistogramOf;
    else
      problems.push(
        `histOf=${histOfText} in the address is ignored: expected ${HISTOGRAM_KINDS.join(' or ')}.`,
      );
  }
  return {
    options: {
      preset: params.get('preset') || DEFAULT_PRESET,
      configText: params.get('config'),
      steps: integerParam(params, 'steps', 1, 1_000_000, problems),
      seed: integerParam(params, 'seed', 0, 2 ** 32 - 1, problems),
      autorun: autorun !== null && autorun !== '0' && autorun !== 'false',
      fix: integerParam(params, 'fix', 1, 99, problems),
      speed,
      runs,
      view,
      smoothing,
      log: log !== null && log !== '0' && log !== 'false',
      metric,
      histogram,
      histogramOf,
    },
    problems,
  };
}

/** A query string that reopens this config (for "copy link"). */
export function linkQuery(configText: string, extra: Readonly<Record<string, string>> = {}): string {
  const params = new URLSearchParams({ config: compactJson(configText), ...extra });
  return `?${params.toString()}`;
}

/** The text re-serialised without whitespace when it is valid JSON, otherwise as it is. */
function compactJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

/**
 * The address of the page's whole state, so a reload or a shared link shows the same: the experiment (a preset by
 * name, or the whole config), the folder runs shown, the viewed run, smoothing and axis scale. Defaults are left out.
 *
 * @example stateQuery({ preset: 'deep-sigmoid', runs: ['a'], view: 'a', smoothing: 0.6, log: true }) // '?preset=deep-sigmoid&runs=a&view=a&log=1'
 */
export function stateQuery(state: {
  preset: string | null;
  configText?: string;
  runs: readonly string[];
  view: string | null;
  smoothing: number;
  log: boolean;
  metric?: MetricName;
  histogram?: string | null;
  histogramOf?: HistogramOf;
}): string {
  const params = new URLSearchParams();
  if (state.preset !== null) params.set('preset', state.preset);
  else if (state.configText !== undefined) params.set('config', compactJson(state.configText));
  if (state.runs.length > 0) params.set('runs', state.runs.join(','));
  if (state.view !== null) params.set('view', state.view);
  if (state.smoothing !== DEFAULT_SMOOTHING) params.set('smooth', String(state.smoothing));
  if (state.log) params.set('log', '1');
  if (state.metric !== undefined && state.metric !== 'loss') params.set('metric', state.metric);
  if (state.histogram) params.set('hist', state.histogram);
  if (state.histogramOf !== undefined && state.histogramOf !== 'weight')
    params.set('histOf', state.histogramOf);
  const text = params.toString();
  return text === '' ? '?' : `?${text}`;
}
