/**
 * Every core: the WebAssembly matrix products split across threads that share one WebAssembly memory.
 *
 * A pool of N threads is the calling thread and N - 1 workers (`worker_threads` in Node; Web Workers in a browser,
 * only where the page is cross-origin isolated, which `SharedArrayBuffer` needs). Each instantiates the same
 * shared-memory build of `asm/` (`scripts/build-wasm.mjs`) on the SAME `WebAssembly.Memory`, with its own packing
 * scratch. The kernels stay synchronous to the engine: the caller copies the operands into the shared arena, writes
 * the product's description into a shared control block, wakes the workers (`Atomics.notify`), computes blocks of C
 * itself, then sleeps (`Atomics.wait`) until every block is done. Blocks are taken from an atomic counter, so a
 * worker the OS has not scheduled yet costs nothing: the caller takes its blocks.
 *
 * Results are BIT-IDENTICAL to one thread: a block is a range of C's rows or columns and `matmulBlock` gives each
 * element of C the same instructions as `matmul` (asm/matmul.ts), whatever the split and whichever thread runs it.
 *
 * Failure never hangs: a worker that throws (or does not start) records why in the control block and wakes the
 * caller; a block that makes no progress for `timeoutMs` counts as a failure. Either way the pool is abandoned
 * (workers terminated, its memory never touched again), one line is written to the console, and from then on the
 * products run on the single-thread kernels; the product at hand is recomputed there, so the caller sees the same
 * result. Workers are unref'd: a process whose work is done exits normally.
 *
 * @example
 * useThreads(2); // the active WebAssembly kernels now split large products across 2 threads
 * useThreads(1); // back to the single-thread kernels exactly
 */
import { kernels, setKernels, type Kernels } from './index.js';
import { WASM_KERNELS_SHARED_BASE64, WASM_KERNELS_SHARED_RELAXED_BASE64 } from './wasm-module.js';
import { alignUp, checkLengths, decodeBase64, wasmSupported, type WasmKernels } from './wasm.js';

/** The most threads a pool takes (and the config accepts). */
export const MAX_THREADS = 64;
/**
 * The default's cap: only the products split, about half of a W1 or W2 step (docs/PERFORMANCE.md), so by Amdahl's
 * law 4 threads already give at most 1/(0.5 + 0.5 / 4) = 1.6x and more add little.
 */
export const DEFAULT_THREADS_CAP = 4;

/**
 * Products of fewer multiply-adds (m k n) than this stay on one thread: waking a worker and waiting for it costs
 * tens of microseconds. Measured (docs/PERFORMANCE.md, "Two threads"; one process, 1 and 2 threads alternated, 2
 * busy cores): W2, whose per-time-step products are 32 x 128 x 512 = 2^21, ran at 0.93x with those split and at
 * 1.00x / 1.07x with them on one thread; W1's 64 x 256 x 256 = 2^22 products split.
 */
export const SPLIT_MIN_MULTIPLY_ADDS = 1 << 22;

/** Blocks of C per thread: more than one, so a thread the OS delays leaves its share to the others. */
const BLOCKS_PER_THREAD = 2;
/** A block index is 10 bits of `SLOT.next` (below the job's generation), so at most 1023 blocks. */
const MAX_BLOCKS = 1023;
/** The micro-kernel's tile (asm/matmul.ts): row blocks are whole MR rows, column blocks whole NR columns. */
const MR = 4;
const NR = 8;
const PAGE_BYTES = 65536;
const ALIGN = 64;
/** Bytes kept in the control block for a failing thread's message. */
const MESSAGE_BYTES = 512;

/**
 * The control block: Int32 slots in a SharedArrayBuffer. `next` packs the job's generation (21 bits) and the next
 * block to take (10 bits), so a thread can only take a block of the job whose parameters it read: the parameters
 * are guarded by `paramGen` (a sequence lock: -1 while the caller rewrites them).
 */
