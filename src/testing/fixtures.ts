/**
 * Oracle fixtures: values and gradients computed by PyTorch in float64 (`scripts/make_fixtures.py`) and committed
 * as JSON under `fixtures/`, so tests compare the engine with a trusted framework without needing PyTorch.
 *
 * @example
 * const fx = loadFixture('dense-tanh');
 * const x = tensor(fx, 'x');
 * // ... run the engine on x ...
 * assertClose(engineGradX, fx.tensors['grad.x']!.data, { what: 'dense-tanh grad.x' });
 */
import { AssertionError } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, type DType } from '../tensor/tensor.js';

/** One array of a fixture, flat in row-major order. */
export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface Fixture {
  name: string;
  /** What exactly was computed, including the loss definition. */
  description: string;
  /** `torch.__version__` of the PyTorch that produced the file. */
  torch: string;
  /** Settings of the layer or optimiser (lr, eps, momentum...), when the fixture has any. */
  hyperparameters?: Record<string, unknown>;
  tensors: Record<string, FixtureTensor>;
}

export type FixtureErrorCode =
  /** No `fixtures/<name>.json`: the name is wrong or the fixtures were not generated. */
  | 'missing-fixture'
  /** The file is not valid JSON or does not follow the fixture schema. */
  | 'malformed-fixture'
  /** The fixture has no tensor of the requested name. */
  | 'missing-tensor';

/** The one error type of this module; branch on `code`, never on the message. */
export class FixtureError extends Error {
  override readonly name = 'FixtureError';
  readonly code: FixtureErrorCode;

  constructor(code: FixtureErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const MAKE_FIXTURES_COMMAND = '/usr/bin/python3 scripts/make_fixtures.py';

let cachedRoot: string | null = null;

/**
 * The package root: the nearest directory above this module that holds a package.json. Walking up (rather than a
 * fixed `../..`) works both from `src/testing/fixtures.ts` under tsx and from `dist/testing/fixtures.js`.
 */
export function packageRoot(): string {
  if (cachedRoot !== null) return cachedRoot;
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (cachedRoot = dir);
    const parent = dirname(dir);
    if (parent === dir) {
      throw new FixtureError(
        'missing-fixture',
        `No package.json found in ${start} or any directory above it; the fixtures loader must run inside the gradscope package.`,
      );
    }
    dir = parent;
  }
}

/** The directory that holds the fixture files. */
export function fixturesDir(): string {
  return join(packageRoot(), 'fixtures');
}

/** Names of all fixtures on disk (file names without `.json`), sorted. */
export function listFixtures(): string[] {
  const dir = fixturesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/**
 * Read and validate `fixtures/<name>.json`. Throws a `FixtureError` naming the file (and the command that makes
 * it) when it is missing, and the offending path when it does not follow the schema.
 * @example const fx = loadFixture('lstm'); fx.tensors['timeGrad']?.shape; // [6]
 */
export function loadFixture(name: string): Fixture {
  const file = join(fixturesDir(), `${name}.json`);
  if (!existsSync(file)) {
    const available = listFixtures();
    throw new FixtureError(
      'missing-fixture',
      `Fixture file ${file} not found. Generate the fixtures with \`${MAKE_FIXTURES_COMMAND}\` (needs PyTorch) ` +
        `from the package root, or pick an existing name: ${available.length > 0 ? available.join(', ') : '(none on disk)'}.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FixtureError(
      'malformed-fixture',
      `Fixture file ${file} is not valid JSON (${(error as Error).message}); regenerate it with \`${MAKE_FIXTURES_COMMAND}\`.`,
    );
  }
  return validateFixture(parsed, file);
}

/** Check that `value` follows the fixture schema; `file` is only used in error messages. */
export function validateFixture(value: unknown, file: string): Fixture {
  const fail = (path: string, problem: string): never => {
    throw new FixtureError(
      'malformed-fixture',
      `${file}: ${path} ${problem}; regenerate the file with \`${MAKE_FIXTURES_COMMAND}\`.`,
    );
  };
  if (!isRecord(value)) return fail('the top level', 'must be an object');
  const { name, description, torch, hyperparameters, tensors } = value;
  if (typeof name !== 'string') return fail('name', 'must be a string');
  if (typeof description !== 'string') return fail('description', 'must be a string');
  if (typeof torch !== 'string') return fail('torch', 'must be a string');
  if (hyperparameters !== undefined && !isRecord(hyperparameters))
    return fail('hyperparameters', 'must be an object');
  if (!isRecord(tensors)) return fail('tensors', 'must be an object');
  const checked: Record<string, FixtureTensor> = {};
  for (const [key, entry] of Object.entries(tensors)) {
    const path = `tensors['${key}']`;
    if (!isRecord(entry)) return fail(path, 'must be an object with shape and data');
    const { shape, data } = entry;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
      return fail(`${path}.shape`, 'must be an array of non-negative integers');
    }
    if (!Array.isArray(data) || !data.every((v) => typeof v === 'number')) {
      return fail(`${path}.data`, 'must be an array of numbers');
    }
    const size = (shape as number[]).reduce((n, d) => n * d, 1);
    if (data.length !== size) {
      return fail(`${path}.data`, `has ${data.length} values but shape [${shape.join(', ')}] needs ${size}`);
    }
    checked[key] = { shape: shape as number[], data: data as number[] };
  }
  const fixture: Fixture = { name, description, torch, tensors: checked };
  if (hyperparameters !== undefined) fixture.hyperparameters = hyperparameters;
  return fixture;
}

/** The fixture tensor `name`, or a `FixtureError` listing the names the fixture does have. */
export function fixtureTensor(fx: Fixture, name: string): FixtureTensor {
  const entry = fx.tensors[name];
  if (entry === undefined) {
    throw new FixtureError(
      'missing-tensor',
      `Fixture '${fx.name}' has no tensor '${name}'; it has: ${Object.keys(fx.tensors).join(', ')}.`,
    );
  }
  return entry;
}

/**
 * A fixture tensor as an engine `Tensor` (a fresh copy, no graph; set `requiresGrad` yourself).
 * @example const w = tensor(fx, 'layers.0.weight'); w.requiresGrad = true;
 */
export function tensor(fx: Fixture, name: string, dtype: DType = 'float64'): Tensor {
  const { shape, data } = fixtureTensor(fx, name);
  const buffer = dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
  return new Tensor(buffer, shape, { name });
}

export interface CloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** What is compared, for the failure message (e.g. 'dense-tanh grad.layers.0.weight'). */
  what: string;
}

