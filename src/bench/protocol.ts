/**
 * The benchmark's one source of truth: the workloads of issue 5 as data, and the JSON contract between the
 * orchestrator (`run.ts`) and the runners it starts as child processes (gradscope's own `worker.ts` and the peers
 * in `bench/peers/`). Every runner reads a `RunSpec` as its first argument and prints exactly one line that starts
 * with `RESULT_MARKER` followed by a `RunResult` (anything else it prints, such as a library's banner, is ignored).
 *
 * One child process runs one workload once (warm-up, then one timed repetition), so each result's peak RSS belongs
 * to that workload alone, and the orchestrator can interleave repetitions of different runners (round-robin) so
 * that a burst of load from other processes on the shared cores hits every runner alike.
 */

export const RESULT_MARKER = '@@gradscope-bench@@';

/** W1: an MLP trained with softmax cross-entropy and plain SGD. */
export interface MlpShape {
  input: number;
  /** Width of every hidden layer. */
  width: number;
  /** Number of hidden layers (each tanh). */
  depth: number;
  classes: number;
  batch: number;
  learningRate: number;
}

/** W2: a one-layer LSTM over a time-major sequence, a linear head on the last hidden state, MSE, full BPTT. */
export interface LstmShape {
  input: number;
  hidden: number;
  steps: number;
  batch: number;
  output: number;
  learningRate: number;
}

/** W3: one matrix product C [m, n] = A [m, k] B [k, n] and the two transposed products its backward needs. */
export interface MatmulShape {
  name: string;
  m: number;
  k: number;
  n: number;
}

/** W5: a conv net (issue 12): 3x3 "same" conv layers with ReLU, flatten, a linear head, softmax cross-entropy, SGD. */
export interface ConvShape {
  /** Input images: channels x size x size. */
  inChannels: number;
  size: number;
  /** Output channels of each conv layer (every one 3x3, stride 1, padding 1, no pooling). */
  channels: number[];
  classes: number;
  batch: number;
  learningRate: number;
}

/**
 * W6: a Pre-LN Transformer encoder (issue 13): features -> dModel, sinusoidal positions, `layers` blocks of
 * self-attention (`heads`) and a GELU feed-forward of `ffWidth`, final LayerNorm, mean over the sequence, a linear
 * head, softmax cross-entropy, SGD; no dropout.
 */
export interface TransformerShape {
  input: number;
  dModel: number;
  heads: number;
  ffWidth: number;
  layers: number;
  seq: number;
  batch: number;
  classes: number;
  learningRate: number;
}

export interface Shapes {
  mlp: MlpShape;
  lstm: LstmShape;
  matmul: MatmulShape[];
  conv: ConvShape;
  transformer: TransformerShape;
}

/** The workloads as issue 5 defines them (W1-W4), and issue 16's conv and Transformer workloads (W5, W6). */
export const SHAPES: Shapes = {
  mlp: { input: 256, width: 256, depth: 8, classes: 10, batch: 64, learningRate: 0.01 },
  lstm: { input: 8, hidden: 128, steps: 50, batch: 32, output: 1, learningRate: 0.01 },
  matmul: [
    { name: '64x256x256', m: 64, k: 256, n: 256 },
    { name: '512x512x512', m: 512, k: 512, n: 512 },
  ],
  conv: { inChannels: 1, size: 28, channels: [32, 32], classes: 10, batch: 64, learningRate: 0.01 },
  transformer: {
    input: 32,
    dModel: 128,
    heads: 4,
    ffWidth: 512,
    layers: 2,
    seq: 64,
    batch: 16,
    classes: 10,
    learningRate: 0.01,
  },
};

/**
 * The three products W3 times for each shape; all cost 2 m k n flops.
 * - `NN`: C = A B, the forward product.
 * - `NT`: dA = dC Bᵀ, [m, n] x [k, n]ᵀ (the input gradient).
 * - `TN`: dB = Aᵀ dC, [m, k]ᵀ x [m, n] (the weight gradient).
 */
export const PRODUCTS = ['NN', 'NT', 'TN'] as const;
export type ProductKind = (typeof PRODUCTS)[number];

/**
 * Workload ids a child process runs. `W4-W1` / `W4-W2`: the monitor's overhead on W1 / W2's model; W5 the conv
 * net, W6 the Transformer (training steps like W1 and W2).
 */
export const WORKLOAD_IDS = ['W1', 'W2', 'W3', 'W4-W1', 'W4-W2', 'W5', 'W6'] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export interface RunSpec {
  workload: WorkloadId;
  shapes: Shapes;
  seed: number;
  /** Steps (or products) run untimed first: at least `minSteps` and at least `minSeconds`, at most `maxSteps`. */
  warmup: { minSteps: number; minSeconds: number; maxSteps: number };
  /**
   * The timed repetition's fixed iteration counts by key (`step` for W1/W2, `<shape>/<product>` for W3, `periods`
   * for W4), or null on the first round: a runner then picks ceil(targetSeconds / warm-up time per iteration)
   * clamped to [minIterations, maxIterations] and reports it, and the orchestrator passes those counts to every
   * later round.
   */
  iterations: Readonly<Record<string, number>> | null;
  calibration: { targetSeconds: number; minIterations: number; maxIterations: number };
  /** gradscope only: the kernels backend ('typescript', 'wasm' or 'wasm-relaxed'). */
  backend?: string;
  /** gradscope only: kernel threads (`src/kernels/threads.ts`); absent = 1. */
  threads?: number;
  /** W4 only: run the monitor-off training before the monitor-on one (alternates by round to cancel drift). */
  offFirst?: boolean;
  /** W4 only: a shorter monitor period than the trainer's default (the quick smoke test; no timing claim). */
  monitorEvery?: number;
}