export const SLOT = {
  wake: 0,
  stop: 1,
  next: 2,
  done: 3,
  paramGen: 4,
  ready: 5,
  failed: 6,
  workerBlocks: 7,
  messageLength: 8,
  params: 16,
  // params: a, b, c, m, k, n, transA, transB, accumulate, axis (0 rows, 1 columns), chunk, blocks
  paramCount: 12,
  message: 32,
} as const;
const CONTROL_BYTES = SLOT.message * 4 + MESSAGE_BYTES;

type BlockRunner = (params: Int32Array, index: number, work: number) => void;

/**
 * Takes and runs blocks of the current job until none is left; returns how many it ran. Shared by the caller and
 * the workers (the workers get its source text), so both follow one protocol.
 */
function drainJobs(
  ctl: Int32Array,
  params: Int32Array,
  run: BlockRunner,
  work: number,
  S: typeof SLOT,
): number {
  let did = 0;
  for (;;) {
    const next = Atomics.load(ctl, S.next);
    const gen = next >>> 10;
    if (Atomics.load(ctl, S.paramGen) !== gen) return did;
    for (let i = 0; i < S.paramCount; i++) params[i] = Atomics.load(ctl, S.params + i);
    // Unchanged generation after the reads: the parameters are the job's (the caller rewrites them only after
    // every block of it is done, and a successful compareExchange below proves one was still left).
    if (Atomics.load(ctl, S.paramGen) !== gen) return did;
    const index = next & 1023;
    if (index >= (params[11] as number)) return did;
    if (Atomics.compareExchange(ctl, S.next, next, next + 1) !== next) continue;
    run(params, index, work);
    did++;
    if (Atomics.add(ctl, S.done, 1) + 1 === params[11]) Atomics.notify(ctl, S.done);
  }
}

/** Runs block `index` of the product in `params` with this thread's instance of the shared module. */
function blockRunner(
  matmulBlock: (...args: number[]) => void,
): (params: Int32Array, index: number, work: number) => void {
  return (p, index, work) => {
    const m = p[3] as number;
    const n = p[5] as number;
    const chunk = p[10] as number;
    const start = index * chunk;
    const rows = p[9] === 0;
    matmulBlock(
      (p[0] as number) >>> 0,
      (p[1] as number) >>> 0,
      (p[2] as number) >>> 0,
      m,
      p[4] as number,
      n,
      p[6] as number,
      p[7] as number,
      p[8] as number,
      work,
      rows ? start : 0,
      rows ? Math.min(start + chunk, m) : m,
      rows ? 0 : start,
      rows ? n : Math.min(start + chunk, n),
    );
  };
}

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
  work: number;
  // The control block's layout, passed in: a minifier may rename or inline module constants.
  slot: typeof SLOT;
  messageBytes: number;
}

/** A worker's whole life: instantiate on the shared memory, say ready, then take blocks whenever woken. */
function threadMain(init: WorkerInit): void {
  const S = init.slot;
  const ctl = new Int32Array(init.control);
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const run = blockRunner(instance.exports['matmulBlock'] as (...args: number[]) => void);
    const params = new Int32Array(S.paramCount);
    Atomics.add(ctl, S.ready, 1);
    Atomics.notify(ctl, S.ready);
    let seen = Atomics.load(ctl, S.wake);
    while (Atomics.load(ctl, S.stop) === 0) {
      const did = drainJobs(ctl, params, run, init.work, S);
      if (did > 0) Atomics.add(ctl, S.workerBlocks, did);
      Atomics.wait(ctl, S.wake, seen);
      seen = Atomics.load(ctl, S.wake);
    }
  } catch (error) {
    const text = `thread ${init.index}: ${error instanceof Error ? error.message : String(error)}`;
    const bytes = new TextEncoder().encode(text).subarray(0, init.messageBytes);
    new Uint8Array(init.control, S.message * 4, init.messageBytes).set(bytes);
    Atomics.store(ctl, S.messageLength, bytes.length);
    Atomics.store(ctl, S.failed, init.index);
    Atomics.notify(ctl, S.done);
    Atomics.notify(ctl, S.ready);
  }
}

