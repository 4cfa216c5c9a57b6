import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { createXorTask } from './xor.js';

describe('xor', () => {
  it('labels every point by the xor of the signs of its coordinates', () => {
    const task = createXorTask(0);
    for (const batch of [task.trainBatch(2000, new Rng(1)), task.evalSet()]) {
      const n = batch.x.shape[0] ?? 0;
      for (let i = 0; i < n; i++) {
        const positive = [(batch.x.data[2 * i] as number) > 0, (batch.x.data[2 * i + 1] as number) > 0];
        assert.equal(batch.labels?.[i], positive[0] !== positive[1] ? 1 : 0, `point ${i}`);
      }
    }
  });

  it('draws four equally likely clusters around (+-1, +-1), so the classes are balanced', () => {
    const batch = createXorTask(0).trainBatch(8000, new Rng(2));
    const counts = [0, 0, 0, 0];
    const sums = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) {
      const a = batch.x.data[2 * i] as number;
      const b = batch.x.data[2 * i + 1] as number;
      const quadrant = (a > 0 ? 1 : 0) + (b > 0 ? 2 : 0);
      counts[quadrant]! += 1;
      sums[quadrant]! += Math.abs(a) + Math.abs(b);
    }
    for (let q = 0; q < 4; q++) {
      assert.ok(counts[q]! > 1800 && counts[q]! < 2200, `quadrant ${q}: ${counts[q]}`);
      const meanDistance = sums[q]! / (2 * counts[q]!);
      assert.ok(Math.abs(meanDistance - 1) < 0.05, `quadrant ${q} centre at ${meanDistance}`);
    }
    const evalLabels = createXorTask(0).evalSet().labels ?? new Int32Array();
    const share = evalLabels.reduce((sum, label) => sum + label, 0) / evalLabels.length;
    assert.equal(evalLabels.length, 1000);
    assert.ok(share > 0.45 && share < 0.55, `class-1 share ${share}`);
  });
});
