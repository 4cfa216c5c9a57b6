/**
 * The lab's interactive line charts, drawn by uPlot (canvas; tens of thousands of points): drag to zoom the steps,
 * double-click to zoom out, a crosshair whose step is shared by every chart of a `ChartGroup` (linked cursors), the
 * zoom shared the same way, smoothing (series.ts `smooth`, the raw line kept faint behind as TensorBoard does) and a
 * log or linear y axis. The legend and the value read-out are plain HTML, so they are keyboard- and screen-reader-
 * friendly. DOM only; the numbers come from series.ts.
 *
 * @example
 * const group = new ChartGroup();
 * const chart = new LineChart(element, { title: 'Loss', yLabel: 'loss (cross-entropy, nats)' }, group);
 * chart.update([{ label: 'run A', color: '#0072B2', points: [[1, 2.3], [10, 1.2]] }], { smoothing: 0.6, log: false });
 */
import uPlot from 'uplot';
import { alignRuns, forLinearAxis, forLogAxis, NON_FINITE_COLOR, smooth } from './series.js';

/** One line: a run's metric, or a layer's gradient norm. */
export interface LineSeries {
  label: string;
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Dashed (e.g. the global norm beside the layers). */
  dash?: boolean;
}

export interface LineChartOptions {
  title: string;
  /** The y axis' label, with its unit. */
  yLabel: string;
  height?: number;
  /** Shown when there is nothing to draw. */
  empty: string;
}

export interface ChartView {
  smoothing: number;
  log: boolean;
}

/** Charts whose cursor and zoom move together; the heat map listens too. */
export class ChartGroup {
  readonly key = `gradscope-${Math.random().toString(36).slice(2)}`;
  readonly charts = new Set<LineChart>();
  /** The shared zoom of the step axis, null when zoomed out. */
  range: { min: number; max: number } | null = null;
  private syncing = false;
  readonly zoomListeners: Array<(range: { min: number; max: number } | null) => void> = [];
  readonly cursorListeners: Array<(step: number | null) => void> = [];

  zoom(from: LineChart | null, range: { min: number; max: number } | null): void {
    if (this.syncing) return;
    this.syncing = true;
    try {
      this.range = range;
      for (const chart of this.charts) if (chart !== from) chart.applyRange(range);
      for (const listener of this.zoomListeners) listener(range);
    } finally {
      this.syncing = false;
    }
  }

  cursor(step: number | null): void {
    for (const listener of this.cursorListeners) listener(step);
  }
}

function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(2) : value.toPrecision(4);
}

/**
 * Labels for a log axis: powers of ten only (uPlot also ticks 2x, 5x...), thinned to about six so that a chart
 * spanning fifteen decades stays readable.
 */
function logLabels(splits: readonly (number | null)[]): string[] {
  const exponents = splits.map((v) => {
    if (v === null || !(v > 0)) return null;
    const e = Math.log10(v);
    return Math.abs(e - Math.round(e)) < 1e-9 ? Math.round(e) : null;
  });
  const decades = exponents.filter((e) => e !== null).length;
  // Less than two decades in view: every tick gets its value, or the axis would carry one label or none.
  if (decades < 2) return splits.map((v) => (v === null ? '' : formatValue(v)));
  const every = Math.max(1, Math.ceil(decades / 6));
  return exponents.map((e) =>
    e === null || e % every !== 0 ? '' : e >= -2 && e <= 3 ? String(10 ** e) : `1e${e}`,
  );
}

/** A uPlot line chart with its title, legend and read-out, redrawn from `update`. */
export class LineChart {
  private plot: uPlot | null = null;
  /** Series labels, colours and the axis scale the current plot was built for: a change rebuilds it. */
  private shape = '';
  private readonly frame: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly message: HTMLElement;
  private series: LineSeries[] = [];
  private nonFinite: number[] = [];
  private data: uPlot.AlignedData = [[]];
  private applying = false;
  /** The crosshair's index when moved by keyboard. */
  private keyIndex: number | null = null;

  constructor(
    readonly container: HTMLElement,
    private options: LineChartOptions,
    readonly group: ChartGroup,
  ) {
    container.classList.add('lab-chart');
    container.innerHTML = '';
    this.frame = document.createElement('div');
    this.frame.className = 'frame';
    this.message = document.createElement('p');
    this.message.className = 'muted chart-empty';
    this.legend = document.createElement('ul');
    this.legend.className = 'legend';
    this.readout = document.createElement('p');
    this.readout.className = 'readout';
    this.readout.setAttribute('aria-live', 'off');
    container.append(this.frame, this.message, this.legend, this.readout);
    group.charts.add(this);
    new ResizeObserver(() => this.resize()).observe(container);
  }

  private width(): number {
    return Math.max(240, Math.floor(this.container.clientWidth || 560));
  }

