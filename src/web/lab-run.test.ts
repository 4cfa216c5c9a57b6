import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRESETS } from '../config/index.js';
import { advanceRuns, browserPresets, buildRun, checkConfig, withFix, type LabRun } from './lab-run.js';

/** deep-sigmoid cut to a few steps: vanishing from the first logged step. */
function shortDeepSigmoid(steps: number): string {
  const preset = PRESETS.find((p) => p.name === 'deep-sigmoid');
  assert.ok(preset);
  return JSON.stringify({ ...preset.config, train: { steps, batchSize: 16 }, monitor: { every: 2 } });
}

function built(text: string): LabRun {
  const result = buildRun({ label: 'A', text, name: 'deep-sigmoid' });
  assert.ok(result.ok, result.ok ? '' : result.problem.message);
  return result.run;
}

describe('lab runs', () => {
  it('offers only presets whose task runs in a browser', () => {
    const names = browserPresets().map((p) => p.name);
    assert.ok(names.includes('deep-sigmoid') && names.includes('adding-rnn'));
    assert.ok(!names.includes('mnist-mlp'));
  });

  it('explains config problems: broken JSON with its offset, bad fields, MNIST', () => {
    const broken = checkConfig('{"seed": 1,}', 'x');
    assert.ok(!broken.ok);
    assert.equal(broken.problem.kind, 'config');
    assert.equal(broken.problem.offset, 11);
    assert.match(broken.problem.message, /trailing comma/);
    const field = checkConfig('{"model": {"activation": "sigmod"}}', 'x');
    assert.ok(!field.ok);
    assert.match(field.problem.message, /model\.activation.*did you mean "sigmoid"/);
    const mnist = checkConfig('{"task": "mnist"}', 'x');
    assert.ok(!mnist.ok);
    assert.match(mnist.problem.message, /from disk.*npx gradscope run/);
  });

  it('trains to the end, tracks the findings as they appear and keeps the final diagnosis', () => {
    const run = built(shortDeepSigmoid(6));
    assert.equal(run.verdict, 'healthy');
    const first = run.advance();
    assert.equal(first?.step, 1);
    assert.equal(run.verdict, 'vanishing');
    const seen = run.seen.get('vanishing_gradient');
    assert.equal(seen?.firstStep, 1);
    assert.ok((seen?.finding.fixes.length ?? 0) > 0);
    while (!run.done) run.advance();
    assert.equal(run.stepsTaken, 6);
    assert.equal(run.summary?.verdict, 'vanishing');
    assert.equal(run.verdict, 'vanishing');
    assert.equal(run.error, null);
    assert.equal(run.advance(), null);
  });

  it('builds run B from a fix: patched config, same seed and steps, the changes listed', () => {
    const a = built(shortDeepSigmoid(4));
    a.advance();
    const fix = a.seen.get('vanishing_gradient')?.finding.fixes[0];
    assert.ok(fix);
    const b = withFix(a, fix, a.config.name);
    assert.ok(b.ok, b.ok ? '' : b.problem.message);
    assert.equal(b.run.label, 'B');
    assert.equal(b.run.config.seed, a.config.seed);
    assert.equal(b.run.config.train.steps, 4);
    assert.equal(b.run.config.model.kind === 'mlp' && b.run.config.model.activation, 'relu');
    assert.deepEqual(
      b.run.applied.map((f) => f.change),
      [fix.change],
    );
    assert.equal(b.run.config.name, 'deep-sigmoid-b');
  });

  it('steps runs in turn and stops at maxSteps even when the clock stands still', () => {
    const a = built(shortDeepSigmoid(10));
    const b = built(shortDeepSigmoid(10));
    const slice = advanceRuns([a, b], { budgetMs: 1e9, maxSteps: 6, now: () => 0 });
    assert.equal(slice.steps, 6);
    assert.equal(slice.logged, true);
    assert.deepEqual([a.stepsTaken, b.stepsTaken], [3, 3]);
    while (advanceRuns([a, b], { budgetMs: 1e9, maxSteps: 100, now: () => 0 }).steps > 0);
    assert.ok(a.done && b.done);
  });
});