/** The worker's source: the functions above as text, so it needs no file of its own (Node and bundled pages). */
function workerSource(entry: (main: string) => string): string {
  // By their own names (a minifier renames them, consistently): the functions reach one another by those names
  // and everything else through their parameters.
  return [String(drainJobs), String(blockRunner), String(threadMain), entry(threadMain.name)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// What the runtime offers

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (error: Error) => void): void;
}
type NodeWorkerConstructor = new (
  source: string,
  options: { eval: true; workerData: WorkerInit },
) => NodeWorker;
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: 'error', listener: (event: { message?: string }) => void): void;
}
type BrowserWorkerConstructor = new (url: string) => BrowserWorker;

interface Runtime {
  process?: {
    getBuiltinModule?: (name: string) => unknown;
    env?: Record<string, string | undefined>;
  };
  Worker?: BrowserWorkerConstructor;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL?: { createObjectURL(blob: object): string };
}
const runtime = globalThis as unknown as Runtime;

/** Node's `worker_threads` Worker, reached synchronously (Node >= 20.16); null in a browser. */
function nodeWorkerConstructor(): NodeWorkerConstructor | null {
  const getBuiltin = runtime.process?.getBuiltinModule;
  if (typeof getBuiltin !== 'function') return null;
  const module = getBuiltin('node:worker_threads') as { Worker?: NodeWorkerConstructor } | undefined;
  return module?.Worker ?? null;
}

/** Whether this thread may block in `Atomics.wait` (a browser's main thread may not). */
function mayWait(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why this runtime cannot run more than one kernel thread, or null when it can: WebAssembly SIMD with threads,
 * `SharedArrayBuffer` (in a browser: a cross-origin isolated page), a thread that may wait, and workers.
 */
export function threadsUnavailableReason(): string | null {
  if (!wasmSupported()) return 'WebAssembly SIMD is not available';
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    return 'SharedArrayBuffer is not available (a browser page must be cross-origin isolated: COOP and COEP headers)';
  }
  if (!WebAssembly.validate(decodeBase64(WASM_KERNELS_SHARED_BASE64))) {
    return 'this runtime does not validate WebAssembly shared memory (threads)';
  }
  if (!mayWait())
    return "Atomics.wait is not allowed on this thread (a browser's main thread): train in a worker";
  if (nodeWorkerConstructor() !== null) return null;
  if (typeof runtime.Worker === 'function' && runtime.crossOriginIsolated === true) return null;
  if (runtime.process !== undefined)
    return 'this Node has no process.getBuiltinModule (Node >= 20.16 has it)';
  return 'no Web Workers, or the page is not cross-origin isolated';
}

/** Logical cores this process may use: `os.availableParallelism()` in Node, `hardwareConcurrency` in a browser. */
export function availableCores(): number {
  const getBuiltin = runtime.process?.getBuiltinModule;
  if (typeof getBuiltin === 'function') {
    const os = getBuiltin('node:os') as { availableParallelism?: () => number; cpus?: () => unknown[] };
    const count = os.availableParallelism?.() ?? os.cpus?.().length ?? 1;
    return Math.max(1, count);
  }
  return Math.max(1, runtime.navigator?.hardwareConcurrency ?? 1);
}

/**
 * What `threads: "auto"` means: `GRADSCOPE_THREADS` from the environment when it is set (an integer >= 1; how the
 * bench and CI pin it), else min(cores, 4).
 */
export function defaultThreads(): number {
  const fromEnv = runtime.process?.env?.['GRADSCOPE_THREADS'];
  if (fromEnv !== undefined && fromEnv !== '') {
    const value = Number(fromEnv);
    if (Number.isInteger(value) && value >= 1) return Math.min(value, MAX_THREADS);
  }
  return Math.min(availableCores(), DEFAULT_THREADS_CAP);
}

