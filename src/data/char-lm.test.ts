import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../testing/fixtures.js';
import { Rng } from '../tensor/rng.js';
import { CHAR_LM_EVAL_SHARE, createCharLmTask } from './char-lm.js';
import { SHAKESPEARE_CORIOLANUS } from './corpus-text.js';
import { TaskConfigError } from './errors.js';

/** The id at (t, b) of one-hot x [T, B, V]. */
function idAt(x: Float32Array | Float64Array, t: number, b: number, B: number, V: number): number {
  const o = (t * B + b) * V;
  for (let v = 0; v < V; v++) if (x[o + v] === 1) return v;
  return -1;
}

describe('char-lm task', () => {
  it('embeds data/shakespeare.txt unchanged', () => {
    assert.equal(SHAKESPEARE_CORIOLANUS, readFileSync(join(packageRoot(), 'data/shakespeare.txt'), 'utf8'));
  });

  it('windows: one-hot inputs, and each label is the next character', () => {
    const task = createCharLmTask({ length: 16 });
    assert.equal(task.inputSize, 59);
    assert.deepEqual(task.sequence, { length: 16, scored: 'every' });
    const { x, labels } = task.trainBatch(5, new Rng(1));
    assert.deepEqual(x.shape, [16, 5, 59]);
    for (let b = 0; b < 5; b++)
      for (let t = 0; t < 15; t++) assert.equal(labels![t * 5 + b], idAt(x.data, t + 1, b, 5, 59));
    // The text round-trips through the vocabulary.
    const first = Array.from({ length: 16 }, (_, t) => task.vocabulary[idAt(x.data, t, 0, 5, 59)]).join('');
    assert.ok(SHAKESPEARE_CORIOLANUS.includes(first), first);
  });

  it('evaluates on the held-out end of the text only', () => {
    const task = createCharLmTask({ length: 32 });
    const evalBatch = task.evalSet();
    assert.deepEqual(evalBatch.x.shape, [32, 64, 59]);
    const held = SHAKESPEARE_CORIOLANUS.slice(
      Math.floor(SHAKESPEARE_CORIOLANUS.length * (1 - CHAR_LM_EVAL_SHARE)),
    );
    const window = Array.from(
      { length: 32 },
      (_, t) => task.vocabulary[idAt(evalBatch.x.data, t, 3, 64, 59)],
    ).join('');
    assert.ok(held.includes(window));
    assert.equal(task.evalSet(), evalBatch, 'cached');
  });

  it('the unigram baseline is the smoothed frequency cross-entropy, well below ln V', () => {
    const task = createCharLmTask({ length: 8, text: 'ab'.repeat(30) + 'aaaa'.repeat(10) });
    // Train part: 90 of 100 chars; eval targets are all 'a'.
    const trainText = ('ab'.repeat(30) + 'aaaa'.repeat(10)).slice(0, 90);
    const countA = [...trainText].filter((c) => c === 'a').length;
    assert.ok(Math.abs(task.baseline.loss + Math.log((countA + 1) / (90 + 2))) < 1e-12);
    assert.equal(task.baseline.accuracy, 1);
    const shakespeare = createCharLmTask({ length: 64 }).baseline.loss;
    assert.ok(shakespeare > 2.5 && shakespeare < Math.log(59) - 0.5, `${shakespeare}`);
  });

  it('an empty or too short text is refused with the field, the size and the fix', () => {
    assert.throws(
      () => createCharLmTask({ length: 64, text: '' }),
      (e: unknown) =>
        e instanceof TaskConfigError &&
        e.path === 'task.text' &&
        /^task\.text: is empty; a char-lm with task\.length 64 needs at least 650 .*; expected at least 650 characters; give a longer text/.test(
          e.message,
        ),
    );
    assert.throws(
      () => createCharLmTask({ length: 10, text: 'short text' }),
      /has 10 characters.*at least 110.*lower task\.length/,
    );
  });
});
