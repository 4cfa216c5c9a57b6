import { lstmGatesBackwardReference, lstmGatesReference } from './ts.js';
// The WebAssembly SIMD kernels must agree with the TypeScript reference on every shape the engine can hand them:
// tails of the 4 x 8 register tile, sizes across the cache blocks (k > 256, m > 128, n > 1024), all four transpose
// variants, accumulate on and off, and IEEE special values; in both builds (plain and relaxed SIMD). At the end, the
// TypeScript LSTM gate references that wasm.test.ts compares the WebAssembly gates to are pinned to ops/recurrent.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { backward } from '../autograd/tape.js';
import { recurrentStep } from '../ops/recurrent.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { tsKernels } from './ts.js';
import type { Kernels } from './types.js';
import { createWasmKernels, wasmRelaxedSimdSupported, wasmSupported } from './wasm.js';

// Node 20 has relaxed SIMD only behind a flag; turning it on here (this test file runs in its own process) lets CI
// check the fused-multiply-add build too. Newer runtimes have it on already.
if (wasmSupported() && !wasmRelaxedSimdSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');

const VARIANTS = [
  { transA: false, transB: false, name: 'NN' },
  { transA: false, transB: true, name: 'NT' },
  { transA: true, transB: false, name: 'TN' },
  { transA: true, transB: true, name: 'TT' },
] as const;

const SIZES = [1, 3, 5, 7, 13, 31, 64, 65, 127, 130] as const;

interface Case {
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
}

/** op(A)[i, p] and op(B)[p, j] read straight from storage, for the tolerance scale. */
function entryA(a: Float32Array, c: Case, i: number, p: number): number {
  return (c.transA ? a[p * c.m + i] : a[i * c.k + p]) as number;
}
function entryB(b: Float32Array, c: Case, p: number, j: number): number {
  return (c.transB ? b[j * c.k + p] : b[p * c.n + j]) as number;
}

/** Element-wise equality where any NaN equals any NaN (the bit pattern of a NaN is not specified). */
function assertSameValues(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const x = actual[i] as number;
    const y = expected[i] as number;
    if (!(x === y || (Number.isNaN(x) && Number.isNaN(y))))
      assert.fail(`${what}: element ${i} is ${x}, expected ${y}`);
  }
}

/**
 * Runs both backends on the same inputs and checks |ts - wasm| <= 1e-5 * scale of the row, where a row's scale is
 * the largest sum_p |op(A)[i,p]| |op(B)[p,j]| (+ |C0[i,j]| when accumulating): the size float32 rounding errors are
 * measured against, so cancellation in a dot product cannot make the test flaky.
 */
function checkAgreement(wasm: Kernels, c: Case, rng: Rng): void {
  const { m, k, n, transA, transB, accumulate } = c;
  const a = new Float32Array(m * k);
  const b = new Float32Array(k * n);
  rng.fillNormal(a);
  rng.fillNormal(b);
  const c0 = new Float32Array(m * n);
  rng.fillNormal(c0);
  const expected = Float32Array.from(c0);
  const actual = Float32Array.from(c0);
  tsKernels.matmul(a, b, expected, m, k, n, transA, transB, accumulate);
  wasm.matmul(a, b, actual, m, k, n, transA, transB, accumulate);
  for (let i = 0; i < m; i++) {
    let scale = 0;
    for (let j = 0; j < n; j++) {
      let s = accumulate ? Math.abs(c0[i * n + j] as number) : 0;
      for (let p = 0; p < k; p++) s += Math.abs(entryA(a, c, i, p) * entryB(b, c, p, j));
      scale = Math.max(scale, s);
    }
    for (let j = 0; j < n; j++) {
      const x = expected[i * n + j] as number;
      const y = actual[i * n + j] as number;
      if (!(Math.abs(x - y) <= 1e-5 * scale)) {
        assert.fail(
          `m=${m} k=${k} n=${n} transA=${transA} transB=${transB} accumulate=${accumulate}: ` +
            `C[${i}, ${j}] typescript ${x} vs wasm ${y} (row scale ${scale})`,
        );
      }
    }
  }
}

const BUILDS = [
  { fusedMultiplyAdd: false, supported: wasmSupported() },
  { fusedMultiplyAdd: true, supported: wasmRelaxedSimdSupported() },
] as const;

