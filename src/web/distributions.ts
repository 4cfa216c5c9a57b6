/**
 * The distributions panel: TensorBoard-style histogram mountains of one weight tensor's values or gradients over
 * the logged steps, on a canvas (mountains.ts computes the ridges). A layer picker and a weights/gradients picker
 * above it; the canvas takes focus and the arrow keys (or the pointer) pick a step, whose numbers are read out
 * below; NaN and ±∞ counts are marked on their ridge in the heat map's non-finite colour. It follows the charts'
 * zoom of the step axis. DOM only.
 *
 * @example
 * const panel = new DistributionsPanel(element, { name: 'layers.0.weight', of: 'grad', onChange: writeAddress });
 * panel.update(run.records);
 */
import type { MetricsRecord } from '../io/runlog.js';
import type { HistogramRecord } from '../monitor/histogram.js';
import { escapeHtml, formatNumber } from '../report/format.js';
import {
  histogramOptions,
  mountains,
  ridgeColor,
  ticks,
  valueAxis,
  type HistogramOption,
  type Mountains,
} from './mountains.js';
import { NON_FINITE_COLOR } from './series.js';

const MARGIN = { left: 24, right: 74, top: 10, bottom: 40 };
/** A ridge's peak rises this share of the plot's height above its baseline. */
const RIDGE_SHARE = 0.3;

const OF_TEXT: Record<HistogramRecord['of'], { label: string; axis: string }> = {
  weight: { label: 'weights', axis: 'weight value' },
  grad: { label: 'gradients', axis: 'gradient value ∂L/∂W' },
};

/** What the panel shows, as the address keeps it. */
export interface DistributionPick {
  /** The parameter; the run's first with histograms when null or absent from the run. */
  name: string | null;
  of: HistogramRecord['of'];
}

export class DistributionsPanel {
  private readonly canvas: HTMLCanvasElement;
  private readonly readout: HTMLElement;
  private readonly param: HTMLSelectElement;
  private readonly of: HTMLSelectElement;
  private records: readonly MetricsRecord[] = [];
  private options: HistogramOption[] = [];
  private optionsKey = '';
  private range: { min: number; max: number } | null = null;
  private data: Mountains = { ridges: [], min: 0, max: 0, thinned: 0 };
  /** Index of the ridge picked by the keys or the pointer. */
  private focus: number | null = null;
  /** The parameter asked for (the address, or the user's last pick), kept while a run without it is shown. */
  private wanted: string | null;
  /** The step under the line charts' crosshair, drawn as a dashed ridge outline. */
  private cursorStep: number | null = null;

