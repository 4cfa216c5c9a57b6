import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { createTransductionTask, positionOnlyBaseline } from './transduction.js';

function ids(x: Float32Array | Float64Array, T: number, B: number, K: number, b: number): number[] {
  return Array.from({ length: T }, (_, t) => {
    const o = (t * B + b) * K;
    for (let v = 0; v < K; v++) if (x[o + v] === 1) return v;
    return -1;
  });
}

describe('reverse and sort tasks', () => {
  for (const order of ['reverse', 'sort'] as const) {
    it(`${order}: reads n symbols and a delimiter, then writes them ${order === 'reverse' ? 'reversed' : 'sorted'}`, () => {
      const task = createTransductionTask(order, { length: 5, classes: 6 }, 0);
      assert.equal(task.name, order);
      assert.deepEqual(task.sequence, { length: 11, scored: 'every' });
      const { x, labels } = task.trainBatch(4, new Rng(2));
      assert.deepEqual(x.shape, [11, 4, 8]);
      for (let b = 0; b < 4; b++) {
        const input = ids(x.data, 11, 4, 8, b);
        const read = input.slice(0, 5);
        assert.ok(read.every((s) => s >= 1 && s <= 6));
        assert.deepEqual(input.slice(5), [7, 0, 0, 0, 0, 0]);
        const target = Array.from({ length: 11 }, (_, t) => labels![t * 4 + b]);
        const answer = order === 'reverse' ? [...read].reverse() : [...read].sort((p, q) => p - q);
        assert.deepEqual(target, [0, 0, 0, 0, 0, 0, ...answer]);
      }
    });
  }

  it('translate: each word through the dictionary v -> v mod C + 1, pairs swapped, an odd last word in place', () => {
    const task = createTransductionTask('translate', { length: 5, classes: 6 }, 0);
    assert.equal(task.name, 'translate');
    const { x, labels } = task.trainBatch(8, new Rng(3));
    for (let b = 0; b < 8; b++) {
      const read = ids(x.data, 11, 8, 8, b).slice(0, 5) as [number, number, number, number, number];
      const word = (v: number): number => (v % 6) + 1;
      const expected = [read[1], read[0], read[3], read[2], read[4]].map(word);
      const target = Array.from({ length: 11 }, (_, t) => labels![t * 8 + b]);
      assert.deepEqual(target, [0, 0, 0, 0, 0, 0, ...expected]);
      // The dictionary is a permutation with no fixed point: a copied word is always wrong.
      assert.ok(expected.every((w, k) => w !== [read[1], read[0], read[3], read[2], read[4]][k]));
    }
    // Uniform words stay uniform through a permutation: the same baseline as reverse.
    assert.deepEqual(
      positionOnlyBaseline('translate', 7, 5).loss,
      positionOnlyBaseline('reverse', 7, 5).loss,
    );
  });

  it('the evaluation set is fixed by the seed', () => {
    const a = createTransductionTask('reverse', { length: 4, classes: 5 }, 3).evalSet();
    const b = createTransductionTask('reverse', { length: 4, classes: 5 }, 3).evalSet();
    const c = createTransductionTask('reverse', { length: 4, classes: 5 }, 4).evalSet();
    assert.deepEqual(a.labels, b.labels);
    assert.notDeepEqual(a.labels, c.labels);
    assert.equal(a.x.shape[1], 512);
  });

  it('reverse baseline: n ln C / (2n + 1)', () => {
    const { loss, accuracy } = positionOnlyBaseline('reverse', 10, 8);
    assert.ok(Math.abs(loss - (10 * Math.log(8)) / 21) < 1e-12);
    assert.ok(Math.abs(accuracy! - (11 + 10 / 8) / 21) < 1e-12);
  });

  it('sort baseline: one symbol is uniform; more agree with order statistics counted by sampling', () => {
    assert.ok(
      Math.abs(positionOnlyBaseline('sort', 1, 5).loss - positionOnlyBaseline('reverse', 1, 5).loss) < 1e-12,
    );
    const n = 4;
    const C = 5;
    const rng = new Rng(7);
    const counts = Array.from({ length: n }, () => new Float64Array(C + 1));
    const draws = 40000;
    for (let i = 0; i < draws; i++) {
      const s = Array.from({ length: n }, () => 1 + rng.int(C)).sort((p, q) => p - q);
      s.forEach((v, k) => (counts[k]![v]! += 1));
    }
    let entropy = 0;
    for (const row of counts) for (const c of row) if (c > 0) entropy -= (c / draws) * Math.log(c / draws);
    const { loss } = positionOnlyBaseline('sort', n, C);
    assert.ok(Math.abs(loss - entropy / (2 * n + 1)) < 0.01, `${loss} vs sampled ${entropy / (2 * n + 1)}`);
    assert.ok(loss < positionOnlyBaseline('reverse', n, C).loss, 'sorted positions are more predictable');
  });
});
