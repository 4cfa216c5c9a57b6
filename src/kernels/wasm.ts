import type { Buffer } from '../tensor/tensor.js';
import {
  addInPlaceReference,
  conv2dBackwardReference,
  conv2dReference,
  lstmGatesBackwardReference,
  lstmGatesReference,
  activationMomentsReference,
  histogramReference,
  momentsReference,
  scaleInPlaceReference,
  sumOfSquaresReference,
  tsKernels,
} from './ts.js';
import { activationKernels } from './activations.js';
import type { ConvShape, Kernels } from './types.js';
import { WASM_KERNELS_BASE64, WASM_KERNELS_RELAXED_BASE64 } from './wasm-module.js';

/**
 * The WebAssembly SIMD backend, built from `asm/` by `scripts/build-wasm.mjs`. Float32 work runs in WebAssembly;
 * float64 (gradient checks, tests) goes to TypeScript: the reference kernels for matmul, the same formulas as the
 * engine for the rest.
 *
 * The module has its own linear memory, so each call copies its inputs in and its outputs out (C in too when
 * accumulating): about 4-15% of a matmul at the engine's shapes, measured. That memory is one arena grown to the
 * largest call seen and then reused: no allocation in the steady state.
 *
 * @example
 * if (wasmSupported()) setKernels(createWasmKernels());
 */
/** The WebAssembly backend: the `Kernels` contract with every optional kernel present. */
type OptionalKernel =
  | 'tanh'
  | 'sigmoid'
  | 'gelu'
  | 'geluBackward'
  | 'lstmGates'
  | 'lstmGatesBackward'
  | 'sumOfSquares'
  | 'scaleInPlace'
  | 'addInPlace'
  | 'moments'
  | 'histogram'
  | 'activationMoments'
  | 'conv2d'
  | 'conv2dBackward';

export interface WasmKernels extends Omit<Kernels, OptionalKernel>, Required<Pick<Kernels, OptionalKernel>> {
  /** Whether this instance runs the relaxed-SIMD build (fused multiply-add). */
  readonly fusedMultiplyAdd: boolean;
  /** Bytes of WebAssembly memory the backend holds now (grows to the largest call, never shrinks). */
  memoryBytes(): number;
}

export interface WasmKernelOptions {
  /**
   * Use the relaxed-SIMD build, whose multiply-adds are fused, where the runtime has relaxed SIMD (Node >= 22,
   * Chrome >= 114; Node 20 only with `--experimental-wasm-relaxed-simd`). Default true: matmul is about 1.25x faster.
   * A fused multiply-add rounds once, and whether the CPU has one decides the last bits, so results are bit-identical
   * run to run on one machine but may differ across machines; `false` keeps the plain SIMD build, which rounds the
   * same everywhere.
   */
  readonly fusedMultiplyAdd?: boolean;
}

/** The smallest module that uses a v128 instruction: validates only where WebAssembly SIMD is supported. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, // code section: one body of 20 bytes, no locals
  0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  0x0b, // end
]); // prettier-ignore

/** Like SIMD_PROBE but the body is f32x4.relaxed_madd of three zero vectors: validates only with relaxed SIMD. */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b, // end
]); // prettier-ignore

/** Whether this runtime can run the WebAssembly SIMD kernels (Node >= 16.4, current browsers). */
export function wasmSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/** Whether this runtime also has relaxed SIMD, so `createWasmKernels()` can use fused multiply-adds. */
export function wasmRelaxedSimdSupported(): boolean {
  return wasmSupported() && WebAssembly.validate(RELAXED_SIMD_PROBE);
}

