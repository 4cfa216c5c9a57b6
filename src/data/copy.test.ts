import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import type { Batch } from './task.js';
import { COPY_DELIMITER, createCopyTask } from './copy.js';

/** The category at (t, b) of a one-hot [T, batch, 10] tensor; fails unless exactly one entry is 1. */
function category(batch: Batch, t: number, b: number): number {
  const n = batch.x.shape[1] ?? 0;
  const row = Array.from(batch.x.data.subarray((t * n + b) * 10, (t * n + b + 1) * 10));
  assert.equal(
    row.reduce((sum, v) => sum + v, 0),
    1,
    `input (${t}, ${b}) is not one-hot`,
  );
  return row.indexOf(1);
}

function checkSequences(batch: Batch, delay: number): void {
  const steps = delay + 20;
  const n = batch.x.shape[1] ?? 0;
  assert.deepEqual(batch.x.shape, [steps, n, 10]);
  assert.deepEqual(batch.y.shape, [steps, n, 10]);
  const labels = batch.labels;
  assert.ok(labels !== null && labels.length === steps * n);
  for (let b = 0; b < n; b++) {
    const symbols: number[] = [];
    for (let t = 0; t < 10; t++) symbols.push(category(batch, t, b));
    for (const symbol of symbols) assert.ok(symbol >= 1 && symbol <= 8, `symbol ${symbol} outside 1..8`);
    for (let t = 10; t < steps; t++) {
      const expected = t === delay + 9 ? COPY_DELIMITER : 0;
      assert.equal(category(batch, t, b), expected, `input at step ${t} of sequence ${b}`);
    }
    // Blank targets until the cue has passed, then the 10 symbols in order.
    for (let t = 0; t < delay + 10; t++) assert.equal(labels[t * n + b], 0, `target at step ${t}`);
    const replayed: number[] = [];
    for (let k = 0; k < 10; k++) replayed.push(labels[(delay + 10 + k) * n + b] as number);
    assert.deepEqual(replayed, symbols, `sequence ${b} replays its symbols`);
  }
}

describe('copy', () => {
  it('replays the first 10 symbols after the delimiter and is blank elsewhere', () => {
    checkSequences(createCopyTask({ length: 50 }, 0).trainBatch(20, new Rng(1)), 50);
    checkSequences(createCopyTask({ length: 1 }, 0).trainBatch(20, new Rng(2)), 1);
    checkSequences(createCopyTask({ length: 5 }, 0).evalSet(), 5);
  });

  it('draws symbols uniformly from 1..8', () => {
    const batch = createCopyTask({ length: 3 }, 0).trainBatch(800, new Rng(3));
    const counts = new Array<number>(10).fill(0);
    for (let t = 0; t < 10; t++) for (let b = 0; b < 800; b++) counts[category(batch, t, b)]! += 1;
    assert.equal(counts[0], 0);
    assert.equal(counts[9], 0);
    for (let s = 1; s <= 8; s++)
      assert.ok(counts[s]! > 850 && counts[s]! < 1150, `symbol ${s}: ${counts[s]}`);
  });

  it('states the memoryless baseline of Arjovsky et al. 2016', () => {
    const task = createCopyTask({ length: 50 }, 0);
    assert.deepEqual(task.sequence, { length: 70, scored: 'every' });
    assert.ok(Math.abs(task.baseline.loss - (10 * Math.log(8)) / 70) < 1e-15);
    assert.ok(Math.abs((task.baseline.accuracy ?? 0) - (60 + 10 / 8) / 70) < 1e-15);
    assert.equal(task.evalSet().x.shape[1], 1000);
    assert.equal(task.inputSize, 10);
    assert.equal(task.outputSize, 10);
  });
});
