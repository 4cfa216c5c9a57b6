/**
 * Chart primitives that return SVG strings: a line chart (linear or log10 y), a heat map (log10 colour scale) and a
 * grouped bar chart for fractions. Hand-written so the report needs no dependency and opens from disk.
 *
 * Conventions: every chart is one `<svg>` element with a `viewBox` (CSS scales it), an `id` that prefixes the ids
 * it defines (patterns, gradients) so several charts share a page, text escaped, coordinates rounded to 0.1 so
 * the same data gives the same bytes. Non-finite values never break a chart: a line has a gap and a marker, a
 * heat map cell is hatched.
 */
import { escapeHtml, formatNumber, formatPercent, formatPower10 } from './format.js';

/** Categorical colours (Tableau 10), distinguishable in print and by most colour-blind readers. */
export const PALETTE: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
];

/** Viridis (van der Walt & Smith, matplotlib 2015): perceptually uniform, dark = small. */
const VIRIDIS: readonly string[] = [
  '#440154',
  '#482878',
  '#3e4a89',
  '#31688e',
  '#26828e',
  '#1f9e89',
  '#35b779',
  '#6dcd59',
  '#b4de2c',
  '#fde725',
];

const AXIS = '#555';
const GRID = '#e6e6e6';
const TEXT = '#333';
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const NON_FINITE_COLOR = '#c62828';
const ZERO_COLOR = '#d0d0d0';
const REFERENCE_COLOR = '#777';

/** One decimal, no '-0', for deterministic coordinates. */
function r1(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${r1(x)}" y="${r1(y)}"${attrs ? ' ' + attrs : ''}>${escapeHtml(content)}</text>`;
}

/** An approximate text width in px for layout (12 px system font). */
function textWidth(content: string, size = 12): number {
  return content.length * size * 0.56;
}

