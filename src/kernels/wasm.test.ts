import { lstmGatesBackwardReference, lstmGatesReference } from './ts.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { kernels, setKernels } from './index.js';
import { addInPlaceReference, scaleInPlaceReference, sumOfSquaresReference, tsKernels } from './ts.js';
import {
  createWasmKernels,
  createWasmKernelsAsync,
  measureSimdPeak,
  wasmRelaxedSimdSupported,
  wasmSupported,
} from './wasm.js';

function random(length: number, rng: Rng): Float32Array {
  const out = new Float32Array(length);
  rng.fillNormal(out);
  return out;
}

describe('createWasmKernels', { skip: !wasmSupported() }, () => {
  it('detects WebAssembly SIMD in Node 20 and instantiates the embedded module synchronously', () => {
    assert.equal(wasmSupported(), true);
    const wasm = createWasmKernels();
    assert.match(wasm.name, /^wasm-(relaxed-)?simd$/);
    assert.ok(wasm.memoryBytes() > 0);
  });

  it('compiles asynchronously too (for browsers that refuse synchronous compilation on the main thread)', async () => {
    const wasm = await createWasmKernelsAsync({ fusedMultiplyAdd: false });
    const c = new Float32Array(4);
    wasm.matmul(
      new Float32Array([1, 2, 3, 4]),
      new Float32Array([5, 6, 7, 8]),
      c,
      2,
      2,
      2,
      false,
      false,
      false,
    );
    assert.deepEqual(c, new Float32Array([19, 22, 43, 50]));
  });

  it('uses the fused-multiply-add build exactly when relaxed SIMD is there, unless told not to', () => {
    const wasm = createWasmKernels();
    assert.equal(wasm.fusedMultiplyAdd, wasmRelaxedSimdSupported());
    assert.equal(wasm.name, wasm.fusedMultiplyAdd ? 'wasm-relaxed-simd' : 'wasm-simd');
    const plain = createWasmKernels({ fusedMultiplyAdd: false });
    assert.equal(plain.fusedMultiplyAdd, false);
    assert.equal(plain.name, 'wasm-simd');
  });

  it('measures the SIMD peak with a loop whose result is real (not optimised away)', () => {
    const plain = measureSimdPeak({ fusedMultiplyAdd: false, seconds: 0.002, repetitions: 2 });
    assert.equal(plain.kind, 'mul+add');
    assert.ok(plain.gflops > 0 && Number.isFinite(plain.gflops) && plain.iterations > 0);
    // x * 1 and y + 0 keep every lane: 4 lanes x (0 + 0.1 + ... + 1.1) = 26.4 in float32.
    assert.ok(Math.abs(plain.checksum - 26.4) < 1e-4, `checksum ${plain.checksum}`);
    if (wasmRelaxedSimdSupported()) {
      const fused = measureSimdPeak({ fusedMultiplyAdd: true, seconds: 0.002, repetitions: 1 });
      assert.equal(fused.kind, 'relaxed_madd');
      // acc <- 0.999 acc + 0.001 converges to 1 in every lane of the 12 accumulators: 48 once converged.
      assert.ok(fused.gflops > 0 && Math.abs(fused.checksum - 48) < 0.01, `checksum ${fused.checksum}`);
    } else {
      assert.throws(
        () => measureSimdPeak({ fusedMultiplyAdd: true }),
        /relaxed SIMD is not available.*--experimental-wasm-relaxed-simd/,
      );
    }
  });

  it('runs the vector passes bit for bit like the JavaScript loops, on odd lengths and special values', () => {
    const wasm = createWasmKernels({ fusedMultiplyAdd: false });
    const rng = new Rng(5);
    for (const n of [0, 1, 3, 511, 512, 513, 1027, 4099]) {
      const x = random(n, rng);
      const y = random(n, rng);
      if (n > 600) {
        // Values whose float64 square or product would not round the same in float32, and IEEE specials.
        x[7] = 3.4e38;
        x[8] = -1.17549435e-38;
        x[9] = 1e-45;
        y[10] = Infinity;
        y[11] = NaN;
      }
      assert.equal(wasm.sumOfSquares(x, n), sumOfSquaresReference(x, n), `sumOfSquares n=${n}`);
      assert.ok(Object.is(wasm.sumOfSquares(y, n), sumOfSquaresReference(y, n)), `sumOfSquares NaN n=${n}`);
      for (const alpha of [-0.01, 1 / 3, -1e-7]) {
        const a = x.slice();
        const b = x.slice();
        wasm.scaleInPlace(a, alpha, n);
        scaleInPlaceReference(b, alpha, n);
        assert.deepEqual(a, b, `scaleInPlace n=${n} alpha=${alpha}`);
      }
      const a = x.slice();
      const b = x.slice();
      wasm.addInPlace(a, y, n);
      addInPlaceReference(b, y, n);
      assert.deepEqual(a, b, `addInPlace n=${n}`);
    }
    // Only the first n values are touched.
    const x = new Float32Array(1030).fill(2);
    wasm.scaleInPlace(x, 0.5, 1027);
    assert.deepEqual([x[1026], x[1027], x[1029]], [1, 2, 2]);
    assert.throws(() => wasm.addInPlace(new Float32Array(600), new Float32Array(599), 600), /x is too short/);
  });

  it('hands float64 (and mixed) buffers to the TypeScript kernels, bit for bit', () => {
    const wasm = createWasmKernels();
    const rng = new Rng(1);
    const m = 7;
    const k = 13;
    const n = 5;
    const a = new Float64Array(m * k);
    const b = new Float64Array(k * n);
    rng.fillNormal(a);
    rng.fillNormal(b);
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const expected = new Float64Array(m * n).fill(0.5);
      const actual = new Float64Array(m * n).fill(0.5);
      tsKernels.matmul(a, b, expected, m, k, n, transA, transB, true);
      wasm.matmul(a, b, actual, m, k, n, transA, transB, true);
      assert.deepEqual(actual, expected);
    }
    const a32 = Float32Array.from(a);
    const expected = new Float64Array(m * n);
    const actual = new Float64Array(m * n);
    tsKernels.matmul(a32, b, expected, m, k, n, false, false, false);
    wasm.matmul(a32, b, actual, m, k, n, false, false, false);
    assert.deepEqual(actual, expected);
  });

  it('grows its memory once for the largest call, then reuses it (no growth in the steady state)', () => {
    const wasm = createWasmKernels();
    const rng = new Rng(2);
    const a = random(64 * 256, rng);
    const b = random(256 * 256, rng);
    const c = new Float32Array(64 * 256);
    wasm.matmul(a, b, c, 64, 256, 256, false, true, false);
    const bytes = wasm.memoryBytes();
    const dx = new Float32Array(64 * 256);
    const dw = new Float32Array(256 * 256);
    for (let step = 0; step < 20; step++) {
      wasm.matmul(a, b, c, 64, 256, 256, false, true, false);
      wasm.matmul(c, b, dx, 64, 256, 256, false, false, true);
      wasm.matmul(c, a, dw, 256, 64, 256, true, false, true);
    }
    assert.equal(wasm.memoryBytes(), bytes);
    const big = new Float32Array(512 * 512);
    wasm.matmul(big, big, new Float32Array(512 * 512), 512, 512, 512, false, false, false);
    assert.ok(wasm.memoryBytes() > bytes, 'a larger call grows the arena');
    // After growing, the old views are detached inside; the next small call must still be right.
    const expected = new Float32Array(64 * 256);
    tsKernels.matmul(a, b, expected, 64, 256, 256, false, true, false);
    wasm.matmul(a, b, c, 64, 256, 256, false, true, false);
    for (let i = 0; i < c.length; i++) assert.ok(Math.abs((c[i] as number) - (expected[i] as number)) < 1e-3);
  });

  it('k = 0 gives zeros (or leaves C when accumulating); m = 0 or n = 0 touches nothing', () => {
    const wasm = createWasmKernels();
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    wasm.matmul(new Float32Array(0), new Float32Array(0), c, 2, 0, 3, false, false, true);
    assert.deepEqual(c, new Float32Array([1, 2, 3, 4, 5, 6]));
    wasm.matmul(new Float32Array(0), new Float32Array(0), c, 2, 0, 3, false, false, false);
    assert.deepEqual(c, new Float32Array(6));
    const d = new Float32Array([7]);
    wasm.matmul(new Float32Array(0), new Float32Array(5), d, 0, 5, 1, false, false, false);
    assert.deepEqual(d, new Float32Array([7]));
  });

  it('reads only the first m*k / k*n elements and writes only the first m*n (buffers may be longer)', () => {
    const wasm = createWasmKernels();
    const rng = new Rng(3);
    const a = random(3 * 4 + 10, rng);
    const b = random(4 * 5 + 10, rng);
    const expected = new Float32Array(3 * 5 + 4).fill(9);
    const actual = new Float32Array(3 * 5 + 4).fill(9);
    tsKernels.matmul(a, b, expected, 3, 4, 5, false, false, false);
    wasm.matmul(a, b, actual, 3, 4, 5, false, false, false);
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) < 1e-5, `element ${i}`);
    }
    assert.deepEqual(actual.subarray(15), new Float32Array([9, 9, 9, 9]));
  });

  it('a matrix times itself (x^T x, x x^T) reads the one buffer correctly', () => {
    const wasm = createWasmKernels();
    const rng = new Rng(4);
    const x = random(9 * 6, rng);
    for (const [m, k, n, transA, transB] of [
      [6, 9, 6, true, false],
      [9, 6, 9, false, true],
    ] as const) {
      const expected = new Float32Array(m * n);
      const actual = new Float32Array(m * n);
      tsKernels.matmul(x, x, expected, m, k, n, transA, transB, false);
      wasm.matmul(x, x, actual, m, k, n, transA, transB, false);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs((actual[i] as number) - (expected[i] as number)) < 1e-4, `element ${i}`);
      }
    }
  });

  it('rejects buffers too short for the shape, naming the sizes', () => {
    const wasm = createWasmKernels();
    assert.throws(
      () =>
        wasm.matmul(
          new Float32Array(5),
          new Float32Array(6),
          new Float32Array(4),
          2,
          3,
          2,
          false,
          false,
          false,
        ),
      (error: unknown) =>
        error instanceof RangeError &&
        /matmul: A is too short .*A 5 \(needs 6\), B 6 \(needs 6\)/.test(error.message),
    );
    assert.throws(() => wasm.tanh(new Float32Array(3), new Float32Array(2), 3), RangeError);
  });

  it('installs as the active backend with setKernels', () => {
    const wasm = createWasmKernels();
    const previous = setKernels(wasm);
    try {
      assert.equal(kernels(), wasm);
    } finally {
      setKernels(previous);
    }
  });
});