/** The module's exports; pointers are byte offsets into its memory. */
interface ModuleExports {
  readonly memory: WebAssembly.Memory;
  readonly heapBase: () => number;
  readonly workBytes: () => number;
  readonly matmul: (
    a: number,
    b: number,
    c: number,
    m: number,
    k: number,
    n: number,
    transA: number,
    transB: number,
    accumulate: number,
    work: number,
  ) => void;
  readonly sumOfSquares: (x: number, n: number) => number;
  readonly scaleInPlace: (x: number, n: number, alpha: number) => void;
  readonly addInPlace: (y: number, x: number, n: number) => void;
  readonly moments: (x: number, n: number, out: number) => void;
  readonly histogram: (
    x: number,
    n: number,
    buckets: number,
    counts: number,
    out: number,
    scratch: number,
  ) => void;
  readonly histogramScratchBytes: (buckets: number) => number;
  readonly activationMoments: (
    y: number,
    rows: number,
    units: number,
    below: number,
    above: number,
    dead: number,
    flags: number,
    out: number,
  ) => void;
  readonly simdPeak: (iterations: number, scale: number, offset: number) => number;
  readonly simdPeakFlopsPerIteration: () => number;
  readonly tanhForward: (x: number, y: number, n: number) => void;
  readonly sigmoidForward: (x: number, y: number, n: number) => void;
  readonly geluForward: (x: number, y: number, n: number) => void;
  readonly geluBackward: (x: number, gy: number, gx: number, n: number) => void;
  readonly lstmForward: (
    p: number,
    hh: number,
    bias: number,
    previous: number,
    act: number,
    out: number,
    tanhC: number,
    batch: number,
    hidden: number,
  ) => void;
  readonly lstmBackward: (
    act: number,
    tanhC: number,
    dOut: number,
    previous: number,
    dA: number,
    gPrevious: number,
    batch: number,
    hidden: number,
    accumulatePrevious: number,
  ) => void;
  readonly conv2dForward: (
    shape: number,
    x: number,
    w: number,
    bias: number,
    relu: number,
    y: number,
    col: number,
    work: number,
  ) => void;
  readonly conv2dBackward: (
    shape: number,
    x: number,
    w: number,
    dy: number,
    y: number,
    dx: number,
    dw: number,
    db: number,
    col: number,
    dcol: number,
    work: number,
  ) => void;
}

const PAGE_BYTES = 65536;
/** Vector passes shorter than this stay in JavaScript (same bits either way). */
const VECTOR_MIN = 512;
/** Every array in the arena starts on a cache line and is padded to one, so kernels may round lengths up to vectors. */
const ALIGN = 64;

/**
 * The fastest kernels this runtime can run, compiled synchronously (`new WebAssembly.Module`): fine in Node, in
 * workers and on the main thread of current browsers. Chrome before 114 refused synchronous compilation of modules
 * over 4 KB on the main thread (this one is ~9 KB): use `createWasmKernelsAsync` there. Throws when WebAssembly SIMD
 * is missing: check `wasmSupported()` first.
 */
export function createWasmKernels(options: WasmKernelOptions = {}): WasmKernels {
  const fusedMultiplyAdd = chooseBuild(options);
  const module = new WebAssembly.Module(moduleBytes(fusedMultiplyAdd));
  return kernelsFrom(new WebAssembly.Instance(module, {}), fusedMultiplyAdd);
}

/** `createWasmKernels` with asynchronous compilation, for browsers' main threads. */
export async function createWasmKernelsAsync(options: WasmKernelOptions = {}): Promise<WasmKernels> {
  const fusedMultiplyAdd = chooseBuild(options);
  const module = await WebAssembly.compile(moduleBytes(fusedMultiplyAdd));
  return kernelsFrom(await WebAssembly.instantiate(module, {}), fusedMultiplyAdd);
}

/** Whether to load the relaxed-SIMD build; throws when not even plain SIMD is there. */
function chooseBuild(options: WasmKernelOptions): boolean {
  if (!wasmSupported()) {
    throw new Error(
      'WebAssembly SIMD is not available in this runtime: keep the TypeScript kernels (check wasmSupported() first).',
    );
  }
  return (options.fusedMultiplyAdd ?? true) && wasmRelaxedSimdSupported();
}

function moduleBytes(fusedMultiplyAdd: boolean): Uint8Array<ArrayBuffer> {
  return decodeBase64(fusedMultiplyAdd ? WASM_KERNELS_RELAXED_BASE64 : WASM_KERNELS_BASE64);
}

