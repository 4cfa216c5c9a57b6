import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { createTeacherTask } from './teacher.js';

describe('teacher', () => {
  const task = createTeacherTask({ inputs: 32, classes: 10, size: 10000 }, 0);

  it('labels each input by argmax of x T, recomputed here', () => {
    assert.deepEqual(task.weights.shape, [32, 10]);
    const weights = task.weights.data;
    for (const batch of [task.trainBatch(500, new Rng(1)), task.evalSet()]) {
      const n = batch.x.shape[0] ?? 0;
      for (let r = 0; r < n; r++) {
        const scores = Array.from({ length: 10 }, (_, c) => {
          let score = 0;
          for (let i = 0; i < 32; i++) score += batch.x.data[r * 32 + i]! * weights[i * 10 + c]!;
          return score;
        });
        assert.equal(batch.labels?.[r], scores.indexOf(Math.max(...scores)), `row ${r}`);
      }
    }
  });

  it('has unit-length teacher columns and standard normal inputs', () => {
    for (let c = 0; c < 10; c++) {
      let squares = 0;
      for (let i = 0; i < 32; i++) squares += task.weights.data[i * 10 + c]! ** 2;
      assert.ok(Math.abs(squares - 1) < 1e-12, `column ${c} norm^2 ${squares}`);
    }
    const x = task.evalSet().x.data;
    let sum = 0;
    let squares = 0;
    for (const value of x) {
      sum += value;
      squares += value * value;
    }
    assert.ok(Math.abs(sum / x.length) < 0.02);
    assert.ok(Math.abs(squares / x.length - 1) < 0.03);
  });

  it('gives roughly balanced classes', () => {
    const labels = task.trainBatch(20000, new Rng(3)).labels ?? new Int32Array();
    const counts = new Array<number>(10).fill(0);
    for (const label of labels) counts[label]! += 1;
    for (let c = 0; c < 10; c++) {
      const share = counts[c]! / labels.length;
      assert.ok(share > 0.05 && share < 0.2, `class ${c} share ${share}`);
    }
  });

  it('draws training batches from a pool of `size` points and evaluates on 2000 others', () => {
    const tiny = createTeacherTask({ inputs: 4, classes: 3, size: 5 }, 0);
    const batch = tiny.trainBatch(200, new Rng(0));
    const rows = new Set<string>();
    for (let r = 0; r < 200; r++) rows.add(Array.from(batch.x.data.subarray(r * 4, r * 4 + 4)).join(','));
    assert.equal(rows.size, 5);
    const evalSet = tiny.evalSet();
    assert.deepEqual(evalSet.x.shape, [2000, 4]);
    for (let r = 0; r < 2000; r++) {
      assert.ok(
        !rows.has(Array.from(evalSet.x.data.subarray(r * 4, r * 4 + 4)).join(',')),
        'eval point in the pool',
      );
    }
  });

  it('draws its teacher from the seed', () => {
    const other = createTeacherTask({ inputs: 32, classes: 10, size: 10 }, 1);
    assert.notDeepEqual(other.weights.data, task.weights.data);
    const same = createTeacherTask({ inputs: 32, classes: 10, size: 10 }, 0);
    assert.deepEqual(same.weights.data, task.weights.data);
  });
});
