import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InitSpec } from '../config/types.js';
import { Rng } from '../tensor/rng.js';
import type { Shape } from '../tensor/tensor.js';
import { GradscopeError } from '../util/errors.js';
import { InitError } from './initializer.js';
import {
  describeInit,
  expectedRms,
  planInit,
  resolveBias,
  resolveInit,
  type InitContext,
} from './resolve.js';

const relu: InitContext = { activation: 'relu' };
const shape: Shape = [256, 1024]; // fanIn 1024, fanOut 256, fanAvg 640

function draw(spec: InitSpec, context: InitContext, at: Shape = shape, seed = 1): Float64Array {
  const out = new Float64Array(at.reduce((a, b) => a * b, 1));
  resolveInit(spec, context)(out, at, new Rng(seed));
  return out;
}

function rms(values: Float64Array): number {
  let squares = 0;
  for (const v of values) squares += v * v;
  return Math.sqrt(squares / values.length);
}

function assertClose(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual / expected - 1) < tolerance, `${label}: ${actual}, expected ${expected}`);
}

test('every config name gives the std its formula predicts', () => {
  const cases: [InitSpec, number][] = [
    ['xavier-uniform', Math.sqrt(1 / 640)],
    ['xavier-normal', Math.sqrt(1 / 640)],
    ['he-uniform', Math.sqrt(2 / 1024)],
    ['he-normal', Math.sqrt(2 / 1024)],
    ['lecun-normal', Math.sqrt(1 / 1024)],
    ['orthogonal', 1 / Math.sqrt(1024)],
    ['identity', Math.sqrt(256 / (256 * 1024))],
  ];
  for (const [spec, expected] of cases) {
    assertClose(expectedRms(spec, relu, shape), expected, 1e-12, `${String(spec)} predicted`);
    assertClose(rms(draw(spec, relu)), expected, 0.03, `${String(spec)} drawn`);
  }
  assert.ok(draw('zeros', relu).every((v) => v === 0));
});

test('he-* take the slope of leaky-relu and prelu, sqrt(2) for everything else', () => {
  const leaky = { activation: 'leaky-relu', alpha: 0.2 } as const;
  assertClose(rms(draw('he-normal', leaky)), Math.sqrt(2 / (1.04 * 1024)), 0.03, 'leaky 0.2');
  assertClose(
    expectedRms('he-uniform', { activation: 'prelu' }, shape),
    Math.sqrt(2 / (1.0625 * 1024)),
    1e-12,
    'prelu',
  );
  assertClose(expectedRms('he-normal', { activation: 'tanh' }, shape), Math.sqrt(2 / 1024), 1e-12, 'tanh');
  assertClose(expectedRms('he-normal', { activation: 'elu' }, shape), Math.sqrt(2 / 1024), 1e-12, 'elu');
});

test('orthogonal uses gain 1 whatever the activation', () => {
  const { w, n } = { w: draw('orthogonal', { activation: 'tanh' }, [32, 32]), n: 32 };
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let k = 0; k < n; k++) dot += (w[i * n + k] as number) ** 2;
    assert.ok(Math.abs(dot - 1) < 1e-10);
  }
});

test('{ normal: std } and { uniform: limit }', () => {
  assertClose(rms(draw({ normal: 0.05 }, relu)), 0.05, 0.03, 'normal');
  const u = draw({ uniform: 0.1 }, relu);
  assert.ok(u.every((v) => v >= -0.1 && v <= 0.1));
  assertClose(rms(u), 0.1 / Math.sqrt(3), 0.03, 'uniform');
  // fixed distributions ignore the fans, so they fit vectors too
  const vector = new Float64Array(8);
  resolveInit({ normal: 1 }, relu)(vector, [8], new Rng(0));
  assert.ok(vector.some((v) => v !== 0));
});

test('{ gain, base } multiplies the base std', () => {
  const g = 1.5;
  const cases: [InitSpec, number][] = [
    // the sigma_w^2 / fanIn of signal-propagation papers
    [{ gain: g, base: 'lecun-normal' }, g * Math.sqrt(1 / 1024)],
    [{ gain: g, base: 'xavier-uniform' }, g * Math.sqrt(1 / 640)],
    [{ gain: g, base: 'xavier-normal' }, g * Math.sqrt(1 / 640)],
    [{ gain: g, base: 'he-normal' }, g * Math.sqrt(2 / 1024)],
    [{ gain: g, base: 'he-uniform' }, g * Math.sqrt(2 / 1024)],
    [{ gain: g, base: 'orthogonal' }, g / Math.sqrt(1024)],
    [{ gain: g, base: 'identity' }, g * Math.sqrt(1 / 1024)],
  ];
  for (const [spec, expected] of cases) {
    assertClose(expectedRms(spec, relu, shape), expected, 1e-12, `${JSON.stringify(spec)} predicted`);
    assertClose(rms(draw(spec, relu)), expected, 0.03, `${JSON.stringify(spec)} drawn`);
  }
  // zeros has no scale to multiply: the config schema's rule refuses it as a base
  assert.throws(() => draw({ gain: g, base: 'zeros' } as never, relu), /init\.base: "zeros" is not accepted/);
  // a wrapped he-normal keeps the activation's slope
  const leaky = { activation: 'leaky-relu', alpha: 0.5 } as const;
  assertClose(
    expectedRms({ gain: 2, base: 'he-normal' }, leaky, shape),
    2 * Math.sqrt(2 / (1.25 * 1024)),
    1e-12,
    'wrapped leaky',
  );
  // a wrapped orthogonal is exactly gain^2 I
  const w = draw({ gain: 2, base: 'orthogonal' }, relu, [16, 16]);
  let diagonal = 0;
  for (let k = 0; k < 16; k++) diagonal += (w[k] as number) ** 2;
  assert.ok(Math.abs(diagonal - 4) < 1e-10);
});

