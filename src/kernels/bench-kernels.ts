/**
 * Prints matmul GFLOPS, TypeScript vs WebAssembly SIMD, for the W3 shapes of issue 5 and the products a dense layer
 * and an LSTM step run (forward NT, backward dW = dz^T x as TN, dx = dz W as NN); then the element-wise kernels
 * (tanh, sigmoid, an LSTM step's gates) in ns per element. Prints, never asserts: timing belongs to the benchmark,
 * not to the tests.
 *
 *   npx tsx src/kernels/bench-kernels.ts [--quick]
 *
 * Each cell is the median over 7 repetitions of a fixed number of calls after a warm-up; the WebAssembly figures
 * include copying A and B in and C out (and C in when accumulating), as a real call does. On Node 20 the relaxed-SIMD
 * column is measured by turning on `--experimental-wasm-relaxed-simd` from inside the script.
 */
import { setFlagsFromString } from 'node:v8';
import { Rng } from '../tensor/rng.js';
import { activationKernels } from './activations.js';
import { lstmGatesBackwardReference, lstmGatesReference, tsKernels } from './ts.js';
import type { Kernels } from './types.js';
import { createWasmKernels, wasmRelaxedSimdSupported, wasmSupported, type WasmKernels } from './wasm.js';

interface Shape {
  readonly label: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly accumulate: boolean;
}

const SHAPES: readonly Shape[] = [
  {
    label: 'W3 (64x256)x(256x256) NN',
    m: 64,
    k: 256,
    n: 256,
    transA: false,
    transB: false,
    accumulate: false,
  },
  { label: 'W3 512^3 NN', m: 512, k: 512, n: 512, transA: false, transB: false, accumulate: false },
  { label: 'W3 512^3 NT', m: 512, k: 512, n: 512, transA: false, transB: true, accumulate: false },
  { label: 'W3 512^3 TN', m: 512, k: 512, n: 512, transA: true, transB: false, accumulate: false },
  {
    label: 'dense fwd x W^T 64x256x256 NT',
    m: 64,
    k: 256,
    n: 256,
    transA: false,
    transB: true,
    accumulate: false,
  },
  {
    label: 'dense dW += dz^T x 256x64x256 TN',
    m: 256,
    k: 64,
    n: 256,
    transA: true,
    transB: false,
    accumulate: true,
  },
  {
    label: 'dense dx += dz W 64x256x256 NN',
    m: 64,
    k: 256,
    n: 256,
    transA: false,
    transB: false,
    accumulate: true,
  },
  {
    label: 'lstm h W_hh^T 32x128x512 NT',
    m: 32,
    k: 128,
    n: 512,
    transA: false,
    transB: true,
    accumulate: false,
  },
  {
    label: 'lstm dW_hh += dg^T h 512x32x128 TN',
    m: 512,
    k: 32,
    n: 128,
    transA: true,
    transB: false,
    accumulate: true,
  },
  {
    label: 'lstm dh += dg W_hh 32x512x128 NN',
    m: 32,
    k: 512,
    n: 128,
    transA: false,
    transB: false,
    accumulate: true,
  },
  { label: 'mnist fwd 64x784x128 NT', m: 64, k: 784, n: 128, transA: false, transB: true, accumulate: false },
];

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** GFLOPS of `kernel` on `shape`: median of `repetitions` timings of `calls` calls each. */
function measure(kernel: Kernels, shape: Shape, seconds: number, repetitions: number): number {
  const { m, k, n, transA, transB, accumulate } = shape;
  const rng = new Rng(m * 131 + k * 17 + n);
  const a = Float32Array.from({ length: m * k }, () => rng.normal());
  const b = Float32Array.from({ length: k * n }, () => rng.normal());
  const c = new Float32Array(m * n);
  const flops = 2 * m * k * n;
  const run = (): void => kernel.matmul(a, b, c, m, k, n, transA, transB, accumulate);
  // Calibrate the call count so one repetition takes about `seconds`.
  run();
  let calls = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed > seconds / 4 || calls > 1e6) {
      calls = Math.max(1, Math.round((calls * seconds) / Math.max(elapsed, 1e-6)));
      break;
    }
    calls *= 4;
  }
  const rates: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    c.fill(0);
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    const elapsed = (performance.now() - start) / 1000;
    rates.push((flops * calls) / elapsed / 1e9);
  }
  // Consume the result so the work cannot be skipped.
  if (Number.isNaN(c[0])) throw new Error('benchmark produced NaN');
  return median(rates);
}

/** Median seconds per call of `run`, calibrated like `measure`. */
function secondsPerCall(run: () => void, seconds: number, repetitions: number): number {
  run();
  let calls = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed > seconds / 4 || calls > 1e6) {
      calls = Math.max(1, Math.round((calls * seconds) / Math.max(elapsed, 1e-6)));
      break;
    }
    calls *= 4;
  }
  const times: number[] = [];
  for (let r = 0; r < repetitions; r++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    times.push((performance.now() - start) / 1000 / calls);
  }
  return median(times);
}

