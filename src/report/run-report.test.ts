import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeGradRatio } from './figures.js';
import { renderRunReport } from './run-report.js';
import { sampleRun } from './sample-runs.js';

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** The figure with this id, up to its closing tag. */
function figureById(html: string, id: string): string {
  const open = html.indexOf(`" id="${id}"><h3>`);
  assert.ok(open >= 0, `figure ${id} is missing`);
  return html.slice(open, html.indexOf('</figure>', open));
}

/** Outer chart svgs (the heat map's cell grid is a nested svg without the chart class). */
const chartSvgs = (html: string): number => count(html, '<svg id=');

function assertSelfContained(html: string): void {
  assert.ok(!/https?:\/\//.test(html), 'no http(s) URLs');
  assert.ok(!/<link\b/i.test(html), 'no <link>');
  assert.ok(!/\ssrc\s*=/i.test(html), 'no src= attributes');
  assert.ok(!/@import/i.test(html), 'no CSS imports');
  assert.ok(!/url\((?!#)/i.test(html), 'url() only for in-page ids');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.trimEnd().endsWith('</html>'));
}

const BAD_COORDINATE =
  /\s(?:d|x|y|x1|x2|y1|y2|cx|cy|r|width|height|transform|viewBox)="[^"]*(?:NaN|Infinity)/;

const MLP_FIGURES = [
  'chart-loss',
  'chart-grad-norm',
  'chart-heatmap',
  'chart-flow',
  'chart-update-ratio',
  'chart-saturation',
  'chart-dead',
];

const FINDINGS = [
  {
    code: 'clipping_inactive',
    severity: 'info',
    title: 'Clipping never engaged',
    where: {},
    evidence: ['0 of 110 steps clipped'],
    cause: 'max norm 10 is above every norm seen',
    fixes: [],
  },
  {
    code: 'vanishing_gradient',
    severity: 'critical',
    title: 'Gradients vanish toward the input',
    where: { layers: [0, 1, 2], steps: [1, 110] },
    evidence: ['layer 0 gradient norm 1e-4 vs 1 at the output: ratio 1e-4 < 1e-3'],
    cause: 'sigmoid derivative at most 0.25 per layer',
    fixes: [
      {
        change: 'activation relu + init he-normal',
        patch: { model: { activation: 'relu', init: 'he-normal' } },
        why: 'ReLU passes gradient 1',
      },
      { change: 'norm batch', patch: { model: { norm: 'batch' } }, why: 'keeps pre-activations centred' },
    ],
  },
];

describe('renderRunReport', () => {
  it('is a self-contained page with every section and one svg per chart', () => {
    const html = renderRunReport(sampleRun({ verdict: 'vanishing', findings: FINDINGS }));
    assertSelfContained(html);
    for (const id of ['diagnosis', 'training', 'layers', 'activations', 'config'])
      assert.match(html, new RegExp(`<section id="${id}"`));
    for (const id of MLP_FIGURES) assert.equal(chartSvgs(figureById(html, id)), 1, id);
    assert.equal(chartSvgs(html), MLP_FIGURES.length);
    assert.equal(count(html, '<figure'), MLP_FIGURES.length);
    assert.ok(!html.includes('id="chart-time"'), 'no time chart for an MLP');
    assert.match(html, /class="badge verdict-vanishing">vanishing</);
  });

  it('shows the key numbers against the baseline', () => {
    const html = renderRunReport(sampleRun({ evalLoss: 0.3 }));
    assert.match(html, /Eval loss<\/div><div class="value">0\.3</);
    assert.match(html, /beats baseline 0\.693/);
    assert.match(html, /Eval accuracy<\/div><div class="value">80%/);
    assert.match(html, /Baseline: uniform predictions over 2 classes/);
  });

  it('draws the heat map with one row per layer', () => {
    const run = sampleRun({ hidden: 6 });
    const heat = figureById(renderRunReport(run), 'chart-heatmap');
    assert.match(heat, /data-rows="7"/);
    assert.equal(count(heat, 'class="hm-row"'), 7);
    assert.match(heat, /0 input/);
    assert.match(heat, /6 output/);
  });

  it('lists findings most severe first, with evidence, cause and ranked fixes with their config change', () => {
    const html = renderRunReport(sampleRun({ verdict: 'vanishing', findings: FINDINGS }));
    const diagnosis = html.slice(
      html.indexOf('<section id="diagnosis"'),
      html.indexOf('<section id="training"'),
    );
    assert.ok(diagnosis.indexOf('vanishing_gradient') < diagnosis.indexOf('clipping_inactive'));
    assert.match(diagnosis, /Where: layers 0–2 · steps 1–110/);
    assert.match(diagnosis, /ratio 1e-4 &lt; 1e-3/);
    assert.match(diagnosis, /sigmoid derivative at most 0\.25 per layer/);
    const relu = diagnosis.indexOf('activation relu + init he-normal');
    const batch = diagnosis.indexOf('norm batch');
    assert.ok(relu > 0 && batch > relu, 'fixes keep their rank');
    assert.ok(
      diagnosis.includes(
        '{&quot;model&quot;:{&quot;activation&quot;:&quot;relu&quot;,&quot;init&quot;:&quot;he-normal&quot;}}',
      ),
    );
  });

  it('escapes text from the run: names, findings and config', () => {
    const run = sampleRun({
      name: '<script>alert(1)</script>',
      findings: [
        {
          code: 'x<b>',
          severity: 'warning',
          evidence: ['<img onerror=1>'],
          cause: '"quoted" & <i>',
          fixes: ['<u>fix</u>'],
        },
      ],
    });
    const html = renderRunReport(run);
    assert.equal(count(html, '<script>'), 1, 'only the page’s own hover script');
    assert.ok(!html.includes('<script>alert'));
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!html.includes('<img'));
    assert.ok(!html.includes('<b>') && !html.includes('<u>') && !html.includes('<i>'));
    assertSelfContained(html);
  });

  it('renders NaN and Infinity in the records as gaps and markers, never as coordinates', () => {
    const run = sampleRun({ nonFinite: true, logged: 30 });
    assert.ok(run.records.some((r) => Number.isNaN(r.loss)));
    const html = renderRunReport(run);
    assert.doesNotMatch(html, BAD_COORDINATE);
    assert.match(figureById(html, 'chart-loss'), /class="off-chart"/);
    assert.match(figureById(html, 'chart-loss'), /skipped step/);
    assert.match(figureById(html, 'chart-heatmap'), /class="non-finite"/);
    assert.match(html, /Skipped steps<\/div><div class="value">[1-9]/);
    assert.match(html, /The first non-finite value appeared at step \d+: the loss is NaN\./);
    assertSelfContained(html);
  });

  it('adds the per-time-step decay at the first, middle and last logged steps for a recurrent run', () => {
    const run = sampleRun({ recurrent: true, logged: 11, length: 30 });
    const html = renderRunReport(run);
    assert.match(html, /<section id="time"/);
    const time = figureById(html, 'chart-time');
    assert.equal(chartSvgs(time), 1);
    assert.equal(count(time, 'class="series"'), 3);
    for (const step of [1, 50, 100]) assert.match(time, new RegExp(`data-name="step ${step}"`));
    assert.match(time, /\(log scale\)/);
    const timeHeat = figureById(html, 'chart-time-heatmap');
    assert.match(timeHeat, /data-rows="30"/);
    assert.match(timeHeat, /data-columns="11"/);
    assert.match(figureById(html, 'chart-grad-norm'), /after clipping/);
    assert.doesNotMatch(html, BAD_COORDINATE);
  });

  it('renders a run with zero records', () => {
    const run = { ...sampleRun(), records: [] };
    const html = renderRunReport(run);
    assertSelfContained(html);
    assert.match(html, /No metrics were logged/);
    for (const id of MLP_FIGURES) assert.equal(chartSvgs(figureById(html, id)), 1, id);
    assert.match(html, /No diagnosis was recorded/);
    assert.doesNotMatch(html, BAD_COORDINATE);
  });

  it('survives a summary with non-finite numbers and an unknown verdict', () => {
    const run = sampleRun({ verdict: 'mystery' });
    run.summary.finalLoss = NaN;
    run.summary.eval = { loss: Infinity };
    const html = renderRunReport(run);
    assert.match(html, /class="badge verdict-unknown">mystery</);
    assert.match(html, /Final loss<\/div><div class="value">NaN/);
    assert.match(html, /Eval loss<\/div><div class="value">∞/);
  });

  it('is deterministic', () => {
    assert.equal(
      renderRunReport(sampleRun({ recurrent: true })),
      renderRunReport(sampleRun({ recurrent: true })),
    );
  });

  it('measures how much gradient reaches t = 1', () => {
    assert.equal(timeGradRatio([1e-3, 1e-2, 1]), 1e-3);
    assert.ok(Number.isNaN(timeGradRatio([])));
  });
});
