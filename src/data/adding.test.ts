import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import type { Batch } from './task.js';
import { createAddingTask } from './adding.js';

/** Checks the adding-problem invariants of every sequence; returns the marker positions seen. */
function checkSequences(batch: Batch, length: number): { first: Set<number>; second: Set<number> } {
  const n = batch.x.shape[1] ?? 0;
  const half = Math.floor(length / 2);
  const first = new Set<number>();
  const second = new Set<number>();
  assert.deepEqual(batch.x.shape, [length, n, 2]);
  assert.deepEqual(batch.y.shape, [n, 1]);
  for (let b = 0; b < n; b++) {
    const marked: number[] = [];
    for (let t = 0; t < length; t++) {
      const value = batch.x.data[(t * n + b) * 2] as number;
      const marker = batch.x.data[(t * n + b) * 2 + 1] as number;
      assert.ok(value >= 0 && value < 1, `value ${value} outside [0, 1)`);
      assert.ok(marker === 0 || marker === 1, `marker ${marker} is not 0 or 1`);
      if (marker === 1) marked.push(t);
    }
    assert.equal(marked.length, 2, `sequence ${b} has ${marked.length} markers`);
    const [early, late] = marked as [number, number];
    assert.ok(early < half, `first marker at ${early}, not in the first half`);
    assert.ok(late >= half, `second marker at ${late}, not in the second half`);
    first.add(early);
    second.add(late);
    const sum = (batch.x.data[(early * n + b) * 2] as number) + (batch.x.data[(late * n + b) * 2] as number);
    assert.equal(batch.y.data[b], Math.fround(sum), `target of sequence ${b}`);
  }
  return { first, second };
}

describe('adding', () => {
  it('sets exactly one marker in each half and targets the sum of the marked values', () => {
    const task = createAddingTask({ length: 50 }, 0);
    const { first, second } = checkSequences(task.trainBatch(200, new Rng(1)), 50);
    // Markers land all over each half, not at a fixed place.
    assert.ok(
      first.size > 15 && second.size > 15,
      `${first.size} / ${second.size} distinct marker positions`,
    );
    checkSequences(task.evalSet(), 50);
  });

  it('handles odd and minimal lengths', () => {
    checkSequences(createAddingTask({ length: 7 }, 0).trainBatch(50, new Rng(2)), 7);
    const { first, second } = checkSequences(
      createAddingTask({ length: 2 }, 0).trainBatch(20, new Rng(3)),
      2,
    );
    assert.deepEqual([...first], [0]);
    assert.deepEqual([...second], [1]);
  });

  it('has 1000 eval sequences on which always answering 1 scores about the 1/6 baseline', () => {
    const task = createAddingTask({ length: 50 }, 0);
    const evalSet = task.evalSet();
    assert.equal(evalSet.y.size, 1000);
    let squares = 0;
    for (const target of evalSet.y.data) squares += (target - 1) ** 2;
    const mse = squares / 1000;
    // The estimate has standard deviation sqrt((1/15 - 1/36) / 1000) = 0.006.
    assert.ok(Math.abs(mse - 1 / 6) < 0.025, `MSE of answering 1 is ${mse}`);
    assert.equal(task.baseline.loss, 1 / 6);
    assert.equal(task.loss, 'mse');
    assert.deepEqual(task.sequence, { length: 50, scored: 'last' });
  });
});