/** Distance from the float32 rounding of `exact`, in units of the last place of that float32. */
function ulps(actual: number, exact: number): number {
  if (Number.isNaN(exact)) return Number.isNaN(actual) ? 0 : Infinity;
  const rounded = Math.fround(exact);
  if (actual === rounded) return 0;
  const magnitude = Math.abs(rounded);
  const unit = magnitude < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(magnitude)) - 23);
  return Math.abs(actual - exact) / unit;
}

describe('wasm tanh and sigmoid', { skip: !wasmSupported() }, () => {
  const wasm = wasmSupported() ? createWasmKernels() : null;
  const exactSigmoid = (x: number): number =>
    x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));

  it('tanh is within 2 ulp of Math.tanh across [-20, 20] and near 0 (no cancellation)', () => {
    if (!wasm) return;
    for (const [low, high] of [
      [-20, 20],
      [-1, 1],
      [-1e-3, 1e-3],
    ] as const) {
      const n = 100_003; // not a multiple of 4: the tail goes through the padded lanes
      const x = Float32Array.from({ length: n }, (_, i) => low + ((high - low) * i) / (n - 1));
      const y = new Float32Array(n);
      wasm.tanh(x, y, n);
      for (let i = 0; i < n; i++) {
        const error = ulps(y[i] as number, Math.tanh(x[i] as number));
        if (error > 2)
          assert.fail(`tanh(${x[i]}) = ${y[i]}, ${error.toFixed(2)} ulp from ${Math.tanh(x[i] as number)}`);
      }
    }
  });

  it('sigmoid is within 3 ulp of the exact value across [-80, 80]', () => {
    if (!wasm) return;
    const n = 100_001;
    const x = Float32Array.from({ length: n }, (_, i) => -80 + (160 * i) / (n - 1));
    const y = new Float32Array(n);
    wasm.sigmoid(x, y, n);
    for (let i = 0; i < n; i++) {
      const exact = exactSigmoid(x[i] as number);
      const error = ulps(y[i] as number, exact);
      if (error > 3) assert.fail(`sigmoid(${x[i]}) = ${y[i]}, ${error.toFixed(2)} ulp from ${exact}`);
    }
  });

  it('keeps NaN, saturates at the infinities, keeps the sign of zero, and works in place', () => {
    if (!wasm) return;
    const x = new Float32Array([Number.NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 100, -100]);
    const t = Float32Array.from(x);
    wasm.tanh(t, t, t.length);
    assert.ok(Number.isNaN(t[0]));
    assert.deepEqual(Array.from(t.subarray(1)), [1, -1, 0, -0, 1e-30, -1e-30, 1, -1].map(Math.fround));
    assert.ok(Object.is(t[4], -0), 'tanh(-0) is -0');
    const s = new Float32Array(x.length);
    wasm.sigmoid(x, s, x.length);
    assert.ok(Number.isNaN(s[0]));
    assert.equal(s[1], 1);
    assert.ok((s[2] as number) >= 0 && (s[2] as number) < 1e-37);
    assert.equal(s[3], 0.5);
    assert.equal(s[4], 0.5);
    assert.equal(s[7], 1);
    assert.ok((s[8] as number) >= 0 && (s[8] as number) < 1e-37, 'sigmoid(-100) underflows to (nearly) 0');
  });

  it('touches only the first n elements and computes float64 with Math', () => {
    if (!wasm) return;
    for (const n of [0, 1, 3, 5, 17]) {
      const x = Float32Array.from({ length: n + 3 }, (_, i) => i - 2);
      const y = new Float32Array(n + 3).fill(7);
      wasm.sigmoid(x, y, n);
      for (let i = 0; i < n; i++) assert.ok(ulps(y[i] as number, exactSigmoid(x[i] as number)) <= 3);
      assert.deepEqual(Array.from(y.subarray(n)), [7, 7, 7]);
    }
    const x = Float64Array.from([-3, -0.5, 0, 0.25, 4]);
    const y = new Float64Array(5);
    wasm.tanh(x, y, 5);
    assert.deepEqual(Array.from(y), Array.from(x, Math.tanh));
    wasm.sigmoid(x, y, 5);
    assert.deepEqual(Array.from(y), Array.from(x, exactSigmoid));
  });
});