export interface StepTiming {
  iterations: number;
  seconds: number;
  stepsPerSecond: number;
  /** Loss of the first warm-up step and of the last timed step: proof that the runner really trains. */
  firstLoss: number;
  lastLoss: number;
}

export interface ProductTiming {
  shape: string;
  product: ProductKind;
  m: number;
  k: number;
  n: number;
  iterations: number;
  seconds: number;
  gflops: number;
}

/** W4 as measured through gradscope's own trainer (`train()`), see `monitor-overhead.ts`. */
export interface MonitorTiming {
  /** The monitor period the trainer used (its default). */
  every: number;
  /** Steps in the measured window (whole periods, after warm-up; the always-monitored first and last steps excluded). */
  windowSteps: number;
  monitoredSteps: number;
  /** Median time of an unmonitored step in the monitor-on run. */
  plainStepMs: number;
  /** Mean extra time of a monitored step over `plainStepMs`, in the same run. */
  monitoredExtraMs: number;
  /** monitoredExtraMs x monitoredSteps / (plainStepMs x windowSteps): the overhead measured within one run. */
  overheadPercent: number;
  /** Mean step time with the monitor on over the mean with it off, minus 1 (two runs, noisier). */
  abOverheadPercent: number;
  /** Steps per second of the trainer with the monitor off (compare with W1 / W2 of the bench loop). */
  trainerStepsPerSecondOff: number;
  /** What the monitored steps did, for the report (per-parameter stats, activation stats, per-time-step gradients, doctor). */
  includes: string[];
}

/** The machine's WebAssembly SIMD peak on one thread (`measureSimdPeak` in src/kernels/wasm.ts), W3 only. */
export interface PeakTiming {
  /** `mul+add`: independent f32x4 multiplies and adds (plain SIMD); `relaxed_madd`: fused multiply-adds. */
  kind: 'mul+add' | 'relaxed_madd';
  gflops: number;
}

export interface MemoryUse {
  /** RSS just before the first step (runtime, libraries, model and data loaded). */
  baselineRssBytes: number;
  /** The largest RSS sampled after each forward and each backward pass. */
  sampledPeakRssBytes: number;
  /** The process's peak RSS over its whole life (getrusage maxrss). */
  maxRssBytes: number;
  /**
   * gradscope only: bytes of typed arrays the graph holds at the end of the forward pass (measured with forced
   * garbage collection on an untimed step), the engine's own count of what backward keeps.
   */
  graphBytes?: number;
}

export interface RunSuccess {
  ok: true;
  /** Runner id, e.g. `gradscope-typescript`, `jax-js`, `pytorch`. */
  runner: string;
  workload: WorkloadId;
  /** Library version(s) and backend details. */
  version: string;
  /** The iteration counts used (see `RunSpec.iterations`). */
  iterations: Record<string, number>;
  steps?: StepTiming;
  products?: ProductTiming[];
  /** W3 on a WebAssembly backend: the SIMD peak measured in the same process, before the products. */
  peaks?: PeakTiming[];
  monitor?: MonitorTiming;
  memory: MemoryUse;
  /** Where the runner's implementation differs from the workload's definition. */
  notes: string[];
  /** The round (0-based) it ran in; set by the orchestrator. */
  round?: number;
}

export interface RunFailure {
  ok: false;
  runner: string;
  workload: WorkloadId;
  error: string;
  round?: number;
}

export type RunResult = RunSuccess | RunFailure;

/** Print the result line a runner must end with. */
export function emitResult(result: RunResult): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

/** The iteration count for a timed repetition (see `RunSpec.iterations`). */
export function chooseIterations(spec: RunSpec, key: string, secondsPerIteration: number): number {
  const given = spec.iterations?.[key];
  if (given !== undefined) return given;
  const { targetSeconds, minIterations, maxIterations } = spec.calibration;
  const wanted = Math.ceil(targetSeconds / Math.max(secondsPerIteration, 1e-9));
  return Math.min(maxIterations, Math.max(minIterations, wanted));
}

/** The runner id of gradscope on `backend` with `threads` kernel threads: `gradscope-wasm`, `gradscope-wasm-2t`. */
export function gradscopeRunnerId(backend: string, threads = 1): string {
  return `gradscope-${backend}${threads > 1 ? `-${threads}t` : ''}`;
}

/** The runner id of PyTorch at `threads` threads: `pytorch`, `pytorch-2t`. */
export function pytorchRunnerId(threads = 1): string {
  return `pytorch${threads > 1 ? `-${threads}t` : ''}`;
}
