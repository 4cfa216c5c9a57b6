import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACTIVATIONS } from '../kernels/activations.js';
import { gainFor, gains, secondMomentGain } from './gain.js';
import { InitError } from './initializer.js';

test('gains match torch.nn.init.calculate_gain', () => {
  assert.equal(gainFor('linear'), 1);
  assert.equal(gainFor('sigmoid'), 1);
  assert.equal(gainFor('tanh'), 5 / 3);
  assert.equal(gainFor('relu'), Math.sqrt(2));
  assert.equal(gainFor('selu'), 3 / 4);
  // PyTorch's leaky_relu default slope is 0.01, as is ours.
  assert.equal(gainFor('leaky-relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
  assert.equal(gainFor('leaky-relu', 0.2), Math.sqrt(2 / 1.04));
  assert.equal(gainFor('prelu'), Math.sqrt(2 / (1 + 0.25 ** 2)));
  assert.equal(gainFor('prelu', 0), Math.sqrt(2));
});

test('every activation has a finite positive gain', () => {
  for (const name of ACTIVATIONS) {
    const g = gainFor(name);
    assert.ok(Number.isFinite(g) && g > 0, `${name}: ${g}`);
  }
  assert.deepEqual(Object.keys(gains).sort(), [...ACTIVATIONS].sort());
});

test('the second-moment rule reproduces the rectifier entries and fixes elu, gelu, softplus', () => {
  assert.ok(Math.abs(secondMomentGain('relu') - Math.SQRT2) < 1e-10);
  assert.ok(Math.abs(secondMomentGain('leaky-relu', 0.2) - Math.sqrt(2 / 1.04)) < 1e-10);
  assert.ok(Math.abs(secondMomentGain('linear') - 1) < 1e-10);
  assert.ok(Math.abs(secondMomentGain('selu') - 1) < 1e-8); // SELU's fixed point is unit variance
  assert.ok(Math.abs(gainFor('elu') - 1.2452) < 1e-4);
  assert.ok(Math.abs(gainFor('gelu') - 1.5335) < 1e-4);
  assert.ok(Math.abs(gainFor('softplus') - 1.0419) < 1e-4);
  // elu's alpha changes its negative side, hence the gain; alpha 0 is relu.
  assert.ok(Math.abs(gainFor('elu', 0) - Math.SQRT2) < 1e-10);
});

test('bad activation or alpha names the value', () => {
  assert.throws(
    () => gainFor('swish' as never),
    (error: unknown) =>
      error instanceof InitError && /'swish'/.test(error.message) && /relu/.test(error.message),
  );
  assert.throws(
    () => gainFor('leaky-relu', Number.NaN),
    (error: unknown) =>
      error instanceof InitError && error.code === 'invalid_value' && /NaN/.test(error.message),
  );
});