  private resize(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 2)
      this.plot.setSize({ width: this.width(), height: this.options.height ?? 260 });
  }

  /** Follows the group's zoom (another chart was zoomed). */
  applyRange(range: { min: number; max: number } | null): void {
    if (!this.plot) return;
    this.applying = true;
    try {
      const xs = this.data[0] as number[];
      const min = range?.min ?? xs[0];
      const max = range?.max ?? xs[xs.length - 1];
      if (min !== undefined && max !== undefined && max > min) this.plot.setScale('x', { min, max });
    } finally {
      this.applying = false;
    }
    this.describeRange();
  }

  private describeRange(): void {
    const scale = this.plot?.scales['x'];
    this.container.dataset['xMin'] = String(scale?.min ?? '');
    this.container.dataset['xMax'] = String(scale?.max ?? '');
    this.container.dataset['zoomed'] = String(this.group.range !== null);
  }

  /** A new title and y axis label (another metric): the next `update` rebuilds the plot. */
  retitle(title: string, yLabel: string): void {
    if (title === this.options.title && yLabel === this.options.yLabel) return;
    this.options = { ...this.options, title, yLabel };
    this.shape = '';
  }

  update(series: readonly LineSeries[], view: ChartView): void {
    this.series = [...series];
    const aligned = alignRuns(series);
    const axis = view.log ? forLogAxis : forLinearAxis;
    const ys: (number | null)[][] = [];
    this.nonFinite = [];
    aligned.ys.forEach((y) => {
      y.forEach((v, i) => {
        if (v !== null && !Number.isFinite(v)) this.nonFinite.push(aligned.x[i] as number);
      });
      ys.push(axis(y));
      ys.push(axis(smooth(forLinearAxis(y), view.smoothing)));
    });
    this.data = [aligned.x, ...ys] as uPlot.AlignedData;
    const points = aligned.x.length;
    this.container.dataset['points'] = String(points);
    this.container.dataset['series'] = String(series.length);
    this.container.dataset['lastStep'] = String(aligned.x[points - 1] ?? '');
    this.message.textContent = points === 0 ? this.options.empty : '';
    this.message.hidden = points > 0;
    const shape = JSON.stringify([
      series.map((s) => [s.label, s.color, s.dash ?? false]),
      view.log,
      view.smoothing > 0,
    ]);
    if (shape !== this.shape || this.plot === null) {
      this.shape = shape;
      this.build(view);
    } else {
      this.plot.setData(this.data, this.group.range === null);
      if (this.group.range !== null) this.applyRange(this.group.range);
    }
    this.renderLegend();
    this.describeRange();
  }

  private build(view: ChartView): void {
    this.plot?.destroy();
    const seriesOptions: uPlot.Series[] = [{ label: 'step' }];
    for (const s of this.series) {
      // The raw values, faint when smoothing is on; then the smoothed line.
      seriesOptions.push({
        label: `${s.label} (raw)`,
        stroke: s.color,
        width: 1,
        alpha: view.smoothing > 0 ? 0.25 : 1,
        spanGaps: true,
        points: { show: false },
        ...(s.dash ? { dash: [6, 4] } : {}),
      });
      seriesOptions.push({
        label: s.label,
        stroke: s.color,
        width: 2,
        spanGaps: true,
        show: view.smoothing > 0,
        points: { show: false },
        ...(s.dash ? { dash: [6, 4] } : {}),
      });
    }
    const group = this.group;
    const opts: uPlot.Options = {
      title: this.options.title,
      width: this.width(),
      height: this.options.height ?? 260,
      legend: { show: false },
      cursor: {
        sync: { key: group.key, setSeries: false },
        drag: { x: true, y: false, setScale: true },
        points: { size: 6 },
      },
      scales: {
        x: { time: false },
        y: view.log ? { distr: 3, log: 10 } : { auto: true },
      },
      axes: [
        { label: 'step', stroke: '#333', grid: { stroke: '#e6e6e6' } },
        {
          label: `${this.options.yLabel}${view.log ? ', log scale' : ''}`,
          stroke: '#333',
          grid: { stroke: '#e6e6e6' },
          size: 72,
          values: (_u, splits) =>
            view.log ? logLabels(splits) : splits.map((v) => (v === null ? '' : formatValue(v))),
        },
      ],
      series: seriesOptions,
      hooks: {
        setScale: [
          (u, key) => {
            if (key !== 'x' || this.applying) return;
            const xs = this.data[0] as number[];
            const min = u.scales['x']?.min;
            const max = u.scales['x']?.max;
            const full =
              xs.length === 0 ||
              (min !== undefined &&
                max !== undefined &&
                min <= (xs[0] as number) &&
                max >= (xs[xs.length - 1] as number));
            group.zoom(this, full || min === undefined || max === undefined ? null : { min, max });
            this.describeRange();
          },
        ],
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            const step = idx === null || idx === undefined ? null : ((this.data[0] as number[])[idx] ?? null);
            this.showReadout(idx ?? null);
            group.cursor(step);
          },
        ],
        draw: [(u) => this.drawNonFinite(u)],
      },
    };
    this.frame.innerHTML = '';
    this.plot = new uPlot(opts, this.data, this.frame);
    const canvas = this.frame.querySelector('canvas');
    canvas?.setAttribute('role', 'img');
    canvas?.setAttribute('aria-label', `${this.options.title}: ${this.options.yLabel} against step`);
    this.enableKeyboard(this.plot);
    if (group.range !== null) this.applyRange(group.range);
  }

  /**
   * The plot area takes the keyboard: arrows move the crosshair (Shift: ten points), + and - zoom in and out around
   * it, 0 or Escape zooms out; the read-out is announced while the chart has focus.
   */
  private enableKeyboard(u: uPlot): void {
    const over = u.over;
    over.tabIndex = 0;
    over.setAttribute('role', 'group');
    over.setAttribute(
      'aria-label',
      `${this.options.title}: arrow keys move the crosshair, + and - zoom, 0 zooms out`,
    );
    over.addEventListener('focus', () => this.readout.setAttribute('aria-live', 'polite'));
    over.addEventListener('blur', () => this.readout.setAttribute('aria-live', 'off'));
    over.addEventListener('keydown', (event) => {
      const xs = this.data[0] as number[];
      if (xs.length === 0) return;
      const min = u.scales['x']?.min ?? (xs[0] as number);
      const max = u.scales['x']?.max ?? (xs[xs.length - 1] as number);
      const inView = xs.map((x, i) => [x, i] as const).filter(([x]) => x >= min && x <= max);
      const first = inView[0]?.[1] ?? 0;
      const last = inView[inView.length - 1]?.[1] ?? xs.length - 1;
      const at =
        this.keyIndex !== null && this.keyIndex >= first && this.keyIndex <= last ? this.keyIndex : null;
      const move = (by: number): void => {
        const index = Math.min(last, Math.max(first, (at ?? (by > 0 ? first - 1 : last + 1)) + by));
        this.keyIndex = index;
        u.setCursor({
          left: u.valToPos(xs[index] as number, 'x'),
          top: u.bbox.height / devicePixelRatio / 2,
        });
      };
      const zoom = (factor: number): void => {
        const centre = at === null ? (min + max) / 2 : (xs[at] as number);
        const half = ((max - min) * factor) / 2;
        const lo = Math.max(xs[0] as number, centre - half);
        const hi = Math.min(xs[xs.length - 1] as number, centre + half);
        const full = lo <= (xs[0] as number) && hi >= (xs[xs.length - 1] as number);
        if (hi > lo) this.group.zoom(null, full ? null : { min: lo, max: hi });
      };
      const step = event.shiftKey ? 10 : 1;
      const actions: Record<string, () => void> = {
        ArrowRight: () => move(step),
        ArrowLeft: () => move(-step),
        Home: () => move(-xs.length),
        End: () => move(xs.length),
        '+': () => zoom(0.5),
        '=': () => zoom(0.5),
        '-': () => zoom(2),
        '0': () => this.group.zoom(null, null),
        Escape: () => this.group.zoom(null, null),
      };
      const action = actions[event.key];
      if (action === undefined) return;
      event.preventDefault();
      action();
    });
  }

  /** A mark at the top of the plot at each step where a value was NaN or infinite (a gap in the line). */
  private drawNonFinite(u: uPlot): void {
    if (this.nonFinite.length === 0) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.fillStyle = NON_FINITE_COLOR;
    const top = u.bbox.top;
    for (const step of this.nonFinite) {
      const x = u.valToPos(step, 'x', true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x - 5, top);
      ctx.lineTo(x + 5, top);
      ctx.lineTo(x, top + 8);
      ctx.fill();
    }
    ctx.restore();
  }

  private renderLegend(): void {
    this.legend.innerHTML = '';
    for (const s of this.series) {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = `swatch${s.dash ? ' dashed' : ''}`;
      swatch.style.borderColor = s.color;
      item.append(swatch, document.createTextNode(s.label));
      this.legend.append(item);
    }
    if (this.nonFinite.length > 0) {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch nonfinite';
      item.append(swatch, document.createTextNode('NaN or ∞ (a gap in the line)'));
      this.legend.append(item);
    }
  }

  private showReadout(idx: number | null): void {
    if (idx === null) {
      this.readout.textContent = '';
      return;
    }
    const step = (this.data[0] as number[])[idx];
    const parts = this.series.map((s, i) => {
      const raw = (this.data[1 + 2 * i] as (number | null)[])[idx];
      const smoothed = (this.data[2 + 2 * i] as (number | null)[])[idx];
      const shown = this.plot?.series[2 + 2 * i]?.show ? smoothed : raw;
      return `${s.label} ${formatValue(shown)}`;
    });
    this.readout.textContent = `step ${step}: ${parts.join(' · ')}`;
  }
}