for (const { fusedMultiplyAdd, supported } of BUILDS) {
  const build = fusedMultiplyAdd ? 'relaxed SIMD, fused multiply-add' : 'SIMD';
  describe(`wasm matmul (${build}) agrees with the TypeScript reference`, { skip: !supported }, () => {
    const wasm = supported ? createWasmKernels({ fusedMultiplyAdd }) : tsKernels;
    it('runs the build it was asked for', () => {
      assert.equal(wasm.name, fusedMultiplyAdd ? 'wasm-relaxed-simd' : 'wasm-simd');
    });
    agreementTests(wasm);
  });
}

function agreementTests(wasm: Kernels): void {
  it('1x1x1, in every variant, with and without accumulate', () => {
    const rng = new Rng(1);
    for (const v of VARIANTS) {
      for (const accumulate of [false, true])
        checkAgreement(wasm, { m: 1, k: 1, n: 1, ...v, accumulate }, rng);
    }
  });

  it('tails: every m and n in {1, 3, ..., 130} for each variant (k drawn from the same set)', () => {
    const rng = new Rng(2);
    for (const v of VARIANTS) {
      for (const m of SIZES) {
        for (const n of SIZES) {
          const k = SIZES[rng.int(SIZES.length)] as number;
          checkAgreement(wasm, { m, k, n, ...v, accumulate: rng.uniform() < 0.5 }, rng);
        }
      }
    }
  });

  it('every k in {1, 3, ..., 130} for each variant and accumulate flag', () => {
    const rng = new Rng(3);
    for (const v of VARIANTS) {
      for (const k of SIZES) {
        for (const accumulate of [false, true]) {
          const m = SIZES[rng.int(SIZES.length)] as number;
          const n = SIZES[rng.int(SIZES.length)] as number;
          checkAgreement(wasm, { m, k, n, ...v, accumulate }, rng);
        }
      }
    }
  });

  it('shapes that cross the cache blocks (k > 256, m > 128, n > 1024) with odd remainders', () => {
    const rng = new Rng(4);
    const shapes: Array<[number, number, number]> = [
      [130, 257, 9],
      [5, 513, 17],
      [131, 300, 33],
      [3, 11, 1031],
      [9, 260, 1100],
    ];
    for (const [m, k, n] of shapes) {
      for (const v of VARIANTS) checkAgreement(wasm, { m, k, n, ...v, accumulate: rng.uniform() < 0.5 }, rng);
    }
  });

  it('the shapes the engine runs: dense layers and an LSTM step, forward and backward', () => {
    const rng = new Rng(5);
    const cases: Case[] = [
      { m: 64, k: 256, n: 256, transA: false, transB: true, accumulate: false },
      { m: 256, k: 64, n: 256, transA: true, transB: false, accumulate: true },
      { m: 64, k: 256, n: 256, transA: false, transB: false, accumulate: true },
      { m: 32, k: 128, n: 512, transA: false, transB: true, accumulate: false },
      { m: 512, k: 32, n: 128, transA: true, transB: false, accumulate: true },
      { m: 32, k: 512, n: 128, transA: false, transB: false, accumulate: true },
      { m: 64, k: 784, n: 10, transA: false, transB: true, accumulate: false },
    ];
    for (const c of cases) checkAgreement(wasm, c, rng);
  });

  it('is exact on small integers (no rounding), so any indexing slip shows as a hard mismatch', () => {
    const rng = new Rng(6);
    for (const v of VARIANTS) {
      for (const [m, k, n] of [
        [7, 9, 11],
        [4, 8, 8],
        [13, 31, 65],
        [130, 3, 5],
      ] as const) {
        const a = Float32Array.from({ length: m * k }, () => rng.int(9) - 4);
        const b = Float32Array.from({ length: k * n }, () => rng.int(9) - 4);
        const c0 = Float32Array.from({ length: m * n }, () => rng.int(9) - 4);
        for (const accumulate of [false, true]) {
          const expected = Float32Array.from(c0);
          const actual = Float32Array.from(c0);
          tsKernels.matmul(a, b, expected, m, k, n, v.transA, v.transB, accumulate);
          wasm.matmul(a, b, actual, m, k, n, v.transA, v.transB, accumulate);
          assertSameValues(actual, expected, `${v.name} ${m}x${k}x${n} accumulate=${accumulate}`);
        }
      }
    }
  });

  it('propagates NaN and infinities like the reference: 0 * NaN stays NaN, a NaN in C is overwritten unless accumulating', () => {
    for (const v of VARIANTS) {
      const m = 5;
      const k = 6;
      const n = 9;
      const a = new Float32Array(m * k).fill(1);
      const b = new Float32Array(k * n); // all zeros: only the NaN/Inf entries make a non-zero product
      // op(A)[2, 3] = NaN makes row 2 of C NaN (NaN * 0); op(B)[4, 7] = +Inf makes column 7 +Inf (1 * Inf).
      a[v.transA ? 3 * m + 2 : 2 * k + 3] = Number.NaN;
      b[v.transB ? 7 * k + 4 : 4 * n + 7] = Number.POSITIVE_INFINITY;
      for (const accumulate of [false, true]) {
        const c0 = new Float32Array(m * n);
        c0[0] = Number.NaN; // C[0, 0]
        const expected = Float32Array.from(c0);
        const actual = Float32Array.from(c0);
        tsKernels.matmul(a, b, expected, m, k, n, v.transA, v.transB, accumulate);
        wasm.matmul(a, b, actual, m, k, n, v.transA, v.transB, accumulate);
        assertSameValues(actual, expected, `${v.name} accumulate=${accumulate}`);
        assert.ok(Number.isNaN(actual[2 * n + 0]), 'NaN * 0 must stay NaN');
        assert.equal(actual[1 * n + 7], Number.POSITIVE_INFINITY);
        assert.equal(Number.isNaN(actual[0]), accumulate, 'C[0, 0] is NaN only when accumulating into it');
      }
    }
  });
}