// ---------------------------------------------------------------------------------------------------------------
// The pool

export interface ThreadPoolOptions {
  /** Threads in all, the caller's included (2 = the caller and one worker). */
  readonly threads: number;
  /** Use the relaxed-SIMD build (fused multiply-add); it must match the single-thread kernels' build. */
  readonly fusedMultiplyAdd: boolean;
  /** A block that makes no progress this long counts as a failed worker (default 10 s). */
  readonly timeoutMs?: number;
}

/** What the pool has done, for tests and the bench. */
export interface ThreadPoolStats {
  readonly threads: number;
  /** Workers that instantiated the module and wait for work. */
  readonly readyWorkers: number;
  /** Products split across the threads, and blocks the workers (not the caller) computed. */
  readonly splitProducts: number;
  readonly workerBlocks: number;
  /** Why the pool fell back to one thread, or null while it runs. */
  readonly failure: string | null;
}

/** N threads over one shared WebAssembly memory; runs `matmul` split by blocks of C (see the file's comment). */
export class ThreadPool {
  readonly threads: number;
  readonly fusedMultiplyAdd: boolean;
  private readonly timeoutMs: number;
  private readonly memory: WebAssembly.Memory;
  private readonly ctl: Int32Array;
  private readonly params = new Int32Array(SLOT.paramCount);
  private readonly run: BlockRunner;
  private readonly stopWorkers: Array<() => void> = [];
  private readonly work: number;
  private readonly dataStart: number;
  private view: Float32Array;
  private gen = 0;
  private splits = 0;
  private failure: string | null = null;

  constructor(options: ThreadPoolOptions) {
    const unavailable = threadsUnavailableReason();
    if (unavailable !== null) throw new Error(`gradscope threads: ${unavailable}`);
    this.threads = Math.max(1, Math.min(MAX_THREADS, Math.floor(options.threads)));
    this.fusedMultiplyAdd = options.fusedMultiplyAdd;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const bytes = decodeBase64(
      options.fusedMultiplyAdd ? WASM_KERNELS_SHARED_RELAXED_BASE64 : WASM_KERNELS_SHARED_BASE64,
    );
    const module = new WebAssembly.Module(bytes);
    // One page first: the module's data segment (its constant table) and heapBase() are what instantiation needs.
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    const heapBase = (instance.exports['heapBase'] as () => number)();
    const workBytes = alignUp((instance.exports['workBytes'] as () => number)(), ALIGN);
    this.work = alignUp(heapBase, ALIGN);
    this.dataStart = this.work + this.threads * workBytes;
    this.grow(this.dataStart);
    this.view = new Float32Array(this.memory.buffer);
    this.run = blockRunner(instance.exports['matmulBlock'] as (...args: number[]) => void);
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctl = new Int32Array(control);
    Atomics.store(this.ctl, SLOT.paramGen, -1);
    for (let index = 1; index < this.threads; index++) {
      const init: WorkerInit = {
        module,
        memory: this.memory,
        control,
        index,
        work: this.work + index * workBytes,
        slot: SLOT,
        messageBytes: MESSAGE_BYTES,
      };
      this.stopWorkers.push(this.startWorker(init));
    }
  }

