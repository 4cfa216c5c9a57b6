import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backward } from '../autograd/tape.js';
import { ConfigError } from '../config/errors.js';
import { resolveConfig } from '../config/resolve.js';
import { Conv2d } from '../nn/conv.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { InitError } from './initializer.js';
import { deltaOrthogonal, orthogonal } from './orthogonal.js';
import { describeInit, expectedRms, resolveBias, resolveInit } from './resolve.js';

/** The centre tap's [rows, cols] matrix, and whether every other tap is exactly zero. */
function split(w: Float64Array, shape: number[]): { centre: Float64Array; othersZero: boolean } {
  const [rows, cols, ...kernel] = shape as [number, number, ...number[]];
  const taps = kernel.reduce((a, b) => a * b, 1);
  let offset = 0;
  for (const k of kernel) offset = offset * k + Math.floor(k / 2);
  const centre = new Float64Array(rows * cols);
  let othersZero = true;
  for (let i = 0; i < rows * cols; i++) {
    for (let t = 0; t < taps; t++) {
      const v = w[i * taps + t] as number;
      if (t === offset) centre[i] = v;
      else if (v !== 0) othersZero = false;
    }
  }
  return { centre, othersZero };
}

/** Largest |(M Mᵀ or Mᵀ M) - gain^2 I| over the short side of M [rows, cols]. */
function orthogonalityError(m: Float64Array, rows: number, cols: number, gain: number): number {
  const short = Math.min(rows, cols);
  let worst = 0;
  for (let a = 0; a < short; a++) {
    for (let b = 0; b < short; b++) {
      let dot = 0;
      if (rows >= cols)
        for (let i = 0; i < rows; i++) dot += (m[i * cols + a] as number) * (m[i * cols + b] as number);
      else for (let j = 0; j < cols; j++) dot += (m[a * cols + j] as number) * (m[b * cols + j] as number);
      worst = Math.max(worst, Math.abs(dot - (a === b ? gain * gain : 0)));
    }
  }
  return worst;
}

describe('delta-orthogonal (Xiao et al. 2018)', () => {
  const shapes: number[][] = [
    [16, 8, 3, 3],
    [8, 16, 3, 3],
    [12, 12, 5, 5],
    [6, 4, 2, 4],
    [5, 5, 3],
  ];
  for (const shape of shapes) {
    it(`a kernel [${shape.join(', ')}] is an orthogonal centre tap and zeros elsewhere`, () => {
      const w = new Float64Array(shape.reduce((a, b) => a * b, 1));
      deltaOrthogonal(1.5)(w, shape, new Rng(3));
      const { centre, othersZero } = split(w, shape);
      assert.ok(othersZero, 'every tap off the centre is 0');
      const error = orthogonalityError(centre, shape[0]!, shape[1]!, 1.5);
      assert.ok(error < 1e-12, `orthogonality error ${error}`);
    });
  }

  it('draws the centre as orthogonal does, and a rank-2 weight (one tap) is orthogonal itself', () => {
    const kernel = new Float64Array(8 * 6 * 3 * 3);
    deltaOrthogonal()(kernel, [8, 6, 3, 3], new Rng(7));
    const matrix = new Float64Array(8 * 6);
    orthogonal()(matrix, [8, 6], new Rng(7));
    assert.deepEqual(split(kernel, [8, 6, 3, 3]).centre, matrix);
    const dense = new Float64Array(8 * 6);
    deltaOrthogonal()(dense, [8, 6], new Rng(7));
    assert.deepEqual(dense, matrix);
  });

  it('is a config init name and a gain base; its predicted scale is the measured one', () => {
    const context = { activation: 'tanh' as const };
    for (const [spec, gain] of [
      ['delta-orthogonal', 1],
      [{ gain: 2, base: 'delta-orthogonal' }, 2],
    ] as const) {
      const shape = [16, 8, 3, 3];
      const w = new Float64Array(16 * 8 * 9);
      resolveInit(spec, context)(w, shape, new Rng(1));
      const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
      assert.ok(Math.abs(rms - expectedRms(spec, context, shape)) < 1e-12);
      assert.ok(Math.abs(rms - gain * Math.sqrt(8 / w.length)) < 1e-12);
    }
    assert.equal(
      describeInit('delta-orthogonal', context, [4, 4, 3, 3]),
      'delta-orthogonal (gain 1, rms 0.167 at [4, 4, 3, 3])',
    );
    assert.throws(
      () => deltaOrthogonal()(new Float64Array(4), [4], new Rng(0)),
      (e: unknown) => e instanceof InitError && e.code === 'invalid_shape' && /bias/.test(e.message),
    );
  });

  it('is refused for model kinds without convolutions, naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: { init: 'delta-orthogonal' } }, 'model.init'],
      [{ model: { init: { gain: 1.2, base: 'delta-orthogonal' } } }, 'model.init'],
      [{ task: 'adding', model: { kind: 'rnn', recurrentInit: 'delta-orthogonal' } }, 'model.recurrentInit'],
    ];
    for (const [raw, path] of cases) {
      assert.throws(
        () => resolveConfig(raw, { defaultName: 'x' }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.path === path &&
          /"orthogonal"/.test(e.message) &&
          /Xiao/.test(e.message),
      );
    }
  });
});

