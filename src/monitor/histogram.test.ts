import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GradscopeError, resolveConfig } from '../config/index.js';
import { parseJsonl } from '../io/jsonl.js';
import type { MetricsRecord } from '../io/runlog.js';
import { readEventDir } from '../io/tfevents.js';
import { Rng } from '../tensor/rng.js';
import { tempDir } from '../testing/cli.js';
import { TrainingSession } from '../train/session.js';
import { train } from '../train/trainer.js';
import { diagnosePath } from '../doctor/diagnose.js';
import {
  histogram,
  histogramsDue,
  readHistogramRecords,
  rebinHistogram,
  weightHistograms,
} from './histogram.js';

/** The bucket of v by the definition (bucket i holds [min + i w, min + (i + 1) w), the last also max). */
function bucketOf(v: number, min: number, max: number, k: number): number {
  if (v === max) return k - 1;
  return Math.floor(((v - min) / (max - min)) * k);
}

describe('histogram', () => {
  it('buckets every finite entry by the definition and counts NaN and ±Infinity apart', () => {
    const rng = new Rng(4);
    const values = Float64Array.from({ length: 1000 }, () => rng.normal() * 3 + 1);
    values[10] = NaN;
    values[11] = Infinity;
    values[12] = -Infinity;
    values[13] = Infinity;
    const h = histogram(values, 30);
    const finite = [...values].filter(Number.isFinite);
    assert.equal(h.min, Math.min(...finite));
    assert.equal(h.max, Math.max(...finite));
    const expected = new Array<number>(30).fill(0);
    for (const v of finite) expected[bucketOf(v, h.min, h.max, 30)]! += 1;
    assert.deepEqual(h.counts, expected);
    assert.equal(
      h.counts.reduce((a, b) => a + b, 0),
      996,
    );
    assert.deepEqual([h.nan, h.posInf, h.negInf], [1, 2, 1]);
    assert.ok((h.counts[29] as number) >= 1, 'the maximum lands in the last bucket');
    assert.ok((h.counts[0] as number) >= 1, 'the minimum lands in the first bucket');
  });
  it('handles a constant tensor, an empty one and one with no finite entry', () => {
    assert.deepEqual(histogram(Float32Array.from([0.5, 0.5, 0.5]), 4), {
      min: 0.5,
      max: 0.5,
      counts: [0, 0, 0, 3],
      nan: 0,
      posInf: 0,
      negInf: 0,
    });
    assert.deepEqual(histogram([], 2), { min: 0, max: 0, counts: [0, 0], nan: 0, posInf: 0, negInf: 0 });
    assert.deepEqual(histogram([NaN, -Infinity], 2), {
      min: 0,
      max: 0,
      counts: [0, 0],
      nan: 1,
      posInf: 0,
      negInf: 1,
    });
    // A range of one subnormal step: 30 / 5e-324 overflows to Infinity; both ends still land in real buckets.
    const tiny = histogram(Float64Array.from([0, 5e-324, 0]), 30);
    assert.equal(tiny.counts.length, 30);
    assert.deepEqual([tiny.counts[0], tiny.counts[29]], [2, 1]);
    assert.deepEqual(Object.keys(tiny.counts).length, 30, 'no stray index');
    assert.throws(() => histogram([1], 0), RangeError);
  });
  it('selects step 1, every N-th logged period and the last step', () => {
    const due = (setting: boolean | number): number[] =>
      Array.from({ length: 100 }, (_, i) => i + 1).filter(
        (s) => (s === 1 || s % 10 === 0) && histogramsDue(s, { every: 10, histograms: setting }, 95),
      );
    assert.deepEqual(due(false), []);
    assert.deepEqual(due(true), [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.deepEqual(due(3), [1, 30, 60, 90]);
    assert.ok(histogramsDue(95, { every: 10, histograms: 3 }, 95), 'the last step');
    assert.deepEqual(
      [1, 50, 100].map((s) => histogramsDue(s, { every: 10 }, 1000)),
      [true, true, true],
      'a config without the field gets the default (every 5th logged step)',
    );
    assert.equal(histogramsDue(40, { every: 10 }, 1000), false);
  });
  it('re-bins TensorBoard buckets into equal widths and keeps the total', () => {
    // Buckets (min, 1], (1, 2], (2, 4] over [0, 4] into 4 equal buckets of width 1.
    const h = rebinHistogram({ min: 0, max: 4, bucketLimit: [1, 2, 4], bucket: [2, 4, 6] }, 4);
    assert.deepEqual(h.counts, [2, 4, 3, 3]);
    // TensorFlow's outer edges are ±DBL_MAX: clipped to [min, max].
    const tf = rebinHistogram(
      { min: -1, max: 1, bucketLimit: [-1, 1, Number.MAX_VALUE], bucket: [1, 8, 1] },
      2,
    );
    assert.deepEqual(tf.counts, [5, 5]);
    assert.equal(
      tf.counts.reduce((a, b) => a + b, 0),
      10,
    );
    const constant = rebinHistogram({ min: 3, max: 3, bucketLimit: [3], bucket: [7] }, 3);
    assert.deepEqual(constant.counts, [0, 0, 7]);
  });
  it('records weight tensors only, with their gradients', () => {
    const data = Float32Array.from([1, 2, 3]);
    const grad = Float32Array.from([0.1, NaN, 0.3]);
    const out = weightHistograms(
      [
        { data, grad },
        { data: Float32Array.from([0]), grad: null },
        { data, grad: null },
      ],
      [
        { name: 'layers.0.weight', layer: 0, role: 'weight' },
        { name: 'layers.0.bias', layer: 0, role: 'bias' },
        { name: 'layers.1.weight', layer: 1, role: 'weight' },
      ],
      3,
    );
    assert.deepEqual(
      out.map((h) => `${h.name}:${h.of}`),
      ['layers.0.weight:weight', 'layers.0.weight:grad', 'layers.1.weight:weight'],
    );
    assert.equal(out[1]?.nan, 1);
  });
});

describe('histograms in a run', () => {
  const config = (histograms: boolean | number): ReturnType<typeof resolveConfig> =>
    resolveConfig(
      {
        seed: 1,
        task: { name: 'spirals' },
        model: { kind: 'mlp', depth: 3, width: 8 },
        train: { steps: 40, batchSize: 16 },
        monitor: { every: 5, histograms },
      },
      { defaultName: 'hist' },
    );

  it('the session records them on the selected logged steps, one per weight tensor and gradient', () => {
    const session = new TrainingSession(config(2));
    while (!session.done) session.step();
    const withHistograms = session.history.filter((r) => r.histograms).map((r) => r.step);
    assert.deepEqual(withHistograms, [1, 10, 20, 30, 40]);
    const first = session.history[0] as MetricsRecord;
    const weights = session.info.filter((p) => p.role === 'weight');
    assert.equal(first.histograms?.length, 2 * weights.length);
    weights.forEach((p, i) => {
      const w = first.histograms?.[2 * i];
      const g = first.histograms?.[2 * i + 1];
      assert.equal(w?.name, p.name);
      assert.equal(w?.of, 'weight');
      assert.equal(g?.of, 'grad');
      const size = p.shape.reduce((a, b) => a * b, 1);
      assert.equal(
        w?.counts.reduce((a, b) => a + b, 0),
        size,
      );
      assert.equal(
        g?.counts.reduce((a, b) => a + b, 0),
        size,
      );
    });
    const off = new TrainingSession(config(false));
    while (!off.done) off.step();
    assert.ok(off.history.every((r) => r.histograms === undefined));
    assert.deepEqual(
      off.history.map((r) => r.loss),
      session.history.map((r) => r.loss),
      'recording histograms changes nothing in the run',
    );
  });

  it('metrics.jsonl carries them and the event file holds the weights as histograms', () => {
    const dir = tempDir();
    train(config(4), { outDir: dir });
    const records = parseJsonl<MetricsRecord>(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).records;
    const steps = records.filter((r) => r.histograms).map((r) => r.step);
    assert.deepEqual(steps, [1, 20, 40]);
    const [file] = readEventDir(dir);
    assert.ok(file, 'an event file');
    const weightSteps = file.events
      .filter((e) => e.values.some((v) => v.kind === 'histogram' && v.tag === 'layers.0.weight'))
      .map((e) => e.step);
    assert.deepEqual(weightSteps, [1, 20, 40]);
    assert.match(readFileSync(join(dir, 'config.json'), 'utf8'), /"histograms": 4/);
  });

  it('the doctor reads a log with histograms as it reads one without (they are an optional field)', () => {
    const dirs = [true, false].map((setting) => {
      const dir = tempDir();
      train(config(setting), { outDir: dir });
      return dir;
    });
    const [withHistograms, without] = dirs.map((dir) => diagnosePath(join(dir, 'metrics.jsonl')));
    assert.equal(withHistograms?.input.records, without?.input.records);
    assert.equal(withHistograms?.verdict, without?.verdict);
    assert.deepEqual(
      withHistograms?.findings.map((f) => [f.code, f.evidence]),
      without?.findings.map((f) => [f.code, f.evidence]),
    );
    // The reader keeps the field for the lab, checked entry by entry.
    const line = readFileSync(join(dirs[0] as string, 'metrics.jsonl'), 'utf8').split('\n')[0] as string;
    const parsed = JSON.parse(line) as { histograms: unknown[] };
    assert.equal(readHistogramRecords(parsed.histograms)?.length, parsed.histograms.length);
    assert.equal(
      readHistogramRecords([{ name: 'x', layer: 0, of: 'bias', min: 0, max: 1, counts: [1] }]),
      null,
    );
  });

  it('refuses a bad setting by name', () => {
    for (const bad of [0, 1.5, 'often']) {
      assert.throws(
        () => config(bad as number),
        (error: unknown) =>
          error instanceof GradscopeError &&
          error.code === 'invalid_value' &&
          error.message.startsWith(`monitor.histograms: ${JSON.stringify(bad)} is not accepted; expected `) &&
          /an integer >= 1/.test(error.message),
      );
    }
    assert.equal(resolveConfig({}, { defaultName: 'x' }).monitor.histograms, 5);
  });
});