function kernelsFrom(instance: WebAssembly.Instance, fusedMultiplyAdd: boolean): WasmKernels {
  const wasm = moduleExports(instance);
  const memory = wasm.memory;
  const work = alignUp(wasm.heapBase(), ALIGN);
  const dataStart = alignUp(work + wasm.workBytes(), ALIGN);
  let view = new Float32Array(memory.buffer);
  // A bump allocator over the arena, reset by every call: take() the arrays, then commit() before touching them.
  let top = dataStart;
  const take = (length: number): number => {
    const at = top;
    top = alignUp(at + length * 4, ALIGN);
    return at;
  };
  const commit = (): void => {
    const have = memory.buffer.byteLength;
    if (top > have) memory.grow(Math.ceil((top - have) / PAGE_BYTES));
    // A grown memory detaches the old ArrayBuffer; refresh the view whenever the buffer changed.
    if (view.buffer !== memory.buffer) view = new Float32Array(memory.buffer);
  };
  const copyIn = (source: Float32Array, start: number, length: number, byteOffset: number): void => {
    view.set(
      start === 0 && source.length === length ? source : source.subarray(start, start + length),
      byteOffset >>> 2,
    );
  };
  const copyOut = (byteOffset: number, length: number, target: Float32Array): void => {
    const start = byteOffset >>> 2;
    target.set(view.subarray(start, start + length));
  };

  /** Lays the conv's shape out as asm/conv.ts reads it: 16 i32 at a 64-byte slot taken before commit(). */
  const writeShape = (at: number, s: ConvShape): void => {
    new Int32Array(memory.buffer, at, 16).set([
      s.batch,
      s.inChannels,
      s.outChannels,
      s.groups,
      s.height,
      s.width,
      s.kernelH,
      s.kernelW,
      s.strideH,
      s.strideW,
      s.padH,
      s.padW,
      s.dilationH,
      s.dilationW,
      s.outH,
      s.outW,
    ]);
  };

  function unary(
    kernel: (x: number, y: number, n: number) => void,
    x: Float32Array,
    y: Float32Array,
    n: number,
  ): void {
    top = dataStart;
    const at = take(n);
    commit();
    copyIn(x, 0, n, at);
    kernel(at, at, n);
    copyOut(at, n, y);
  }

  return {
    name: fusedMultiplyAdd ? 'wasm-relaxed-simd' : 'wasm-simd',
    fusedMultiplyAdd,
    memoryBytes: () => memory.buffer.byteLength,

    matmul(a, b, c, m, k, n, transA, transB, accumulate) {
      if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
        tsKernels.matmul(a, b, c, m, k, n, transA, transB, accumulate);
        return;
      }
      checkLengths('matmul', [
        ['A', a, m * k],
        ['B', b, k * n],
        ['C', c, m * n],
      ]);
      if (m === 0 || n === 0) return;
      if (k === 0) {
        if (!accumulate) c.fill(0, 0, m * n);
        return;
      }
      const aLength = m * k;
      const bLength = k * n;
      const cLength = m * n;
      top = dataStart;
      // A product of a matrix with itself (x^T x) copies it once.
      const shared = b === a;
      const aAt = take(shared ? Math.max(aLength, bLength) : aLength);
      const bAt = shared ? aAt : take(bLength);
      const cAt = take(cLength);
      commit();
      copyIn(a, 0, shared ? Math.max(aLength, bLength) : aLength, aAt);
      if (!shared) copyIn(b, 0, bLength, bAt);
      if (accumulate) copyIn(c, 0, cLength, cAt);
      wasm.matmul(aAt, bAt, cAt, m, k, n, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, work);
      copyOut(cAt, cLength, c);
    },

    tanh(x, y, n) {
      checkLengths('tanh', [
        ['x', x, n],
        ['y', y, n],
      ]);
      if (x instanceof Float32Array && y instanceof Float32Array) unary(wasm.tanhForward, x, y, n);
      else for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i] as number);
    },

    sigmoid(x, y, n) {
      checkLengths('sigmoid', [
        ['x', x, n],
        ['y', y, n],
      ]);
      if (x instanceof Float32Array && y instanceof Float32Array) unary(wasm.sigmoidForward, x, y, n);
      else activationKernels.sigmoid.forward(x, y, n, 0);
    },

    gelu(x, y, n) {
      checkLengths('gelu', [
        ['x', x, n],
        ['y', y, n],
      ]);
      if (x instanceof Float32Array && y instanceof Float32Array) unary(wasm.geluForward, x, y, n);
      else activationKernels.gelu.forward(x, y, n, 0);
    },

    geluBackward(x, gy, gx, n) {
      checkLengths('geluBackward', [
        ['x', x, n],
        ['gy', gy, n],
        ['gx', gx, n],
      ]);
      if (!(x instanceof Float32Array && gy instanceof Float32Array && gx instanceof Float32Array)) {
        activationKernels.gelu.backward(x, x, gy, gx, n, 0);
        return;
      }
      top = dataStart;
      const xAt = take(n);
      const gyAt = take(n);
      const gxAt = take(n);
      commit();
      copyIn(x, 0, n, xAt);
      copyIn(gy, 0, n, gyAt);
      copyIn(gx, 0, n, gxAt);
      wasm.geluBackward(xAt, gyAt, gxAt, n);
      copyOut(gxAt, n, gx);
    },

    // The vector passes: below VECTOR_MIN values the call and the copies cost more than the JavaScript loop.
    sumOfSquares(x, n) {
      checkLengths('sumOfSquares', [['x', x, n]]);
      if (!(x instanceof Float32Array) || n < VECTOR_MIN) return sumOfSquaresReference(x, n);
      top = dataStart;
      const at = take(n);
      commit();
      copyIn(x, 0, n, at);
      return wasm.sumOfSquares(at, n);
    },

    scaleInPlace(x, alpha, n) {
      checkLengths('scaleInPlace', [['x', x, n]]);
      if (!(x instanceof Float32Array) || n < VECTOR_MIN) return scaleInPlaceReference(x, alpha, n);
      top = dataStart;
      const at = take(n);
      commit();
      copyIn(x, 0, n, at);
      wasm.scaleInPlace(at, n, alpha);
      copyOut(at, n, x);
    },

    addInPlace(y, x, n) {
      checkLengths('addInPlace', [
        ['y', y, n],
        ['x', x, n],
      ]);
      if (!(y instanceof Float32Array && x instanceof Float32Array) || n < VECTOR_MIN) {
        return addInPlaceReference(y, x, n);
      }
      top = dataStart;
      const yAt = take(n);
      const xAt = take(n);
      commit();
      copyIn(y, 0, n, yAt);
      copyIn(x, 0, n, xAt);
      wasm.addInPlace(yAt, xAt, n);
      copyOut(yAt, n, y);
    },

    // The monitor's passes: one copy in, one SIMD pass, a few numbers out.
    moments(x, n) {
      checkLengths('moments', [['x', x, n]]);
      if (!(x instanceof Float32Array) || n < VECTOR_MIN) return momentsReference(x, n);
      top = dataStart;
      const outAt = take(16);
      const at = take(n);
      commit();
      copyIn(x, 0, n, at);
      wasm.moments(at, n, outAt);
      const out = new Float64Array(memory.buffer, outAt, 3);
      return { sumOfSquares: out[0] as number, maxAbs: out[1] as number, nonFinite: out[2] as number };
    },

    histogram(x, n, buckets) {
      checkLengths('histogram', [['x', x, n]]);
      if (!(x instanceof Float32Array) || n < VECTOR_MIN) return histogramReference(x, n, buckets);
      top = dataStart;
      const outAt = take(16);
      const countsAt = take(buckets);
      const scratchAt = take(wasm.histogramScratchBytes(buckets) / 4);
      const at = take(n);
      commit();
      copyIn(x, 0, n, at);
      wasm.histogram(at, n, buckets, countsAt, outAt, scratchAt);
      const out = new Float64Array(memory.buffer, outAt, 5);
      return {
        // + 0: -0 becomes 0, as in the reference.
        min: (out[0] as number) + 0,
        max: (out[1] as number) + 0,
        counts: Array.from(new Int32Array(memory.buffer, countsAt, buckets)),
        nan: out[2] as number,
        posInf: out[3] as number,
        negInf: out[4] as number,
      };
    },

    activationMoments(y, rows, units, flat) {
      const n = rows * units;
      checkLengths('activationMoments', [['y', y, n]]);
      if (!(y instanceof Float32Array) || n < VECTOR_MIN)
        return activationMomentsReference(y, rows, units, flat);
      top = dataStart;
      const outAt = take(16);
      const flagsAt = take(2 * units);
      const at = take(n);
      commit();
      copyIn(y, 0, n, at);
      wasm.activationMoments(
        at,
        rows,
        units,
        float32Above(flat.saturatedBelow),
        float32Below(flat.saturatedAbove),
        float32Below(flat.deadAtOrBelow),
        flagsAt,
        outAt,
      );
      const out = new Float64Array(memory.buffer, outAt, 5);
      return {
        sum: out[0] as number,
        sumOfSquares: out[1] as number,
        nonFinite: out[2] as number,
        saturatedUnits: out[3] as number,
        deadUnits: out[4] as number,
      };
    },

    // The whole batch in one call: the images, weights and outputs cross into WebAssembly memory once; the
    // columns (kh kw times larger than the image) are built and consumed inside it (asm/conv.ts).
    conv2d(x, weight, bias, y, shape, relu) {
      const sizes = convLengths(shape);
      checkLengths('conv2d', [
        ['x', x, sizes.x],
        ['weight', weight, sizes.weight],
        ['bias', bias ?? weight, bias ? shape.outChannels : 0],
        ['y', y, sizes.y],
      ]);
      if (!(
        x instanceof Float32Array &&
        weight instanceof Float32Array &&
        y instanceof Float32Array &&
        (bias === null || bias instanceof Float32Array)
      )) {
        conv2dReference(x, weight, bias, y, shape, relu, tsKernels.matmul);
        return;
      }
      if (sizes.y === 0) return;
      top = dataStart;
      const shapeAt = take(16);
      const xAt = take(sizes.x);
      const wAt = take(sizes.weight);
      const biasAt = bias ? take(shape.outChannels) : 0;
      const yAt = take(sizes.y);
      const colAt = take(sizes.col);
      commit();
      writeShape(shapeAt, shape);
      copyIn(x, 0, sizes.x, xAt);
      copyIn(weight, 0, sizes.weight, wAt);
      if (bias) copyIn(bias, 0, shape.outChannels, biasAt);
      wasm.conv2dForward(shapeAt, xAt, wAt, biasAt, relu ? 1 : 0, yAt, colAt, work);
      copyOut(yAt, sizes.y, y);
    },

    conv2dBackward(x, weight, dy, dx, dWeight, dBias, shape, reluOutput) {
      const sizes = convLengths(shape);
      checkLengths('conv2dBackward', [
        ['x', x, sizes.x],
        ['weight', weight, sizes.weight],
        ['dy', dy, sizes.y],
        ['dx', dx ?? x, sizes.x],
        ['dWeight', dWeight ?? weight, sizes.weight],
        ['dBias', dBias ?? weight, dBias ? shape.outChannels : 0],
        ['reluOutput', reluOutput ?? dy, sizes.y],
      ]);
      if (!(
        x instanceof Float32Array &&
        weight instanceof Float32Array &&
        dy instanceof Float32Array &&
        (dx === null || dx instanceof Float32Array) &&
        (dWeight === null || dWeight instanceof Float32Array) &&
        (dBias === null || dBias instanceof Float32Array) &&
        (reluOutput === null || reluOutput instanceof Float32Array)
      )) {
        conv2dBackwardReference(x, weight, dy, dx, dWeight, dBias, shape, reluOutput, tsKernels.matmul);
        return;
      }
      if (sizes.y === 0 || (!dx && !dWeight && !dBias)) return;
      top = dataStart;
      const shapeAt = take(16);
      const xAt = dWeight ? take(sizes.x) : 0;
      const wAt = dx ? take(sizes.weight) : 0;
      const dyAt = take(sizes.y);
      const yAt = reluOutput ? take(sizes.y) : 0;
      const dxAt = dx ? take(sizes.x) : 0;
      const dwAt = dWeight ? take(sizes.weight) : 0;
      const dbAt = dBias ? take(shape.outChannels) : 0;
      const colAt = dWeight ? take(sizes.col) : 0;
      const dcolAt = dx ? take(sizes.col) : 0;
      commit();
      writeShape(shapeAt, shape);
      if (dWeight) copyIn(x, 0, sizes.x, xAt);
      if (dx) copyIn(weight, 0, sizes.weight, wAt);
      copyIn(dy, 0, sizes.y, dyAt);
      if (reluOutput) copyIn(reluOutput, 0, sizes.y, yAt);
      if (dx) copyIn(dx, 0, sizes.x, dxAt);
      if (dWeight) copyIn(dWeight, 0, sizes.weight, dwAt);
      if (dBias) copyIn(dBias, 0, shape.outChannels, dbAt);
      wasm.conv2dBackward(shapeAt, xAt, wAt, dyAt, yAt, dxAt, dwAt, dbAt, colAt, dcolAt, work);
      if (dx) copyOut(dxAt, sizes.x, dx);
      if (dWeight) copyOut(dwAt, sizes.weight, dWeight);
      if (dBias) copyOut(dbAt, shape.outChannels, dBias);
    },

    lstmGates(projected, projectedOffset, hh, biasHH, previous, act, out, tanhC, batch, hidden) {
      const gates = batch * 4 * hidden;
      checkLengths('lstmGates', [
        ['projected', projected, projectedOffset + gates],
        ['hh', hh, gates],
        ['biasHH', biasHH, 4 * hidden],
        ['previous', previous, batch * 2 * hidden],
        ['act', act, gates],
        ['out', out, batch * 2 * hidden],
        ['tanhC', tanhC, batch * hidden],
      ]);
      if (!(
        projected instanceof Float32Array &&
        hh instanceof Float32Array &&
        biasHH instanceof Float32Array &&
        previous instanceof Float32Array &&
        act instanceof Float32Array &&
        out instanceof Float32Array &&
        tanhC instanceof Float32Array
      )) {
        lstmGatesReference(projected, projectedOffset, hh, biasHH, previous, act, out, tanhC, batch, hidden);
        return;
      }
      if (gates === 0) return;
      top = dataStart;
      const pAt = take(gates);
      const hhAt = take(gates);
      const biasAt = take(4 * hidden);
      const previousAt = take(batch * 2 * hidden);
      const actAt = take(gates);
      const outAt = take(batch * 2 * hidden);
      const tanhCAt = take(batch * hidden);
      commit();
      copyIn(projected, projectedOffset, gates, pAt);
      copyIn(hh, 0, gates, hhAt);
      copyIn(biasHH, 0, 4 * hidden, biasAt);
      copyIn(previous, 0, batch * 2 * hidden, previousAt);
      wasm.lstmForward(pAt, hhAt, biasAt, previousAt, actAt, outAt, tanhCAt, batch, hidden);
      copyOut(actAt, gates, act);
      copyOut(outAt, batch * 2 * hidden, out);
      copyOut(tanhCAt, batch * hidden, tanhC);
    },

    lstmGatesBackward(act, tanhC, dOut, previous, dA, gPrevious, batch, hidden) {
      const gates = batch * 4 * hidden;
      const state = batch * 2 * hidden;
      checkLengths('lstmGatesBackward', [
        ['act', act, gates],
        ['tanhC', tanhC, batch * hidden],
        ['dOut', dOut, state],
        ['previous', previous, state],
        ['dA', dA, gates],
        ['gPrevious', gPrevious ?? previous, state],
      ]);
      if (!(
        act instanceof Float32Array &&
        tanhC instanceof Float32Array &&
        dOut instanceof Float32Array &&
        previous instanceof Float32Array &&
        dA instanceof Float32Array &&
        (gPrevious === null || gPrevious instanceof Float32Array)
      )) {
        lstmGatesBackwardReference(act, tanhC, dOut, previous, dA, gPrevious, batch, hidden);
        return;
      }
      if (gates === 0) return;
      top = dataStart;
      const actAt = take(gates);
      const tanhCAt = take(batch * hidden);
      const dOutAt = take(state);
      const previousAt = take(state);
      const dAAt = take(gates);
      const gPreviousAt = gPrevious ? take(state) : 0;
      commit();
      copyIn(act, 0, gates, actAt);
      copyIn(tanhC, 0, batch * hidden, tanhCAt);
      copyIn(dOut, 0, state, dOutAt);
      copyIn(previous, 0, state, previousAt);
      if (gPrevious) copyIn(gPrevious, 0, state, gPreviousAt);
      wasm.lstmBackward(
        actAt,
        tanhCAt,
        dOutAt,
        previousAt,
        dAAt,
        gPreviousAt,
        batch,
        hidden,
        gPrevious ? 1 : 0,
      );
      copyOut(dAAt, gates, dA);
      if (gPrevious) copyOut(gPreviousAt, state, gPrevious);
    },
  };
}

