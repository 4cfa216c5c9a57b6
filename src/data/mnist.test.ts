import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { createMnistTask, createSeqMnistTask } from './mnist.js';
import { loadMnist, mnistDirectory, parseDigitFile } from './mnist-digits.js';

/** The exact bytes of an image, for set membership. */
function key(x: Float32Array, offset: number): string {
  return Buffer.from(x.buffer, x.byteOffset + offset * 4, 784 * 4).toString('base64');
}

describe('mnist digits', () => {
  const digits = loadMnist();

  it('loads all 10,000 digits quickly', () => {
    assert.equal(digits.count, 10000);
    assert.equal(digits.x.length, 10000 * 784);
    // About 0.1 s on one core; the bound leaves room for a loaded machine.
    assert.ok(digits.loadMilliseconds < 2000, `loading took ${digits.loadMilliseconds} ms`);
    assert.equal(loadMnist(), digits, 'loaded once');
  });

  it('keeps pixels in [0, 1] with real images in them', () => {
    let low = Infinity;
    let high = -Infinity;
    for (const value of digits.x) {
      if (value < low) low = value;
      if (value > high) high = value;
    }
    assert.equal(low, 0);
    assert.equal(high, 1);
    // A digit covers roughly a fifth of its frame.
    let ink = 0;
    for (let i = 0; i < 784; i++) ink += (digits.x[i] as number) > 0.5 ? 1 : 0;
    assert.ok(ink > 30 && ink < 400, `first image has ${ink} inked pixels`);
  });

  it('splits 8000 / 2000 by a fixed rule: the last fifth of each digit is held out', () => {
    assert.equal(digits.train.length, 8000);
    assert.equal(digits.test.length, 2000);
    const perDigit = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
    const testCounts = new Array<number>(10).fill(0);
    for (const row of digits.test) testCounts[digits.labels[row]!]! += 1;
    assert.deepEqual(
      testCounts,
      perDigit.map((n) => Math.round(n / 5)),
    );
    assert.ok(
      testCounts.every((count) => count > 0),
      'all 10 classes in the test split',
    );
  });

  it('keeps train and test disjoint, by index and by content', () => {
    const trainRows = new Set(digits.train);
    for (const row of digits.test) assert.ok(!trainRows.has(row), `row ${row} in both splits`);
    assert.equal(trainRows.size + digits.test.length, digits.count);
    const trainImages = new Set(Array.from(digits.train, (row) => key(digits.x, row * 784)));
    for (const row of digits.test)
      assert.ok(!trainImages.has(key(digits.x, row * 784)), `test row ${row} duplicates a training image`);
  });

  it('reads the files exactly as JSON.parse does', () => {
    const file = readFileSync(join(mnistDirectory(), '5.json'));
    const expected = Float32Array.from((JSON.parse(file.toString('utf8')) as { data: number[] }).data);
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    assert.deepEqual(parseDigitFile(bytes), expected);
  });

  it('falls back to JSON.parse on numbers the scanner does not read', () => {
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.deepEqual(
      parseDigitFile(text('{ "data": [0, 0.5,1 ,0.25] }')),
      Float32Array.from([0, 0.5, 1, 0.25]),
    );
    assert.deepEqual(parseDigitFile(text('{"data":[1e-1,-0.5,2]}')), Float32Array.from([0.1, -0.5, 2]));
    assert.deepEqual(parseDigitFile(text('{"data":[]}')), new Float32Array(0));
    assert.throws(() => parseDigitFile(text('{"data":[0.5,'), 'x.json'), /x.json is not valid JSON/);
    assert.throws(() => parseDigitFile(text('{"data":["a"]}'), 'x.json'), /does not hold/);
  });
});

describe('mnist task', () => {
  const digits = loadMnist();
  const task = createMnistTask();

  it('evaluates on the held-out digits, with all 10 classes', () => {
    const evalSet = task.evalSet();
    assert.deepEqual(evalSet.x.shape, [2000, 784]);
    const labels = evalSet.labels ?? new Int32Array();
    assert.deepEqual(
      labels,
      Int32Array.from(digits.test, (row) => digits.labels[row]!),
    );
    assert.equal(new Set(labels).size, 10);
    assert.equal(key(evalSet.x.data as Float32Array, 0), key(digits.x, digits.test[0]! * 784));
  });

  it('samples training batches from the training split only', () => {
    const train = new Map(Array.from(digits.train, (row) => [key(digits.x, row * 784), digits.labels[row]!]));
    const batch = task.trainBatch(300, new Rng(7));
    const x = batch.x.data as Float32Array;
    for (let b = 0; b < 300; b++) {
      const label = train.get(key(x, b * 784));
      assert.notEqual(label, undefined, `batch row ${b} is not a training image`);
      assert.equal(batch.labels?.[b], label);
    }
    assert.ok(new Set(batch.labels).size >= 8, 'a batch mixes the digits');
  });

  it('states the guessing baseline: ln 10 and the majority-digit accuracy', () => {
    assert.equal(task.baseline.loss, Math.log(10));
    // Digit 1 is the most frequent (902 training images); it is 225 of the 2000 test digits.
    assert.equal(task.baseline.accuracy, 225 / 2000);
  });
});

describe('seq-mnist', () => {
  const digits = loadMnist();

  it('reads one row per step in row mode: x[t, b, c] = pixel (t, c)', () => {
    const task = createSeqMnistTask({ mode: 'row' });
    assert.deepEqual(task.sequence, { length: 28, scored: 'last' });
    const flat = createMnistTask().trainBatch(5, new Rng(4));
    const rows = task.trainBatch(5, new Rng(4));
    assert.deepEqual(rows.x.shape, [28, 5, 28]);
    assert.deepEqual(rows.labels, flat.labels);
    for (let b = 0; b < 5; b++) {
      for (let t = 0; t < 28; t++) {
        for (let c = 0; c < 28; c++) {
          assert.equal(rows.x.data[(t * 5 + b) * 28 + c], flat.x.data[b * 784 + t * 28 + c]);
        }
      }
    }
  });

  it('reads one pixel per step in pixel mode and evaluates on the held-out digits', () => {
    const task = createSeqMnistTask({ mode: 'pixel' });
    assert.deepEqual(task.sequence, { length: 784, scored: 'last' });
    assert.equal(task.inputSize, 1);
    const evalSet = task.evalSet();
    assert.deepEqual(evalSet.x.shape, [784, 2000, 1]);
    const row = digits.test[1234]!;
    for (let t = 0; t < 784; t++) assert.equal(evalSet.x.data[t * 2000 + 1234], digits.x[row * 784 + t]);
    assert.equal(evalSet.labels?.[1234], digits.labels[row]);
  });
});