  /** Starts worker `init.index`; returns how to stop it. */
  private startWorker(init: WorkerInit): () => void {
    const NodeWorker = nodeWorkerConstructor();
    if (NodeWorker !== null) {
      // getBuiltinModule, not require: the eval'd source is an ES module when node runs with --input-type=module.
      const source = workerSource(
        (main) => `${main}(process.getBuiltinModule('node:worker_threads').workerData);`,
      );
      const worker = new NodeWorker(source, { eval: true, workerData: init });
      // An error threadMain could not catch (its source failed to load): the next product falls back. Unheard, the
      // 'error' event would end the process.
      worker.on('error', (error) => this.recordFailure(init.index, error.message));
      worker.unref();
      return () => void worker.terminate();
    }
    const BrowserWorker = runtime.Worker as BrowserWorkerConstructor;
    const BlobType = runtime.Blob as NonNullable<Runtime['Blob']>;
    const source = workerSource((main) => `self.onmessage = (event) => ${main}(event.data);`);
    const url = (runtime.URL as NonNullable<Runtime['URL']>).createObjectURL(
      new BlobType([source], { type: 'text/javascript' }),
    );
    const worker = new BrowserWorker(url);
    worker.addEventListener('error', (event) => this.recordFailure(init.index, event.message ?? 'failed'));
    worker.postMessage(init);
    return () => worker.terminate();
  }

