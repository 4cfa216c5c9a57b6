import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../tensor/rng.js';
import type { Shape } from '../tensor/tensor.js';
import { InitError, type Initializer } from './initializer.js';
import {
  heNormal,
  heUniform,
  lecunNormal,
  varianceScaling,
  varianceScalingStd,
  xavierNormal,
  xavierUniform,
} from './variance-scaling.js';

function draw(init: Initializer, shape: Shape, seed = 1): Float64Array {
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  init(out, shape, new Rng(seed));
  return out;
}

function moments(values: Float64Array): { mean: number; std: number; maxAbs: number } {
  let sum = 0;
  let maxAbs = 0;
  for (const v of values) {
    sum += v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length), maxAbs };
}

function assertStd(values: Float64Array, expected: number, label: string): void {
  const { mean, std } = moments(values);
  assert.ok(Math.abs(std / expected - 1) < 0.03, `${label}: std ${std}, expected ${expected}`);
  assert.ok(Math.abs(mean) < 0.03 * expected, `${label}: mean ${mean}`);
}

const square: Shape = [512, 512];

test('each preset has the variance its paper gives, on a 512x512 draw', () => {
  const n = 512;
  const cases: [string, Initializer, number][] = [
    ['xavierUniform', xavierUniform(), Math.sqrt(2 / (n + n))],
    ['xavierNormal', xavierNormal(), Math.sqrt(2 / (n + n))],
    ['xavierNormal(5/3)', xavierNormal(5 / 3), (5 / 3) * Math.sqrt(2 / (n + n))],
    ['heUniform', heUniform(), Math.sqrt(2 / n)],
    ['heNormal', heNormal(), Math.sqrt(2 / n)],
    ['heNormal fan-out', heNormal({ mode: 'fan-out' }), Math.sqrt(2 / n)],
    ['lecunNormal', lecunNormal(), Math.sqrt(1 / n)],
    ['lecunNormal(2)', lecunNormal(2), 2 * Math.sqrt(1 / n)],
  ];
  for (const [label, init, expected] of cases) assertStd(draw(init, square), expected, label);
});

test('each fan mode and distribution uses its fan, on a non-square 256x1024 draw', () => {
  const shape: Shape = [256, 1024]; // fanIn 1024, fanOut 256, fanAvg 640
  const fanOf = { 'fan-in': 1024, 'fan-out': 256, 'fan-avg': 640 } as const;
  for (const mode of ['fan-in', 'fan-out', 'fan-avg'] as const) {
    for (const distribution of ['normal', 'uniform'] as const) {
      const options = { scale: 3, mode, distribution };
      const expected = Math.sqrt(3 / fanOf[mode]);
      assert.equal(varianceScalingStd(options, shape), expected);
      assertStd(draw(varianceScaling(options), shape), expected, `${mode} ${distribution}`);
    }
  }
  assertStd(draw(heUniform({ mode: 'fan-out' }), shape), Math.sqrt(2 / 256), 'heUniform fan-out');
  assertStd(draw(heNormal({ gain: 1 }), shape), Math.sqrt(1 / 1024), 'heNormal gain 1');
});

test('uniform draws stay within +-sqrt(3 scale / fan) and reach near it', () => {
  const limit = Math.sqrt(6 / (512 + 512));
  const { maxAbs } = moments(draw(xavierUniform(), square));
  assert.ok(maxAbs <= limit, `${maxAbs} > ${limit}`);
  assert.ok(maxAbs > 0.999 * limit);
  const heLimit = Math.sqrt(6 / 512);
  const he = moments(draw(heUniform(), square));
  assert.ok(he.maxAbs <= heLimit && he.maxAbs > 0.999 * heLimit);
});

test('receptive field multiplies the fans', () => {
  const shape: Shape = [64, 16, 3, 3]; // fanIn 144
  assertStd(draw(heNormal(), shape), Math.sqrt(2 / 144), 'conv heNormal');
});

test('same seed gives identical buffers, a different seed different ones', () => {
  for (const init of [xavierUniform(), heNormal()]) {
    const a = draw(init, [64, 32], 7);
    const b = draw(init, [64, 32], 7);
    const c = draw(init, [64, 32], 8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  }
  const a32 = new Float32Array(64 * 32);
  const b32 = new Float32Array(64 * 32);
  lecunNormal()(a32, [64, 32], new Rng(3));
  lecunNormal()(b32, [64, 32], new Rng(3));
  assert.deepEqual(a32, b32);
});

test('bad settings and shapes raise errors that name the value', () => {
  const isInit = (code: string, pattern: RegExp) => (error: unknown) =>
    error instanceof InitError && error.code === code && pattern.test(error.message);
  assert.throws(
    () => varianceScaling({ scale: -1, mode: 'fan-in', distribution: 'normal' }),
    isInit('invalid_value', /-1/),
  );
  assert.throws(
    () => varianceScaling({ scale: 1, mode: 'fan_in' as never, distribution: 'normal' }),
    isInit('invalid_value', /'fan_in'/),
  );
  assert.throws(
    () => varianceScaling({ scale: 1, mode: 'fan-in', distribution: 'gauss' as never }),
    isInit('invalid_value', /'gauss'/),
  );
  assert.throws(() => heNormal({ gain: Number.NaN }), isInit('invalid_value', /gain.*NaN/));
  assert.throws(() => xavierUniform(Infinity), isInit('invalid_value', /Infinity/));
  assert.throws(() => heNormal()(new Float64Array(5), [5], new Rng(0)), isInit('invalid_shape', /\[5\]/));
  assert.throws(
    () => heNormal()(new Float64Array(5), [2, 3], new Rng(0)),
    isInit('size_mismatch', /5.*\[2, 3\].*6/),
  );
});

test('a zero-size weight is left alone', () => {
  const out = new Float64Array(0);
  heNormal()(out, [0, 4], new Rng(0));
  assert.equal(out.length, 0);
});