/** ns per element of the engine's TypeScript loops and of the WebAssembly kernels (copies included). */
function elementwiseTable(wasm: WasmKernels, seconds: number, repetitions: number): void {
  const rng = new Rng(11);
  const n = 64 * 256;
  const x = new Float32Array(n);
  rng.fillNormal(x, 0, 2);
  const y = new Float32Array(n);
  const batch = 32;
  const hidden = 128;
  const gates = batch * 4 * hidden;
  const projected = new Float32Array(gates);
  const hh = new Float32Array(gates);
  const bias = new Float32Array(4 * hidden);
  const previous = new Float32Array(batch * 2 * hidden);
  for (const a of [projected, hh, bias, previous]) rng.fillNormal(a);
  const act = new Float32Array(gates);
  const out = new Float32Array(batch * 2 * hidden);
  const tanhC = new Float32Array(batch * hidden);
  const dA = new Float32Array(gates);
  const gPrevious = new Float32Array(batch * 2 * hidden);
  const rows: Array<[string, number, () => void, () => void]> = [
    ['tanh, 64x256', n, () => activationKernels.tanh.forward(x, y, n, 0), () => wasm.tanh(x, y, n)],
    ['sigmoid, 64x256', n, () => activationKernels.sigmoid.forward(x, y, n, 0), () => wasm.sigmoid(x, y, n)],
    [
      `lstm gates, B=${batch} H=${hidden} (per unit)`,
      batch * hidden,
      () => lstmGatesReference(projected, 0, hh, bias, previous, act, out, tanhC, batch, hidden),
      () => wasm.lstmGates(projected, 0, hh, bias, previous, act, out, tanhC, batch, hidden),
    ],
    [
      `lstm gates backward, B=${batch} H=${hidden} (per unit)`,
      batch * hidden,
      () => lstmGatesBackwardReference(act, tanhC, out, previous, dA, gPrevious, batch, hidden),
      () => wasm.lstmGatesBackward(act, tanhC, out, previous, dA, gPrevious, batch, hidden),
    ],
  ];
  console.log('');
  console.log(
    `element-wise, float32, ns per element (median of ${repetitions}), WebAssembly copies included`,
  );
  console.log('| kernel | typescript | wasm | speed-up |');
  console.log('|---|---:|---:|---:|');
  for (const [label, elements, ts, simd] of rows) {
    const tsNs = (secondsPerCall(ts, seconds, repetitions) / elements) * 1e9;
    const wasmNs = (secondsPerCall(simd, seconds, repetitions) / elements) * 1e9;
    console.log(`| ${label} | ${tsNs.toFixed(2)} | ${wasmNs.toFixed(2)} | ${(tsNs / wasmNs).toFixed(1)}x |`);
  }
  if (Number.isNaN(y[0]) || Number.isNaN(out[0])) throw new Error('benchmark produced NaN');

  // One LSTM time step as the engine runs it, kernels only: forward hh = h W_hhᵀ then the gates; backward the
  // gates, dW_hh += dAᵀ h and dh = dA W_hh.
  const weight = new Float32Array(4 * hidden * hidden);
  rng.fillNormal(weight, 0, 0.1);
  const hPrevious = new Float32Array(batch * hidden);
  rng.fillNormal(hPrevious);
  const gradWeight = new Float32Array(weight.length);
  const dh = new Float32Array(batch * hidden);
  const step =
    (
      kernels: Kernels,
      gatesForward: typeof lstmGatesReference,
      gatesBackward: typeof lstmGatesBackwardReference,
    ) =>
    () => {
      kernels.matmul(hPrevious, weight, hh, batch, hidden, 4 * hidden, false, true, false);
      gatesForward(projected, 0, hh, bias, previous, act, out, tanhC, batch, hidden);
      gatesBackward(act, tanhC, out, previous, dA, gPrevious, batch, hidden);
      kernels.matmul(dA, hPrevious, gradWeight, 4 * hidden, batch, hidden, true, false, true);
      kernels.matmul(dA, weight, dh, batch, 4 * hidden, hidden, false, false, false);
    };
  const tsStep = secondsPerCall(
    step(tsKernels, lstmGatesReference, lstmGatesBackwardReference),
    seconds,
    repetitions,
  );
  const wasmStep = secondsPerCall(step(wasm, wasm.lstmGates, wasm.lstmGatesBackward), seconds, repetitions);
  console.log('');
  console.log(`one LSTM time step's kernels (B=${batch}, H=${hidden}, forward + backward), microseconds`);
  console.log(`| typescript | ${wasm.name} | speed-up |`);
  console.log('|---:|---:|---:|');
  console.log(
    `| ${(tsStep * 1e6).toFixed(0)} | ${(wasmStep * 1e6).toFixed(0)} | ${(tsStep / wasmStep).toFixed(1)}x |`,
  );
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const seconds = quick ? 0.05 : 0.25;
  const repetitions = quick ? 3 : 7;
  if (wasmSupported() && !wasmRelaxedSimdSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const backends: Kernels[] = [tsKernels];
  if (wasmSupported()) backends.push(createWasmKernels({ fusedMultiplyAdd: false }));
  if (wasmRelaxedSimdSupported()) backends.push(createWasmKernels({ fusedMultiplyAdd: true }));
  else console.log('WebAssembly (relaxed) SIMD is not supported here: those columns are missing.');
  console.log(
    `matmul GFLOPS, float32, median of ${repetitions} x ~${seconds}s, one thread (node ${process.version})`,
  );
  const header = ['shape (m x k x n)', ...backends.map((b) => b.name), 'best / typescript'];
  const rows = SHAPES.map((shape) => {
    const rates = backends.map((backend) => measure(backend, shape, seconds, repetitions));
    const ts = rates[0] as number;
    return [shape.label, ...rates.map((r) => r.toFixed(2)), `${(Math.max(...rates) / ts).toFixed(1)}x`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  if (wasmSupported()) elementwiseTable(createWasmKernels({ fusedMultiplyAdd: false }), seconds, repetitions);
  if (wasmRelaxedSimdSupported())
    elementwiseTable(createWasmKernels({ fusedMultiplyAdd: true }), seconds, repetitions);
}

main();