/** One measurement of the WebAssembly SIMD arithmetic peak (`measureSimdPeak`). */
export interface SimdPeak {
  /** Which loop: `mul+add` (plain SIMD, a multiply and an add) or `relaxed_madd` (one fused multiply-add). */
  readonly kind: 'mul+add' | 'relaxed_madd';
  /** The best rate over the repetitions, in 10^9 float32 operations per second (a multiply-add counts 2). */
  readonly gflops: number;
  /** Loop rounds per repetition (96 flops each) and the repetitions' count. */
  readonly iterations: number;
  readonly repetitions: number;
  /** The loop's result (the accumulators' sum), returned so the loop is never dead code; about 48 when converged. */
  readonly checksum: number;
}

/**
 * The machine's WebAssembly SIMD peak on one thread: `asm/peak.ts`, 12 independent f32x4 multiply-add chains, with
 * the plain build (`mul+add`) or, where the runtime has relaxed SIMD and `fusedMultiplyAdd` is set, the relaxed
 * build (`relaxed_madd`). Calibrates the rounds to about `seconds` per repetition and keeps the best repetition
 * (a peak, so the least disturbed run). Throws when the relaxed loop is asked for and the runtime lacks it.
 */
export function measureSimdPeak(options: {
  fusedMultiplyAdd: boolean;
  seconds?: number;
  repetitions?: number;
}): SimdPeak {
  if (!wasmSupported())
    throw new Error('measureSimdPeak: WebAssembly SIMD is not available in this runtime.');
  if (options.fusedMultiplyAdd && !wasmRelaxedSimdSupported()) {
    throw new Error(
      'measureSimdPeak: relaxed SIMD is not available; on Node 20 start node with --experimental-wasm-relaxed-simd.',
    );
  }
  const seconds = options.seconds ?? 0.2;
  const repetitions = options.repetitions ?? 5;
  const instance = new WebAssembly.Instance(
    new WebAssembly.Module(moduleBytes(options.fusedMultiplyAdd)),
    {},
  );
  const wasm = moduleExports(instance);
  const flopsPerIteration = wasm.simdPeakFlopsPerIteration();
  // Calibrate: double the rounds until one call takes 20 ms (this also lets V8 tier the function up).
  let iterations = 1 << 16;
  let checksum = 0;
  for (;;) {
    const start = performance.now();
    checksum = wasm.simdPeak(
      iterations,
      options.fusedMultiplyAdd ? 0.999 : 1,
      options.fusedMultiplyAdd ? 1e-3 : 0,
    );
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed >= 0.02 || iterations >= 1 << 30) {
      iterations = Math.max(
        1,
        Math.min(2 ** 31 - 1, Math.round((iterations * seconds) / Math.max(elapsed, 1e-6))),
      );
      break;
    }
    iterations *= 2;
  }
  let best = 0;
  for (let r = 0; r < repetitions; r++) {
    const start = performance.now();
    checksum = wasm.simdPeak(
      iterations,
      options.fusedMultiplyAdd ? 0.999 : 1,
      options.fusedMultiplyAdd ? 1e-3 : 0,
    );
    const elapsed = (performance.now() - start) / 1000;
    best = Math.max(best, (iterations * flopsPerIteration) / elapsed / 1e9);
  }
  return {
    kind: options.fusedMultiplyAdd ? 'relaxed_madd' : 'mul+add',
    gflops: best,
    iterations,
    repetitions,
    checksum,
  };
}

