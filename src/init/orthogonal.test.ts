import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../tensor/rng.js';
import type { Shape } from '../tensor/tensor.js';
import { InitError } from './initializer.js';
import { identity, orthogonal } from './orthogonal.js';

function draw(gain: number, shape: Shape, seed = 1): { w: Float64Array; rows: number; cols: number } {
  const size = shape.reduce((a, b) => a * b, 1);
  const w = new Float64Array(size);
  orthogonal(gain)(w, shape, new Rng(seed));
  const rows = shape[0] as number;
  return { w, rows, cols: size / rows };
}

/** Largest |(A A^T)_ij - target delta_ij| over the rows of A (r x c, row-major), or over its columns if byColumns. */
function gramError(w: Float64Array, rows: number, cols: number, byColumns: boolean, target: number): number {
  const n = byColumns ? cols : rows;
  const len = byColumns ? rows : cols;
  const at = (vector: number, k: number): number =>
    (byColumns ? w[k * cols + vector] : w[vector * cols + k]) as number;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < len; k++) dot += at(i, k) * at(j, k);
      worst = Math.max(worst, Math.abs(dot - (i === j ? target : 0)));
    }
  }
  return worst;
}

test('square: W W^T = gain^2 I to 1e-10', () => {
  for (const gain of [1, 2.5]) {
    const { w, rows, cols } = draw(gain, [128, 128]);
    assert.ok(gramError(w, rows, cols, false, gain * gain) < 1e-10);
    assert.ok(gramError(w, rows, cols, true, gain * gain) < 1e-10);
  }
});

test('wide (rows < cols): orthonormal rows, W W^T = gain^2 I', () => {
  const { w, rows, cols } = draw(1.5, [30, 100]);
  assert.ok(gramError(w, rows, cols, false, 2.25) < 1e-10);
});

test('tall (rows > cols): orthonormal columns, W^T W = gain^2 I (W W^T has rank cols)', () => {
  const { w, rows, cols } = draw(1.5, [100, 30]);
  assert.ok(gramError(w, rows, cols, true, 2.25) < 1e-10);
});

test('an LSTM recurrent weight [4 hidden, hidden] and trailing dims flattened', () => {
  const lstm = draw(1, [4 * 16, 16]);
  assert.ok(gramError(lstm.w, lstm.rows, lstm.cols, true, 1) < 1e-10);
  const conv = draw(1, [8, 4, 5]); // [8, 20]: wide
  assert.equal(conv.cols, 20);
  assert.ok(gramError(conv.w, conv.rows, conv.cols, false, 1) < 1e-10);
});

test('sign-corrected QR (Mezzadri 2007): Q^T G is upper triangular with a positive diagonal', () => {
  for (const shape of [
    [40, 40],
    [50, 20],
    [20, 50],
  ] as const) {
    const [rows, cols] = shape;
    const { w } = draw(1, shape, 11);
    // The same draws, in the documented order: G (rows x cols) row-major.
    const rng = new Rng(11);
    const g = new Float64Array(rows * cols);
    for (let k = 0; k < g.length; k++) g[k] = rng.normal();
    // Tall: Q = W, factor G.  Wide: Q = W^T, factor G^T.  R = Q^T A.
    const tall = rows >= cols;
    const n = Math.min(rows, cols);
    const m = Math.max(rows, cols);
    const q = (i: number, j: number): number => (tall ? w[i * cols + j] : w[j * cols + i]) as number;
    const a = (i: number, j: number): number => (tall ? g[i * cols + j] : g[j * cols + i]) as number;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let r = 0;
        for (let k = 0; k < m; k++) r += q(k, i) * a(k, j);
        if (i > j) assert.ok(Math.abs(r) < 1e-10, `R[${i}][${j}] = ${r}`);
        if (i === j) assert.ok(r > 0, `R[${i}][${i}] = ${r}`);
      }
    }
  }
});

test('Haar: the top-left entry of a 3x3 draw has mean 0 and variance 1/3', () => {
  const rng = new Rng(5);
  const w = new Float64Array(9);
  const init = orthogonal();
  let sum = 0;
  let squares = 0;
  const draws = 4000;
  for (let t = 0; t < draws; t++) {
    init(w, [3, 3], rng);
    sum += w[0] as number;
    squares += (w[0] as number) ** 2;
  }
  assert.ok(Math.abs(sum / draws) < 0.04, `mean ${sum / draws}`);
  assert.ok(Math.abs(squares / draws - 1 / 3) < 0.03, `second moment ${squares / draws}`);
});

test('float32 buffers are filled too', () => {
  const w = new Float32Array(64 * 64);
  orthogonal()(w, [64, 64], new Rng(2));
  const a = new Float64Array(w);
  assert.ok(gramError(a, 64, 64, false, 1) < 1e-5);
});

test('same seed gives identical buffers, a different seed different ones', () => {
  assert.deepEqual(draw(1, [20, 30], 3).w, draw(1, [20, 30], 3).w);
  assert.notDeepEqual(draw(1, [20, 30], 3).w, draw(1, [20, 30], 4).w);
});

test('orthogonal errors name the shape and the fix', () => {
  assert.throws(
    () => orthogonal()(new Float64Array(5), [5], new Rng(0)),
    (error: unknown) =>
      error instanceof InitError &&
      error.code === 'invalid_shape' &&
      /orthogonal needs a 2-D or higher shape, got \[5\]/.test(error.message),
  );
  assert.throws(() => orthogonal(-1), /gain.*-1/);
  assert.throws(() => orthogonal()(new Float64Array(5), [2, 2], new Rng(0)), /5.*\[2, 2\]/);
});

test('identity: gain on the leading square block, zeros elsewhere', () => {
  const square = new Float64Array(9).fill(7);
  identity()(square, [3, 3], new Rng(0));
  assert.deepEqual([...square], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const wide = new Float64Array(6).fill(7);
  identity(0.5)(wide, [2, 3], new Rng(0));
  assert.deepEqual([...wide], [0.5, 0, 0, 0, 0.5, 0]);
  const tall = new Float32Array(6).fill(7);
  identity(2)(tall, [3, 2], new Rng(0));
  assert.deepEqual([...tall], [2, 0, 0, 2, 0, 0]);
});

test('identity draws nothing and refuses other ranks', () => {
  const rng = new Rng(9);
  identity()(new Float64Array(4), [2, 2], rng);
  assert.equal(rng.next(), new Rng(9).next());
  assert.throws(
    () => identity()(new Float64Array(8), [2, 2, 2], rng),
    (error: unknown) =>
      error instanceof InitError && error.code === 'invalid_shape' && /\[2, 2, 2\]/.test(error.message),
  );
  assert.throws(() => identity()(new Float64Array(2), [2], rng), /identity needs a 2-D shape/);
});
