import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import {
  adaptiveGradClip,
  autoClip,
  clipByGlobalNorm,
  clipByParamNorm,
  clipByValue,
  clipFromConfig,
  clipGradsWithNorm,
  globalNorm,
  OptimError,
  type ParamInfo,
} from './index.js';

const rng = new Rng(2024);

function randomBuffers(sizes: number[], std: number): Float64Array[] {
  return sizes.map((n) => {
    const b = new Float64Array(n);
    rng.fillNormal(b, 0, std);
    return b;
  });
}

const flat = (buffers: readonly Float64Array[]): number[] => buffers.flatMap((b) => Array.from(b));
const copy = (buffers: readonly Float64Array[]): Float64Array[] => buffers.map((b) => b.slice());

function cosineSimilarity(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

function vectorInfo(sizes: number[]): ParamInfo[] {
  return sizes.map((n, i) => ({ name: `p${i}`, shape: [n], layer: i, role: 'other', isOutput: false }));
}

const SIZES = [7, 30, 1, 12];
const INFO = vectorInfo(SIZES);
const ctxFor = (params: Float64Array[]) => ({ step: 1, params, info: INFO });

describe('globalNorm', () => {
  it('is the L2 norm of all buffers as one vector', () => {
    assert.equal(globalNorm([Float64Array.of(3), Float32Array.of(4)]), 5);
    assert.equal(globalNorm([]), 0);
    assert.equal(globalNorm([new Float64Array(0)]), 0);
  });

  it('never hides a broken gradient: NaN in -> NaN out, Infinity in -> Infinity out', () => {
    assert.ok(Number.isNaN(globalNorm([Float64Array.of(1, 2), Float32Array.of(NaN)])));
    assert.equal(globalNorm([Float64Array.of(1, -Infinity)]), Infinity);
    assert.ok(Number.isNaN(globalNorm([Float64Array.of(Infinity, NaN)])));
  });

  it('rescales when the squares overflow but the values are finite', () => {
    const norm = globalNorm([Float64Array.of(3e200, 4e200)]);
    assert.ok(Math.abs(norm / 5e200 - 1) < 1e-15, `got ${norm}`);
  });
});

describe('clipByGlobalNorm', () => {
  for (const std of [0.01, 1, 100]) {
    it(`random gradients with std ${std}: norm <= max, direction kept, report correct`, () => {
      const maxNorm = 1;
      const updates = randomBuffers(SIZES, std);
      const original = flat(updates);
      const before = globalNorm(updates);
      const report = clipByGlobalNorm(maxNorm).update(updates, {}, ctxFor(updates));
      const after = globalNorm(updates);
      assert.equal(report.normBefore, before);
      assert.ok(Math.abs(report.normAfter - after) <= 1e-12 * Math.max(1, after));
      assert.ok(after <= maxNorm + 1e-6, `norm after ${after}`);
      if (before > maxNorm) {
        assert.equal(report.clipped, 1);
        assert.ok(Math.abs(report.factor - maxNorm / (before + 1e-6)) < 1e-15);
        assert.ok(Math.abs(cosineSimilarity(original, flat(updates)) - 1) < 1e-12);
      } else {
        assert.equal(report.clipped, 0);
        assert.equal(report.factor, 1);
        assert.deepEqual(flat(updates), original, 'unchanged when under the max');
      }
    });
  }

  it('a non-finite norm is reported and the updates are left for the guard, or raised on request', () => {
    const updates = [Float64Array.of(1, NaN, 100)];
    const report = clipByGlobalNorm(1).update(
      updates,
      {},
      { step: 1, params: updates, info: vectorInfo([3]) },
    );
    assert.ok(Number.isNaN(report.normBefore));
    assert.equal(report.clipped, 0);
    assert.equal(updates[0][2], 100);
    assert.throws(
      () =>
        clipByGlobalNorm(1, { errorIfNonfinite: true }).update(
          updates,
          {},
          { step: 1, params: updates, info: vectorInfo([3]) },
        ),
      (error: unknown) =>
        error instanceof OptimError &&
        error.code === 'non_finite' &&
        /errorIfNonfinite: false/.test(error.message),
    );
  });

  it('clipGradsWithNorm is the changing half on its own', () => {
    const buffers = [Float64Array.of(3, 4)];
    assert.equal(clipGradsWithNorm(buffers, 10, 5), 1);
    assert.deepEqual(Array.from(buffers[0]), [3, 4]);
    const factor = clipGradsWithNorm(buffers, 1, 5);
    assert.equal(factor, 1 / (5 + 1e-6));
    assert.ok(globalNorm(buffers) < 1);
  });
});

describe('clipByParamNorm', () => {
  it('clips each tensor to maxNorm separately and keeps each tensor direction', () => {
    const updates = randomBuffers(SIZES, 1);
    const original = updates.map((b) => Array.from(b));
    const norms = updates.map((b) => globalNorm([b]));
    const report = clipByParamNorm(2).update(updates, {}, ctxFor(updates));
    let clipped = 0;
    updates.forEach((b, i) => {
      const after = globalNorm([b]);
      assert.ok(after <= 2 + 1e-6);
      if (norms[i] > 2) {
        clipped++;
        assert.ok(Math.abs(cosineSimilarity(original[i], Array.from(b)) - 1) < 1e-12);
      } else {
        assert.deepEqual(Array.from(b), original[i]);
      }
    });
    assert.ok(clipped > 0 && clipped < SIZES.length, 'the fixture has tensors on both sides of the max');
    assert.equal(report['clippedTensors'], clipped);
    assert.equal(report.clipped, 1);
    assert.ok(Math.abs(report.normAfter - globalNorm(updates)) < 1e-12);
    assert.ok(Math.abs(report.factor - report.normAfter / report.normBefore) < 1e-15);
  });
});

describe('clipByValue', () => {
  it('clamps each entry and reports the norms', () => {
    const updates = [Float64Array.of(-3, 0.5, 2), Float64Array.of(NaN)];
    const report = clipByValue(1).update(
      [updates[0]],
      {},
      { step: 1, params: [updates[0]], info: vectorInfo([3]) },
    );
    assert.deepEqual(Array.from(updates[0]), [-1, 0.5, 1]);
    assert.equal(report.normBefore, Math.hypot(3, 0.5, 2));
    assert.equal(report.normAfter, Math.hypot(1, 0.5, 1));
    assert.equal(report.clipped, 1);
    const nanReport = clipByValue(1).update(
      [updates[1]],
      {},
      { step: 1, params: [updates[1]], info: vectorInfo([1]) },
    );
    assert.ok(Number.isNaN(updates[1][0]) && Number.isNaN(nanReport.normBefore));
  });

  it('leaves entries inside the bounds untouched', () => {
    const updates = [Float64Array.of(0.1, -0.2)];
    const report = clipByValue(1).update(updates, {}, { step: 1, params: updates, info: vectorInfo([2]) });
    assert.deepEqual(Array.from(updates[0]), [0.1, -0.2]);
    assert.deepEqual(
      { ...report },
      { normBefore: Math.hypot(0.1, 0.2), normAfter: Math.hypot(0.1, 0.2), factor: 1, clipped: 0 },
    );
  });
});

describe('adaptiveGradClip (unit-wise, Brock et al. 2021)', () => {
  const info: ParamInfo[] = [
    { name: 'layers.0.weight', shape: [4, 3], layer: 0, role: 'weight', isOutput: false },
    { name: 'layers.0.bias', shape: [4], layer: 0, role: 'bias', isOutput: false },
    { name: 'layers.1.weight', shape: [2, 4], layer: 1, role: 'weight', isOutput: true },
    { name: 'layers.1.bias', shape: [2], layer: 1, role: 'bias', isOutput: true },
  ];
  const rowNorm = (b: Float64Array, row: number, width: number): number =>
    globalNorm([b.subarray(row * width, (row + 1) * width)]);

  function fixture(): { params: Float64Array[]; grads: Float64Array[] } {
    const params = randomBuffers([12, 4, 8, 2], 1);
    params[0].fill(0, 3, 6); // a zero row: its allowance comes from eps
    const grads = randomBuffers([12, 4, 8, 2], 0.05);
    grads[0][6] *= 1e-5; // keep row 2 under the allowance
    grads[0][7] *= 1e-5;
    grads[0][8] *= 1e-5;
    return { params, grads };
  }

  it('caps each row and each bias entry at factor * max(||W_i||, eps), and leaves the output layer alone', () => {
    const factor = 0.02;
    const eps = 1e-3;
    const { params, grads } = fixture();
    const updates = copy(grads);
    const report = adaptiveGradClip({ factor, eps }).update(updates, {}, { step: 1, params, info });

    let clippedUnits = 0;
    for (let row = 0; row < 4; row++) {
      const allowed = factor * Math.max(rowNorm(params[0], row, 3), eps);
      const before = rowNorm(grads[0], row, 3);
      const after = rowNorm(updates[0], row, 3);
      const original = Array.from(grads[0].subarray(row * 3, row * 3 + 3));
      const now = Array.from(updates[0].subarray(row * 3, row * 3 + 3));
      if (before > allowed) {
        clippedUnits++;
        assert.ok(Math.abs(after - allowed) < 1e-12, `row ${row}: ${after} vs ${allowed}`);
        assert.ok(Math.abs(cosineSimilarity(original, now) - 1) < 1e-12);
      } else {
        assert.deepEqual(now, original, `row ${row} under the allowance is untouched`);
      }
    }
    assert.ok(Math.abs(rowNorm(updates[0], 1, 3) - factor * eps) < 1e-15, 'zero row uses eps');
    for (let i = 0; i < 4; i++) {
      const allowed = factor * Math.max(Math.abs(params[1][i]), eps);
      if (Math.abs(grads[1][i]) > allowed) clippedUnits++;
      assert.ok(Math.abs(updates[1][i]) <= allowed + 1e-15, `bias ${i}`);
      assert.equal(Math.sign(updates[1][i]), Math.sign(grads[1][i]));
    }
    assert.deepEqual(Array.from(updates[2]), Array.from(grads[2]), 'output weight untouched');
    assert.deepEqual(Array.from(updates[3]), Array.from(grads[3]), 'output bias untouched');
    assert.equal(report['clippedUnits'], clippedUnits);
    assert.equal(report.clipped, 1);
    assert.equal(report.normBefore, globalNorm(grads));
    assert.ok(Math.abs(report.normAfter - globalNorm(updates)) < 1e-12);
  });

  it('would clip the output layer if it were not marked as output (the test can fail)', () => {
    const { params, grads } = fixture();
    const updates = copy(grads);
    const hidden = info.map((p) => ({ ...p, isOutput: false }));
    adaptiveGradClip({ factor: 0.001 }).update(updates, {}, { step: 1, params, info: hidden });
    assert.notDeepEqual(Array.from(updates[2]), Array.from(grads[2]));
  });

  it('checks that parameter facts match the buffers', () => {
    const { params, grads } = fixture();
    const wrong = info.map((p, i) => (i === 0 ? { ...p, shape: [3, 3] } : p));
    assert.throws(
      () => adaptiveGradClip().update(grads, {}, { step: 1, params, info: wrong }),
      /fix the ParamInfo shape/,
    );
  });
});

describe('autoClip (Seetharaman et al. 2020)', () => {
  /** numpy.percentile(values, p), linear interpolation. */
  function numpyPercentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    const rank = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.ceil(rank);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
  }

  it('clips each step to the percentile of all norms seen so far, this one included', () => {
    const transform = autoClip({ percentile: 30 });
    const info = vectorInfo([5]);
    const state = transform.init([new Float64Array(5)], info);
    const seen: number[] = [];
    for (let step = 1; step <= 40; step++) {
      const updates = randomBuffers([5], step % 7 === 0 ? 50 : 1 + step / 10);
      const norm = globalNorm(updates);
      seen.push(norm);
      const threshold = numpyPercentile(seen, 30);
      const report = transform.update(updates, state, { step, params: updates, info });
      assert.ok(Math.abs(report['threshold'] - threshold) < 1e-12, `step ${step}`);
      assert.equal(report.normBefore, norm);
      assert.equal(report.clipped, norm > threshold ? 1 : 0);
      assert.ok(globalNorm(updates) <= threshold + 1e-6);
      if (step === 1) assert.equal(report.clipped, 0, 'the first norm is its own percentile');
    }
    assert.equal(state.size, 40);
  });

  it('percentile 100 never clips; percentile 0 clips everything above the smallest norm', () => {
    const info = vectorInfo([3]);
    const never = autoClip({ percentile: 100 });
    const always = autoClip({ percentile: 0 });
    const s1 = never.init([new Float64Array(3)], info);
    const s2 = always.init([new Float64Array(3)], info);
    for (let step = 1; step <= 10; step++) {
      const g = [Float64Array.of(step, 0, 0)];
      assert.equal(never.update(copy(g), s1, { step, params: g, info }).clipped, 0);
      const report = always.update(copy(g), s2, { step, params: g, info });
      assert.equal(report.clipped, step > 1 ? 1 : 0);
      assert.equal(report['threshold'], 1);
    }
  });

  it('keeps a bounded window of the most recent norms and skips non-finite ones', () => {
    const info = vectorInfo([1]);
    const transform = autoClip({ percentile: 0, historySize: 3 });
    const state = transform.init([new Float64Array(1)], info);
    const thresholds: number[] = [];
    for (const [step, value] of [1, 5, 6, 7, NaN, 8].entries()) {
      const g = [Float64Array.of(value)];
      thresholds.push(transform.update(g, state, { step: step + 1, params: g, info })['threshold']);
    }
    // Minimum of the last three finite norms: [1], [1,5], [1,5,6], [5,6,7], NaN skipped, [6,7,8].
    assert.deepEqual(thresholds, [1, 1, 1, 5, 5, 6]);
    assert.deepEqual(Array.from(state.sorted.subarray(0, state.size)), [6, 7, 8]);
  });
});

describe('clipFromConfig', () => {
  it('maps each name to its transform, none to identity', () => {
    assert.equal(clipFromConfig({ name: 'none' }).name, 'identity');
    assert.equal(clipFromConfig({ name: 'value', max: 0.5 }).name, 'clipByValue(0.5)');
    assert.equal(clipFromConfig({ name: 'norm', max: 2 }).name, 'clipByGlobalNorm(2)');
    assert.equal(clipFromConfig({ name: 'param-norm', max: 2 }).name, 'clipByParamNorm(2)');
    assert.equal(clipFromConfig({ name: 'agc' }).name, 'adaptiveGradClip(0.01)');
    assert.equal(clipFromConfig({ name: 'autoclip', percentile: 5 }).name, 'autoClip(5)');
  });

  it('never clips at a silent default: norm without max names clip.max', () => {
    assert.throws(() => clipFromConfig({ name: 'norm' }), /clip\.max is missing/);
    assert.throws(() => clipFromConfig({ name: 'value' }), /clip\.max is missing/);
  });

  it('agc eps must be > 0, as the config schema says', () => {
    assert.throws(() => adaptiveGradClip({ eps: 0 }), /eps must be a positive finite number/);
  });
});