  constructor(
    readonly container: HTMLElement,
    pick: DistributionPick & { onChange?: (pick: DistributionPick) => void } = { name: null, of: 'weight' },
  ) {
    this.wanted = pick.name;
    container.innerHTML =
      '<div class="toolbar dist-controls" role="group" aria-label="Distribution shown">' +
      '<label class="field">Layer <select class="dist-param" aria-label="the weight tensor whose distribution is shown"></select></label>' +
      '<label class="field">Of <select class="dist-of" aria-label="weights or their gradients">' +
      '<option value="weight">weights</option><option value="grad">gradients</option></select></label>' +
      '</div>';
    container.classList.add('lab-distributions');
    this.param = container.querySelector('.dist-param') as HTMLSelectElement;
    this.of = container.querySelector('.dist-of') as HTMLSelectElement;
    this.canvas = document.createElement('canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.readout = document.createElement('p');
    this.readout.className = 'readout';
    container.append(this.canvas, this.readout);
    this.of.value = pick.of;
    const changed = (): void => {
      this.wanted = this.param.value || this.wanted;
      this.refresh();
      pick.onChange?.({ name: this.wanted, of: this.of.value as HistogramRecord['of'] });
    };
    this.param.addEventListener('change', changed);
    this.of.addEventListener('change', changed);
    // Announced while the chart has focus (the keys move through steps), not at every step a live run adds.
    this.canvas.addEventListener('focus', () => this.readout.setAttribute('aria-live', 'polite'));
    this.canvas.addEventListener('blur', () => this.readout.removeAttribute('aria-live'));
    this.canvas.addEventListener('keydown', (event) => this.key(event));
    this.canvas.addEventListener('mousemove', (event) => this.point(event));
    new ResizeObserver(() => this.draw()).observe(container);
  }

  update(records: readonly MetricsRecord[]): void {
    this.records = records;
    const options = histogramOptions(records);
    const key = options.map((o) => o.name).join('\n');
    if (key !== this.optionsKey) {
      // Rebuilt only when the tensors change, so a user's pick (and the select's focus) survives new steps.
      const before = this.param.value;
      this.optionsKey = key;
      this.options = options;
      this.param.innerHTML = options
        .map((o) => `<option value="${escapeHtml(o.name)}">layer ${o.layer} · ${escapeHtml(o.name)}</option>`)
        .join('');
      const keep = [before, this.wanted].find((name) => options.some((o) => o.name === name));
      if (keep) this.param.value = keep;
      this.param.disabled = options.length === 0;
    }
    this.refresh();
  }

  /** Marks the ridge nearest the step under the charts' crosshair (null: none). */
  setCursor(step: number | null): void {
    if (step === this.cursorStep) return;
    this.cursorStep = step;
    this.draw();
  }

  /** Follows the charts' zoom of the step axis. */
  setRange(range: { min: number; max: number } | null): void {
    this.range = range;
    this.refresh();
  }

  private refresh(): void {
    const name = this.param.value;
    const of = this.of.value as HistogramRecord['of'];
    this.data = name
      ? mountains(this.records, name, of, this.range)
      : { ridges: [], min: 0, max: 0, thinned: 0 };
    const n = this.data.ridges.length;
    if (this.focus !== null && this.focus >= n) this.focus = n > 0 ? n - 1 : null;
    const last = this.data.ridges.at(-1);
    Object.assign(this.container.dataset, {
      ridges: String(n),
      param: name,
      of,
      lastStep: last ? String(last.step) : '',
    });
    this.canvas.setAttribute(
      'aria-label',
      n === 0
        ? 'distributions: no histograms recorded yet'
        : `distributions of ${name} ${OF_TEXT[of].label}: ${n} logged steps up to step ${last?.step}, values from ${formatNumber(this.data.min)} to ${formatNumber(this.data.max)}; use the up and down arrow keys to read a step`,
    );
    this.draw();
    this.describe();
  }

  private geometry(width: number, height: number): { plotW: number; plotH: number; ridgeH: number } {
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    return { plotW, plotH, ridgeH: plotH * RIDGE_SHARE };
  }

  /** The baseline of ridge i of n: the oldest just below the top band, the newest at the bottom. */
  private baseline(i: number, n: number, plotH: number, ridgeH: number): number {
    const t = n <= 1 ? 1 : i / (n - 1);
    return MARGIN.top + ridgeH + t * (plotH - ridgeH);
  }

  private draw(): void {
    const width = Math.max(320, this.container.clientWidth || 600);
    const height = 340;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#333';
    const { ridges } = this.data;
    const n = ridges.length;
    const { plotW, plotH, ridgeH } = this.geometry(width, height);
    if (n === 0) {
      ctx.fillText(
        this.options.length === 0
          ? 'no histograms in this run yet: they are recorded on logged steps (monitor.histograms)'
          : 'no histogram of this kind in the steps shown',
        MARGIN.left,
        MARGIN.top + 20,
      );
      return;
    }
    const axis = valueAxis(this.data);
    const x = (v: number): number => MARGIN.left + ((v - axis.min) / (axis.max - axis.min)) * plotW;
    const cursor = this.cursorStep === null ? -1 : nearestRidge(ridges, this.cursorStep);
    for (let i = 0; i < n; i++) {
      const r = ridges[i]!;
      const base = this.baseline(i, n, plotH, ridgeH);
      ctx.beginPath();
      if (r.total === 0) {
        ctx.moveTo(MARGIN.left, base);
        ctx.lineTo(MARGIN.left + plotW, base);
      } else if (r.max === r.min) {
        // Every entry equal: a spike at that value.
        ctx.moveTo(x(r.min) - 2, base);
        ctx.lineTo(x(r.min), base - ridgeH);
        ctx.lineTo(x(r.min) + 2, base);
      } else {
        ctx.moveTo(x(r.min), base);
        r.centres.forEach((c, b) => ctx.lineTo(x(c), base - (r.heights[b] as number) * ridgeH));
        ctx.lineTo(x(r.max), base);
      }
      ctx.closePath();
      ctx.fillStyle = ridgeColor(i, n);
      ctx.fill();
      ctx.strokeStyle = i === this.focus || i === cursor ? '#000' : 'rgba(255, 255, 255, 0.9)';
      ctx.lineWidth = i === this.focus ? 2 : 1;
      ctx.setLineDash(i === cursor && i !== this.focus ? [4, 3] : []);
      ctx.stroke();
      ctx.setLineDash([]);
      const bad = r.nan + r.posInf + r.negInf;
      if (bad > 0) {
        ctx.fillStyle = NON_FINITE_COLOR;
        ctx.fillRect(MARGIN.left + plotW + 4, base - 9, 9, 9);
      }
    }
    // Step labels at the right of their baselines, thinned to fit; the step axis title beside them.
    ctx.fillStyle = '#333';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor((plotH - ridgeH) / 14))));
    for (let i = n - 1; i >= 0; i -= every)
      ctx.fillText(String(ridges[i]!.step), MARGIN.left + plotW + 16, this.baseline(i, n, plotH, ridgeH));
    ctx.save();
    ctx.translate(width - 8, MARGIN.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('step (oldest at the back)', 0, 0);
    ctx.restore();
    // The value axis below.
    const bottom = MARGIN.top + plotH;
    ctx.strokeStyle = '#999';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, bottom + 0.5);
    ctx.lineTo(MARGIN.left + plotW, bottom + 0.5);
    ctx.stroke();
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of ticks(axis.min, axis.max)) {
      ctx.fillRect(x(t), bottom, 1, 4);
      ctx.fillText(formatNumber(t), x(t), bottom + 5);
    }
    const of = this.of.value as HistogramRecord['of'];
    ctx.fillText(OF_TEXT[of].axis, MARGIN.left + plotW / 2, bottom + 22);
  }

  private key(event: KeyboardEvent): void {
    const n = this.data.ridges.length;
    if (n === 0) return;
    const current = this.focus ?? n - 1;
    const next: Record<string, number> = {
      ArrowUp: current - 1,
      ArrowDown: current + 1,
      ArrowLeft: current - 1,
      ArrowRight: current + 1,
      Home: 0,
      End: n - 1,
    };
    const to = next[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.focus = Math.max(0, Math.min(n - 1, to));
    this.draw();
    this.describe();
  }

  private point(event: MouseEvent): void {
    const n = this.data.ridges.length;
    if (n === 0) return;
    const box = this.canvas.getBoundingClientRect();
    const { plotH, ridgeH } = this.geometry(box.width, box.height);
    const y = event.clientY - box.top;
    let best = 0;
    for (let i = 1; i < n; i++)
      if (
        Math.abs(this.baseline(i, n, plotH, ridgeH) - y) < Math.abs(this.baseline(best, n, plotH, ridgeH) - y)
      )
        best = i;
    if (best === this.focus) return;
    this.focus = best;
    this.draw();
    this.describe();
  }

  private describe(): void {
    const text = this.readoutText();
    if (this.readout.textContent !== text) this.readout.textContent = text;
  }

  private readoutText(): string {
    const n = this.data.ridges.length;
    if (n === 0) return '';
    const r = this.data.ridges[this.focus ?? n - 1]!;
    const of = OF_TEXT[this.of.value as HistogramRecord['of']].label;
    const peak = r.counts.indexOf(Math.max(...r.counts));
    const nonFinite =
      r.nan + r.posInf + r.negInf > 0
        ? ` · non-finite: NaN ${r.nan}, +∞ ${r.posInf}, −∞ ${r.negInf}`
        : ' · no NaN or ∞';
    return (
      `step ${r.step} · ${this.param.value} ${of}: ${formatNumber(r.total)} values from ${formatNumber(r.min)} to ${formatNumber(r.max)}` +
      (r.total > 0 ? `, most near ${formatNumber(r.centres[peak] as number)}` : '') +
      nonFinite +
      (this.data.thinned > 0
        ? ` · ${this.data.thinned} step${this.data.thinned === 1 ? '' : 's'} thinned out to fit`
        : '')
    );
  }
}

/** The index of the ridge whose step is nearest `step` (ridges in step order, at least one). */
function nearestRidge(ridges: ReadonlyArray<{ step: number }>, step: number): number {
  let best = 0;
  for (let i = 1; i < ridges.length; i++)
    if (
      Math.abs((ridges[i] as { step: number }).step - step) <
      Math.abs((ridges[best] as { step: number }).step - step)
    )
      best = i;
  return best;
}