test('resolveInit is deterministic in the rng it is given', () => {
  for (const spec of [
    'he-uniform',
    'orthogonal',
    { normal: 0.1 },
    { gain: 2, base: 'xavier-normal' },
  ] as InitSpec[]) {
    assert.deepEqual(draw(spec, relu, [24, 40], 5), draw(spec, relu, [24, 40], 5));
    assert.notDeepEqual(draw(spec, relu, [24, 40], 5), draw(spec, relu, [24, 40], 6));
  }
});

test('resolveBias: a constant or { normal: std }', () => {
  const out = new Float64Array(4000);
  resolveBias(1)(out, [4000], new Rng(0));
  assert.ok(out.every((v) => v === 1));
  resolveBias({ normal: 0.1 })(out, [4000], new Rng(0));
  assertClose(rms(out), 0.1, 0.05, 'bias normal');
});

test("bad specs raise errors that name the value and the fix (the config schema's one rule)", () => {
  const bad =
    (path: string, ...patterns: RegExp[]) =>
    (error: unknown) =>
      error instanceof GradscopeError &&
      error.code === 'invalid_value' &&
      error.path === path &&
      patterns.every((p) => p.test(error.message));
  const suggests = (meant: string) => (error: unknown) =>
    error instanceof GradscopeError && error.suggestion === meant;
  assert.throws(
    () => resolveInit('xavier' as never, relu),
    bad('init', /"xavier"/, /did you mean "xavier-uniform"/),
  );
  assert.throws(() => resolveInit('glorot_uniform' as never, relu), suggests('xavier-uniform'));
  assert.throws(() => resolveInit('kaiming' as never, relu), suggests('he-normal'));
  assert.throws(() => resolveInit('kaiming_uniform' as never, relu), suggests('he-uniform'));
  assert.throws(
    () => resolveInit('gaussian' as never, relu),
    (error: unknown) => error instanceof GradscopeError && !/did you mean/.test(error.message),
  );
  assert.throws(() => resolveInit('Xavier-Uniform' as never, relu), suggests('xavier-uniform'));
  assert.throws(() => resolveInit({ normal: -1 }, relu), bad('init.normal', /-1/, /> 0/));
  assert.throws(() => resolveInit({ normal: 0 }, relu), bad('init.normal', /> 0/));
  assert.throws(() => resolveInit({ uniform: 'big' } as never, relu), bad('init.uniform', /"big"/));
  assert.throws(
    () => resolveInit({ gain: 2, base: 'ortho' } as never, relu),
    bad('init.base', /"ortho"/, /did you mean "orthogonal"/),
  );
  assert.throws(() => resolveInit({ gain: Number.NaN, base: 'orthogonal' }, relu), bad('init.gain', /NaN/));
  assert.throws(
    () => resolveInit({ gain: 2 } as never, relu),
    (error: unknown) =>
      error instanceof GradscopeError && error.code === 'missing' && error.path === 'init.base',
  );
  assert.throws(() => resolveInit({ normal: 1, uniform: 1 } as never, relu), bad('init', /exactly one/));
  assert.throws(() => resolveInit(3 as never, relu), bad('init', /3 is not accepted/));
  assert.throws(() => resolveInit(null as never, relu), bad('init', /null/));
  assert.throws(
    () =>
      resolveInit('orthogonal', { activation: 'relu', path: 'model.recurrentInit' })(
        new Float64Array(4),
        [4],
        new Rng(0),
      ),
    (error: unknown) =>
      error instanceof InitError && error.code === 'invalid_shape' && /\[4\]/.test(error.message),
  );
  assert.throws(
    () => planInit('he-normal', { activation: 'swish' as never }),
    (error: unknown) => error instanceof InitError && /'swish'/.test(error.message),
  );
  assert.throws(
    () => planInit('he-normal', { activation: 'leaky-relu', alpha: Number.NaN }),
    (error: unknown) => error instanceof InitError && /alpha.*NaN/.test(error.message),
  );
  assert.throws(
    () => planInit('lecun' as never, { activation: 'relu', path: 'model.init' }),
    bad('model.init', /did you mean "lecun-normal"/),
  );
  assert.throws(() => resolveBias('zero' as never), bad('bias', /"zero"/));
  assert.throws(() => resolveBias(Number.NaN), bad('bias', /NaN/));
  assert.throws(() => resolveBias({ normal: -2 }, 'model.bias'), bad('model.bias.normal', /-2/));
});

test('describeInit', () => {
  assert.equal(describeInit('he-normal', relu, [128, 256]), 'he-normal (std 0.0884 at fan-in 256)');
  assert.equal(
    describeInit('xavier-uniform', relu, [64, 32]),
    'xavier-uniform (limit 0.25, std 0.144 at fan-avg 48)',
  );
  assert.equal(describeInit('lecun-normal'), 'lecun-normal (var 1/fan-in)');
  assert.equal(describeInit({ gain: 1.5, base: 'orthogonal' }), '1.5 x orthogonal (gain 1.5)');
  assert.equal(describeInit('identity', relu, [4, 4]), 'identity (gain 1, rms 0.5 at [4, 4])');
  assert.equal(describeInit({ normal: 0.01 }), 'normal (std 0.01)');
  assert.equal(describeInit({ uniform: 0.3 }), 'uniform (limit 0.3, std 0.173)');
  assert.equal(describeInit('zeros'), 'zeros');
});
