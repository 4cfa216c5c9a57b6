/**
 * The child process that runs one gradscope workload once: `node --expose-gc dist/bench/worker.js '<RunSpec>'`.
 * Prints one result line (see `protocol.ts`). The orchestrator starts one per workload and repetition, so each
 * workload's memory is its own.
 */
import { kernels } from '../kernels/index.js';
import { useThreads, type ThreadedKernels } from '../kernels/threads.js';
import { measureSimdPeak } from '../kernels/wasm.js';
import { installBackend, isBackendName } from './backends.js';
import { measureMonitorOverhead } from './monitor-overhead.js';
import {
  PRODUCTS,
  gradscopeRunnerId,
  chooseIterations,
  emitResult,
  type MemoryUse,
  type PeakTiming,
  type ProductTiming,
  type RunSpec,
  type RunSuccess,
  type StepTiming,
} from './protocol.js';
import { median } from './stats.js';
import { convTraining, lstmTraining, mlpTraining, transformerTraining, type Trainable } from './training.js';

const rss = (): number => process.memoryUsage.rss();

function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Warm up, then time a fixed number of steps, sampling RSS after each forward and backward pass. */
async function timeTraining(
  spec: RunSpec,
  training: Trainable,
): Promise<{ timing: StepTiming; memory: MemoryUse; iterations: number }> {
  const baselineRssBytes = rss();
  let peak = baselineRssBytes;
  const probe = (): void => {
    const now = rss();
    if (now > peak) peak = now;
  };
  const { minSteps, minSeconds, maxSteps } = spec.warmup;
  const warmTimes: number[] = [];
  const warmStart = performance.now();
  let firstLoss = NaN;
  for (let i = 0; i < maxSteps; i++) {
    const t = performance.now();
    const loss = training.step(probe);
    warmTimes.push((performance.now() - t) / 1000);
    if (i === 0) firstLoss = loss;
    if (i + 1 >= minSteps && (performance.now() - warmStart) / 1000 >= minSeconds) break;
  }
  const iterations = chooseIterations(
    spec,
    'step',
    median(warmTimes.length > 1 ? warmTimes.slice(1) : warmTimes),
  );
  const graphBytes = await training.graphBytes();
  let lastLoss = NaN;
  const start = performance.now();
  for (let i = 0; i < iterations; i++) lastLoss = training.step(probe);
  const seconds = (performance.now() - start) / 1000;
  return {
    timing: { iterations, seconds, stepsPerSecond: iterations / seconds, firstLoss, lastLoss },
    memory: {
      baselineRssBytes,
      sampledPeakRssBytes: peak,
      maxRssBytes: maxRss(),
      ...(graphBytes === null ? {} : { graphBytes }),
    },
    iterations,
  };
}

