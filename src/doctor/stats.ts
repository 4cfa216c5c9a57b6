/**
 * Read-only summaries of metrics records that the rules share: per-layer gradient statistics of the weight
 * matrices, time-gradient ratios, medians over the judged window, and number formatting for evidence lines.
 * Nothing here decides; the rules compare these numbers with their thresholds.
 */
import type { ActivationRecord, MetricsRecord, ParamRecord } from '../io/runlog.js';

/** Statistics of one layer's weight matrices (biases and normalisation parameters left out). */
export interface LayerGrad {
  layer: number;
  /** sqrt of the sum of the matrices' squared gradient norms. */
  gradNorm: number;
  weightNorm: number;
  /** Largest |g| entry over the layer's matrices (an upper bound on the mean |g|). */
  maxAbsGrad: number;
  /** Largest update/weight ratio over the layer's matrices; NaN when none was recorded. */
  updateRatio: number;
  nonFinite: number;
  params: string[];
}

const NORM_SEGMENT = /norm|^(bn|ln|gn)\d*$/i;
const MATRIX_SEGMENT = /^(weight|kernel|w)(_|$|:)/i;

/** A parameter's role as a record may declare it (a later run-log version), else as its name suggests. */
function declaredRole(param: ParamRecord): string | undefined {
  const role = (param as ParamRecord & { role?: unknown }).role;
  return typeof role === 'string' ? role : undefined;
}

/**
 * Whether a parameter is a weight matrix (`layers.3.weight`, `layers.0.weight_hh`, PyTorch `fc1.weight`, Keras
 * `dense/kernel:0`) rather than a bias, a norm's gain/shift or a PReLU slope. The update/weight ratio and the
 * layer-to-layer gradient comparisons are about matrices: a bias initialised at 0 has an update ratio of 1 on its
 * first step whatever the gradient.
 */
export function isWeightMatrix(param: ParamRecord): boolean {
  const role = declaredRole(param);
  if (role !== undefined) return role === 'weight';
  const segments = param.name.split(/[./]/);
  const last = segments[segments.length - 1] ?? '';
  if (segments.some((s) => NORM_SEGMENT.test(s))) return false;
  return MATRIX_SEGMENT.test(last);
}

const layerCache = new WeakMap<MetricsRecord, LayerGrad[]>();

/** Per-layer statistics of the weight matrices, input side first (cached per record). */
export function layerGrads(record: MetricsRecord): LayerGrad[] {
  const cached = layerCache.get(record);
  if (cached) return cached;
  const params = record.params ?? [];
  let matrices = params.filter(isWeightMatrix);
  // Logs with unfamiliar names: fall back to every parameter that is not obviously a bias.
  if (matrices.length === 0) matrices = params.filter((p) => !/bias|beta/i.test(p.name));
  const byLayer = new Map<number, LayerGrad>();
  for (const p of matrices) {
    let entry = byLayer.get(p.layer);
    if (!entry) {
      entry = {
        layer: p.layer,
        gradNorm: 0,
        weightNorm: 0,
        maxAbsGrad: 0,
        updateRatio: NaN,
        nonFinite: 0,
        params: [],
      };
      byLayer.set(p.layer, entry);
    }
    entry.gradNorm += p.gradNorm * p.gradNorm;
    entry.weightNorm += p.weightNorm * p.weightNorm;
    entry.maxAbsGrad = Number.isNaN(p.maxAbsGrad) ? NaN : Math.max(entry.maxAbsGrad, p.maxAbsGrad);
    // A ratio of exactly 1 is ||delta|| / ||0 + delta||: the weights were all zero before the step (Fixup's
    // zero-initialised branch ends, Zhang et al. 2019), so there is no scale for the update to be large against.
    if (Number.isFinite(p.updateRatio) && p.updateRatio !== 1)
      entry.updateRatio = Number.isNaN(entry.updateRatio)
        ? p.updateRatio
        : Math.max(entry.updateRatio, p.updateRatio);
    entry.nonFinite += p.nonFinite;
    entry.params.push(p.name);
  }
  const result = [...byLayer.values()]
    .map((e) => ({ ...e, gradNorm: Math.sqrt(e.gradNorm), weightNorm: Math.sqrt(e.weightNorm) }))
    .sort((a, b) => a.layer - b.layer);
  layerCache.set(record, result);
  return result;
}

/**
 * A record as the doctor reads it. Records mapped from logs that lack a field (a TensorBoard log without a loss)
 * list it in `absent`: NaN there means "not measured", not a NaN that training produced.
 */