/** Values in each operand of a convolution: x, weight, y and one image-and-group's columns. */
function convLengths(s: ConvShape): { x: number; weight: number; y: number; col: number } {
  const rows = (s.inChannels / s.groups) * s.kernelH * s.kernelW;
  const pixels = s.outH * s.outW;
  return {
    x: s.batch * s.inChannels * s.height * s.width,
    weight: s.outChannels * rows,
    y: s.batch * s.outChannels * pixels,
    col: rows * pixels,
  };
}

export function checkLengths(kernel: string, arrays: ReadonlyArray<readonly [string, Buffer, number]>): void {
  for (const [name, array, needed] of arrays) {
    if (array.length < needed) {
      const sizes = arrays.map(([n, a, need]) => `${n} ${a.length} (needs ${need})`).join(', ');
      throw new RangeError(
        `${kernel}: ${name} is too short for the shape: ${sizes}; check the sizes passed.`,
      );
    }
  }
}

/**
 * The smallest float32 >= t: for a float32 y, y < t exactly when y < float32Above(t) (NaN stays NaN). With
 * `float32Below`, the largest float32 <= t (y > t and y <= t the same way), thresholds written as doubles compare in
 * the kernels' float32 as in JavaScript.
 */
function float32Above(t: number): number {
  const f = Math.fround(t);
  return f < t ? nextFloat32(f, 1) : f;
}

