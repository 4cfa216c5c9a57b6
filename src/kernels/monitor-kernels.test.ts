import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { ACTIVATIONS, activationKernels } from './activations.js';
import {
  activationMomentsReference,
  histogramReference,
  momentsReference,
  sumOfSquaresReference,
} from './ts.js';
import type { BucketCounts } from './types.js';
import { createWasmKernels, wasmSupported } from './wasm.js';

// The monitor's kernels (`moments`, `histogram`): the WebAssembly SIMD build against the TypeScript reference bit
// for bit, and the reference against a plain float64 oracle, on odd lengths (SIMD body and scalar tail) and IEEE
// specials in both parts.

const LENGTHS = [0, 1, 3, 511, 512, 513, 1027, 4099];

function random(length: number, rng: Rng): Float32Array {
  const out = new Float32Array(length);
  rng.fillNormal(out);
  return out;
}

/** x with `value` written at `index` (when it fits). */
function withValue(x: Float32Array, index: number, value: number): Float32Array {
  const y = x.slice();
  if (index >= 0 && index < y.length) y[index] = value;
  return y;
}

/** Cases: plain normals, specials in the vector body and in the tail, constants, all non-finite, a tiny width. */
function cases(rng: Rng): Array<[string, Float32Array]> {
  const out: Array<[string, Float32Array]> = [];
  for (const n of LENGTHS) {
    const x = random(n, rng);
    out.push([`normal n=${n}`, x]);
    out.push([`NaN in body n=${n}`, withValue(x, 5, NaN)]);
    out.push([`NaN in tail n=${n}`, withValue(x, n - 1, NaN)]);
    out.push([`+Inf n=${n}`, withValue(x, Math.floor(n / 2), Infinity)]);
    out.push([`-Inf in tail n=${n}`, withValue(x, n - 2, -Infinity)]);
    out.push([`Inf then NaN n=${n}`, withValue(withValue(x, 2, -Infinity), n - 1, NaN)]);
    out.push([
      `extremes n=${n}`,
      withValue(withValue(withValue(x, 0, 3.4e38), 1, -1.17549435e-38), 2, 1e-45),
    ]);
    out.push([`constant n=${n}`, new Float32Array(n).fill(0.25)]);
    out.push([`zeros and -0 n=${n}`, new Float32Array(n).map((_, i) => (i % 3 === 0 ? -0 : 0))]);
    out.push([`all NaN n=${n}`, new Float32Array(n).fill(NaN)]);
    // A width of one subnormal step: the largest scale buckets / width can take.
    out.push([`subnormal width n=${n}`, new Float32Array(n).map((_, i) => (i % 2 ? 1e-45 : 0))]);
  }
  return out;
}

