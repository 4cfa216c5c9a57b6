import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRuns, renderComparison } from './comparison.js';
import { sampleRun } from './sample-runs.js';

const count = (text: string, needle: string): number => text.split(needle).length - 1;

function figureById(html: string, id: string): string {
  const open = html.indexOf(`id="${id}"`);
  assert.ok(open >= 0, `figure ${id} is missing`);
  return html.slice(open, html.indexOf('</figure>', open));
}

describe('compareRuns', () => {
  it('picks the lowest finite eval loss as best', () => {
    const runs = [
      sampleRun({ name: 'diverged', evalLoss: NaN }),
      sampleRun({ name: 'ok', evalLoss: 0.5 }),
      sampleRun({ name: 'good', evalLoss: 0.3 }),
      sampleRun({ name: 'exploded', evalLoss: Infinity }),
      sampleRun({ name: 'negative-infinity', evalLoss: -Infinity }),
      sampleRun({ name: 'also-good', evalLoss: 0.3 }),
    ];
    const comparison = compareRuns(runs);
    assert.equal(comparison.best, 'good');
    assert.equal(comparison.bestIndex, 2);
    assert.deepEqual(
      comparison.runs.map((r) => r.name),
      ['diverged', 'ok', 'good', 'exploded', 'negative-infinity', 'also-good'],
    );
  });

  it('has no best when no eval loss is finite', () => {
    const comparison = compareRuns([sampleRun({ evalLoss: NaN }), sampleRun({ evalLoss: Infinity })]);
    assert.equal(comparison.best, null);
    assert.equal(comparison.bestIndex, null);
    assert.equal(compareRuns([]).best, null);
  });

  it('carries each run’s outcome and its finding codes, most severe first', () => {
    const run = sampleRun({
      name: 'a',
      verdict: 'vanishing',
      findings: [
        { code: 'clipping_inactive', severity: 'info' },
        { code: 'vanishing_gradient', severity: 'critical' },
        { severity: 'warning' },
      ],
    });
    const [entry] = compareRuns([{ ...run, dir: 'runs/a' }]).runs;
    assert.ok(entry);
    assert.equal(entry.name, 'a');
    assert.equal(entry.dir, 'runs/a');
    assert.equal(entry.verdict, 'vanishing');
    assert.deepEqual(entry.findings, ['vanishing_gradient', 'clipping_inactive']);
    assert.equal(entry.eval.loss, run.summary.eval.loss);
    assert.equal(entry.baseline.loss, run.summary.baseline.loss);
    assert.equal(entry.stepsPerSecond, run.summary.stepsPerSecond);
    assert.equal(entry.skippedSteps, run.summary.skippedSteps);
    assert.equal(entry.clippedSteps, run.summary.clippedSteps);
    assert.equal(compareRuns([run]).runs[0]?.verdict, 'vanishing');
    assert.equal(compareRuns([sampleRun()]).runs[0]?.verdict, null);
  });
});

describe('renderComparison', () => {
  it('draws the runs side by side on a self-contained page', () => {
    const runs = [
      sampleRun({
        name: 'sigmoid',
        evalLoss: 0.6,
        verdict: 'vanishing',
        findings: [
          {
            code: 'vanishing_gradient',
            severity: 'critical',
            title: 'Gradients vanish',
            fixes: [{ change: 'norm batch', patch: { model: { norm: 'batch' } }, why: 'w' }],
          },
        ],
      }),
      sampleRun({ name: 'relu', evalLoss: 0.2, verdict: 'healthy' }),
      sampleRun({ name: 'broken', nonFinite: true, evalLoss: NaN, verdict: 'non-finite' }),
    ];
    const { html, comparison } = renderComparison(runs);
    assert.equal(comparison.best, 'relu');
    assert.ok(!/https?:\/\//.test(html) && !/<link\b/i.test(html) && !/\ssrc\s*=/i.test(html));
    for (const id of ['chart-loss', 'chart-first-layer', 'chart-flow']) {
      assert.equal(count(figureById(html, id), '<svg'), 1, id);
      assert.equal(count(figureById(html, id), 'class="series"'), 3, id);
    }
    assert.ok(!html.includes('id="chart-time"'), 'no time chart without recurrent runs');
    assert.equal(count(html, '<tbody>'), 1);
    assert.equal(count(html.slice(html.indexOf('<tbody>')), '<tr'), 3);
    assert.match(html, /relu<\/a>|relu <strong>\(best\)<\/strong>/);
    assert.match(html, /Gradients vanish/);
    assert.match(html, /\{&quot;model&quot;:\{&quot;norm&quot;:&quot;batch&quot;\}\}/);
  });

  it('overlays the gradient through time of recurrent runs, escapes names, and links run reports', () => {
    const rnn = { ...sampleRun({ name: '<b>rnn</b>', recurrent: true }), dir: 'runs/rnn' };
    const { html } = renderComparison([rnn, sampleRun({ name: 'mlp' })]);
    assert.equal(count(figureById(html, 'chart-time'), 'class="series"'), 1);
    assert.ok(!html.includes('<b>rnn'));
    assert.ok(html.includes('&lt;b&gt;rnn&lt;/b&gt;'));
    assert.match(html, /href="runs\/rnn\/report\.html"/);
  });

  it('renders runs with no records', () => {
    const { html, comparison } = renderComparison([{ ...sampleRun({ name: 'empty' }), records: [] }]);
    assert.equal(comparison.best, 'empty');
    assert.match(html, /no data logged/);
  });
});