function svgOpen(id: string, width: number, height: number, label: string, extra = ''): string {
  return (
    `<svg id="${escapeHtml(id)}" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" aria-label="${escapeHtml(label)}" ${FONT} font-size="12"${extra ? ' ' + extra : ''}>` +
    (label ? `<title>${escapeHtml(label)}</title>` : '')
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Axes

interface Tick {
  value: number;
  label: string;
}

/** A mapping from data to pixels with its ticks. */
export interface Axis {
  log: boolean;
  /** Domain ends, in data units (not log10). */
  min: number;
  max: number;
  ticks: Tick[];
  toPixel(value: number): number;
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * A linear axis over [min, max] extended to round ticks. `integer` keeps ticks on whole numbers (layers, steps).
 */
export function linearAxis(
  min: number,
  max: number,
  pixelMin: number,
  pixelMax: number,
  options: { integer?: boolean; count?: number; extend?: boolean } = {},
): Axis {
  let lo = min;
  let hi = max;
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let step = niceStep(hi - lo, options.count ?? 5);
  if (options.integer) step = Math.max(1, Math.round(step));
  if (options.extend !== false) {
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: Tick[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    const value = Math.round(v / step) * step;
    const abs = Math.abs(value);
    const label = abs !== 0 && (abs >= 1e5 || decimals > 3) ? formatNumber(value) : value.toFixed(decimals);
    ticks.push({ value, label: label === '-0' ? '0' : label });
  }
  const span = hi - lo;
  return {
    log: false,
    min: lo,
    max: hi,
    ticks,
    toPixel: (value) => pixelMin + ((value - lo) / span) * (pixelMax - pixelMin),
  };
}

/** A log10 axis over positive [min, max], extended to whole decades; ticks thinned to about six labels. */
export function logAxis(min: number, max: number, pixelMin: number, pixelMax: number): Axis {
  const lo = Math.floor(Math.log10(min) + 1e-9);
  let hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi <= lo) hi = lo + 1;
  const decades = hi - lo;
  const every = Math.max(1, Math.ceil(decades / 6));
  const ticks: Tick[] = [];
  for (let e = lo; e <= hi; e++) {
    if (e % every === 0) ticks.push({ value: 10 ** e, label: formatPower10(e) });
  }
  // Within two decades powers of ten alone are too sparse to read a value off: add 2x and 5x.
  if (decades <= 2) {
    for (let e = lo; e < hi; e++) {
      for (const m of [2, 5]) {
        const label = e >= -2 && e <= 3 ? formatNumber(m * 10 ** e) : `${m}×${formatPower10(e)}`;
        ticks.push({ value: m * 10 ** e, label });
      }
    }
    ticks.sort((a, b) => a.value - b.value);
  }
  return {
    log: true,
    min: 10 ** lo,
    max: 10 ** hi,
    ticks,
    toPixel: (value) => pixelMin + ((Math.log10(value) - lo) / decades) * (pixelMax - pixelMin),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Legend

interface LegendItem {
  label: string;
  /** SVG drawn in a 22 x 12 box at the origin. */
  swatch: string;
}

function lineSwatch(color: string, dashed: boolean): string {
  return `<line x1="0" y1="6" x2="22" y2="6" stroke="${color}" stroke-width="2.5"${dashed ? ' stroke-dasharray="5 3"' : ''}/>`;
}

function boxSwatch(fill: string): string {
  return `<rect x="5" y="0" width="12" height="12" fill="${fill}"/>`;
}

/** Lays the items out in rows across `width`; returns the SVG and the height it took. */
function legend(items: LegendItem[], x: number, y: number, width: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  let cx = 0;
  let row = 0;
  const parts: string[] = [];
  for (const item of items) {
    const w = 30 + textWidth(item.label) + 16;
    if (cx > 0 && cx + w > width) {
      cx = 0;
      row++;
    }
    const ix = x + cx;
    const iy = y + row * 18;
    parts.push(
      `<g transform="translate(${r1(ix)} ${r1(iy)})">${item.swatch}${text(28, 10, item.label, `fill="${TEXT}"`)}</g>`,
    );
    cx += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: (row + 1) * 18 };
}

function noData(id: string, width: number, fullHeight: number, label: string, message: string): string {
  // Short: a placeholder should not take a chart's room.
  const height = Math.min(fullHeight, 120);
  return (
    svgOpen(id, width, height, label) +
    `<rect x="0.5" y="0.5" width="${width - 1}" height="${height - 1}" fill="#fafafa" stroke="${GRID}"/>` +
    text(width / 2, height / 2, message, `text-anchor="middle" fill="#777" font-size="14"`) +
    '</svg>'
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Line chart

export interface Series {
  name: string;
  /** [x, y] pairs; a non-finite y (or y <= 0 on a log axis) leaves a gap and a marker. */
  points: ReadonlyArray<readonly [number, number]>;
  color?: string;
  dashed?: boolean;
  /** Draw a dot at each point (for short series such as one value per layer). */
  dots?: boolean;
}

export type MarkerKind = 'skipped' | 'rollback' | 'non-finite';

/** A vertical line at an x value, e.g. a step the non-finite guard skipped. */
export interface XMarker {
  x: number;
  kind: MarkerKind;
}

/** A horizontal reference, e.g. the baseline loss. */
export interface ReferenceLine {
  y: number;
  label: string;
}

export interface LineChartOptions {
  /** Unique within the page. */
  id: string;
  /** Accessible name, also shown on hover. */
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** 'auto': log10 when every value is positive and they span more than two orders of magnitude. */
  yScale?: 'linear' | 'log' | 'auto';
  /** Whole-number x ticks (steps, layers, time steps). */
  integerX?: boolean;
  markers?: readonly XMarker[];
  references?: readonly ReferenceLine[];
  width?: number;
  height?: number;
  emptyMessage?: string;
}

const MARKER_STYLE: Readonly<Record<MarkerKind, { color: string; dash: string; label: string }>> = {
  skipped: { color: '#d62728', dash: '3 3', label: 'skipped step' },
  rollback: { color: '#8e44ad', dash: '6 3', label: 'rollback' },
  'non-finite': { color: NON_FINITE_COLOR, dash: '', label: 'non-finite step' },
};

const MARKER_KINDS: readonly MarkerKind[] = ['skipped', 'rollback', 'non-finite'];

/** Chooses log10 when asked, or for 'auto' when the positive values span over two decades. */
export function chooseLogScale(values: readonly number[], scale: 'linear' | 'log' | 'auto'): boolean {
  const finite = values.filter((v) => Number.isFinite(v));
  if (scale === 'linear') return false;
  const positive = finite.filter((v) => v > 0);
  if (scale === 'log') return positive.length > 0;
  if (positive.length === 0 || positive.length < finite.length) return false;
  return Math.max(...positive) / Math.min(...positive) > 100;
}

/**
 * Keeps at most about `2 * buckets` points: per bucket of x its lowest and highest finite value in x order, and its
 * first non-finite one, so spikes and gaps survive the thinning.
 */
export function decimate(
  points: ReadonlyArray<readonly [number, number]>,
  buckets: number,
): Array<readonly [number, number]> {
  if (points.length <= 2 * buckets) return [...points];
  const out: Array<readonly [number, number]> = [];
  const size = points.length / buckets;
  for (let b = 0; b < buckets; b++) {
    const slice = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    let low: readonly [number, number] | undefined;
    let high: readonly [number, number] | undefined;
    let bad: readonly [number, number] | undefined;
    for (const p of slice) {
      if (!Number.isFinite(p[1])) {
        bad ??= p;
        continue;
      }
      if (!low || p[1] < low[1]) low = p;
      if (!high || p[1] > high[1]) high = p;
    }
    const kept = [low, high, bad].filter((p): p is readonly [number, number] => p !== undefined);
    kept.sort((a, b2) => a[0] - b2[0]);
    for (const p of kept) if (out[out.length - 1] !== p) out.push(p);
  }
  return out;
}

/** The median gap between neighbouring distinct pixel positions (how far apart logged steps sit), at least 1. */
function typicalSpacing(pixels: readonly number[]): number {
  const sorted = [...new Set(pixels.map((p) => Math.round(p * 10) / 10))].sort((a, b) => a - b);
  const gaps = sorted.slice(1).map((p, i) => p - (sorted[i] as number));
  if (gaps.length === 0) return 1;
  gaps.sort((a, b) => a - b);
  return Math.max(1, gaps[Math.floor(gaps.length / 2)] as number);
}

/** Sorted pixel positions merged into [first, last] runs wherever neighbours are at most 1.5 x `spacing` apart. */
export function mergeRuns(pixels: readonly number[], spacing: number): Array<[number, number]> {
  const sorted = [...pixels].filter((p) => Number.isFinite(p)).sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const p of sorted) {
    const last = runs[runs.length - 1];
    if (last && p - last[1] <= 1.5 * spacing + 0.01) last[1] = p;
    else runs.push([p, p]);
  }
  return runs;
}

/**
 * A line chart of one or more series with axes, ticks, a legend, gaps and markers for non-finite values, and
 * optional vertical step markers and horizontal references.
 *
 * @example lineChart({ id: 'loss', title: 'Loss', xLabel: 'step', yLabel: 'loss', series: [{ name: 'train', points: [[1, 0.7], [2, 0.5]] }] })
 */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 300;
  const series = options.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length] ?? '#333',
    points: decimate(s.points, 400),
  }));
  const allY = series.flatMap((s) => s.points.map((p) => p[1]));
  const allX = series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => Number.isFinite(x));
  const referenceValues = (options.references ?? []).map((r) => r.y);
  const log = chooseLogScale([...allY, ...referenceValues], options.yScale ?? 'auto');
  const plotted = allY.filter((v) => Number.isFinite(v) && (!log || v > 0));
  const refs = (options.references ?? []).filter((r) => Number.isFinite(r.y) && (!log || r.y > 0));
  if (allX.length === 0) {
    return noData(options.id, width, height, options.title, options.emptyMessage ?? 'no data logged');
  }

  // Legend first: its height sets the top margin.
  const items: LegendItem[] = series.map((s) => ({
    label: s.name,
    swatch: lineSwatch(s.color, s.dashed ?? false),
  }));
  for (const ref of refs) {
    items.push({
      label: ref.label,
      swatch: `<line x1="0" y1="6" x2="22" y2="6" stroke="${REFERENCE_COLOR}" stroke-width="1.5" stroke-dasharray="3 3"/>`,
    });
  }
  const markers = options.markers ?? [];
  const markerKinds = MARKER_KINDS.filter((k) => markers.some((m) => m.kind === k));
  for (const kind of markerKinds) {
    const style = MARKER_STYLE[kind];
    const count = markers.filter((m) => m.kind === kind).length;
    items.push({
      label: `${style.label}${count > 1 ? 's' : ''} (${count})`,
      swatch:
        `<rect x="4" y="0" width="14" height="12" fill="${style.color}" opacity="0.12"/>` +
        `<line x1="11" y1="0" x2="11" y2="12" stroke="${style.color}" stroke-width="1.5"${style.dash ? ` stroke-dasharray="${style.dash}"` : ''}/>`,
    });
  }
  const hasHigh = allY.some((v) => Number.isNaN(v) || v === Infinity);
  const hasLow = allY.some((v) => v === -Infinity || (log && Number.isFinite(v) && v <= 0));
  if (hasHigh)
    items.push({
      label: 'NaN or ∞ (off the chart)',
      swatch: `<path d="M6 1h10l-5 9z" fill="#fff" stroke="${NON_FINITE_COLOR}" stroke-width="1.2"/>`,
    });
  if (hasLow)
    items.push({
      label: log ? 'zero or −∞ (below the log axis)' : '−∞ (off the chart)',
      swatch: `<path d="M6 11h10l-5-9z" fill="#fff" stroke="${NON_FINITE_COLOR}" stroke-width="1.2"/>`,
    });

  // The y axis's labels set the left margin; the legend's height sets the top one. Tick labels do not depend on
  // the pixel range, only the tick count does (on the height), so a first pass at a typical height is enough.
  const yValues = [...plotted, ...refs.map((r) => r.y)];
  const makeYAxis = (pixelMin: number, pixelMax: number): Axis => {
    if (yValues.length === 0)
      return log ? logAxis(0.1, 10, pixelMin, pixelMax) : linearAxis(0, 1, pixelMin, pixelMax);
    const yMin = yValues.reduce((a, b) => Math.min(a, b));
    const yMax = yValues.reduce((a, b) => Math.max(a, b));
    if (log) return logAxis(yMin, yMax, pixelMin, pixelMax);
    return linearAxis(yMin, yMax, pixelMin, pixelMax, {
      count: Math.max(3, Math.floor((pixelMin - pixelMax) / 45)),
    });
  };
  const labelWidth = Math.max(0, ...makeYAxis(height - 44, 48).ticks.map((t) => textWidth(t.label)));
  const left = Math.round(Math.max(56, 30 + labelWidth + 10));
  const right = 18;
  const plotWidth = width - left - right;
  const leg = legend(items, left, 10, plotWidth);
  const top = 10 + leg.height + 10;
  const bottom = 44;
  const plotHeight = height - top - bottom;
  const y0 = top + plotHeight;
  const yAxis = makeYAxis(y0, top);

  const xMin = allX.reduce((a, b) => Math.min(a, b));
  const xMax = allX.reduce((a, b) => Math.max(a, b));
  // Dots at the ends need room inside the frame.
  const xPad = series.some((s) => s.dots) ? Math.max(0.5, (xMax - xMin) * 0.03) : 0;
  const xAxis = linearAxis(xMin - xPad, xMax + xPad, left, left + plotWidth, {
    integer: options.integerX ?? false,
    count: Math.max(2, Math.floor(plotWidth / 90)),
    extend: false,
  });

  const out: string[] = [svgOpen(options.id, width, height, options.title)];
  out.push(leg.svg);
  // Grid and y ticks.
  const grid: string[] = [];
  const yTicks: string[] = [];
  for (const t of yAxis.ticks) {
    const y = yAxis.toPixel(t.value);
    if (y < top - 0.5 || y > y0 + 0.5) continue;
    grid.push(`M${left} ${r1(y)}H${left + plotWidth}`);
    yTicks.push(text(left - 6, y + 4, t.label, `text-anchor="end" fill="${TEXT}"`));
  }
  const xTicks: string[] = [];
  for (const t of xAxis.ticks) {
    const x = xAxis.toPixel(t.value);
    if (x < left - 0.5 || x > left + plotWidth + 0.5) continue;
    grid.push(`M${r1(x)} ${top}V${y0}`);
    xTicks.push(text(x, y0 + 16, t.label, `text-anchor="middle" fill="${TEXT}"`));
  }
  out.push(`<path d="${grid.join('')}" stroke="${GRID}" stroke-width="1" fill="none"/>`);
  out.push(`<g class="ticks">${yTicks.join('')}${xTicks.join('')}</g>`);
  // Axis lines and labels.
  out.push(`<path d="M${left} ${top}V${y0}H${left + plotWidth}" stroke="${AXIS}" fill="none"/>`);
  out.push(text(left + plotWidth / 2, height - 8, options.xLabel, `text-anchor="middle" fill="${TEXT}"`));
  out.push(
    text(
      0,
      0,
      options.yLabel + (log ? ' (log scale)' : ''),
      `text-anchor="middle" fill="${TEXT}" transform="translate(14 ${r1(top + plotHeight / 2)}) rotate(-90)"`,
    ),
  );

  // Step markers: a line for a lone step, a shaded band for a run of neighbouring steps (a guard that skipped
  // 200 steps in a row would otherwise paint the chart red).
  const spacing = typicalSpacing(allX.map((x) => xAxis.toPixel(x)));
  for (const kind of markerKinds) {
    const style = MARKER_STYLE[kind];
    const steps = markers.filter((m) => m.kind === kind && Number.isFinite(m.x)).map((m) => m.x);
    const shown = steps.slice(0, 12).join(', ') + (steps.length > 12 ? ` … (${steps.length} in all)` : '');
    const lines: string[] = [];
    const bands: string[] = [];
    for (const [a, b] of mergeRuns(
      steps.map((x) => xAxis.toPixel(x)),
      spacing,
    )) {
      if (b - a < 1) lines.push(`M${r1(a)} ${top}V${y0}`);
      else bands.push(`M${r1(a)} ${top}H${r1(b)}V${y0}H${r1(a)}z`);
    }
    out.push(
      `<g class="marker marker-${kind}"><title>${escapeHtml(`${style.label}s: ${shown}`)}</title>` +
        (bands.length ? `<path d="${bands.join('')}" fill="${style.color}" opacity="0.1"/>` : '') +
        (lines.length
          ? `<path d="${lines.join('')}" stroke="${style.color}" stroke-width="1"${style.dash ? ` stroke-dasharray="${style.dash}"` : ''} opacity="0.7"/>`
          : '') +
        '</g>',
    );
  }

  // References (named in the legend, where their label cannot collide with the data).
  for (const ref of refs) {
    const y = yAxis.toPixel(ref.y);
    out.push(
      `<path class="reference" d="M${left} ${r1(y)}H${left + plotWidth}" stroke="${REFERENCE_COLOR}" stroke-width="1.5" stroke-dasharray="3 3" fill="none"><title>${escapeHtml(ref.label)}</title></path>`,
    );
  }

  // Series: a path broken at every value the axis cannot show, then dots and off-chart markers.
  for (const s of series) {
    const segments: string[] = [];
    let pen = false;
    const dots: string[] = [];
    const offChart: Array<{ x: number; high: boolean; note: string }> = [];
    // Points with no drawable neighbour: a path of one point is invisible, so they get a dot.
    const lone: number[] = [];
    for (const [i, [x, y]] of s.points.entries()) {
      const drawable = Number.isFinite(x) && Number.isFinite(y) && (!log || y > 0);
      if (!drawable) {
        pen = false;
        if (!Number.isFinite(x)) continue;
        offChart.push({
          x: xAxis.toPixel(x),
          high: Number.isNaN(y) || y === Infinity,
          note: `${formatNumber(x)}: ${formatNumber(y)}`,
        });
        continue;
      }
      const px = r1(xAxis.toPixel(x));
      const py = r1(yAxis.toPixel(y));
      segments.push(`${pen ? 'L' : 'M'}${px} ${py}`);
      if (!pen) lone.push(i);
      else if (lone[lone.length - 1] === i - 1) lone.pop();
      pen = true;
      if (s.dots) {
        dots.push(
          `<circle cx="${px}" cy="${py}" r="3"><title>${escapeHtml(`${s.name}, ${options.xLabel} ${formatNumber(x)}: ${formatNumber(y)}`)}</title></circle>`,
        );
      }
    }
    if (!s.dots) {
      for (const i of lone) {
        const [x, y] = s.points[i] as readonly [number, number];
        dots.push(
          `<circle cx="${r1(xAxis.toPixel(x))}" cy="${r1(yAxis.toPixel(y))}" r="2.5"><title>${escapeHtml(`${s.name}, ${options.xLabel} ${formatNumber(x)}: ${formatNumber(y)}`)}</title></circle>`,
        );
      }
    }
    out.push(
      `<g class="series" data-name="${escapeHtml(s.name)}">` +
        `<path d="${segments.join('')}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"` +
        `${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
        (dots.length ? `<g fill="${s.color}">${dots.join('')}</g>` : ''),
    );
    // Off-chart values: a triangle at the top (NaN, +∞) or bottom (−∞, or <= 0 on a log axis); a run of them
    // becomes a strip from its first to its last step.
    for (const high of [true, false]) {
      const group = offChart.filter((m) => m.high === high);
      if (group.length === 0) continue;
      const edge = high ? top : y0;
      const shapes = mergeRuns(
        group.map((m) => m.x),
        spacing,
      ).map(([a, b]) => {
        const triangle = high ? `M${r1(a - 5)} ${edge}h10l-5 8z` : `M${r1(a - 5)} ${edge}h10l-5-8z`;
        return b - a < 1
          ? triangle
          : triangle +
              (high
                ? `M${r1(a)} ${edge}H${r1(b)}v4H${r1(a)}z`
                : `M${r1(a)} ${edge - 4}H${r1(b)}v4H${r1(a)}z`);
      });
      const notes =
        group
          .slice(0, 6)
          .map((m) => m.note)
          .join('; ') + (group.length > 6 ? `; … (${group.length} in all)` : '');
      out.push(
        `<path class="off-chart" d="${shapes.join('')}" fill="${s.color}" stroke="${NON_FINITE_COLOR}" stroke-width="1.2"><title>${escapeHtml(`${s.name} at ${options.xLabel} ${notes}`)}</title></path>`,
      );
    }
    out.push('</g>');
  }
  if (plotted.length === 0) {
    out.push(
      text(
        left + plotWidth / 2,
        top + plotHeight / 2,
        log ? 'no positive finite values' : 'no finite values',
        `text-anchor="middle" fill="#777" font-size="14"`,
      ),
    );
  }
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Heat map

export interface HeatMapOptions {
  id: string;
  title: string;
  /** One label per row; row 0 is drawn at the bottom. */
  rowLabels: readonly string[];
  /** Hover text per row (e.g. the parameters it aggregates). */
  rowTitles?: readonly string[];
  /** The x value of each column (the logged step). */
  columns: readonly number[];
  /** values[row][column], raw and positive; plotted as log10. Zero and non-finite cells are marked, not coloured. */
  values: ReadonlyArray<readonly number[]>;
  /** Columns to flag above the map (e.g. skipped steps). */
  flaggedColumns?: ReadonlyArray<{ column: number; label: string }>;
  xLabel: string;
  yLabel: string;
  /** The quantity, for the colour bar and tooltips, e.g. '‖g‖'. */
  valueLabel: string;
  /** At most this many columns; neighbouring columns are merged (mean of log10; a non-finite cell wins). */
  maxColumns?: number;
  width?: number;
}

const LEVELS = 48;

/** The viridis colour at t in [0, 1]. */
export function viridis(t: number): string {
  const clamped = Math.min(1, Math.max(0, t));
  const position = clamped * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(position));
  const f = position - i;
  const a = VIRIDIS[i] as string;
  const b = VIRIDIS[i + 1] as string;
  let hex = '#';
  for (let c = 1; c < 7; c += 2) {
    const va = parseInt(a.slice(c, c + 2), 16);
    const vb = parseInt(b.slice(c, c + 2), 16);
    hex += Math.round(va + (vb - va) * f)
      .toString(16)
      .padStart(2, '0');
  }
  return hex;
}

/** log10 of a cell: finite for positive values, -Infinity for zero, NaN for anything non-finite or negative. */
function logCell(value: number): number {
  if (!Number.isFinite(value) || value < 0) return NaN;
  return value === 0 ? -Infinity : Math.log10(value);
}

interface MergedColumns {
  steps: Array<[number, number]>;
  /** log10 values [row][column]: finite, -Infinity (zero) or NaN (non-finite). */
  logs: number[][];
}

/** Merges columns into at most `max` buckets: mean of the finite log10 values; any non-finite cell makes NaN. */
export function mergeColumns(
  columns: readonly number[],
  values: ReadonlyArray<readonly number[]>,
  max: number,
): MergedColumns {
  const n = columns.length;
  const buckets = Math.min(n, Math.max(1, max));
  const steps: Array<[number, number]> = [];
  const logs: number[][] = values.map(() => []);
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * n) / buckets);
    const end = Math.floor(((b + 1) * n) / buckets);
    steps.push([columns[start] as number, columns[end - 1] as number]);
    values.forEach((row, r) => {
      let sum = 0;
      let count = 0;
      let zero = false;
      let bad = false;
      for (let c = start; c < end; c++) {
        const v = logCell(row[c] ?? NaN);
        if (Number.isNaN(v)) bad = true;
        else if (v === -Infinity) zero = true;
        else {
          sum += v;
          count++;
        }
      }
      (logs[r] as number[]).push(bad ? NaN : count > 0 ? sum / count : zero ? -Infinity : NaN);
    });
  }
  return { steps, logs };
}

/**
 * A heat map of log10 values, rows x columns, with a viridis colour bar; zero cells grey, non-finite cells hatched.
 * Each row carries its values in `data-v` so the page's optional script can show a cell on hover.
 *
 * @example heatMap({ id: 'hm', title: 'gradient norm', rowLabels: ['0', '1'], columns: [1, 10], values: [[1e-3, 1e-4], [1, 2]], xLabel: 'step', yLabel: 'layer', valueLabel: '‖g‖' })
 */
export function heatMap(options: HeatMapOptions): string {
  const width = options.width ?? 1100;
  const rows = options.rowLabels.length;
  if (rows === 0 || options.columns.length === 0) {
    return noData(options.id, width, 160, options.title, 'no per-layer data logged');
  }
  const { steps, logs } = mergeColumns(options.columns, options.values, options.maxColumns ?? 300);
  const cols = steps.length;
  const finite = logs.flat().filter((v) => Number.isFinite(v));
  const hasZero = logs.flat().some((v) => v === -Infinity);
  const hasBad = logs.flat().some((v) => Number.isNaN(v));
  let vMin = finite.length ? finite.reduce((a, b) => Math.min(a, b)) : -1;
  let vMax = finite.length ? finite.reduce((a, b) => Math.max(a, b)) : 1;
  if (vMax - vMin < 1e-9) {
    vMin -= 0.5;
    vMax += 0.5;
  }

  const longestLabel = Math.max(...options.rowLabels.map((l) => textWidth(l, 11)));
  const left = Math.max(58, 30 + longestLabel + 8);
  const right = 92;
  const top = 22;
  const rowHeight = Math.max(9, Math.min(28, Math.floor(380 / rows)));
  const plotWidth = width - left - right;
  const plotHeight = rows * rowHeight;
  const bottom = 46;
  const barHeight = Math.max(60, Math.min(plotHeight, 220));
  const swatches = (hasZero ? 16 : 0) + (hasBad ? 16 : 0);
  const height = Math.max(top + plotHeight + bottom, top + barHeight + 12 + swatches + 4);
  const cellWidth = plotWidth / cols;
  const y0 = top + plotHeight;
  const p = escapeHtml(options.id);

  const out: string[] = [
    svgOpen(
      options.id,
      width,
      height,
      options.title,
      `data-rows="${rows}" data-columns="${cols}" data-steps="${steps.map((s) => (s[0] === s[1] ? String(s[0]) : `${s[0]}–${s[1]}`)).join(',')}" data-value-label="${escapeHtml(options.valueLabel)}"`,
    ),
    `<defs><pattern id="${p}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="6" height="6" fill="#fff"/><rect width="2.5" height="6" fill="${NON_FINITE_COLOR}"/></pattern>` +
      `<linearGradient id="${p}-scale" x1="0" y1="1" x2="0" y2="0">` +
      VIRIDIS.map(
        (c, i) => `<stop offset="${r1((100 * i) / (VIRIDIS.length - 1))}%" stop-color="${c}"/>`,
      ).join('') +
      `</linearGradient></defs>`,
  ];

  // Cells: one path per colour level in a nested viewBox of one unit per cell, runs of equal colour merged.
  const paths = new Map<string, string[]>();
  const hatched: string[] = [];
  for (let r = 0; r < rows; r++) {
    const row = logs[r] as number[];
    const yCell = rows - 1 - r;
    let c = 0;
    while (c < cols) {
      const v = row[c] as number;
      const key = Number.isNaN(v)
        ? 'bad'
        : v === -Infinity
          ? 'zero'
          : String(Math.round(((v - vMin) / (vMax - vMin)) * (LEVELS - 1)));
      let end = c + 1;
      while (end < cols) {
        const w = row[end] as number;
        const k2 = Number.isNaN(w)
          ? 'bad'
          : w === -Infinity
            ? 'zero'
            : String(Math.round(((w - vMin) / (vMax - vMin)) * (LEVELS - 1)));
        if (k2 !== key) break;
        end++;
      }
      if (key === 'bad') {
        hatched.push(
          `M${r1(left + c * cellWidth)} ${r1(top + yCell * rowHeight)}h${r1((end - c) * cellWidth)}v${rowHeight}h${r1(-(end - c) * cellWidth)}z`,
        );
      } else {
        const list = paths.get(key) ?? [];
        list.push(`M${c} ${yCell}h${end - c}v1h${c - end}z`);
        paths.set(key, list);
      }
      c = end;
    }
  }
  const keys = [...paths.keys()].sort((a, b) =>
    a === 'zero' ? -1 : b === 'zero' ? 1 : Number(a) - Number(b),
  );
  out.push(
    `<svg x="${r1(left)}" y="${top}" width="${r1(plotWidth)}" height="${plotHeight}" viewBox="0 0 ${cols} ${rows}" preserveAspectRatio="none" shape-rendering="crispEdges">` +
      keys
        .map(
          (k) =>
            `<path fill="${k === 'zero' ? ZERO_COLOR : viridis(Number(k) / (LEVELS - 1))}" d="${(paths.get(k) as string[]).join('')}"/>`,
        )
        .join('') +
      '</svg>',
  );
  if (hatched.length) out.push(`<path class="non-finite" fill="url(#${p}-hatch)" d="${hatched.join('')}"/>`);
  out.push(
    `<rect x="${r1(left)}" y="${top}" width="${r1(plotWidth)}" height="${plotHeight}" fill="none" stroke="${AXIS}"/>`,
  );

  // Row labels (thinned when there are many rows) and hover bands carrying the row's values.
  const every = Math.max(1, Math.ceil((rows * 12) / plotHeight));
  for (let r = 0; r < rows; r++) {
    const y = top + (rows - 1 - r) * rowHeight;
    const label = options.rowLabels[r] as string;
    const show = r === rows - 1 || (r % every === 0 && rows - 1 - r >= every);
    const title = options.rowTitles?.[r] ?? label;
    const values = (logs[r] as number[])
      .map((v) => (Number.isNaN(v) ? 'x' : v === -Infinity ? 'z' : v.toFixed(2)))
      .join(',');
    out.push(
      (show
        ? text(left - 6, y + rowHeight / 2 + 4, label, `text-anchor="end" fill="${TEXT}" font-size="11"`)
        : '') +
        `<rect class="hm-row" data-row="${r}" data-label="${escapeHtml(label)}" data-v="${values}" x="${r1(left)}" y="${r1(y)}" width="${r1(plotWidth)}" height="${rowHeight}" fill="transparent"><title>${escapeHtml(title)}</title></rect>`,
    );
  }

  // Flagged columns: red ticks above the map.
  const flags = options.flaggedColumns ?? [];
  if (flags.length) {
    const columnOf = (index: number): number =>
      Math.min(cols - 1, Math.floor((index * cols) / options.columns.length));
    const seen = new Set<number>();
    const d: string[] = [];
    for (const f of flags) {
      const c = columnOf(f.column);
      if (seen.has(c)) continue;
      seen.add(c);
      d.push(
        `M${r1(left + c * cellWidth)} ${top - 8}h${r1(Math.max(1.5, cellWidth))}v6h${r1(-Math.max(1.5, cellWidth))}z`,
      );
    }
    const shown =
      flags
        .slice(0, 12)
        .map((f) => f.label)
        .join(', ') + (flags.length > 12 ? ` … (${flags.length} in all)` : '');
    out.push(
      `<path class="flags" d="${d.join('')}" fill="#d62728"><title>${escapeHtml(shown)}</title></path>`,
    );
  }

  // X axis: round steps placed at the column that holds them (columns need not be evenly spaced in steps).
  const firstStep = (steps[0] as [number, number])[0];
  const lastStep = (steps[cols - 1] as [number, number])[1];
  const stepAxis = linearAxis(firstStep, lastStep, 0, 1, {
    integer: true,
    count: Math.max(2, Math.floor(plotWidth / 110)),
    extend: false,
  });
  const tickValues = [firstStep, ...stepAxis.ticks.map((t) => t.value).filter((v) => v > firstStep)];
  const xTicks: string[] = [];
  const tickPath: string[] = [];
  let lastX = -Infinity;
  for (const value of tickValues) {
    let c = steps.findIndex(([a, b]) => value >= a && value <= b);
    if (c < 0)
      c = steps.reduce(
        (best, [a], i) =>
          Math.abs(a - value) < Math.abs((steps[best] as [number, number])[0] - value) ? i : best,
        0,
      );
    const [a, b] = steps[c] as [number, number];
    const x = left + (c + 0.5) * cellWidth;
    if (x - lastX < 44) continue;
    lastX = x;
    tickPath.push(`M${r1(x)} ${y0}v4`);
    xTicks.push(
      text(x, y0 + 16, String(value >= a && value <= b ? value : a), `text-anchor="middle" fill="${TEXT}"`),
    );
  }
  out.push(`<path d="${tickPath.join('')}" stroke="${AXIS}"/>${xTicks.join('')}`);
  out.push(text(left + plotWidth / 2, height - 8, options.xLabel, `text-anchor="middle" fill="${TEXT}"`));
  if (textWidth(options.yLabel) <= plotHeight) {
    out.push(
      text(
        0,
        0,
        options.yLabel,
        `text-anchor="middle" fill="${TEXT}" transform="translate(14 ${r1(top + plotHeight / 2)}) rotate(-90)"`,
      ),
    );
  }

  // Colour bar with ticks at whole decades, then swatches for zero and non-finite cells.
  const barX = left + plotWidth + 16;
  const barTop = top;
  out.push(
    `<rect x="${r1(barX)}" y="${barTop}" width="12" height="${barHeight}" fill="url(#${p}-scale)" stroke="${AXIS}" stroke-width="0.5"/>`,
  );
  out.push(text(barX, barTop - 8, options.valueLabel, `fill="${TEXT}" font-size="11"`));
  const span = vMax - vMin;
  const decadeStep = Math.max(1, Math.ceil(span / Math.max(2, Math.floor(barHeight / 28))));
  const barTicks: string[] = [];
  const tickYs: number[] = [];
  const yOf = (v: number): number => barTop + barHeight - ((v - vMin) / span) * barHeight;
  for (let e = Math.ceil(vMin - 1e-9); e <= vMax + 1e-9; e++) {
    if (e % decadeStep !== 0) continue;
    const y = yOf(e);
    tickYs.push(y);
    barTicks.push(
      `<path d="M${r1(barX + 12)} ${r1(y)}h4" stroke="${AXIS}"/>` +
        text(barX + 19, y + 4, formatPower10(e), `fill="${TEXT}" font-size="11"`),
    );
  }
  if (tickYs.length < 2) {
    // Under two decades of range: label the ends as well, where they do not collide with a decade.
    for (const v of [vMin, vMax]) {
      const y = yOf(v);
      if (tickYs.some((t) => Math.abs(t - y) < 14)) continue;
      barTicks.push(text(barX + 19, y + 4, formatNumber(10 ** v), `fill="${TEXT}" font-size="11"`));
    }
  }
  out.push(barTicks.join(''));
  let swatchY = barTop + barHeight + 12;
  if (hasZero) {
    out.push(
      `<rect x="${r1(barX)}" y="${r1(swatchY)}" width="12" height="10" fill="${ZERO_COLOR}"/>` +
        text(barX + 19, swatchY + 9, 'zero', `fill="${TEXT}" font-size="11"`),
    );
    swatchY += 16;
  }
  if (hasBad) {
    out.push(
      `<rect x="${r1(barX)}" y="${r1(swatchY)}" width="12" height="10" fill="url(#${p}-hatch)" stroke="${NON_FINITE_COLOR}" stroke-width="0.5"/>` +
        text(barX + 19, swatchY + 9, 'NaN / ∞', `fill="${TEXT}" font-size="11"`),
    );
  }
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------------------
// Bar chart

export interface BarSeries {
  name: string;
  /** One value in 0..1 per group; non-finite values are marked 'n/a'. */
  values: readonly number[];
  color?: string;
}

export interface BarChartOptions {
  id: string;
  title: string;
  /** One label per group (e.g. per layer). */
  groups: readonly string[];
  series: readonly BarSeries[];
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

/**
 * Grouped bars of fractions in 0..1 drawn on a 0..100% axis.
 *
 * @example barChart({ id: 'sat', title: 'Saturated units', groups: ['0', '1'], series: [{ name: 'step 1', values: [0.1, 0.6] }], xLabel: 'layer', yLabel: 'saturated' })
 */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 260;
  const groups = options.groups.length;
  if (groups === 0 || options.series.length === 0) {
    return noData(options.id, width, height, options.title, 'no activations logged');
  }
  const series = options.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length] ?? '#333',
  }));
  const left = 52;
  const right = 14;
  const plotWidth = width - left - right;
  const leg = legend(
    series.map((s) => ({ label: s.name, swatch: boxSwatch(s.color) })),
    left,
    10,
    plotWidth,
  );
  const top = 10 + leg.height + 10;
  const bottom = 44;
  const plotHeight = height - top - bottom;
  const y0 = top + plotHeight;
  const toY = (v: number): number => y0 - Math.min(1, Math.max(0, v)) * plotHeight;

  const out: string[] = [svgOpen(options.id, width, height, options.title), leg.svg];
  const grid: string[] = [];
  const labels: string[] = [];
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const y = toY(v);
    grid.push(`M${left} ${r1(y)}H${left + plotWidth}`);
    labels.push(text(left - 6, y + 4, formatPercent(v), `text-anchor="end" fill="${TEXT}"`));
  }
  out.push(`<path d="${grid.join('')}" stroke="${GRID}" fill="none"/>${labels.join('')}`);

  const groupWidth = plotWidth / groups;
  const barWidth = Math.max(1, (groupWidth * 0.8) / series.length);
  const every = Math.max(1, Math.ceil(groups / Math.floor(plotWidth / 28)));
  const bars: string[] = [];
  for (let g = 0; g < groups; g++) {
    const gx = left + g * groupWidth + groupWidth * 0.1;
    series.forEach((s, i) => {
      const v = s.values[g] ?? NaN;
      const x = gx + i * barWidth;
      const tip = `${options.xLabel} ${options.groups[g] as string}, ${s.name}: ${formatPercent(v)}`;
      if (!Number.isFinite(v)) {
        bars.push(
          text(x + barWidth / 2, y0 - 4, '×', `text-anchor="middle" fill="${NON_FINITE_COLOR}"`) +
            `<title>${escapeHtml(tip)}</title>`,
        );
        return;
      }
      const y = toY(v);
      bars.push(
        `<rect x="${r1(x)}" y="${r1(y)}" width="${r1(Math.max(0.5, barWidth - 1))}" height="${r1(Math.max(v > 0 ? 1 : 0, y0 - y))}" fill="${s.color}"><title>${escapeHtml(tip)}</title></rect>`,
      );
    });
    if (g === groups - 1 || (g % every === 0 && groups - 1 - g >= every)) {
      bars.push(
        text(
          left + (g + 0.5) * groupWidth,
          y0 + 16,
          options.groups[g] as string,
          `text-anchor="middle" fill="${TEXT}" font-size="11"`,
        ),
      );
    }
  }
  out.push(bars.join(''));
  if (series.every((s) => s.values.every((v) => v === 0))) {
    out.push(
      text(
        left + plotWidth / 2,
        top + plotHeight / 2,
        'zero in every layer',
        `text-anchor="middle" fill="#777" font-size="14"`,
      ),
    );
  }
  out.push(`<path d="M${left} ${top}V${y0}H${left + plotWidth}" stroke="${AXIS}" fill="none"/>`);
  out.push(text(left + plotWidth / 2, height - 8, options.xLabel, `text-anchor="middle" fill="${TEXT}"`));
  out.push(
    text(
      0,
      0,
      options.yLabel,
      `text-anchor="middle" fill="${TEXT}" transform="translate(14 ${r1(top + plotHeight / 2)}) rotate(-90)"`,
    ),
  );
  out.push('</svg>');
  return out.join('');
}