describe('wasm lstmGates', { skip: !wasmSupported() }, () => {
  const wasm = wasmSupported() ? createWasmKernels() : null;

  function arrays(batch: number, hidden: number, steps: number, dtype: 'float32' | 'float64', rng: Rng) {
    const make = (length: number, scale: number): Float32Array | Float64Array => {
      const out = dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
      rng.fillNormal(out, 0, scale);
      return out;
    };
    const gates = batch * 4 * hidden;
    return {
      projected: make(steps * gates, 1.5),
      hh: make(gates, 1.5),
      bias: make(4 * hidden, 0.5),
      previous: make(batch * 2 * hidden, 2),
    };
  }

  it('agrees with the TypeScript step within float32 rounding, tails of H included', () => {
    if (!wasm) return;
    const rng = new Rng(7);
    for (const [batch, hidden] of [
      [1, 1],
      [3, 5],
      [2, 7],
      [32, 128],
      [5, 130],
    ] as const) {
      const steps = 3;
      const offset = 2 * batch * 4 * hidden; // the last step's rows
      const { projected, hh, bias, previous } = arrays(batch, hidden, steps, 'float32', rng);
      const run = (gates: typeof lstmGatesReference) => {
        const act = new Float32Array(batch * 4 * hidden);
        const out = new Float32Array(batch * 2 * hidden);
        const tanhC = new Float32Array(batch * hidden);
        gates(projected, offset, hh, bias, previous, act, out, tanhC, batch, hidden);
        return { act, out, tanhC };
      };
      const expected = run(lstmGatesReference);
      const actual = run(wasm.lstmGates);
      for (const key of ['act', 'out', 'tanhC'] as const) {
        const e = expected[key];
        const a = actual[key];
        for (let i = 0; i < e.length; i++) {
          // Gates and tanh(c) are in [-1, 1]; c and h inherit the rounding of c_prev (|c_prev| up to ~8).
          const tolerance = key === 'out' ? 2e-6 * (1 + Math.abs(e[i] as number)) : 1e-6;
          if (!(Math.abs((a[i] as number) - (e[i] as number)) <= tolerance)) {
            assert.fail(`B=${batch} H=${hidden}: ${key}[${i}] wasm ${a[i]} vs typescript ${e[i]}`);
          }
        }
      }
    }
  });

  it('backward agrees with the TypeScript step, with and without the c_prev gradient, tails of H included', () => {
    if (!wasm) return;
    const rng = new Rng(10);
    for (const [batch, hidden] of [
      [1, 1],
      [3, 5],
      [32, 128],
      [4, 131],
    ] as const) {
      const gates = batch * 4 * hidden;
      const state = batch * 2 * hidden;
      const act = Float32Array.from({ length: gates }, (_, i) =>
        // i, f, o in (0, 1); g in (-1, 1)
        Math.floor(i / hidden) % 4 === 2 ? rng.uniform(-1, 1) : rng.uniform(0, 1),
      );
      const tanhC = Float32Array.from({ length: batch * hidden }, () => rng.uniform(-1, 1));
      const dOut = new Float32Array(state);
      const previous = new Float32Array(state);
      rng.fillNormal(dOut);
      rng.fillNormal(previous, 0, 2);
      const gStart = new Float32Array(state);
      rng.fillNormal(gStart);
      for (const withPrevious of [false, true]) {
        const run = (kernel: typeof lstmGatesBackwardReference) => {
          const dA = new Float32Array(gates).fill(Number.NaN); // overwritten, never read
          const gPrevious = withPrevious ? Float32Array.from(gStart) : null;
          kernel(act, tanhC, dOut, previous, dA, gPrevious, batch, hidden);
          return { dA, gPrevious };
        };
        const expected = run(lstmGatesBackwardReference);
        const actual = run(wasm.lstmGatesBackward);
        for (let i = 0; i < gates; i++) {
          const e = expected.dA[i] as number;
          if (!(Math.abs((actual.dA[i] as number) - e) <= 1e-6 * (1 + Math.abs(e)))) {
            assert.fail(`B=${batch} H=${hidden}: dA[${i}] wasm ${actual.dA[i]} vs typescript ${e}`);
          }
        }
        if (withPrevious) {
          const e = expected.gPrevious as Float32Array;
          const a = actual.gPrevious as Float32Array;
          for (let i = 0; i < state; i++) {
            const inH = i % (2 * hidden) < hidden;
            if (inH) assert.equal(a[i], gStart[i], 'the h half of gPrevious is left alone');
            else
              assert.ok(
                Math.abs((a[i] as number) - (e[i] as number)) <= 1e-5 * (1 + Math.abs(e[i] as number)),
              );
          }
        }
      }
    }
  });

  it('runs float64 through the TypeScript step, bit for bit', () => {
    if (!wasm) return;
    const rng = new Rng(8);
    const batch = 2;
    const hidden = 3;
    const { projected, hh, bias, previous } = arrays(batch, hidden, 1, 'float64', rng);
    const outputs = () => [new Float64Array(24), new Float64Array(12), new Float64Array(6)] as const;
    const [act1, out1, tc1] = outputs();
    const [act2, out2, tc2] = outputs();
    lstmGatesReference(projected, 0, hh, bias, previous, act1, out1, tc1, batch, hidden);
    wasm.lstmGates(projected, 0, hh, bias, previous, act2, out2, tc2, batch, hidden);
    assert.deepEqual([act2, out2, tc2], [act1, out1, tc1]);
    const dOut = Float64Array.from(out1, (v) => v * 0.5 - 0.1);
    const grads = () => [new Float64Array(24), new Float64Array(12).fill(0.25)] as const;
    const [dA1, gPrev1] = grads();
    const [dA2, gPrev2] = grads();
    lstmGatesBackwardReference(act1, tc1, dOut, previous, dA1, gPrev1, batch, hidden);
    wasm.lstmGatesBackward(act1, tc1, dOut, previous, dA2, gPrev2, batch, hidden);
    assert.deepEqual([dA2, gPrev2], [dA1, gPrev1]);
  });
});

