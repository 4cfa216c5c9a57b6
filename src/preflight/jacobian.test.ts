import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import {
  jacobianStats,
  largestEigenvalue,
  largestTridiagonalEigenvalue,
  LinearisedNetwork,
  type LinearisedLayer,
  type LinearisedNorm,
} from './jacobian.js';

function randomLayer(
  rng: Rng,
  inSize: number,
  outSize: number,
  batch: number,
  options: { norm?: 'batch' | 'layer'; residual?: boolean; derivative?: readonly [number, number] } = {},
): LinearisedLayer {
  const weight = new Float64Array(outSize * inSize);
  rng.fillNormal(weight, 0, 1 / Math.sqrt(inSize));
  const derivative = new Float64Array(batch * outSize);
  rng.fillUniform(derivative, ...(options.derivative ?? [0.1, 1]));
  let norm: LinearisedNorm | null = null;
  if (options.norm) {
    const groups = options.norm === 'batch' ? outSize : batch;
    const size = options.norm === 'batch' ? batch : outSize;
    const normalised = new Float64Array(batch * outSize);
    rng.fillNormal(normalised);
    // Make each group zero-mean with unit mean square, as a real x̂ is.
    for (let g = 0; g < groups; g++) {
      const at = (e: number): number => (options.norm === 'batch' ? e * outSize + g : g * outSize + e);
      let mean = 0;
      for (let e = 0; e < size; e++) mean += normalised[at(e)] as number;
      mean /= size;
      let square = 0;
      for (let e = 0; e < size; e++) square += ((normalised[at(e)] as number) - mean) ** 2;
      const scale = 1 / Math.sqrt(square / size);
      for (let e = 0; e < size; e++) normalised[at(e)] = ((normalised[at(e)] as number) - mean) * scale;
    }
    const gamma = new Float64Array(outSize);
    rng.fillUniform(gamma, 0.5, 1.5);
    const invStd = new Float64Array(groups);
    rng.fillUniform(invStd, 0.5, 2);
    norm = { mode: options.norm, gamma, normalised, invStd };
  }
  return { inSize, outSize, weight, derivative, norm, residual: options.residual ?? false };
}

