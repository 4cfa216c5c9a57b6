import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  escapeHtml,
  formatNumber,
  formatPercent,
  formatPower10,
  formatRanges,
  readableJson,
} from './format.js';
import {
  barChart,
  chooseLogScale,
  decimate,
  heatMap,
  lineChart,
  linearAxis,
  logAxis,
  mergeColumns,
  mergeRuns,
  viridis,
} from './svg.js';

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Coordinates and sizes must never carry NaN or Infinity: a browser drops or misplaces such an element. */
const BAD_COORDINATE =
  /\s(?:d|x|y|x1|x2|y1|y2|cx|cy|r|width|height|transform|viewBox)="[^"]*(?:NaN|Infinity)/;

describe('format', () => {
  it('escapes the five HTML characters', () => {
    assert.equal(
      escapeHtml(`<script>"a" & 'b'</script>`),
      '&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;',
    );
  });

  it('formats numbers for people, naming non-finite values', () => {
    assert.equal(formatNumber(NaN), 'NaN');
    assert.equal(formatNumber(Infinity), '∞');
    assert.equal(formatNumber(-Infinity), '−∞');
    assert.equal(formatNumber(0), '0');
    assert.equal(formatNumber(0.000012345), '1.23e-5');
    assert.equal(formatNumber(0.5), '0.5');
    assert.equal(formatNumber(1e-12), '1e-12');
    assert.equal(formatNumber(3.8e10), '3.8e10');
    assert.equal(formatNumber(12345), '12345');
    assert.equal(formatPercent(0.456), '46%');
    assert.equal(formatPercent(0.004), '0.4%');
    assert.equal(formatPower10(-7), '10⁻⁷');
    assert.equal(formatPower10(12), '10¹²');
    assert.equal(formatPower10(-2), '0.01');
    assert.equal(formatRanges([0, 1, 2, 3, 7, 9, 10]), '0–3, 7, 9–10');
  });

  it('writes readable JSON that parses back, keeping short arrays on one line', () => {
    const value = { name: 'x', model: { hidden: [64, 64, 64], init: { normal: 1 } }, loss: NaN };
    const text = readableJson(value);
    assert.match(text, /"hidden": \[64, 64, 64\]/);
    assert.deepEqual(JSON.parse(text), {
      name: 'x',
      model: { hidden: [64, 64, 64], init: { normal: 1 } },
      loss: 'NaN',
    });
  });
});

describe('axes', () => {
  it('puts linear ticks on round numbers', () => {
    const axis = linearAxis(0.66, 0.76, 0, 100);
    assert.deepEqual(
      axis.ticks.map((t) => t.label),
      ['0.66', '0.68', '0.70', '0.72', '0.74', '0.76'],
    );
    assert.equal(axis.toPixel(axis.min), 0);
    assert.equal(axis.toPixel(axis.max), 100);
  });

  it('puts log ticks on powers of ten, at most about six of them', () => {
    const axis = logAxis(3e-15, 2, 0, 100);
    assert.ok(axis.ticks.length <= 8, `${axis.ticks.length} ticks`);
    for (const t of axis.ticks)
      assert.ok(Math.abs(Math.log10(t.value) - Math.round(Math.log10(t.value))) < 1e-9, t.label);
    assert.ok(axis.min <= 3e-15 && axis.max >= 2);
  });

  it('chooses log only for positive values over two decades (or when asked)', () => {
    assert.equal(chooseLogScale([0.5, 0.7], 'auto'), false);
    assert.equal(chooseLogScale([1e-5, 1], 'auto'), true);
    assert.equal(chooseLogScale([0, 1e-5, 1], 'auto'), false);
    assert.equal(chooseLogScale([NaN, 1e-5, 1], 'auto'), true);
    assert.equal(chooseLogScale([0.5, 0.7], 'log'), true);
  });
});

