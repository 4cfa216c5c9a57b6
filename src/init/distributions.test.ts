import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { constant, normal, uniform, zeros } from './distributions.js';
import { InitError } from './initializer.js';

function stats(values: Float64Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length), min, max };
}

test('normal(std) has that std on a 512x512 draw, any rank', () => {
  const out = new Float64Array(512 * 512);
  normal(0.02)(out, [512, 512], new Rng(1));
  const { mean, std } = stats(out);
  assert.ok(Math.abs(std / 0.02 - 1) < 0.03, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.001);
  const bias = new Float64Array(10);
  normal(1)(bias, [10], new Rng(1));
  assert.ok(bias.some((v) => v !== 0));
});

test('uniform(limit) stays in [-limit, limit] with std limit/sqrt(3)', () => {
  const out = new Float64Array(512 * 512);
  uniform(0.3)(out, [512, 512], new Rng(2));
  const { std, min, max } = stats(out);
  assert.ok(min >= -0.3 && max <= 0.3);
  assert.ok(min < -0.299 && max > 0.299);
  assert.ok(Math.abs(std / (0.3 / Math.sqrt(3)) - 1) < 0.03, `std ${std}`);
});

test('constant and zeros overwrite every entry and draw nothing', () => {
  const rng = new Rng(4);
  const out = new Float32Array(6).fill(3);
  constant(1)(out, [2, 3], rng);
  assert.deepEqual([...out], [1, 1, 1, 1, 1, 1]);
  zeros()(out, [6], rng);
  assert.deepEqual([...out], [0, 0, 0, 0, 0, 0]);
  assert.equal(rng.next(), new Rng(4).next());
});

test('same seed gives identical buffers, a different seed different ones', () => {
  const fill = (seed: number) => {
    const out = new Float64Array(100);
    uniform(1)(out, [100], new Rng(seed));
    return out;
  };
  assert.deepEqual(fill(1), fill(1));
  assert.notDeepEqual(fill(1), fill(2));
});

test('bad values raise errors naming them', () => {
  const bad = (pattern: RegExp) => (error: unknown) =>
    error instanceof InitError && error.code === 'invalid_value' && pattern.test(error.message);
  assert.throws(() => normal(-0.1), bad(/std.*-0\.1/));
  assert.throws(() => uniform(Number.NaN), bad(/limit.*NaN/));
  assert.throws(() => constant(Infinity), bad(/Infinity/));
  assert.throws(() => normal(1)(new Float64Array(3), [2, 2], new Rng(0)), /3.*\[2, 2\].*4/);
});