function within(
  estimate: { meanSquaredSingular: number; varianceSquaredSingular: number; maxSingular: number },
  exact: { meanSquaredSingular: number; varianceSquaredSingular: number; maxSingular: number },
  tolerance: { mean: number; variance: number; max: number },
): void {
  const rel = (a: number, b: number): number => Math.abs(a / b - 1);
  assert.ok(
    rel(estimate.meanSquaredSingular, exact.meanSquaredSingular) < tolerance.mean,
    `mean ${estimate.meanSquaredSingular} vs ${exact.meanSquaredSingular}`,
  );
  assert.ok(
    rel(estimate.varianceSquaredSingular, exact.varianceSquaredSingular) < tolerance.variance,
    `variance ${estimate.varianceSquaredSingular} vs ${exact.varianceSquaredSingular}`,
  );
  assert.ok(
    rel(estimate.maxSingular, exact.maxSingular) < tolerance.max,
    `max ${estimate.maxSingular} vs ${exact.maxSingular}`,
  );
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

describe('LinearisedNetwork', () => {
  for (const [label, batch, options] of [
    ['plain', 1, {}],
    ['layer norm', 1, { norm: 'layer' }],
    ['batch norm', 5, { norm: 'batch' }],
    ['residual', 1, { residual: true }],
    ['residual + layer norm', 2, { norm: 'layer', residual: true }],
  ] as const) {
    it(`vjp is the adjoint of jvp: <u, J t> = <Jᵀ u, t> (${label})`, () => {
      const rng = new Rng(3);
      const layers = [
        randomLayer(rng, 6, 8, batch),
        randomLayer(rng, 8, 8, batch, options),
        randomLayer(rng, 8, 8, batch, options),
      ];
      const net = new LinearisedNetwork(layers, batch);
      const directions = 3;
      const t = new Float64Array(directions * batch * 6);
      const u = new Float64Array(directions * batch * 8);
      rng.fillNormal(t);
      rng.fillNormal(u);
      const lhs = dot(u, net.jvp(t, directions));
      const rhs = dot(net.vjp(u, directions), t);
      assert.ok(Math.abs(lhs - rhs) < 1e-12 * Math.max(1, Math.abs(lhs)), `${lhs} vs ${rhs}`);
    });
  }

  it('a batch-norm group projects out the batch mean: equal tangents on every example change nothing', () => {
    const rng = new Rng(5);
    const batch = 4;
    const layer = randomLayer(rng, 3, 3, batch, { norm: 'batch' });
    const net = new LinearisedNetwork([layer], batch);
    const t = new Float64Array(batch * 3);
    for (let b = 0; b < batch; b++) t.set([1, -2, 0.5], b * 3);
    for (const v of net.jvp(t, 1)) assert.ok(Math.abs(v) < 1e-12);
  });

  it('rejects layers that do not chain', () => {
    const rng = new Rng(1);
    assert.throws(
      () => new LinearisedNetwork([randomLayer(rng, 2, 3, 1), randomLayer(rng, 4, 3, 1)], 1),
      /takes 4 inputs/,
    );
  });
});

describe('eigenvalues', () => {
  it('Lanczos finds the largest eigenvalue of a diagonal operator', () => {
    const d = Float64Array.from({ length: 50 }, (_, i) => 1 + i / 10);
    const got = largestEigenvalue((v) => v.map((x, i) => (d[i] as number) * x), 50, 50, new Rng(0));
    assert.ok(Math.abs(got - 5.9) < 1e-10, `${got}`);
  });

  it('Sturm bisection on a tridiagonal matrix: [[2, 1], [1, 2]] has eigenvalues 1 and 3', () => {
    assert.ok(Math.abs(largestTridiagonalEigenvalue([2, 2], [1]) - 3) < 1e-13);
  });
});

describe('jacobianStats', () => {
  const rng = new Rng(11);
  const batch = 1;
  const net = new LinearisedNetwork(
    [randomLayer(rng, 200, 240, batch), randomLayer(rng, 240, 240, batch), randomLayer(rng, 240, 240, batch)],
    batch,
  );

  it('the exact statistics: mean = tr(JᵀJ) / k, variance = ||JᵀJ - mean I||_F^2 / k, checked against columns', () => {
    const exact = jacobianStats(net.operator(), new Rng(1));
    assert.equal(exact.method, 'exact');
    assert.equal(exact.singularValues, 200);
    const basis = new Float64Array(200 * 200);
    for (let i = 0; i < 200; i++) basis[i * 200 + i] = 1;
    const columns = net.jvp(basis, 200);
    let trace = 0;
    for (const v of columns) trace += v * v;
    assert.ok(Math.abs(exact.meanSquaredSingular - trace / 200) < 1e-12 * trace);
    assert.ok(exact.maxSingular ** 2 >= exact.meanSquaredSingular);
    assert.ok(exact.varianceSquaredSingular > 0);
  });

  it('Hutchinson and Lanczos estimates agree with the exact values on a spread spectrum (cv^2 = 4)', () => {
    const exact = jacobianStats(net.operator(), new Rng(1));
    // The default probe count gives probes * k >= 20000 (100 probes here): relative error ~ sqrt(2 (1 + cv^2) / 20000).
    const estimate = jacobianStats(net.operator(), new Rng(2), { exactMaxSize: 0 });
    assert.equal(estimate.method, 'estimate');
    within(estimate, exact, { mean: 0.06, variance: 0.12, max: 0.01 });
  });

  it('and near-flat spectra to about 1% (derivatives in [0.95, 1])', () => {
    const flat = new Rng(12);
    const layers = [
      randomLayer(flat, 200, 800, 1, { derivative: [0.95, 1] }),
      randomLayer(flat, 800, 800, 1, { derivative: [0.95, 1] }),
    ];
    const wide = new LinearisedNetwork(layers, 1);
    const exact = jacobianStats(wide.operator(), new Rng(1));
    const estimate = jacobianStats(wide.operator(), new Rng(2), { exactMaxSize: 0 });
    within(estimate, exact, { mean: 0.02, variance: 0.06, max: 0.01 });
  });
});
