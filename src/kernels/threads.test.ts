import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { resolveConfig } from '../config/index.js';
import { GradscopeError } from '../util/errors.js';
import { Rng } from '../tensor/rng.js';
import { TrainingSession } from '../train/session.js';
import { kernels, setKernels } from './index.js';
import {
  SLOT,
  SPLIT_MIN_MULTIPLY_ADDS,
  ThreadPool,
  createThreadedKernels,
  defaultThreads,
  threadsUnavailableReason,
  useThreads,
  type ThreadedKernels,
} from './threads.js';
import { createWasmKernels, wasmRelaxedSimdSupported } from './wasm.js';

// Node 20 has relaxed SIMD only behind a flag (this file runs in its own process), so CI checks both builds.
if (threadsUnavailableReason() === null && !wasmRelaxedSimdSupported()) {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}
const unavailable = threadsUnavailableReason();
const BUILDS = wasmRelaxedSimdSupported() ? [false, true] : [false];

function random(length: number, rng: Rng): Float32Array {
  const out = new Float32Array(length);
  rng.fillNormal(out);
  return out;
}

/** Index of the first element whose bits differ, or -1 (NaN == NaN, +0 != -0: bits, not values). */
function firstDifference(x: Float32Array, y: Float32Array): number {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** The private control block, to play a misbehaving worker in the tests. */
function controlOf(pool: ThreadPool): Int32Array {
  return (pool as unknown as { ctl: Int32Array }).ctl;
}

const pools: ThreadPool[] = [];
function pool(threads: number, fusedMultiplyAdd: boolean, timeoutMs?: number): ThreadPool {
  const made = new ThreadPool({
    threads,
    fusedMultiplyAdd,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  pools.push(made);
  assert.ok(made.waitUntilReady(60_000), `the ${threads - 1} workers did not start within 60 s`);
  return made;
}
after(() => {
  for (const made of pools) made.close();
});

// Odd sizes, tails of the 4 x 8 tile and of the 128 / 256 / 1024 cache blocks, a single row or column, k = 0.
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [3, 5, 7],
  [5, 300, 9],
  [33, 17, 65],
  [130, 257, 11],
  [9, 70, 1030],
  [259, 3, 131],
  [1, 513, 600],
  [600, 40, 1],
  [17, 0, 23],
];

describe('ThreadPool.matmul', { skip: unavailable ?? false }, () => {
  for (const fusedMultiplyAdd of BUILDS) {
    for (const threads of [2, 3]) {
      it(`is bit-identical to one thread on odd shapes and tails (${threads} threads, ${fusedMultiplyAdd ? 'relaxed' : 'plain'} SIMD)`, () => {
        const base = createWasmKernels({ fusedMultiplyAdd });
        const threaded = pool(threads, fusedMultiplyAdd);
        const rng = new Rng(threads);
        for (const [m, k, n] of SHAPES) {
          for (const transA of [false, true]) {
            for (const transB of [false, true]) {
              for (const accumulate of [false, true]) {
                const a = random(m * k, rng);
                const b = random(k * n, rng);
                const start = random(m * n, rng);
                const one = start.slice();
                const many = start.slice();
                base.matmul(a, b, one, m, k, n, transA, transB, accumulate);
                assert.equal(threaded.matmul(a, b, many, m, k, n, transA, transB, accumulate), true);
                const at = firstDifference(one, many);
                assert.equal(
                  at,
                  -1,
                  `${m}x${k}x${n} transA=${transA} transB=${transB} accumulate=${accumulate}: element ${at} is ${many[at]}, one thread gave ${one[at]}`,
                );
              }
            }
          }
        }
        // x^T x: one operand copied once.
        const x = random(70 * 90, rng);
        const one = new Float32Array(90 * 90);
        const many = new Float32Array(90 * 90);
        base.matmul(x, x, one, 90, 70, 90, true, false, false);
        threaded.matmul(x, x, many, 90, 70, 90, true, false, false);
        assert.equal(firstDifference(one, many), -1);
        const stats = threaded.stats();
        assert.equal(stats.failure, null);
        assert.equal(stats.readyWorkers, threads - 1);
        assert.ok(stats.splitProducts >= SHAPES.length * 8);
      });
    }
  }

  it('lets the workers compute blocks (not only the calling thread)', () => {
    const threaded = pool(2, false);
    const rng = new Rng(5);
    const [m, k, n] = [256, 256, 256];
    const a = random(m * k, rng);
    const b = random(k * n, rng);
    const c = new Float32Array(m * n);
    for (let round = 0; round < 200 && threaded.stats().workerBlocks === 0; round++) {
      threaded.matmul(a, b, c, m, k, n, false, false, false);
    }
    assert.ok(threaded.stats().workerBlocks > 0, 'the worker took no block in 200 products');
  });
});

describe('createThreadedKernels', { skip: unavailable ?? false }, () => {
  it('splits only products large enough to pay, and gives the same bits either way', () => {
    const base = createWasmKernels({ fusedMultiplyAdd: false });
    const threaded = createThreadedKernels(base, pool(2, false));
    const rng = new Rng(2);
    for (const [m, k, n] of [
      [64, 256, 256],
      [8, 8, 8],
    ] as Array<[number, number, number]>) {
      const a = random(m * k, rng);
      const b = random(n * k, rng);
      const before = threaded.pool.stats().splitProducts;
      const one = new Float32Array(m * n);
      const many = new Float32Array(m * n);
      base.matmul(a, b, one, m, k, n, false, true, false);
      threaded.matmul(a, b, many, m, k, n, false, true, false);
      assert.equal(firstDifference(one, many), -1);
      const split = threaded.pool.stats().splitProducts > before;
      assert.equal(split, m * k * n >= SPLIT_MIN_MULTIPLY_ADDS, `${m}x${k}x${n}`);
    }
    // float64 goes to the TypeScript reference, as with one thread.
    const c = new Float64Array(4);
    threaded.matmul(
      new Float64Array([1, 2, 3, 4]),
      new Float64Array([1, 0, 0, 1]),
      c,
      2,
      2,
      2,
      false,
      false,
      false,
    );
    assert.deepEqual([...c], [1, 2, 3, 4]);
    assert.throws(
      () =>
        threaded.matmul(
          new Float32Array(3),
          new Float32Array(4),
          new Float32Array(4),
          2,
          2,
          2,
          false,
          false,
          false,
        ),
      /A is too short/,
    );
  });

  it('falls back to one thread, with one warning line, when a worker reports a failure', () => {
    const base = createWasmKernels({ fusedMultiplyAdd: false });
    const threaded = createThreadedKernels(base, pool(2, false));
    const ctl = controlOf(threaded.pool);
    // What a worker's catch writes when it throws.
    const text = new TextEncoder().encode('thread 1: a test failure');
    new Uint8Array(ctl.buffer, SLOT.message * 4, text.length).set(text);
    Atomics.store(ctl, SLOT.messageLength, text.length);
    Atomics.store(ctl, SLOT.failed, 1);
    const warnings = captureWarnings(() => {
      const rng = new Rng(3);
      for (let round = 0; round < 2; round++) {
        const a = random(128 * 256, rng);
        const b = random(256 * 256, rng);
        const one = new Float32Array(128 * 256);
        const many = new Float32Array(128 * 256);
        base.matmul(a, b, one, 128, 256, 256, false, false, false);
        threaded.matmul(a, b, many, 128, 256, 256, false, false, false);
        assert.equal(firstDifference(one, many), -1);
      }
    });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /kernel threads stopped \(thread 1: a test failure\).*one thread/);
    assert.equal(threaded.pool.running, false);
    assert.equal(threaded.pool.stats().failure, 'thread 1: a test failure');
  });

  it('never hangs: a worker that takes a block and dies makes the product time out and run on one thread', () => {
    const base = createWasmKernels({ fusedMultiplyAdd: false });
    const threaded = createThreadedKernels(base, pool(3, false, 300));
    const ctl = controlOf(threaded.pool);
    const grabbed = new Int32Array(new SharedArrayBuffer(4));
    // A rogue thread that follows the protocol far enough to take a block, then never finishes it.
    const rogue = new Worker(
      `const { workerData: { control, flag, slot: S } } = require('node:worker_threads');
       const ctl = new Int32Array(control);
       const grabbed = new Int32Array(flag);
       for (;;) {
         const seen = Atomics.load(ctl, S.wake);
         const next = Atomics.load(ctl, S.next);
         if (Atomics.load(ctl, S.paramGen) === next >>> 10 && (next & 1023) < Atomics.load(ctl, S.params + 11) &&
             Atomics.compareExchange(ctl, S.next, next, next + 1) === next) {
           Atomics.store(grabbed, 0, 1);
           break;
         }
         Atomics.wait(ctl, S.wake, seen, 5);
       }`,
      { eval: true, workerData: { control: ctl.buffer, flag: grabbed.buffer, slot: SLOT } },
    );
    rogue.unref();
    try {
      const rng = new Rng(4);
      const [m, k, n] = [384, 384, 384];
      const a = random(m * k, rng);
      const b = random(k * n, rng);
      const one = new Float32Array(m * n);
      base.matmul(a, b, one, m, k, n, false, false, false);
      const warnings = captureWarnings(() => {
        for (let round = 0; round < 100 && Atomics.load(grabbed, 0) === 0; round++) {
          const many = new Float32Array(m * n);
          threaded.matmul(a, b, many, m, k, n, false, false, false);
          assert.equal(firstDifference(one, many), -1, `round ${round}`);
        }
      });
      assert.equal(Atomics.load(grabbed, 0), 1, 'the rogue worker never took a block');
      assert.equal(threaded.pool.running, false);
      assert.match(threaded.pool.stats().failure ?? '', /no progress for 300 ms/);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      // The pool is abandoned: later products run on one thread, the same bits.
      const many = new Float32Array(m * n);
      threaded.matmul(a, b, many, m, k, n, false, false, false);
      assert.equal(firstDifference(one, many), -1);
    } finally {
      void rogue.terminate();
    }
  });

  it('shuts down: a closed pool refuses products, and the kernels run them on one thread', () => {
    const base = createWasmKernels({ fusedMultiplyAdd: false });
    const threaded = createThreadedKernels(base, pool(3, false));
    threaded.pool.close();
    assert.equal(threaded.pool.running, false);
    const rng = new Rng(6);
    const a = random(128 * 256, rng);
    const b = random(256 * 128, rng);
    const c = new Float32Array(128 * 128);
    assert.equal(threaded.pool.matmul(a, b, c, 128, 256, 128, false, false, false), false);
    assert.ok(
      c.every((v) => v === 0),
      'a refused product leaves C alone',
    );
    const one = new Float32Array(128 * 128);
    base.matmul(a, b, one, 128, 256, 128, false, false, false);
    threaded.matmul(a, b, c, 128, 256, 128, false, false, false);
    assert.equal(firstDifference(one, c), -1);
  });

  it('lets a process that never closes its pool exit by itself (the workers are unref-ed)', () => {
    const script = `
      import { useThreads } from ${JSON.stringify(new URL('./threads.js', import.meta.url).href)};
      import { kernels } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
      const used = useThreads(2);
      const k = kernels();
      k.pool.waitUntilReady(60000);
      const a = new Float32Array(256 * 256).fill(1);
      const c = new Float32Array(256 * 256);
      k.matmul(a, a, c, 256, 256, 256, false, false, false);
      console.log(used, c[0], k.pool.stats().splitProducts);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(child.signal, null, `the process did not exit by itself: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), '2 256 1');
  });
});

