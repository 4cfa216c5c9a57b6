/**
 * The layer x step heat map of gradient norms on a canvas: one row per layer (input at the bottom), one column per
 * logged step, coloured on one fixed log10 scale for every run (series.ts `HEAT_SCALE`, viridis), NaN and ∞ cells
 * in their own hatched colour, exact zeros black. It follows the charts' zoom and shows their cursor's step; the
 * cell under the pointer (or under the keyboard's arrow keys) is read out below. DOM only.
 *
 * @example
 * const map = new HeatMap(element);
 * map.update(run.records);
 */
import type { MetricsRecord } from '../io/runlog.js';
import { columnAt, HEAT_SCALE, heatColor, heatGrid, NON_FINITE_COLOR, type HeatGrid } from './series.js';

const MARGIN = { left: 64, right: 78, top: 8, bottom: 34 };

export class HeatMap {
  private readonly canvas: HTMLCanvasElement;
  private readonly readout: HTMLElement;
  private grid: HeatGrid = { steps: [], layers: [], values: [] };
  /** Indices of the columns drawn (the zoomed range). */
  private first = 0;
  private last = -1;
  private range: { min: number; max: number } | null = null;
  private cursorStep: number | null = null;
  private focus: { row: number; column: number } | null = null;

  constructor(readonly container: HTMLElement) {
    container.innerHTML = '';
    container.classList.add('lab-heatmap');
    this.canvas = document.createElement('canvas');
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.readout = document.createElement('p');
    this.readout.className = 'readout';
    container.append(this.canvas, this.readout);
    this.canvas.addEventListener('mousemove', (event) => this.point(event));
    this.canvas.addEventListener('mouseleave', () => {
      this.focus = null;
      this.readout.textContent = '';
      this.draw();
    });
    this.canvas.addEventListener('keydown', (event) => this.key(event));
    new ResizeObserver(() => this.draw()).observe(container);
  }

  update(records: readonly MetricsRecord[]): void {
    this.grid = heatGrid(records);
    this.container.dataset['columns'] = String(this.grid.steps.length);
    this.container.dataset['rows'] = String(this.grid.layers.length);
    this.container.dataset['lastStep'] = String(this.grid.steps.at(-1) ?? '');
    this.canvas.setAttribute(
      'aria-label',
      this.grid.steps.length === 0
        ? 'gradient heat map: no steps logged yet'
        : `gradient heat map: ${this.grid.layers.length} layers by ${this.grid.steps.length} logged steps, up to step ${this.grid.steps.at(-1)}; use the arrow keys to read cells`,
    );
    this.draw();
  }

  /** Follows the charts' zoom of the step axis. */
  setRange(range: { min: number; max: number } | null): void {
    this.range = range;
    this.draw();
  }

  /** Marks the step under the charts' cursor. */
  setCursor(step: number | null): void {
    if (step === this.cursorStep) return;
    this.cursorStep = step;
    this.draw();
  }

  private columns(): void {
    const steps = this.grid.steps;
    this.first = 0;
    this.last = steps.length - 1;
    if (this.range) {
      const { min, max } = this.range;
      while (this.first < steps.length && (steps[this.first] as number) < min) this.first++;
      while (this.last >= 0 && (steps[this.last] as number) > max) this.last--;
    }
  }

