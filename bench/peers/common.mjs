// Shared plumbing for the JavaScript peers: read the RunSpec (src/bench/protocol.ts), warm up, pick or reuse the
// fixed iteration count, time one repetition, sample RSS, and print the one RESULT line the orchestrator reads.
// Plain JavaScript on purpose: the peers are not part of gradscope's type-checked library.

export const RESULT_MARKER = '@@gradscope-bench@@';

/** The RunSpec passed as the first argument (JSON). */
export function readSpec() {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: node <peer>.mjs '<RunSpec JSON>' (the bench orchestrator passes it)");
  return JSON.parse(raw);
}

export function emit(result) {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

/** Run `main(spec)` and print its result, or a failure line (never throws past here). */
export async function runPeer(runner, main) {
  let spec;
  try {
    spec = readSpec();
    const result = await main(spec);
    emit({ ok: true, runner, workload: spec.workload, ...result });
  } catch (error) {
    const message = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    emit({ ok: false, runner, workload: spec?.workload ?? 'W1', error: message });
    process.exitCode = 1;
  }
}

const rss = () => process.memoryUsage.rss();

/** Tracks the RSS baseline (before the first step) and the largest RSS sampled during steps. */
export class MemoryProbe {
  constructor() {
    this.baseline = rss();
    this.peak = this.baseline;
  }
  sample() {
    const now = rss();
    if (now > this.peak) this.peak = now;
  }
  result(extra = {}) {
    return {
      baselineRssBytes: this.baseline,
      sampledPeakRssBytes: this.peak,
      // resourceUsage().maxRSS is in kilobytes.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      ...extra,
    };
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The fixed iteration count under `key`: the one the orchestrator passed, or calibrated from the warm-up. */
export function chooseIterations(spec, key, secondsPerIteration) {
  const given = spec.iterations?.[key];
  if (given !== undefined) return given;
  const { targetSeconds, minIterations, maxIterations } = spec.calibration;
  const wanted = Math.ceil(targetSeconds / Math.max(secondsPerIteration, 1e-9));
  return Math.min(maxIterations, Math.max(minIterations, wanted));
}

/**
 * Warm up, then time `iterations` calls of `step` (which returns the loss, synchronously or as a promise).
 * `step` must finish its work before returning (read the loss back), so the clock sees the whole step.
 */
export async function timeSteps(spec, step, memory) {
  const { minSteps, minSeconds, maxSteps } = spec.warmup;
  const warmTimes = [];
  const warmStart = performance.now();
  let firstLoss = NaN;
  for (let i = 0; i < maxSteps; i++) {
    const t = performance.now();
    const loss = await step();
    warmTimes.push((performance.now() - t) / 1000);
    memory.sample();
    if (i === 0) firstLoss = loss;
    if (i + 1 >= minSteps && (performance.now() - warmStart) / 1000 >= minSeconds) break;
  }
  const perStep = median(warmTimes.length > 1 ? warmTimes.slice(1) : warmTimes);
  const iterations = chooseIterations(spec, 'step', perStep);
  let lastLoss = NaN;
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    lastLoss = await step();
    memory.sample();
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    timing: { iterations, seconds, stepsPerSecond: iterations / seconds, firstLoss, lastLoss },
    iterations: { step: iterations },
  };
}

/**
 * W3: time each product of each shape. `makeProduct(shape, kind)` returns a function that runs one product to
 * completion (and frees its result).
 */
export async function timeProducts(spec, products, makeProduct) {
  const results = [];
  const iterationsUsed = {};
  for (const shape of spec.shapes.matmul) {
    for (const kind of products) {
      const run = await makeProduct(shape, kind);
      const key = `${shape.name}/${kind}`;
      const warmStart = performance.now();
      const warmTimes = [];
      for (let i = 0; i < spec.warmup.maxSteps; i++) {
        const t = performance.now();
        await run();
        warmTimes.push((performance.now() - t) / 1000);
        if (i + 1 >= spec.warmup.minSteps && (performance.now() - warmStart) / 1000 >= spec.warmup.minSeconds)
          break;
      }
      const iterations = chooseIterations(spec, key, median(warmTimes));
      const start = performance.now();
      for (let i = 0; i < iterations; i++) await run();
      const seconds = (performance.now() - start) / 1000;
      iterationsUsed[key] = iterations;
      const { m, k, n } = shape;
      results.push({
        shape: shape.name,
        product: kind,
        m,
        k,
        n,
        iterations,
        seconds,
        gflops: (2 * m * k * n * iterations) / seconds / 1e9,
      });
    }
  }
  return { products: results, iterations: iterationsUsed };
}

/** Deterministic data shared by every peer: a small xorshift generator, normal by Box-Muller. */
export function makeRandom(seed) {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return {
    uniform: next,
    normal() {
      return Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    },
    fillNormal(n, std = 1) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = this.normal() * std;
      return a;
    },
    fillUniform(n, low, high) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = low + (high - low) * next();
      return a;
    },
    labels(n, classes) {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = Math.floor(next() * classes);
      return a;
    },
  };
}

/** One-hot rows for class ids. */
export function oneHot(labels, classes) {
  const a = new Float32Array(labels.length * classes);
  labels.forEach((c, r) => (a[r * classes + c] = 1));
  return a;
}