describe('useThreads and the threads setting', { skip: unavailable ?? false }, () => {
  it('installs the threaded kernels over the active WebAssembly backend, and 1 restores it exactly', () => {
    const previous = setKernels(createWasmKernels({ fusedMultiplyAdd: false }));
    try {
      const single = kernels();
      assert.equal(useThreads(2), 2);
      const threaded = kernels() as ThreadedKernels;
      assert.equal(threaded.threads, 2);
      assert.equal(threaded.base, single);
      assert.equal(threaded.name, single.name);
      assert.equal(useThreads(1), 1);
      assert.equal(kernels(), single);
      assert.equal(useThreads(2), 2);
      assert.equal((kernels() as ThreadedKernels).pool, threaded.pool, 'one pool per thread count');
      assert.ok(defaultThreads() >= 1 && defaultThreads() <= 4);
    } finally {
      setKernels(previous);
    }
  });

  it('trains to the same loss bits and weights with threads 2 as with threads 1', () => {
    const previous = setKernels(createWasmKernels({ fusedMultiplyAdd: false }));
    try {
      // Width 256 and batch 64: the hidden products (64 x 256 x 256) are split.
      const raw = {
        task: { name: 'teacher', inputs: 256, classes: 4, size: 512 },
        model: { kind: 'mlp', hidden: [256, 256, 256], activation: 'tanh' },
        optimizer: { name: 'adam', learningRate: 1e-3 },
        train: { steps: 6, batchSize: 64 },
        monitor: { every: 3 },
      };
      const runWith = (threads: number): { losses: number[]; weights: Float32Array[]; split: number } => {
        const session = new TrainingSession(resolveConfig({ ...raw, threads }, { defaultName: 'threads' }));
        const active = kernels() as Partial<ThreadedKernels>;
        if (threads > 1) assert.ok(active.pool?.waitUntilReady(60_000));
        const before = active.pool?.stats().splitProducts ?? 0;
        const losses: number[] = [];
        while (!session.done) losses.push(session.step().loss);
        const split = (active.pool?.stats().splitProducts ?? 0) - before;
        return {
          losses,
          weights: session.model.parameters().map((p) => Float32Array.from(p.data)),
          split,
        };
      };
      const one = runWith(1);
      const two = runWith(2);
      assert.equal(one.split, 0);
      assert.ok(two.split > 0, 'no product was split');
      assert.deepEqual(two.losses, one.losses);
      assert.equal(two.weights.length, one.weights.length);
      one.weights.forEach((w, i) => assert.equal(firstDifference(w, two.weights[i] as Float32Array), -1));
    } finally {
      setKernels(previous);
    }
  });

  it('refuses a bad threads value naming the field, the value and what is accepted', () => {
    for (const value of [0, 65, 1.5, 'two']) {
      assert.throws(
        () => resolveConfig({ threads: value }, { defaultName: 'x' }),
        (error: unknown) =>
          error instanceof GradscopeError &&
          error.path === 'threads' &&
          /threads: .* is not accepted; expected .*integer in \[1, 64\]/.test(error.message),
      );
    }
    assert.equal(resolveConfig({}, { defaultName: 'x' }).threads, 'auto');
    assert.equal(resolveConfig({ threads: 3 }, { defaultName: 'x' }).threads, 3);
  });
});

function captureWarnings(run: () => void): string[] {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  try {
    run();
  } finally {
    console.warn = original;
  }
  return lines;
}

// The TypeScript backend never splits: threads apply to the WebAssembly kernels only.
describe('useThreads on the TypeScript kernels', () => {
  it('keeps one thread', async () => {
    const { tsKernels } = await import('./ts.js');
    const previous = setKernels(tsKernels);
    try {
      assert.equal(useThreads(2), 1);
      assert.equal(kernels(), tsKernels);
    } finally {
      setKernels(previous);
    }
  });
});