/**
 * Element-wise `|actual - expected| <= atol + rtol * |expected|` (numpy's `allclose` rule). NaN matches only NaN
 * and an infinity only the same infinity, so NaN propagation can be asserted too. On failure it throws an
 * `AssertionError` naming `what`, the first bad index, both values, and how many elements failed.
 * @example assertClose(grad.data, fx.tensors['grad.x']!.data, { what: 'grad.x', rtol: 1e-9 });
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: CloseOptions,
): void {
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-8;
  const { what } = options;
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length mismatch, actual has ${actual.length} elements, expected ${expected.length}.`,
      actual: actual.length,
      expected: expected.length,
      operator: 'assertClose',
    });
  }
  let firstBad = -1;
  let bad = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (isClose(a, e, rtol, atol)) continue;
    if (firstBad < 0) firstBad = i;
    bad++;
    const diff = Math.abs(a - e);
    if (!(diff <= maxDiff)) maxDiff = diff;
  }
  if (firstBad < 0) return;
  const a = actual[firstBad] as number;
  const e = expected[firstBad] as number;
  throw new AssertionError({
    message:
      `${what}: mismatch at index ${firstBad}: actual ${a}, expected ${e} ` +
      `(|diff| ${Math.abs(a - e)} > atol ${atol} + rtol ${rtol} * |expected|); ` +
      `${bad} of ${expected.length} elements differ, max |diff| ${maxDiff}.`,
    actual: a,
    expected: e,
    operator: 'assertClose',
  });
}

function isClose(a: number, e: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(e) || Number.isNaN(a)) return Number.isNaN(a) && Number.isNaN(e);
  if (!Number.isFinite(e) || !Number.isFinite(a)) return a === e;
  return Math.abs(a - e) <= atol + rtol * Math.abs(e);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