function oracleMoments(x: Float32Array): { maxAbs: number; nonFinite: number; sum: number } {
  let maxAbs = 0;
  let nonFinite = 0;
  let sum = 0;
  let nan = false;
  for (const v of x) {
    sum += v * v;
    if (!Number.isFinite(v)) nonFinite++;
    if (Number.isNaN(v)) nan = true;
    else maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  return { maxAbs: nan ? NaN : maxAbs, nonFinite, sum };
}

function oracleHistogram(x: Float32Array, buckets: number): BucketCounts {
  const finite = Array.from(x).filter((v) => Number.isFinite(v));
  const counts = new Array<number>(buckets).fill(0);
  const nan = Array.from(x).filter((v) => Number.isNaN(v)).length;
  const posInf = Array.from(x).filter((v) => v === Infinity).length;
  const negInf = Array.from(x).filter((v) => v === -Infinity).length;
  if (finite.length === 0) return { min: 0, max: 0, counts, nan, posInf, negInf };
  const min = Math.min(...finite) + 0;
  const max = Math.max(...finite) + 0;
  for (const v of finite) {
    const t = max === min ? buckets : ((v - min) / (max - min)) * buckets;
    const b = Number.isNaN(t) ? 0 : Math.min(buckets - 1, Math.floor(t));
    counts[b] = (counts[b] as number) + 1;
  }
  return { min, max, counts, nan, posInf, negInf };
}

describe('monitor kernels: the TypeScript reference', () => {
  it('moments: the sum of squares is sumOfSquares exactly; max |x| and the non-finite count as a float64 oracle', () => {
    for (const [label, x] of cases(new Rng(3))) {
      const m = momentsReference(x, x.length);
      const o = oracleMoments(x);
      assert.ok(Object.is(m.sumOfSquares, sumOfSquaresReference(x, x.length)), label);
      // Squares of float32 values are exact in float64; only the order of the additions differs.
      if (Number.isFinite(o.sum)) assert.ok(Math.abs(m.sumOfSquares - o.sum) <= 1e-12 * o.sum, label);
      else assert.ok(Object.is(m.sumOfSquares, o.sum), label);
      assert.ok(Object.is(m.maxAbs, o.maxAbs), `${label}: maxAbs ${m.maxAbs} vs ${o.maxAbs}`);
      assert.equal(m.nonFinite, o.nonFinite, label);
    }
    // A float64 overflow makes the sum infinite without a non-finite entry: nothing is counted.
    const big = momentsReference(Float64Array.from([1e200, 1e200]), 2);
    assert.equal(big.sumOfSquares, Infinity);
    assert.equal(big.nonFinite, 0);
    assert.equal(big.maxAbs, 1e200);
  });

  it('histogram: counts, range and non-finite counts as a plain oracle', () => {
    for (const [label, x] of cases(new Rng(4))) {
      for (const buckets of [1, 7, 30]) {
        const h = histogramReference(x, x.length, buckets);
        const o = oracleHistogram(x, buckets);
        assert.deepEqual(
          { ...h, counts: h.counts.reduce((a, b) => a + b, 0) },
          { ...o, counts: o.counts.reduce((a, b) => a + b, 0) },
          label,
        );
        // Bucket edges: the oracle divides where the reference multiplies by buckets / width, so an entry on an
        // edge may move by one bucket; none may move further.
        let moved = 0;
        h.counts.forEach((c, b) => (moved += Math.abs(c - (o.counts[b] as number))));
        assert.ok(moved <= 2 * Math.max(1, x.length / 1000), `${label} buckets=${buckets}: ${moved} moved`);
      }
    }
  });
});

/** Layer outputs [rows, units] with values on and beside every activation's thresholds, and specials. */
function layerOutputs(rng: Rng): Array<[string, Float32Array, number, number]> {
  const out: Array<[string, Float32Array, number, number]> = [];
  const edges = [0.99, -0.99, 0.01, 0, -0, Math.fround(0.99), Math.fround(0.01), 0.9900001, 1, -1, 5];
  for (const [rows, units] of [
    [0, 5],
    [1, 1],
    [3, 7],
    [64, 256],
    [17, 131],
    [200, 3],
    [9, 130],
  ] as const) {
    const y = random(rows * units, rng).map((v) => Math.tanh(2 * v));
    out.push([`tanh-like ${rows}x${units}`, y, rows, units]);
    const relu = y.map((v) => Math.max(v, 0));
    // Unit 0 dead in every row, unit 1 saturated in every row (both signs), unit 2 NaN once.
    for (let r = 0; r < rows; r++) {
      relu[r * units] = r % 2 ? 0 : -0;
      if (units > 1) y[r * units + 1] = r % 2 ? 0.995 : -0.999;
    }
    if (rows * units > 2) relu[Math.min(2, units - 1) + units * (rows - 1)] = NaN;
    out.push([`relu-like ${rows}x${units}`, relu, rows, units]);
    out.push([`saturated unit ${rows}x${units}`, y, rows, units]);
    const edge = new Float32Array(rows * units).map((_, i) => edges[i % edges.length] as number);
    if (edge.length > 4) {
      edge[edge.length - 1] = Infinity;
      edge[3] = -Infinity;
    }
    out.push([`on the thresholds ${rows}x${units}`, edge, rows, units]);
  }
  return out;
}

describe('monitor kernels: activationMomentsReference', () => {
  it('sums the finite entries and counts units by the activation table predicates, as a plain loop does', () => {
    for (const [label, y, rows, units] of layerOutputs(new Rng(8))) {
      for (const name of ACTIVATIONS) {
        const kern = activationKernels[name];
        const m = activationMomentsReference(y, rows, units, kern);
        let sum = 0;
        let nonFinite = 0;
        for (const v of y) {
          if (Number.isFinite(v)) sum += v;
          else nonFinite++;
        }
        let saturatedUnits = 0;
        let deadUnits = 0;
        for (let u = 0; u < units && rows > 0; u++) {
          let allSaturated = true;
          let allDead = true;
          for (let r = 0; r < rows; r++) {
            allSaturated &&= kern.isSaturated(y[r * units + u] as number);
            allDead &&= kern.isDead(y[r * units + u] as number);
          }
          saturatedUnits += +allSaturated;
          deadUnits += +allDead;
        }
        assert.equal(m.nonFinite, nonFinite, label);
        assert.equal(m.saturatedUnits, saturatedUnits, `${label} ${name}: saturated`);
        assert.equal(m.deadUnits, deadUnits, `${label} ${name}: dead`);
        assert.ok(Math.abs(m.sum - sum) <= 1e-9 * Math.max(1, Math.abs(sum)) * y.length, `${label}: sum`);
      }
    }
  });
});

describe('monitor kernels: WebAssembly SIMD against the reference', { skip: !wasmSupported() }, () => {
  const wasm = createWasmKernels({ fusedMultiplyAdd: false });

  it('moments: bit for bit, NaN and Infinity in the vector body and the tail', () => {
    for (const [label, x] of cases(new Rng(5))) {
      const expected = momentsReference(x, x.length);
      const actual = wasm.moments(x, x.length);
      assert.ok(Object.is(actual.sumOfSquares, expected.sumOfSquares), `${label}: sum`);
      assert.ok(
        Object.is(actual.maxAbs, expected.maxAbs),
        `${label}: maxAbs ${actual.maxAbs} vs ${expected.maxAbs}`,
      );
      assert.equal(actual.nonFinite, expected.nonFinite, `${label}: nonFinite`);
    }
  });

  it('histogram: the same buckets, range and counts, for 1, 7 and 30 buckets', () => {
    for (const [label, x] of cases(new Rng(6))) {
      for (const buckets of [1, 7, 30]) {
        assert.deepEqual(
          wasm.histogram(x, x.length, buckets),
          histogramReference(x, x.length, buckets),
          `${label} buckets=${buckets}`,
        );
      }
    }
  });

  it('activationMoments: bit for bit for every activation, on the thresholds, odd unit counts and specials', () => {
    for (const [label, y, rows, units] of layerOutputs(new Rng(9))) {
      for (const name of ACTIVATIONS) {
        const flat = activationKernels[name];
        assert.deepEqual(
          wasm.activationMoments(y, rows, units, flat),
          activationMomentsReference(y, rows, units, flat),
          `${label} ${name}`,
        );
      }
    }
    // Thresholds that float32 cannot hold compare as the double does: 0.99 lies between two float32 values.
    const y = new Float32Array(1024).fill(Math.fround(0.99));
    const m = wasm.activationMoments(y, 1024, 1, {
      saturatedBelow: NaN,
      saturatedAbove: 0.99,
      deadAtOrBelow: 0.99,
    });
    assert.equal(Math.fround(0.99) > 0.99, true);
    assert.deepEqual([m.saturatedUnits, m.deadUnits], [1, 0]);
  });

  it('reads only the first n values and hands float64 to the reference', () => {
    const x = random(1031, new Rng(7));
    x[1030] = NaN;
    assert.deepEqual(wasm.moments(x, 1029), momentsReference(x, 1029));
    assert.deepEqual(wasm.histogram(x, 1029, 30), histogramReference(x, 1029, 30));
    const d = Float64Array.from(x.subarray(0, 1029));
    assert.deepEqual(wasm.moments(d, d.length), momentsReference(d, d.length));
    assert.throws(() => wasm.moments(new Float32Array(600), 601), /x is too short/);
  });
});

// The relaxed-SIMD build runs the same kernels (they have no multiply-add to fuse): checked in a process started
// with the flag, as a user starts it on Node 20.
describe('monitor kernels in the relaxed-SIMD build', { skip: !wasmSupported() }, () => {
  it('gives the reference bits under node --experimental-wasm-relaxed-simd', () => {
    const here = new URL('.', import.meta.url).href;
    const script = `
      const { createWasmKernels, wasmRelaxedSimdSupported } = await import(${JSON.stringify(here + 'wasm.js')});
      const { momentsReference, histogramReference } = await import(${JSON.stringify(here + 'ts.js')});
      if (!wasmRelaxedSimdSupported()) { console.log('unsupported'); process.exit(0); }
      const w = createWasmKernels({ fusedMultiplyAdd: true });
      const x = new Float32Array(4099).map((_, i) => Math.sin(i * 0.37) * (1 + i % 7));
      x[17] = NaN; x[4098] = -Infinity;
      const same = (a, b) => JSON.stringify(a) === JSON.stringify(b) && Object.is(a.maxAbs, b.maxAbs);
      console.log(w.name, same(w.moments(x, 4099), momentsReference(x, 4099)),
        same(w.histogram(x, 4099, 30), histogramReference(x, 4099, 30)));`;
    const run = spawnSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const out = run.stdout.trim();
    if (out !== 'unsupported') assert.equal(out, 'wasm-relaxed-simd true true');
  });
});