  private draw(): void {
    const width = Math.max(320, this.container.clientWidth || 600);
    const rows = this.grid.layers.length;
    const height = Math.max(140, Math.min(420, 18 * rows + MARGIN.top + MARGIN.bottom));
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
    this.columns();
    const count = this.last - this.first + 1;
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    if (rows === 0 || count <= 0) {
      ctx.fillText('the heat map fills in at the first logged step', MARGIN.left, MARGIN.top + 20);
      return;
    }
    const cellW = plotW / count;
    const cellH = plotH / rows;
    for (let r = 0; r < rows; r++) {
      const y = MARGIN.top + (rows - 1 - r) * cellH;
      const values = this.grid.values[r] as number[];
      for (let c = 0; c < count; c++) {
        const value = values[this.first + c] as number;
        const x = MARGIN.left + c * cellW;
        ctx.fillStyle = heatColor(value);
        ctx.fillRect(x, y, Math.ceil(cellW + 0.5), Math.ceil(cellH + 0.5));
        if (!Number.isFinite(value)) this.hatch(ctx, x, y, cellW, cellH);
      }
    }
    // Axes: layer numbers on the left, steps below.
    ctx.fillStyle = '#333';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const every = Math.max(1, Math.ceil(rows / Math.max(1, Math.floor(plotH / 14))));
    for (let r = 0; r < rows; r += every)
      ctx.fillText(`layer ${this.grid.layers[r]}`, MARGIN.left - 6, MARGIN.top + (rows - 0.5 - r) * cellH);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const ticks = Math.min(count, 8);
    for (let t = 0; t < ticks; t++) {
      const c = Math.round((t * (count - 1)) / Math.max(1, ticks - 1));
      ctx.fillText(
        String(this.grid.steps[this.first + c]),
        MARGIN.left + (c + 0.5) * cellW,
        MARGIN.top + plotH + 4,
      );
    }
    ctx.fillText('step', MARGIN.left + plotW / 2, MARGIN.top + plotH + 18);
    this.colourBar(ctx, width - MARGIN.right + 14, MARGIN.top, plotH);
    if (this.cursorStep !== null) {
      const c = this.nearestColumn(this.cursorStep);
      if (c !== null) {
        ctx.strokeStyle = '#fff';
        ctx.lineWidth = 2;
        ctx.strokeRect(MARGIN.left + c * cellW, MARGIN.top, Math.max(2, cellW), plotH);
      }
    }
    if (this.focus) {
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 2;
      ctx.strokeRect(
        MARGIN.left + this.focus.column * cellW,
        MARGIN.top + (rows - 1 - this.focus.row) * cellH,
        Math.max(2, cellW),
        cellH,
      );
    }
  }

  private hatch(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1;
    for (let d = -h; d < w; d += 5) {
      ctx.moveTo(x + d, y + h);
      ctx.lineTo(x + d + h, y);
    }
    ctx.stroke();
    ctx.restore();
  }

  private colourBar(ctx: CanvasRenderingContext2D, x: number, y: number, h: number): void {
    const span = HEAT_SCALE.max - HEAT_SCALE.min;
    for (let i = 0; i < h; i++) {
      ctx.fillStyle = heatColor(10 ** (HEAT_SCALE.max - (i / h) * span));
      ctx.fillRect(x, y + i, 12, 1.5);
    }
    ctx.fillStyle = '#333';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    for (let e = HEAT_SCALE.max; e >= HEAT_SCALE.min; e -= 2)
      ctx.fillText(`1e${e}`, x + 16, y + ((HEAT_SCALE.max - e) / span) * h);
    ctx.fillStyle = NON_FINITE_COLOR;
    ctx.fillRect(x, y + h + 8, 12, 10);
    ctx.fillStyle = '#333';
    ctx.fillText('NaN/∞', x + 16, y + h + 13);
  }

  private nearestColumn(step: number): number | null {
    for (let c = 0; c <= this.last - this.first; c++)
      if ((this.grid.steps[this.first + c] as number) >= step) return c;
    return null;
  }

  private point(event: MouseEvent): void {
    const box = this.canvas.getBoundingClientRect();
    const count = this.last - this.first + 1;
    const rows = this.grid.layers.length;
    const plotW = box.width - MARGIN.left - MARGIN.right;
    const plotH = box.height - MARGIN.top - MARGIN.bottom;
    const fx = (event.clientX - box.left - MARGIN.left) / plotW;
    const fy = (event.clientY - box.top - MARGIN.top) / plotH;
    if (count <= 0 || fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    this.focus = { column: columnAt(count, fx), row: rows - 1 - columnAt(rows, fy) };
    this.describeFocus();
  }

  private key(event: KeyboardEvent): void {
    const count = this.last - this.first + 1;
    const rows = this.grid.layers.length;
    if (count <= 0 || rows === 0) return;
    const focus = this.focus ?? { row: 0, column: count - 1 };
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
      ArrowUp: [1, 0],
      ArrowDown: [-1, 0],
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    this.focus = {
      row: Math.max(0, Math.min(rows - 1, focus.row + move[0])),
      column: Math.max(0, Math.min(count - 1, focus.column + move[1])),
    };
    this.describeFocus();
  }

  private describeFocus(): void {
    if (!this.focus) return;
    const value = this.grid.values[this.focus.row]?.[this.first + this.focus.column];
    const step = this.grid.steps[this.first + this.focus.column];
    const text =
      value === undefined
        ? '–'
        : Number.isFinite(value)
          ? value.toExponential(2)
          : Number.isNaN(value)
            ? 'NaN (or no gradient)'
            : String(value);
    this.readout.textContent = `layer ${this.grid.layers[this.focus.row]} · step ${step} · gradient norm ${text}`;
    this.draw();
  }
}