function float32Below(t: number): number {
  const f = Math.fround(t);
  return f > t ? nextFloat32(f, -1) : f;
}

/** The float32 neighbour of a finite float32 f towards +Infinity (direction 1) or -Infinity (-1). */
function nextFloat32(f: number, direction: 1 | -1): number {
  const bits = new Int32Array(new Float32Array([f]).buffer);
  if (f === 0) return direction * 1e-45;
  bits[0] = (bits[0] as number) + (f > 0 === direction > 0 ? 1 : -1);
  return new Float32Array(bits.buffer)[0] as number;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function moduleExports(instance: WebAssembly.Instance): ModuleExports {
  const exported = instance.exports;
  const memory = exported['memory'];
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('the kernel module exports no memory');
  return {
    memory,
    heapBase: exportedFunction(exported, 'heapBase'),
    workBytes: exportedFunction(exported, 'workBytes'),
    matmul: exportedFunction(exported, 'matmul'),
    sumOfSquares: exportedFunction(exported, 'sumOfSquares'),
    scaleInPlace: exportedFunction(exported, 'scaleInPlace'),
    addInPlace: exportedFunction(exported, 'addInPlace'),
    moments: exportedFunction(exported, 'moments'),
    histogram: exportedFunction(exported, 'histogram'),
    histogramScratchBytes: exportedFunction(exported, 'histogramScratchBytes'),
    activationMoments: exportedFunction(exported, 'activationMoments'),
    simdPeak: exportedFunction(exported, 'simdPeak'),
    simdPeakFlopsPerIteration: exportedFunction(exported, 'simdPeakFlopsPerIteration'),
    tanhForward: exportedFunction(exported, 'tanhForward'),
    sigmoidForward: exportedFunction(exported, 'sigmoidForward'),
    geluForward: exportedFunction(exported, 'geluForward'),
    geluBackward: exportedFunction(exported, 'geluBackward'),
    lstmForward: exportedFunction(exported, 'lstmForward'),
    lstmBackward: exportedFunction(exported, 'lstmBackward'),
    conv2dForward: exportedFunction(exported, 'conv2dForward'),
    conv2dBackward: exportedFunction(exported, 'conv2dBackward'),
  };
}

function exportedFunction<F extends (...args: never[]) => unknown>(
  exported: WebAssembly.Exports,
  name: string,
): F {
  const value = exported[name];
  if (typeof value !== 'function') throw new Error(`the kernel module exports no function '${name}'`);
  // The module is built from asm/ together with this file: its signatures are the ones ModuleExports declares.
  return value as F;
}