export type LoggedRecord = MetricsRecord & { absent?: readonly ('loss' | 'gradNorm')[] };

function isAbsent(record: MetricsRecord, field: 'loss' | 'gradNorm'): boolean {
  return (record as LoggedRecord).absent?.includes(field) ?? false;
}

/** Whether anything in the record is NaN or infinite: the loss, the global gradient norm, any gradient entry. */
export function recordNonFinite(record: MetricsRecord): boolean {
  if (!Number.isFinite(record.loss) && !isAbsent(record, 'loss')) return true;
  if (!Number.isFinite(record.gradNorm) && !isAbsent(record, 'gradNorm')) return true;
  return (record.params ?? []).some((p) => p.nonFinite > 0 || !Number.isFinite(p.gradNorm));
}

/** ||g_first|| / ||g_last|| over the weight matrices, or NaN when it cannot be formed. */
export function firstLastRatio(record: MetricsRecord): number {
  const layers = layerGrads(record);
  if (layers.length < 2) return NaN;
  const first = (layers[0] as LayerGrad).gradNorm;
  const last = (layers[layers.length - 1] as LayerGrad).gradNorm;
  if (!Number.isFinite(first) || !Number.isFinite(last) || last <= 0) return NaN;
  return first / last;
}

/** The time-gradient profile of the top recurrent layer, when finite and at least two steps long. */
export function timeProfile(record: MetricsRecord): number[] | null {
  const t = record.timeGrad;
  if (!t || t.length < 2) return null;
  return t;
}

/** ||dL/dh_1|| / ||dL/dh_T||: how much of the last step's gradient reaches the first step (NaN if not finite). */
export function timeRatio(record: MetricsRecord): number {
  const t = timeProfile(record);
  if (!t) return NaN;
  const first = t[0] as number;
  const last = t[t.length - 1] as number;
  if (!Number.isFinite(first) || !Number.isFinite(last) || last <= 0) return NaN;
  return first / last;
}

/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1
    ? (finite[mid] as number)
    : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
}

/**
 * Median in log space (the geometric middle), for quantities that span orders of magnitude; zeros count as the
 * smallest values. NaN when no value is finite and non-negative.
 */
export function logMedian(values: readonly number[]): number {
  const usable = values.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  if (usable.length === 0) return NaN;
  const mid = usable.length >> 1;
  if (usable.length % 2 === 1) return usable[mid] as number;
  const a = usable[mid - 1] as number;
  const b = usable[mid] as number;
  return a > 0 && b > 0 ? Math.sqrt(a * b) : (a + b) / 2;
}

/** Hidden-layer activation records (the output layer's record, when present, left out). */
export function hiddenActivations(record: MetricsRecord): ActivationRecord[] {
  const acts = record.activations ?? [];
  const layers = layerGrads(record);
  const outputLayer = layers.length > 0 ? (layers[layers.length - 1] as LayerGrad).layer : Infinity;
  const hidden = acts.filter((a) => a.layer < outputLayer);
  return hidden.length > 0 ? hidden : acts;
}

/** `3.1e-14`, `0.25`, `70`, `256`: two significant digits (three from 100), scientific outside [1e-3, 1e4). */
export function num(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e4) return String(Number(x.toPrecision(a >= 100 ? 3 : 2)));
  return x.toExponential(1).replace('.0e', 'e').replace('e+', 'e');
}

/** Four significant digits: losses that differ in the third (1.392 against 1.386) must read apart. */
export function fine(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** `45%` */
export function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

/** `0-3, 7, 9-12` */
export function ranges(values: readonly number[]): string {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** `steps 301-400` or `step 1` */
export function stepSpan(records: readonly MetricsRecord[]): string {
  if (records.length === 0) return 'no steps';
  const first = (records[0] as MetricsRecord).step;
  const last = (records[records.length - 1] as MetricsRecord).step;
  return first === last ? `step ${first}` : `steps ${first}-${last}`;
}

export function spanOf(records: readonly MetricsRecord[]): [number, number] {
  return [(records[0] as MetricsRecord).step, (records[records.length - 1] as MetricsRecord).step];
}

/** The largest update/weight ratio over a record's weight matrices; NaN when none was recorded. */
export function maxUpdateRatio(record: MetricsRecord): number {
  let best = NaN;
  for (const l of layerGrads(record))
    if (Number.isFinite(l.updateRatio))
      best = Number.isNaN(best) ? l.updateRatio : Math.max(best, l.updateRatio);
  return best;
}