function fill(n: number, seed: number): Float32Array {
  // A cheap deterministic fill; the values only need to be finite and varied.
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/** W3: the active kernels' matmul on the shapes and products of `protocol.ts`, into preallocated outputs. */
function timeProducts(spec: RunSpec): { products: ProductTiming[]; iterations: Record<string, number> } {
  const matmul = kernels().matmul.bind(kernels());
  const products: ProductTiming[] = [];
  const iterations: Record<string, number> = {};
  for (const shape of spec.shapes.matmul) {
    const { m, k, n } = shape;
    const a = fill(m * k, 1);
    const b = fill(k * n, 2);
    const dc = fill(m * n, 3);
    const c = new Float32Array(m * n);
    const da = new Float32Array(m * k);
    const db = new Float32Array(k * n);
    const runs = {
      NN: () => matmul(a, b, c, m, k, n, false, false, false),
      NT: () => matmul(dc, b, da, m, n, k, false, true, false),
      TN: () => matmul(a, dc, db, k, m, n, true, false, false),
    } as const;
    for (const kind of PRODUCTS) {
      const run = runs[kind];
      const warmTimes: number[] = [];
      const warmStart = performance.now();
      for (let i = 0; i < spec.warmup.maxSteps; i++) {
        const t = performance.now();
        run();
        warmTimes.push((performance.now() - t) / 1000);
        if (i + 1 >= spec.warmup.minSteps && (performance.now() - warmStart) / 1000 >= spec.warmup.minSeconds)
          break;
      }
      const key = `${shape.name}/${kind}`;
      const count = chooseIterations(spec, key, median(warmTimes));
      const start = performance.now();
      for (let i = 0; i < count; i++) run();
      const seconds = (performance.now() - start) / 1000;
      iterations[key] = count;
      products.push({
        shape: shape.name,
        product: kind,
        m,
        k,
        n,
        iterations: count,
        seconds,
        gflops: (2 * m * k * n * count) / seconds / 1e9,
      });
    }
  }
  return { products, iterations };
}

async function run(spec: RunSpec): Promise<RunSuccess> {
  const backend = spec.backend ?? 'typescript';
  if (!isBackendName(backend))
    throw new Error(`unknown kernels backend "${backend}"; use typescript, wasm or wasm-relaxed.`);
  const installed = await installBackend(backend);
  // Every session sets the kernels' threads from its config, whose default follows GRADSCOPE_THREADS.
  process.env['GRADSCOPE_THREADS'] = String(spec.threads ?? 1);
  const threads = useThreads(spec.threads ?? 1);
  const pool = (kernels() as Partial<ThreadedKernels>).pool;
  if (pool !== undefined && !pool.waitUntilReady(60_000))
    throw new Error('the kernel threads did not start in 60 s');
  const runner = gradscopeRunnerId(backend, spec.threads);
  const version = `gradscope, ${installed.name} kernels, ${threads} thread${threads > 1 ? 's' : ''}, Node ${process.version}`;
  const base = { ok: true as const, runner, workload: spec.workload, version, notes: [] as string[] };
  switch (spec.workload) {
    case 'W1':
    case 'W2':
    case 'W5':
    case 'W6': {
      const builders = {
        W1: () => mlpTraining(spec.shapes.mlp, spec.seed),
        W2: () => lstmTraining(spec.shapes.lstm, spec.seed),
        W5: () => convTraining(spec.shapes.conv, spec.seed),
        W6: () => transformerTraining(spec.shapes.transformer, spec.seed),
      } as const;
      const training = builders[spec.workload]();
      const { timing, memory, iterations } = await timeTraining(spec, training);
      return { ...base, steps: timing, memory, iterations: { step: iterations } };
    }
    case 'W3': {
      const baselineRssBytes = rss();
      // The peak first (a second or two of pure arithmetic), so the products are read against this machine's limit.
      const peaks: PeakTiming[] = [];
      const quick = spec.calibration.targetSeconds === 0;
      const peakOptions = quick ? { seconds: 0.005, repetitions: 1 } : { seconds: 0.2, repetitions: 5 };
      // One thread's peak: the threaded runner's products are read against the single-thread runner's.
      if (backend !== 'typescript' && threads === 1) {
        for (const fused of backend === 'wasm-relaxed' ? [false, true] : [false]) {
          const peak = measureSimdPeak({ fusedMultiplyAdd: fused, ...peakOptions });
          peaks.push({ kind: peak.kind, gflops: peak.gflops });
        }
      }
      const { products, iterations } = timeProducts(spec);
      return {
        ...base,
        products,
        ...(peaks.length > 0 ? { peaks } : {}),
        iterations,
        memory: { baselineRssBytes, sampledPeakRssBytes: rss(), maxRssBytes: maxRss() },
      };
    }
    case 'W4-W1':
    case 'W4-W2': {
      const baselineRssBytes = rss();
      const periods = spec.iterations?.['periods'] ?? spec.calibration.minIterations;
      const monitor = measureMonitorOverhead(
        spec.workload === 'W4-W1' ? 'W1' : 'W2',
        spec.shapes,
        spec.seed,
        {
          ...(spec.monitorEvery === undefined ? {} : { every: spec.monitorEvery }),
          periods,
          warmupSteps: spec.warmup.minSteps,
          warmupSeconds: spec.warmup.minSeconds,
          offFirst: spec.offFirst ?? false,
        },
      );
      if (spec.workload === 'W4-W2')
        base.notes.push('trains on the adding task: 2 inputs per time step instead of 8');
      return {
        ...base,
        monitor,
        iterations: { periods },
        memory: { baselineRssBytes, sampledPeakRssBytes: rss(), maxRssBytes: maxRss() },
      };
    }
  }
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) {
    process.stderr.write(
      "usage: node --expose-gc dist/bench/worker.js '<RunSpec JSON>' (npm run bench starts it)\n",
    );
    process.exitCode = 2;
    return;
  }
  const spec = JSON.parse(raw) as RunSpec;
  try {
    emitResult(await run(spec));
  } catch (error) {
    const message = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    emitResult({
      ok: false,
      runner: gradscopeRunnerId(spec.backend ?? 'typescript', spec.threads),
      workload: spec.workload,
      error: message,
    });
    process.exitCode = 1;
  }
}

await main();
