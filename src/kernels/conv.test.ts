import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../tensor/rng.js';
import { conv2dBackwardReference, conv2dReference, tsKernels } from './ts.js';
import type { ConvShape } from './types.js';
import { createWasmKernels, wasmRelaxedSimdSupported, wasmSupported, type WasmKernels } from './wasm.js';

/** out = floor((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1 */
function out(size: number, kernel: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

function shapeOf(s: {
  batch: number;
  inChannels: number;
  outChannels: number;
  groups?: number;
  height: number;
  width: number;
  kernel: [number, number];
  stride?: [number, number];
  pad?: [number, number];
  dilation?: [number, number];
}): ConvShape {
  const [kernelH, kernelW] = s.kernel;
  const [strideH, strideW] = s.stride ?? [1, 1];
  const [padH, padW] = s.pad ?? [0, 0];
  const [dilationH, dilationW] = s.dilation ?? [1, 1];
  return {
    batch: s.batch,
    inChannels: s.inChannels,
    outChannels: s.outChannels,
    groups: s.groups ?? 1,
    height: s.height,
    width: s.width,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    outH: out(s.height, kernelH, strideH, padH, dilationH),
    outW: out(s.width, kernelW, strideW, padW, dilationW),
  };
}

/**
 * Odd shapes: tails of 4 and 8, strides, padding wider than the kernel's reach, dilation, groups, the 1x1 path, and
 * the whole-row im2col of "same"-width unit-stride convs: less padding in height than in width, a dilated "same"
 * kernel, a one-pixel-wide image whose side taps see only padding.
 */
const SHAPES: readonly ConvShape[] = [
  shapeOf({ batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 6, kernel: [3, 3], pad: [0, 1] }),
  shapeOf({
    batch: 2,
    inChannels: 3,
    outChannels: 4,
    height: 9,
    width: 8,
    kernel: [3, 3],
    pad: [2, 2],
    dilation: [2, 2],
  }),
  shapeOf({ batch: 1, inChannels: 2, outChannels: 2, height: 4, width: 1, kernel: [3, 3], pad: [1, 1] }),
  shapeOf({ batch: 2, inChannels: 2, outChannels: 5, height: 6, width: 7, kernel: [5, 5], pad: [3, 2] }),
  shapeOf({ batch: 2, inChannels: 3, outChannels: 5, height: 7, width: 9, kernel: [3, 3], pad: [1, 1] }),
  shapeOf({ batch: 1, inChannels: 2, outChannels: 3, height: 11, width: 6, kernel: [3, 2], stride: [2, 3] }),
  shapeOf({
    batch: 3,
    inChannels: 4,
    outChannels: 6,
    groups: 2,
    height: 8,
    width: 13,
    kernel: [2, 3],
    pad: [3, 2],
  }),
  shapeOf({
    batch: 2,
    inChannels: 3,
    outChannels: 9,
    groups: 3,
    height: 10,
    width: 10,
    kernel: [3, 3],
    stride: [3, 2],
    pad: [2, 4],
    dilation: [2, 3],
  }),
  shapeOf({ batch: 2, inChannels: 5, outChannels: 7, height: 5, width: 3, kernel: [1, 1] }),
  shapeOf({
    batch: 1,
    inChannels: 4,
    outChannels: 4,
    groups: 4,
    height: 6,
    width: 17,
    kernel: [5, 5],
    pad: [2, 2],
  }),
  shapeOf({
    batch: 2,
    inChannels: 1,
    outChannels: 3,
    height: 4,
    width: 4,
    kernel: [1, 1],
    stride: [2, 1],
    pad: [1, 0],
  }),
];

function sizes(s: ConvShape): { x: number; weight: number; y: number; rows: number } {
  const rows = (s.inChannels / s.groups) * s.kernelH * s.kernelW;
  return {
    x: s.batch * s.inChannels * s.height * s.width,
    weight: s.outChannels * rows,
    y: s.batch * s.outChannels * s.outH * s.outW,
    rows,
  };
}

function normal(length: number, rng: Rng): Float32Array {
  const v = new Float32Array(length);
  rng.fillNormal(v);
  return v;
}

const abs = (v: Float32Array): Float64Array => Float64Array.from(v, Math.abs);

/**
 * Float32 results against the float64 reference on the same inputs: each value is a sum of at most `terms`
 * products, so |error| <= terms 2^-23 sum |products| (Higham 2002, eq. 3.5, with slack), bounded by the same
 * sum over absolute values.
 */
function assertWithinRounding(
  label: string,
  actual: Float32Array,
  exact: Float64Array,
  magnitude: Float64Array,
  terms: number,
): void {
  const unit = 2 ** -23;
  for (let i = 0; i < exact.length; i++) {
    const bound = (terms + 2) * unit * (magnitude[i] as number) + 1e-30;
    const error = Math.abs((actual[i] as number) - (exact[i] as number));
    assert.ok(error <= bound, `${label}[${i}]: ${actual[i]} vs ${exact[i]} (error ${error}, bound ${bound})`);
  }
}

const builds = (): Array<[string, WasmKernels]> => {
  const list: Array<[string, WasmKernels]> = [['wasm-simd', createWasmKernels({ fusedMultiplyAdd: false })]];
  if (wasmRelaxedSimdSupported())
    list.push(['wasm-relaxed-simd', createWasmKernels({ fusedMultiplyAdd: true })]);
  return list;
};

describe('conv2d kernels: WebAssembly against the TypeScript reference', { skip: !wasmSupported() }, () => {
  it('the columns are the reference im2col exactly: an identity weight copies them out bit for bit', () => {
    for (const [name, wasm] of builds()) {
      for (const base of SHAPES) {
        // C_out = rows of one group's columns with groups 1, W = I: y[n] = col(x[n]) exactly (one product by 1).
        const s: ConvShape = {
          ...base,
          groups: 1,
          outChannels: base.inChannels * base.kernelH * base.kernelW,
        };
        const n = sizes(s);
        const rng = new Rng(3);
        const x = normal(n.x, rng);
        const identity = new Float32Array(n.rows * n.rows);
        for (let r = 0; r < n.rows; r++) identity[r * n.rows + r] = 1;
        const expected = new Float32Array(n.y);
        conv2dReference(x, identity, null, expected, s, false, tsKernels.matmul);
        const actual = new Float32Array(n.y).fill(NaN);
        wasm.conv2d(x, identity, null, actual, s, false);
        assert.deepEqual(actual, expected, `${name} ${JSON.stringify(s)}`);
        // ... and col2im adds in the reference's order: dcol = I dY = dY, scattered onto a non-zero dx.
        const dy = normal(n.y, rng);
        const dxExpected = normal(n.x, rng);
        const dxActual = dxExpected.slice();
        conv2dBackwardReference(x, identity, dy, dxExpected, null, null, s, null, tsKernels.matmul);
        wasm.conv2dBackward(x, identity, dy, dxActual, null, null, s, null);
        assert.deepEqual(dxActual, dxExpected, `${name} col2im ${JSON.stringify(s)}`);
      }
    }
  });

  it('forward and backward agree with the float64 reference within float32 rounding, bias, relu and accumulation included', () => {
    for (const [name, wasm] of builds()) {
      for (const [s, relu] of SHAPES.flatMap((shape) => [[shape, false] as const, [shape, true] as const])) {
        const n = sizes(s);
        const rng = new Rng(11);
        const x = normal(n.x, rng);
        const w = normal(n.weight, rng);
        const b = normal(s.outChannels, rng);
        const dy = normal(n.y, rng);
        const x64 = Float64Array.from(x);
        const w64 = Float64Array.from(w);
        const b64 = Float64Array.from(b);
        const dy64 = Float64Array.from(dy);
        const label = `${name} relu ${relu} ${JSON.stringify(s)}`;

        const y = new Float32Array(n.y).fill(NaN);
        wasm.conv2d(x, w, b, y, s, relu);
        const exact = new Float64Array(n.y);
        conv2dReference(x64, w64, b64, exact, s, relu, tsKernels.matmul);
        // relu never widens a difference: |relu(a) - relu(b)| <= |a - b|.
        const magnitude = new Float64Array(n.y);
        conv2dReference(abs(x), abs(w), abs(b), magnitude, s, false, tsKernels.matmul);
        if (relu) assert.ok(y.some((v) => v === 0) && y.every((v) => v >= 0), `${label}: relu applied`);
        assertWithinRounding(`${label} y`, y, exact, magnitude, n.rows + 1);

        // Gradients accumulate onto what is there.
        const dx = normal(n.x, rng);
        const dw = normal(n.weight, rng);
        const db = normal(s.outChannels, rng);
        const dx64 = Float64Array.from(dx);
        const dw64 = Float64Array.from(dw);
        const db64 = Float64Array.from(db);
        const dx0 = abs(dx);
        const dw0 = abs(dw);
        const db0 = abs(db);
        // Both sides mask dy by the same relu output (the float32 one).
        const mask = relu ? y : null;
        const mask64 = mask ? Float64Array.from(mask) : null;
        wasm.conv2dBackward(x, w, dy, dx, dw, db, s, mask);
        conv2dBackwardReference(x64, w64, dy64, dx64, dw64, db64, s, mask64, tsKernels.matmul);
        const mdx = abs(dx).fill(0);
        const mdw = abs(dw).fill(0);
        const mdb = abs(db).fill(0);
        conv2dBackwardReference(abs(x), abs(w), abs(dy), mdx, mdw, mdb, s, mask64, tsKernels.matmul);
        // Plus the value accumulated onto (one more rounding).
        const plus = (m: Float64Array, start: Float64Array): Float64Array =>
          m.map((v, i) => v + (start[i] as number));
        const taps = s.kernelH * s.kernelW;
        assertWithinRounding(`${label} dx`, dx, dx64, plus(mdx, dx0), (s.outChannels / s.groups + 1) * taps);
        assertWithinRounding(`${label} dw`, dw, dw64, plus(mdw, dw0), s.batch * s.outH * s.outW + 1);
        assertWithinRounding(`${label} db`, db, db64, plus(mdb, db0), s.batch * s.outH * s.outW + 1);
      }
    }
  });

  it('leaves the gradients that are not asked for alone, and float64 runs the reference bit for bit', () => {
    const wasm = createWasmKernels({ fusedMultiplyAdd: false });
    const s = SHAPES[3] as ConvShape;
    const n = sizes(s);
    const rng = new Rng(8);
    const x = normal(n.x, rng);
    const w = normal(n.weight, rng);
    const dy = normal(n.y, rng);
    const dw = new Float32Array(n.weight);
    const before = dw.slice();
    const dx = new Float32Array(n.x);
    wasm.conv2dBackward(x, w, dy, dx, null, null, s, null);
    assert.deepEqual(dw, before);
    assert.ok(dx.some((v) => v !== 0));

    const x64 = Float64Array.from(x);
    const w64 = Float64Array.from(w);
    const y64 = new Float64Array(n.y);
    const expected = new Float64Array(n.y);
    wasm.conv2d(x64, w64, null, y64, s, true);
    conv2dReference(x64, w64, null, expected, s, true, tsKernels.matmul);
    assert.deepEqual(y64, expected);
  });

  it('rejects buffers too short for the shape, naming them', () => {
    const wasm = createWasmKernels({ fusedMultiplyAdd: false });
    const s = SHAPES[0] as ConvShape;
    const n = sizes(s);
    assert.throws(
      () =>
        wasm.conv2d(
          new Float32Array(n.x - 1),
          new Float32Array(n.weight),
          null,
          new Float32Array(n.y),
          s,
          false,
        ),
      /conv2d: x is too short for the shape: x \d+ \(needs \d+\)/,
    );
    assert.throws(
      () =>
        wasm.conv2dBackward(
          new Float32Array(n.x),
          new Float32Array(n.weight),
          new Float32Array(n.y),
          null,
          new Float32Array(3),
          null,
          s,
          null,
        ),
      /conv2dBackward: dWeight is too short/,
    );
  });
});
