import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fans } from './fans.js';
import { InitError } from './initializer.js';

test('fans of a Dense weight [out, in]', () => {
  assert.deepEqual(fans([256, 784]), { fanIn: 784, fanOut: 256 });
});

test('fans of an LSTM weight [4 hidden, in] count every gate in fan-out', () => {
  assert.deepEqual(fans([4 * 32, 10]), { fanIn: 10, fanOut: 128 });
});

test('trailing dimensions are the receptive field', () => {
  assert.deepEqual(fans([16, 3, 5, 5]), { fanIn: 75, fanOut: 400 });
});

test('rank < 2 is an error that names the shape and the fix', () => {
  for (const shape of [[], [5]]) {
    assert.throws(
      () => fans(shape),
      (error: unknown) =>
        error instanceof InitError &&
        error.code === 'invalid_shape' &&
        error.message.includes(`[${shape.join(', ')}]`) &&
        /bias/.test(error.message),
    );
  }
});

test('non-integer dimensions are rejected', () => {
  assert.throws(() => fans([2, 1.5]), /1\.5/);
  assert.throws(() => fans([-1, 3]), /-1/);
});