describe('lineChart', () => {
  const base = { id: 'c', title: 'Loss', xLabel: 'step', yLabel: 'loss' };

  it('draws one svg with a path per series and a legend entry per series', () => {
    const svg = lineChart({
      ...base,
      series: [
        {
          name: 'a',
          points: [
            [1, 1],
            [2, 2],
            [3, 3],
          ],
        },
        {
          name: 'b',
          points: [
            [1, 3],
            [2, 2],
            [3, 1],
          ],
        },
      ],
    });
    assert.equal(count(svg, '<svg'), 1);
    assert.equal(count(svg, 'class="series"'), 2);
    assert.match(svg, />a<\/text>/);
    assert.match(svg, />b<\/text>/);
  });

  it('breaks the line at non-finite values and marks them off the chart', () => {
    const svg = lineChart({
      ...base,
      series: [
        {
          name: 'loss',
          points: [
            [1, 1],
            [2, 0.5],
            [3, NaN],
            [4, 0.4],
            [5, Infinity],
            [6, 0.3],
            [7, 0.2],
          ],
        },
      ],
    });
    const path = /<g class="series"[^>]*><path d="([^"]*)"/.exec(svg)?.[1] ?? '';
    assert.equal(count(path, 'M'), 3, path);
    assert.match(svg, /class="off-chart"/);
    assert.match(svg, /NaN or ∞/);
    assert.doesNotMatch(svg, BAD_COORDINATE);
  });

  it('shows values a log axis cannot hold below it, and a lone finite point as a dot', () => {
    const svg = lineChart({
      ...base,
      yScale: 'log',
      series: [
        {
          name: 'g',
          points: [
            [1, 1e-3],
            [2, 0],
            [3, NaN],
          ],
        },
      ],
    });
    assert.match(svg, /below the log axis/);
    assert.match(svg, /<circle/);
    assert.doesNotMatch(svg, BAD_COORDINATE);
  });

  it('uses a log axis when the values span orders of magnitude', () => {
    const svg = lineChart({
      ...base,
      series: [
        {
          name: 'g',
          points: [
            [1, 1e-9],
            [2, 1e-3],
            [3, 10],
          ],
        },
      ],
    });
    assert.match(svg, /\(log scale\)/);
    assert.match(svg, />10⁻⁸</);
  });

  it('draws a band, not hundreds of lines, for a run of skipped steps', () => {
    const points = Array.from({ length: 200 }, (_, i) => [i + 1, i < 4 ? 1 : NaN] as const);
    const markers = points.slice(4).map(([x]) => ({ x, kind: 'skipped' as const }));
    const svg = lineChart({ ...base, series: [{ name: 'loss', points }], markers });
    const group = /<g class="marker marker-skipped">(.*?)<\/g>/.exec(svg)?.[1] ?? '';
    assert.equal(count(group, 'z'), 1, 'one band');
    assert.match(svg, /skipped steps \(196\)/);
  });

  it('escapes names and labels', () => {
    const svg = lineChart({
      ...base,
      xLabel: '<i>',
      series: [{ name: '<script>alert(1)</script>', points: [[1, 1]] }],
    });
    assert.ok(!svg.includes('<script>'));
    assert.ok(svg.includes('&lt;script&gt;'));
    assert.ok(!svg.includes('<i>'));
  });

  it('is deterministic and survives no data at all', () => {
    const options = {
      ...base,
      series: [
        {
          name: 'a',
          points: [
            [1, 0.3],
            [2, 0.1],
          ] as Array<[number, number]>,
        },
      ],
    };
    assert.equal(lineChart(options), lineChart(options));
    const empty = lineChart({ ...base, series: [] });
    assert.equal(count(empty, '<svg'), 1);
    assert.match(empty, /no data/);
    const allNaN = lineChart({
      ...base,
      series: [
        {
          name: 'a',
          points: [
            [1, NaN],
            [2, NaN],
          ],
        },
      ],
    });
    assert.match(allNaN, /no finite values/);
    assert.doesNotMatch(allNaN, BAD_COORDINATE);
  });

  it('thins long series but keeps spikes and gaps', () => {
    const points = Array.from(
      { length: 5000 },
      (_, i) => [i, i === 2500 ? 100 : i === 3000 ? NaN : 1] as const,
    );
    const kept = decimate(points, 400);
    assert.ok(kept.length <= 1200, `${kept.length} points`);
    assert.ok(kept.some((p) => p[1] === 100));
    assert.ok(kept.some((p) => Number.isNaN(p[1])));
  });

  it('merges neighbouring pixels into runs', () => {
    assert.deepEqual(mergeRuns([10, 12, 14, 40], 2), [
      [10, 14],
      [40, 40],
    ]);
  });
});