  /** Blocks (at most `timeoutMs`) until every worker is ready; returns whether they are. Tests and the bench. */
  waitUntilReady(timeoutMs = 30_000): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ready = Atomics.load(this.ctl, SLOT.ready);
      if (ready >= this.threads - 1) return true;
      if (Atomics.load(this.ctl, SLOT.failed) !== 0) {
        this.fail(this.workerMessage());
        return false;
      }
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.ctl, SLOT.ready, ready, Math.min(left, 50));
    }
  }

  stats(): ThreadPoolStats {
    return {
      threads: this.threads,
      readyWorkers: Atomics.load(this.ctl, SLOT.ready),
      splitProducts: this.splits,
      workerBlocks: Atomics.load(this.ctl, SLOT.workerBlocks),
      failure: this.failure,
    };
  }

  /** Whether the pool still runs (false after a failure or `close`). */
  get running(): boolean {
    return this.failure === null;
  }

  /** Stops the workers; later products are refused (`matmul` returns false). */
  close(): void {
    if (this.failure === null) this.failure = 'closed';
    Atomics.store(this.ctl, SLOT.stop, 1);
    Atomics.add(this.ctl, SLOT.wake, 1);
    Atomics.notify(this.ctl, SLOT.wake);
    for (const stop of this.stopWorkers.splice(0)) stop();
  }

  /**
   * C = op(A) op(B) (+ C) split across the threads, or false without touching C when the pool has failed (the
   * caller then runs the single-thread kernels, which give the same bits). Float32 arrays of checked lengths.
   */
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
  ): boolean {
    if (this.failure !== null) return false;
    // A worker that failed between products (e.g. while it started) has said so here.
    if (Atomics.load(this.ctl, SLOT.failed) !== 0) {
      this.fail(this.workerMessage());
      return false;
    }
    const aLength = m * k;
    const bLength = k * n;
    const cLength = m * n;
    // A product of a matrix with itself (x^T x) copies it once.
    const same = a === b;
    const aValues = same ? Math.max(aLength, bLength) : aLength;
    const aAt = this.dataStart;
    const bAt = same ? aAt : alignUp(aAt + aValues * 4, ALIGN);
    const cAt = alignUp(same ? aAt + aValues * 4 : bAt + bLength * 4, ALIGN);
    this.grow(cAt + cLength * 4);
    const view = this.view;
    view.set(a.subarray(0, aValues), aAt >>> 2);
    if (!same) view.set(b.subarray(0, bLength), bAt >>> 2);
    if (accumulate) view.set(c.subarray(0, cLength), cAt >>> 2);

    // Split the longer side of C, so the operand every block packs again (op(B) for row blocks, op(A) for column
    // blocks) is the smaller one.
    const rows = m >= n;
    const length = rows ? m : n;
    const unit = rows ? MR : NR;
    const wanted = Math.min(MAX_BLOCKS, this.threads * BLOCKS_PER_THREAD);
    const chunk = Math.ceil(Math.ceil(length / wanted) / unit) * unit;
    const blocks = Math.ceil(length / chunk);
    const fields = [aAt, bAt, cAt, m, k, n, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, rows ? 0 : 1];
    const ctl = this.ctl;
    this.gen = (this.gen + 1) & 0x1fffff;
    Atomics.store(ctl, SLOT.paramGen, -1);
    for (let i = 0; i < fields.length; i++) Atomics.store(ctl, SLOT.params + i, (fields[i] as number) | 0);
    Atomics.store(ctl, SLOT.params + 10, chunk);
    Atomics.store(ctl, SLOT.params + 11, blocks);
    Atomics.store(ctl, SLOT.done, 0);
    Atomics.store(ctl, SLOT.paramGen, this.gen);
    Atomics.store(ctl, SLOT.next, this.gen << 10);
    Atomics.add(ctl, SLOT.wake, 1);
    Atomics.notify(ctl, SLOT.wake);
    drainJobs(ctl, this.params, this.run, this.work, SLOT);
    if (!this.waitForBlocks(blocks)) return false;
    this.splits++;
    c.set(view.subarray(cAt >>> 2, (cAt >>> 2) + cLength));
    return true;
  }

  /** Sleeps until `blocks` blocks are done; false (and the pool abandoned) when a worker failed or stalled. */
  private waitForBlocks(blocks: number): boolean {
    const ctl = this.ctl;
    let done = Atomics.load(ctl, SLOT.done);
    let since = performance.now();
    while (done < blocks) {
      if (Atomics.load(ctl, SLOT.failed) !== 0) {
        this.fail(this.workerMessage());
        return false;
      }
      Atomics.wait(ctl, SLOT.done, done, 100);
      const now = Atomics.load(ctl, SLOT.done);
      if (now !== done) {
        done = now;
        since = performance.now();
      } else if (performance.now() - since > this.timeoutMs) {
        this.fail(`a worker made no progress for ${this.timeoutMs} ms`);
        return false;
      }
    }
    return true;
  }

  /** What a worker's catch writes, written for it (its source did not load): the next product falls back. */
  private recordFailure(index: number, message: string): void {
    if (Atomics.load(this.ctl, SLOT.failed) !== 0 || this.failure !== null) return;
    const bytes = new TextEncoder().encode(`thread ${index}: ${message}`).subarray(0, MESSAGE_BYTES);
    new Uint8Array(this.ctl.buffer, SLOT.message * 4, MESSAGE_BYTES).set(bytes);
    Atomics.store(this.ctl, SLOT.messageLength, bytes.length);
    Atomics.store(this.ctl, SLOT.failed, index);
  }

  private workerMessage(): string {
    const length = Atomics.load(this.ctl, SLOT.messageLength);
    const bytes = new Uint8Array(this.ctl.buffer, SLOT.message * 4, length).slice();
    return new TextDecoder().decode(bytes) || `thread ${Atomics.load(this.ctl, SLOT.failed)} failed`;
  }

  /** Abandons the pool: one warning line, the workers terminated, the memory never used again. */
  private fail(reason: string): void {
    if (this.failure !== null) return;
    this.failure = reason;
    console.warn(`gradscope: kernel threads stopped (${reason}); the products continue on one thread.`);
    this.close();
  }

  private grow(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    // A shared memory's buffer is not detached by growing, but a view keeps its old length: refresh it.
    if (this.view === undefined || this.view.byteLength !== this.memory.buffer.byteLength) {
      this.view = new Float32Array(this.memory.buffer);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The threaded backend

/** The WebAssembly kernels with large products split across a pool's threads. */
export interface ThreadedKernels extends WasmKernels {
  /** Threads the products use (the caller's included). */
  readonly threads: number;
  readonly pool: ThreadPool;
  /** The single-thread kernels every other kernel (and every small or failed product) runs on. */
  readonly base: WasmKernels;
}

/**
 * `base` with its matmul split across `pool` for products of at least `SPLIT_MIN_MULTIPLY_ADDS` multiply-adds;
 * everything else is `base` itself. Same bits as `base` (the pool runs the same build: same `fusedMultiplyAdd`).
 */
export function createThreadedKernels(base: WasmKernels, pool: ThreadPool): ThreadedKernels {
  if (pool.fusedMultiplyAdd !== base.fusedMultiplyAdd) {
    throw new Error(
      'createThreadedKernels: the pool and the kernels must run the same build (fusedMultiplyAdd) to give the same bits',
    );
  }
  return {
    ...base,
    threads: pool.threads,
    pool,
    base,
    matmul(a, b, c, m, k, n, transA, transB, accumulate) {
      if (
        m * k * n < SPLIT_MIN_MULTIPLY_ADDS ||
        !pool.running ||
        !(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)
      ) {
        base.matmul(a, b, c, m, k, n, transA, transB, accumulate);
        return;
      }
      checkLengths('matmul', [
        ['A', a, m * k],
        ['B', b, k * n],
        ['C', c, m * n],
      ]);
      if (!pool.matmul(a, b, c, m, k, n, transA, transB, accumulate)) {
        base.matmul(a, b, c, m, k, n, transA, transB, accumulate);
      }
    },
  };
}

function isWasmKernels(value: Kernels): value is WasmKernels {
  return typeof (value as Partial<WasmKernels>).fusedMultiplyAdd === 'boolean';
}

function isThreaded(value: Kernels): value is ThreadedKernels {
  return (value as Partial<ThreadedKernels>).pool instanceof ThreadPool;
}

/** One pool per (threads, build) for the process's life: sessions that ask again get the same workers. */
const pools = new Map<string, ThreadedKernels>();
let warnedUnavailable = false;

/**
 * Run the active kernels on `threads` threads (`'auto'`: `defaultThreads()`); returns the threads now used. Only
 * the WebAssembly backends split; the TypeScript reference stays on one thread. 1 installs the single-thread
 * WebAssembly kernels exactly as without threads. Where the runtime cannot (see `threadsUnavailableReason`), one
 * thread runs, and a count asked for explicitly gets one line saying why; after a pool failed, the process stays
 * on one thread.
 * @example
 * useThreads(2); // kernels().matmul now splits large products across 2 threads
 */
export function useThreads(threads: number | 'auto'): number {
  const active = kernels();
  const base = isThreaded(active) ? active.base : active;
  const wanted =
    threads === 'auto' ? defaultThreads() : Math.min(MAX_THREADS, Math.max(1, Math.floor(threads)));
  if (!isWasmKernels(base) || wanted <= 1) {
    if (active !== base) setKernels(base);
    return 1;
  }
  const key = `${wanted}/${base.fusedMultiplyAdd ? 'relaxed' : 'plain'}`;
  let threaded = pools.get(key);
  // A pool that failed said so once; the process stays on one thread rather than failing again.
  if (threaded !== undefined && !threaded.pool.running) {
    if (active !== base) setKernels(base);
    return 1;
  }
  if (threaded === undefined) {
    let pool: ThreadPool | null = null;
    let reason = threadsUnavailableReason();
    if (reason === null) {
      try {
        pool = new ThreadPool({ threads: wanted, fusedMultiplyAdd: base.fusedMultiplyAdd });
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    if (pool === null) {
      // "auto" on a runtime without threads (a page that is not cross-origin isolated) is one thread, silently.
      if (threads !== 'auto' && !warnedUnavailable) {
        warnedUnavailable = true;
        console.warn(
          `gradscope: threads ${wanted} asked, running on one thread: ${reason ?? 'unavailable'}.`,
        );
      }
      if (active !== base) setKernels(base);
      return 1;
    }
    threaded = createThreadedKernels(base, pool);
    pools.set(key, threaded);
  }
  // A pool made for another instance of the same build gives the same bits; keep this process's base.
  setKernels(threaded.base === base ? threaded : createThreadedKernels(base, threaded.pool));
  return wanted;
}