describe('the LSTM gate references match the engine', () => {
  // lstmGatesReference / lstmGatesBackwardReference are what the WebAssembly kernels are tested against; these
  // tests pin them to ops/recurrent.ts, in float64.
  const batch = 3;
  const hidden = 5;
  const steps = 2;
  const t = 1;
  function setup() {
    const rng = new Rng(9);
    const random = (length: number): Float64Array => {
      const out = new Float64Array(length);
      rng.fillNormal(out);
      return out;
    };
    const projected = new Tensor(random(steps * batch * 4 * hidden), [steps * batch, 4 * hidden], {
      requiresGrad: true,
    });
    const previous = new Tensor(random(batch * 2 * hidden), [batch, 2 * hidden], { requiresGrad: true });
    const weightHH = new Tensor(random(4 * hidden * hidden), [4 * hidden, hidden], { requiresGrad: true });
    const biasHH = new Tensor(random(4 * hidden), [4 * hidden], { requiresGrad: true });
    const hPrev = new Float64Array(batch * hidden);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < hidden; j++) hPrev[b * hidden + j] = previous.data[b * 2 * hidden + j] as number;
    }
    const hh = new Float64Array(batch * 4 * hidden);
    tsKernels.matmul(hPrev, weightHH.data, hh, batch, hidden, 4 * hidden, false, true, false);
    const act = new Float64Array(batch * 4 * hidden);
    const out = new Float64Array(batch * 2 * hidden);
    const tanhC = new Float64Array(batch * hidden);
    const offset = t * batch * 4 * hidden;
    lstmGatesReference(
      projected.data,
      offset,
      hh,
      biasHH.data,
      previous.data,
      act,
      out,
      tanhC,
      batch,
      hidden,
    );
    return { rng, projected, previous, weightHH, biasHH, act, out, tanhC, offset };
  }

  it("forward: the engine's step output is h | c", () => {
    const { projected, previous, weightHH, biasHH, out } = setup();
    const step = recurrentStep('lstm', projected, t, previous, weightHH, biasHH);
    for (let i = 0; i < out.length; i++) {
      assert.ok(Math.abs((out[i] as number) - (step.data[i] as number)) < 1e-12, `out[${i}]`);
    }
  });

  it("backward: dA is the engine's gradient of this step's rows of P, and dc * f its c_prev gradient", () => {
    const { rng, projected, previous, weightHH, biasHH, act, tanhC, offset } = setup();
    const step = recurrentStep('lstm', projected, t, previous, weightHH, biasHH);
    const dOut = new Float64Array(batch * 2 * hidden);
    rng.fillNormal(dOut);
    backward(step, { seed: Float64Array.from(dOut) });
    const dA = new Float64Array(batch * 4 * hidden);
    const gPrevious = new Float64Array(batch * 2 * hidden);
    lstmGatesBackwardReference(act, tanhC, dOut, previous.data, dA, gPrevious, batch, hidden);
    const gP = projected.grad as Float64Array;
    for (let i = 0; i < dA.length; i++) {
      assert.ok(Math.abs((dA[i] as number) - (gP[offset + i] as number)) < 1e-12, `dA[${i}]`);
    }
    const gPrev = previous.grad as Float64Array;
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < hidden; j++) {
        const at = b * 2 * hidden + hidden + j;
        assert.ok(Math.abs((gPrevious[at] as number) - (gPrev[at] as number)) < 1e-12, `dc_prev[${b}, ${j}]`);
      }
    }
  });
});