describe('heatMap', () => {
  const base = { id: 'hm', title: 'grad', xLabel: 'step', yLabel: 'layer', valueLabel: '‖g‖' };

  it('has one row per layer, the input row at the bottom', () => {
    const svg = heatMap({
      ...base,
      rowLabels: ['0 input', '1', '2 output'],
      columns: [1, 10, 20],
      values: [
        [1e-6, 1e-6, 1e-6],
        [1e-3, 1e-3, 1e-3],
        [1, 1, 1],
      ],
    });
    assert.equal(count(svg, '<svg'), 2, 'the chart and its cell grid');
    assert.match(svg, /data-rows="3"/);
    assert.equal(count(svg, 'class="hm-row"'), 3);
    const y = (row: number): number =>
      Number(new RegExp(`data-row="${row}"[^>]* y="([0-9.]+)"`).exec(svg)?.[1]);
    assert.ok(y(0) > y(2), 'row 0 (input) is drawn below row 2 (output)');
    // The darkest colour (the smallest gradient) is on row 0, which sits at the bottom of the cell grid (y = 2).
    assert.match(svg, new RegExp(`fill="${viridis(0)}" d="M0 2h3v1h-3z"`));
  });

  it('hatches non-finite cells, greys zero cells, and never writes NaN coordinates', () => {
    const svg = heatMap({
      ...base,
      rowLabels: ['0', '1'],
      columns: [1, 2, 3],
      values: [
        [1e-3, NaN, 0],
        [1, Infinity, 1],
      ],
    });
    assert.match(svg, /class="non-finite" fill="url\(#hm-hatch\)"/);
    assert.match(svg, /NaN \/ ∞/);
    assert.match(svg, />zero</);
    assert.doesNotMatch(svg, BAD_COORDINATE);
  });

  it('merges columns down to maxColumns, letting a non-finite cell win its bucket', () => {
    const columns = Array.from({ length: 1000 }, (_, i) => i + 1);
    const row = columns.map((c) => (c === 500 ? NaN : 10 ** (-c / 100)));
    const merged = mergeColumns(columns, [row], 300);
    assert.equal(merged.steps.length, 300);
    assert.equal(merged.logs[0]?.filter((v) => Number.isNaN(v)).length, 1);
    const svg = heatMap({ ...base, rowLabels: ['0'], columns, values: [row] });
    assert.match(svg, /data-columns="300"/);
  });

  it('renders a placeholder without rows', () => {
    const svg = heatMap({ ...base, rowLabels: [], columns: [], values: [] });
    assert.equal(count(svg, '<svg'), 1);
    assert.match(svg, /no per-layer data/);
  });
});

describe('barChart', () => {
  it('draws one bar per group and series, and marks missing values', () => {
    const svg = barChart({
      id: 'b',
      title: 'Saturated',
      groups: ['0', '1', '2'],
      series: [
        { name: 'step 1', values: [0, 0.5, 1] },
        { name: 'step 100', values: [0.1, NaN, 0.9] },
      ],
      xLabel: 'layer',
      yLabel: 'saturated',
    });
    assert.equal(count(svg, '<rect x='), 5 + 2, 'five finite bars and two legend swatches');
    assert.match(svg, /layer 1, step 100: NaN/);
    assert.match(svg, />100%</);
  });
});
