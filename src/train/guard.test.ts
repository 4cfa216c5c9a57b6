/** The non-finite guard: skip, rollback, stop and off, with NaN injected mid-run or produced by a diverging run. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveConfig } from '../config/index.js';
import type { GuardMode } from '../config/types.js';
import { parseJsonl } from '../io/jsonl.js';
import type { MetricsRecord } from '../io/runlog.js';
import { gradscope, tempDir } from '../testing/cli.js';
import { train } from './trainer.js';

function config(guard: GuardMode, steps = 20) {
  return resolveConfig(
    {
      seed: 4,
      task: { name: 'spirals' },
      model: { kind: 'mlp', depth: 3, width: 16, activation: 'tanh' },
      optimizer: { name: 'adam', learningRate: 0.01 },
      guard,
      train: { steps, batchSize: 16 },
      monitor: { every: 5 },
    },
    { defaultName: `guard-${guard}` },
  );
}

function records(dir: string): MetricsRecord[] {
  const { records: r, errors } = parseJsonl<MetricsRecord>(readFileSync(join(dir, 'metrics.jsonl'), 'utf8'));
  assert.equal(errors.length, 0);
  return r;
}

function allFinite(result: ReturnType<typeof train>): boolean {
  return result.model.parameters().every((p) => p.data.every((v) => Number.isFinite(v)));
}

describe('non-finite guard', () => {
  it('skip: leaves weights and optimiser state untouched on the bad steps, counts them, names the source', () => {
    const dir = join(tempDir(), 'skip');
    const result = train(config('skip'), { outDir: dir, injectNonFiniteAt: [7, 13] });
    assert.equal(result.summary.skippedSteps, 2);
    assert.ok(allFinite(result));
    const bad = records(dir).filter((r) => r.skipped);
    assert.deepEqual(
      bad.map((r) => r.step),
      [7, 13],
    );
    for (const r of bad) assert.match(r.nonFiniteSource ?? '', /gradient of layers\.0\.weight/);
    assert.deepEqual(result.summary.firstNonFinite, { step: 7, source: bad[0]!.nonFiniteSource });
  });

  it('skip: a skipped step leaves the weights exactly as they were', () => {
    // 7 clean steps against 8 steps whose last is skipped: the weights must be bit-identical.
    const seven = train(config('skip', 7), { outDir: null });
    const eightSkipped = train(config('skip', 8), { outDir: null, injectNonFiniteAt: [8] });
    const weights = (r: ReturnType<typeof train>): Float32Array[] =>
      r.model.parameters().map((p) => Float32Array.from(p.data));
    assert.deepEqual(weights(eightSkipped), weights(seven));
  });

  it('rollback: restores the last good weights, halves the learning rate, records the batch', () => {
    const dir = join(tempDir(), 'rollback');
    const result = train(config('rollback'), { outDir: dir, injectNonFiniteAt: [12] });
    assert.equal(result.summary.rolledBackSteps, 1);
    assert.equal(result.summary.skippedSteps, 1);
    assert.ok(allFinite(result));
    const log = records(dir);
    const bad = log.find((r) => r.step === 12)!;
    assert.equal(bad.rolledBack, true);
    assert.equal(bad.skipped, true);
    const later = log.find((r) => r.step === 15)!;
    assert.ok(Math.abs(later.lr - 0.005) < 1e-12, `lr after rollback ${later.lr}`);
  });

  it('stop: exits 3 from the CLI after writing everything, naming the op', () => {
    const dir = tempDir();
    const cfg = join(dir, 'boom.json');
    const raw = {
      task: 'spirals',
      model: { kind: 'mlp', depth: 6, width: 64, activation: 'relu', init: { normal: 1 } },
      optimizer: { name: 'sgd', learningRate: 10 },
      guard: 'stop',
      train: { steps: 50 },
      monitor: { every: 5 },
    };
    writeFileSync(cfg, JSON.stringify(raw));
    const r = gradscope(['run', cfg, '--out', join(dir, 'run')]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /non-finite guard: op linear\+relu in layers\.\d/);
    const log = records(join(dir, 'run'));
    const last = log[log.length - 1]!;
    assert.equal(last.skipped, true);
    assert.ok(last.nonFiniteSource);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')) as {
      stoppedEarly: boolean;
      steps: number;
    };
    assert.equal(summary.stoppedEarly, true);
    assert.equal(summary.steps, last.step);
  });

  it('off: lets NaN through into the weights (for demonstrations) but still names where it began', () => {
    const result = train(config('off'), { outDir: null, injectNonFiniteAt: [3] });
    assert.equal(result.summary.skippedSteps, 0);
    assert.ok(!allFinite(result));
    assert.equal(result.summary.firstNonFinite?.step, 3);
  });

  it('stuck: skip or rollback stop after train.guardPatience non-finite steps in a row, with a guard_stuck finding', () => {
    for (const guard of ['skip', 'rollback'] as const) {
      const patient = resolveConfig(
        { ...config(guard, 30), train: { steps: 30, batchSize: 16, guardPatience: 3 } },
        { defaultName: `stuck-${guard}` },
      );
      const stuck = train(patient, { outDir: null, injectNonFiniteAt: [5, 6, 7, 8, 9] });
      assert.deepEqual(
        { step: stuck.stopped?.step, kind: stuck.stopped?.kind },
        { step: 7, kind: 'stuck' },
        guard,
      );
      assert.equal(stuck.summary.stoppedEarly, 'guard_stuck');
      assert.equal(stuck.summary.steps, 7);
      assert.ok(stuck.summary.findings.some((f) => f.code === 'guard_stuck'));
      assert.equal(stuck.summary.verdict, 'non-finite');
      assert.match(
        stuck.summary.warnings?.[0] ?? '',
        /met 3 non-finite steps in a row \(train\.guardPatience 3\)/,
      );
      // Not in a row: a finite step between resets the count.
      const recovering = train(patient, { outDir: null, injectNonFiniteAt: [5, 6, 8, 9, 11, 12] });
      assert.equal(recovering.stopped, null, guard);
      assert.equal(recovering.summary.steps, 30);
      assert.equal(recovering.summary.skippedSteps, 6);
      assert.ok(!recovering.summary.findings.some((f) => f.code === 'guard_stuck'));
    }
  });

  it('stuck: through the CLI, a run whose weights blew up exits 3 with the summary, the finding and a warning', () => {
    const dir = tempDir();
    const cfg = join(dir, 'stuck.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        task: 'spirals',
        model: { kind: 'mlp', depth: 6, width: 64, activation: 'relu', init: { normal: 1 } },
        optimizer: { name: 'sgd', learningRate: 10 },
        guard: 'skip',
        train: { steps: 200 },
        monitor: { every: 5 },
      }),
    );
    const r = gradscope(['run', cfg, '--out', join(dir, 'run')]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /the non-finite guard is stuck \(finding guard_stuck\)/);
    assert.match(r.stderr, /warning: stuck: the final loss is NaN/);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')) as {
      stoppedEarly: unknown;
      steps: number;
      findings: Array<{ code: string }>;
    };
    assert.equal(summary.stoppedEarly, 'guard_stuck');
    assert.ok(summary.steps < 200);
    assert.ok(summary.findings.some((f) => f.code === 'guard_stuck'));
    assert.ok(existsSync(join(dir, 'run', 'report.html')));
  });

  it('a run that ends with a non-finite loss says so on stderr and in its summary, even with exit 0', () => {
    const dir = tempDir();
    const cfg = join(dir, 'off.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        task: 'spirals',
        model: { kind: 'mlp', depth: 6, width: 64, activation: 'relu', init: { normal: 1 } },
        optimizer: { name: 'sgd', learningRate: 10 },
        guard: 'off',
        train: { steps: 20 },
        monitor: { every: 5 },
      }),
    );
    const r = gradscope(['run', cfg, '--out', join(dir, 'run')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /gradscope: warning: off: the final loss is NaN \(non-finite since step \d+/);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')) as {
      warnings?: string[];
    };
    assert.match(summary.warnings?.[0] ?? '', /the final loss is NaN/);
  });
});
