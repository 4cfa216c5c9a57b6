/**
 * Issue 13 end to end: `gradscope run` trains the Transformer from a config. A tiny decoder-only char LM (2 layers,
 * dModel 32, 32 characters of context, Adam 0.01, 100 steps) must beat the unigram baseline on held-out text; a
 * dModel that the heads do not divide is refused before training, naming the field (exit 2).
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gradscope, tempDir } from '../testing/cli.js';

const TINY = {
  name: 'tiny-char-lm',
  seed: 0,
  task: { name: 'char-lm', length: 32 },
  model: { kind: 'transformer', layers: 2, dModel: 32, heads: 4 },
  optimizer: { name: 'adam', learningRate: 0.01 },
  train: { steps: 100, batchSize: 16 },
  monitor: { every: 10 },
};

function writeConfig(dir: string, file: string, config: unknown): string {
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('transformer from the config (end to end)', () => {
  const dir = tempDir();

  it('a 2-layer char-lm transformer gets below the unigram baseline in 100 steps', () => {
    const r = gradscope(['run', writeConfig(dir, 'tiny.json', TINY), '--out', join(dir, 'tiny'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      steps: number;
      eval: { loss: number };
      baseline: { loss: number; description: string };
    };
    assert.equal(summary.steps, 100);
    assert.match(summary.baseline.description, /unigram/);
    assert.ok(
      summary.eval.loss < summary.baseline.loss - 0.3,
      `eval loss ${summary.eval.loss} vs unigram ${summary.baseline.loss}`,
    );
    assert.doesNotMatch(
      r.stderr,
      /no preflight/,
      'a model preflight does not probe is trained without a warning',
    );
    assert.ok(existsSync(join(dir, 'tiny', 'metrics.jsonl')));
  });

  it('a Pre-LN transformer learns the adding problem (T = 20) and is read as healthy', () => {
    // Measured 2026-12-04: eval MSE 0.015 against the baseline's 1/6 in 300 steps (about 11 s); its tokens stay
    // similar (0.98), which the doctor keeps as information for a run that learns.
    const config = {
      task: { name: 'adding', length: 20 },
      model: { kind: 'transformer', layers: 2, dModel: 32, heads: 4, norm: 'pre' },
      optimizer: { name: 'adam', learningRate: 0.003 },
      train: { steps: 300, batchSize: 32 },
    };
    const r = gradscope([
      'run',
      writeConfig(dir, 'adding.json', config),
      '--out',
      join(dir, 'adding'),
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as {
      verdict: string;
      eval: { loss: number };
      baseline: { loss: number };
    };
    assert.ok(
      summary.eval.loss < summary.baseline.loss / 4,
      `eval ${summary.eval.loss} vs ${summary.baseline.loss}`,
    );
    assert.equal(summary.verdict, 'healthy');
  });

  it('dModel not divisible by heads: exit 2 naming model.heads, before any run directory is made', () => {
    const bad = { ...TINY, model: { ...TINY.model, dModel: 30 } };
    const out = join(dir, 'bad');
    const r = gradscope(['run', writeConfig(dir, 'bad.json', bad), '--out', out]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /model\.heads: dModel 30 is not divisible by heads 4/);
    assert.match(r.stderr, /use heads 1 or 2/);
    assert.equal(existsSync(out), false);
  });

  it('preflight probes a transformer: per block, with the depth scan of Xiong et al. 2020', () => {
    const r = gradscope(['preflight', writeConfig(dir, 'pre.json', TINY), '--networks', '2', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      layers: Array<{ layer: number }>;
      transformer: { depthScan: Array<{ layers: number }> };
    };
    assert.deepEqual(
      report.layers.map((l) => l.layer),
      [1, 2],
    );
    assert.deepEqual(
      report.transformer.depthScan.map((d) => d.layers),
      [1, 2, 4],
    );
  });
});
