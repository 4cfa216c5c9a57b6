/**
 * The numbers behind the lab's distributions panel (TensorBoard's histogram "mountains", its offset mode): which
 * weight tensors have histograms in a run's records, and for one of them, weights or gradients, the ridges to draw:
 * one per logged step that recorded histograms, oldest at the back (top), newest in front (bottom), each scaled to
 * its own peak so its shape shows whatever its count, on one value axis shared by all. Pure and browser-safe, so it
 * is tested in Node; distributions.ts draws it.
 *
 * @example
 * const options = histogramOptions(records); // [{ name: 'layers.0.weight', layer: 0 }, ...]
 * const m = mountains(records, 'layers.0.weight', 'grad');
 * m.ridges.at(-1)?.step; // the latest step with a histogram
 */
import type { MetricsRecord } from '../io/runlog.js';
import type { HistogramRecord } from '../monitor/histogram.js';

/** A weight tensor the panel can show: its parameter name and the layer that owns it. */
export interface HistogramOption {
  name: string;
  layer: number;
}

/** One ridge: a step's histogram with its heights in 0..1 (of its own peak) at each bucket's centre. */
export interface Ridge {
  step: number;
  min: number;
  max: number;
  /** Bucket centres on the value axis. */
  centres: number[];
  /** counts / max(counts), 0 where the histogram is empty. */
  heights: number[];
  counts: number[];
  total: number;
  nan: number;
  posInf: number;
  negInf: number;
}

export interface Mountains {
  ridges: Ridge[];
  /** The value axis shared by every ridge: the smallest min and the largest max. */
  min: number;
  max: number;
  /** Ridges left out to keep at most `maxRidges` (evenly thinned, first and last kept). */
  thinned: number;
}

/** At most this many ridges are drawn; more are thinned evenly (TensorBoard samples its histograms too). */
export const MAX_RIDGES = 60;

/** The weight tensors with histograms in `records`, input side first, each once. */
export function histogramOptions(records: readonly MetricsRecord[]): HistogramOption[] {
  const seen = new Map<string, HistogramOption>();
  for (const record of records)
    for (const h of record.histograms ?? [])
      if (!seen.has(h.name)) seen.set(h.name, { name: h.name, layer: h.layer });
  return [...seen.values()].sort((a, b) => a.layer - b.layer);
}

/** Whether any record carries a histogram. */
export function hasHistograms(records: readonly MetricsRecord[]): boolean {
  return records.some((r) => (r.histograms?.length ?? 0) > 0);
}

function ridgeOf(step: number, h: HistogramRecord): Ridge {
  const k = h.counts.length;
  const width = (h.max - h.min) / Math.max(1, k);
  let peak = 0;
  let total = 0;
  for (const c of h.counts) {
    if (c > peak) peak = c;
    total += c;
  }
  return {
    step,
    min: h.min,
    max: h.max,
    centres: h.counts.map((_, i) => h.min + (i + 0.5) * width),
    heights: h.counts.map((c) => (peak > 0 ? c / peak : 0)),
    counts: [...h.counts],
    total,
    nan: h.nan,
    posInf: h.posInf,
    negInf: h.negInf,
  };
}

/**
 * The ridges of parameter `name`'s weights or gradients, in step order, within `range` (the charts' zoom) when
 * given, thinned to `maxRidges`.
 */
export function mountains(
  records: readonly MetricsRecord[],
  name: string,
  of: HistogramRecord['of'],
  range: { min: number; max: number } | null = null,
  maxRidges = MAX_RIDGES,
): Mountains {
  const all: Ridge[] = [];
  for (const record of records) {
    if (range && (record.step < range.min || record.step > range.max)) continue;
    const h = record.histograms?.find((x) => x.name === name && x.of === of);
    if (h) all.push(ridgeOf(record.step, h));
  }
  const ridges = thin(all, maxRidges);
  let min = Infinity;
  let max = -Infinity;
  for (const r of ridges) {
    if (r.total === 0) continue;
    min = Math.min(min, r.min);
    max = Math.max(max, r.max);
  }
  if (min > max) {
    min = 0;
    max = 0;
  }
  return { ridges, min, max, thinned: all.length - ridges.length };
}

function thin<T>(items: readonly T[], most: number): T[] {
  if (items.length <= most) return [...items];
  if (most <= 1) return items.slice(-1);
  const out: T[] = [];
  for (let i = 0; i < most; i++) out.push(items[Math.round((i * (items.length - 1)) / (most - 1))] as T);
  return out;
}

/**
 * The value axis drawn: the ridges' range, widened when it is a single value (a constant tensor, a zero gradient)
 * so the spike sits in the middle.
 */
export function valueAxis(m: Pick<Mountains, 'min' | 'max'>): { min: number; max: number } {
  if (m.max > m.min) return { min: m.min, max: m.max };
  const pad = m.min === 0 ? 1 : Math.abs(m.min) * 0.5;
  return { min: m.min - pad, max: m.max + pad };
}

/** `count` tick values spread over [min, max] at round numbers (1, 2 or 5 times a power of ten). */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min) || !Number.isFinite(min) || !Number.isFinite(max)) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/**
 * The colour of ridge `index` of `count`: ColorBrewer's sequential Blues (Brewer 2003; single-hue ramps stay
 * ordered under colour-blindness), pale for the oldest step, dark for the newest.
 */
export function ridgeColor(index: number, count: number): string {
  const pale = [198, 219, 239];
  const dark = [8, 48, 107];
  const t = count <= 1 ? 1 : index / (count - 1);
  const mix = (k: number): number =>
    Math.round((pale[k] as number) + ((dark[k] as number) - (pale[k] as number)) * t);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}
