import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { SPIRALS_NOISE, createSpiralsTask, spiralPoints } from './spirals.js';

describe('spirals', () => {
  it('puts every point on its own spiral (Lang & Witbrock 1988 geometry), up to the noise', () => {
    // The noise-free spiral of class 0, densely sampled: angle s pi / 16, radius (104 - s) / 104, s in [0, 96].
    const curve: [number, number][] = [];
    for (let s = 0; s <= 96; s += 0.02) {
      const radius = (104 - s) / 104;
      curve.push([radius * Math.sin((s * Math.PI) / 16), radius * Math.cos((s * Math.PI) / 16)]);
    }
    const points = spiralPoints(400, new Rng(4));
    for (let i = 0; i < points.count; i++) {
      // Class 1 is the point reflection of class 0.
      const sign = points.labels[i] === 0 ? 1 : -1;
      const a = sign * (points.x[2 * i] as number);
      const b = sign * (points.x[2 * i + 1] as number);
      let nearest = Infinity;
      for (const [u, v] of curve) nearest = Math.min(nearest, (a - u) ** 2 + (b - v) ** 2);
      // Gaussian noise of std 0.02 per coordinate moves a point farther than 6 std with probability e^-18.
      assert.ok(
        Math.sqrt(nearest) < 6 * SPIRALS_NOISE,
        `point ${i} is ${Math.sqrt(nearest)} from its spiral`,
      );
    }
  });

  it('has balanced classes and roughly unit-scale inputs', () => {
    const task = createSpiralsTask({ size: 2000 }, 0);
    const evalSet = task.evalSet();
    assert.equal(evalSet.labels?.length, 1000);
    const ones = (evalSet.labels ?? new Int32Array()).reduce((sum, label) => sum + label, 0);
    assert.equal(ones, 500);
    const batch = task.trainBatch(4000, new Rng(1));
    const share = (batch.labels ?? new Int32Array()).reduce((sum, label) => sum + label, 0) / 4000;
    assert.ok(share > 0.45 && share < 0.55, `class-1 share ${share}`);
    let squares = 0;
    let largest = 0;
    for (const value of batch.x.data) {
      squares += value * value;
      largest = Math.max(largest, Math.abs(value));
    }
    const rms = Math.sqrt(squares / batch.x.size);
    assert.ok(rms > 0.25 && rms < 1, `rms ${rms}`);
    assert.ok(largest < 1.2, `largest |x| ${largest}`);
  });

  it('is learnable from the pool: nearest-neighbour accuracy on the eval set is high', () => {
    const task = createSpiralsTask({ size: 2000 }, 0);
    const pool = task.trainBatch(2000, new Rng(2));
    const evalSet = task.evalSet();
    let hits = 0;
    for (let i = 0; i < 1000; i++) {
      const a = evalSet.x.data[2 * i] as number;
      const b = evalSet.x.data[2 * i + 1] as number;
      let best = Infinity;
      let label = -1;
      for (let j = 0; j < 2000; j++) {
        const d = ((pool.x.data[2 * j] as number) - a) ** 2 + ((pool.x.data[2 * j + 1] as number) - b) ** 2;
        if (d < best) {
          best = d;
          label = pool.labels?.[j] ?? -1;
        }
      }
      if (label === evalSet.labels?.[i]) hits++;
    }
    assert.ok(hits / 1000 > 0.95, `1-NN accuracy ${hits / 1000}`);
  });

  it('samples batches from a fixed pool of `size` points', () => {
    const task = createSpiralsTask({ size: 10 }, 0);
    const rows = new Set<string>();
    const batch = task.trainBatch(500, new Rng(9));
    for (let i = 0; i < 500; i++) rows.add(`${batch.x.data[2 * i]},${batch.x.data[2 * i + 1]}`);
    assert.equal(rows.size, 10);
  });
});