// The relaxed path in a process of its own started the way a user starts it on Node 20: the flag on the command
// line and GRADSCOPE_KERNELS=wasm-relaxed, so the default backend is the fused-multiply-add build, checked against
// the reference on odd shapes (tails of the 4 x 8 tile, k across the 256 block) in all four transpose variants.
describe(
  'GRADSCOPE_KERNELS=wasm-relaxed under node --experimental-wasm-relaxed-simd',
  { skip: !wasmSupported() },
  () => {
    it('runs the relaxed-SIMD build as the default kernels, within float32 rounding of the reference', () => {
      const index = new URL('./index.js', import.meta.url).href;
      const ts = new URL('./ts.js', import.meta.url).href;
      const script = `
      const { kernels } = await import(${JSON.stringify(index)});
      const { tsKernels } = await import(${JSON.stringify(ts)});
      const k = kernels();
      let worst = 0;
      let s = 7;
      const fill = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
      for (const [m, kk, n] of [[1, 1, 1], [5, 7, 9], [13, 300, 17], [37, 29, 3]]) {
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
          const a = fill(m * kk), b = fill(kk * n);
          const c = new Float32Array(m * n), ref = new Float64Array(m * n);
          k.matmul(a, b, c, m, kk, n, ta, tb, false);
          tsKernels.matmul(Float64Array.from(a), Float64Array.from(b), ref, m, kk, n, ta, tb, false);
          // |error| <= k * 2^-23 * sum |a||b| bounds float32 accumulation; 0.5 per term is |a|, |b| <= 0.5.
          for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs(c[i] - ref[i]) / (kk * 2 ** -23 * 0.25 * kk));
        }
      }
      console.log(JSON.stringify({ name: k.name, worst }));
    `;
      const child = spawnSync(
        process.execPath,
        ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script],
        { encoding: 'utf8', env: { ...process.env, GRADSCOPE_KERNELS: 'wasm-relaxed' }, timeout: 30_000 },
      );
      assert.equal(child.status, 0, child.stderr);
      const { name, worst } = JSON.parse(child.stdout.trim()) as { name: string; worst: number };
      assert.equal(name, 'wasm-relaxed-simd', 'the flag turns relaxed SIMD on and the env picks that build');
      assert.ok(worst <= 1, `error ${worst} of the float32 bound`);
    });
  },
);