describe('a 32-layer tanh conv stack at initialisation', () => {
  const DEPTH = 32;
  const CHANNELS = 8;
  const SIDE = 6;

  /** ||x_L||^2 / ||x_0||^2 and ||dL/dx_0||^2 / ||dL/dx_L||^2 for L = u . x_L, u a random direction. */
  function propagate(
    init: 'delta-orthogonal' | 'lecun-normal',
    seed: number,
  ): { forward: number; backward: number } {
    const rng = new Rng(seed);
    const layers = Array.from(
      { length: DEPTH },
      (_, l) =>
        new Conv2d(CHANNELS, CHANNELS, {
          kernel: 3,
          padding: 1,
          activation: 'tanh',
          bias: false,
          weightInit: resolveInit(init, { activation: 'tanh' }),
          biasInit: resolveBias(0),
          rng: rng.fork(`layers.${l}`),
          dtype: 'float64',
        }),
    );
    for (const layer of layers) for (const p of layer.parameters()) p.requiresGrad = false;
    // Small inputs (q_0 = 0.01): tanh is near its linear regime, so what changes the signal is the weights.
    const x = Tensor.randn([2, CHANNELS, SIDE, SIDE], rng.fork('input'), { dtype: 'float64' });
    for (let i = 0; i < x.size; i++) x.data[i] = (x.data[i] as number) * 0.1;
    x.requiresGrad = true;
    let h = x;
    for (const layer of layers) h = layer.forward(h);
    const u = new Float64Array(h.size);
    rng.fork('direction').fillNormal(u);
    backward(h, { seed: u });
    const sq = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v * v, 0);
    return { forward: sq(h.data) / sq(x.data), backward: sq(x.grad!) / sq(u) };
  }

  it('keeps its signal with delta-orthogonal, loses it with a variance-scaling init of the same sigma_w^2 = 1', () => {
    for (const seed of [1, 2]) {
      const delta = propagate('delta-orthogonal', seed);
      const scaled = propagate('lecun-normal', seed);
      // delta-orthogonal: an orthogonal map per pixel, only tanh's slow contraction (q_l ~ q_0 / (1 + 2 q_0 l)).
      assert.ok(delta.forward > 0.5 && delta.forward <= 1, `delta-orthogonal forward ${delta.forward}`);
      assert.ok(delta.backward > 0.5 && delta.backward <= 1, `delta-orthogonal backward ${delta.backward}`);
      // Gaussian 3x3 kernels scaled by the full fan-in lose the taps that fall on the zero padding at every layer.
      assert.ok(scaled.forward < 0.05 * delta.forward, `lecun-normal forward ${scaled.forward}`);
      assert.ok(scaled.backward < 0.05 * delta.backward, `lecun-normal backward ${scaled.backward}`);
    }
  });
});
