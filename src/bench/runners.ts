/**
 * The runners the orchestrator can start: gradscope on each kernels backend, and the peers (jax-js, TensorFlow.js
 * cpu and wasm, brain.js, PyTorch). A runner declares what it is, which workloads it runs, whether it is installed,
 * and the command that runs one workload; the orchestrator never asks "is this PyTorch?".
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { backendStatus } from './backends.js';
import { threadsUnavailableReason } from '../kernels/threads.js';
import { gradscopeRunnerId, pytorchRunnerId, type RunSpec, type WorkloadId } from './protocol.js';

export type RunnerGroup = 'gradscope' | 'pytorch' | 'js-peer';

export interface Runner {
  /** Stable id, the `runner` field of its results. */
  id: string;
  /** Name in the table. */
  label: string;
  group: RunnerGroup;
  workloads: readonly WorkloadId[];
  /** The executable and arguments that run `spec` (the spec is appended as JSON by `commandFor`). */
  command(spec: RunSpec): { file: string; args: string[]; env?: NodeJS.ProcessEnv };
}

export interface UnavailableRunner {
  id: string;
  label: string;
  group: RunnerGroup;
  /** Why it is missing and how to get it. */
  reason: string;
}

const here = new URL('.', import.meta.url);
const workerPath = fileURLToPath(new URL('worker.js', here));
/** dist/bench/ -> the repository root's bench/peers/ */
const peersDir = new URL('../../bench/peers/', here);
const require = createRequire(import.meta.url);

function resolves(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function peerScript(name: string): string {
  return fileURLToPath(new URL(name, peersDir));
}

function nodePeer(
  id: string,
  label: string,
  script: string,
  packages: readonly string[],
  workloads: readonly WorkloadId[],
  extra: string[] = [],
): Runner | UnavailableRunner {
  const missing = packages.filter((p) => !resolves(p));
  const path = peerScript(script);
  if (!existsSync(path)) return { id, label, group: 'js-peer', reason: `peer script ${path} is missing` };
  if (missing.length > 0) {
    return {
      id,
      label,
      group: 'js-peer',
      reason: `not installed: ${missing.join(', ')} (run npm install; they are devDependencies)`,
    };
  }
  return {
    id,
    label,
    group: 'js-peer',
    workloads,
    command: (spec) => ({ file: process.execPath, args: [path, JSON.stringify(spec), ...extra] }),
  };
}

/** Pythons to try for PyTorch: $GRADSCOPE_PYTHON, then python3 on the PATH, then Debian's /usr/bin/python3. */
function pythonCandidates(): string[] {
  const list = [process.env['GRADSCOPE_PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string =>
    Boolean(p),
  );
  return [...new Set(list)];
}

export const PYTORCH_HELP =
  'PyTorch not found: no python3 here can import torch. On Debian/Ubuntu: apt-get install python3-torch libopenblas0-pthread ' +
  "(without OpenBLAS, Debian's torch uses the slow reference BLAS), or pip install torch; set GRADSCOPE_PYTHON to choose the interpreter.";

/** Threads of the bench's multi-thread runners (gradscope and PyTorch alike): the 2-core machine it reports on. */
export const BENCH_THREADS = 2;

function pytorchRunner(threads = 1): Runner | UnavailableRunner {
  const id = pytorchRunnerId(threads);
  const script = peerScript('torch_peer.py');
  for (const python of pythonCandidates()) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (probe.status === 0) {
      const version = probe.stdout.trim();
      return {
        id,
        label: `PyTorch ${version} (${threads} thread${threads > 1 ? 's' : ''})`,
        group: 'pytorch',
        // At N threads the workloads gradscope splits: W1, W2 and W3 (its conv and attention stay on one thread).
        workloads: threads > 1 ? ['W1', 'W2', 'W3'] : ['W1', 'W2', 'W3', 'W5', 'W6'],
        command: (spec) => ({
          file: python,
          args: [script, JSON.stringify(spec)],
          // `threads` threads (torch.set_num_threads in the peer), and OpenMP's workers sleep instead of spinning
          // (spinning, they would steal the core another runner's process needs).
          env: {
            ...process.env,
            GRADSCOPE_TORCH_THREADS: String(threads),
            GRADSCOPE_TORCH_RUNNER: id,
            OMP_NUM_THREADS: String(threads),
            MKL_NUM_THREADS: String(threads),
            OPENBLAS_NUM_THREADS: String(threads),
            OMP_WAIT_POLICY: 'PASSIVE',
          },
        }),
      };
    }
  }
  return {
    id,
    label: threads > 1 ? `PyTorch (${threads} threads)` : 'PyTorch',
    group: 'pytorch',
    reason: PYTORCH_HELP,
  };
}

/** Every runner, in table order, each either ready or with the reason it is not. */
export async function discoverRunners(options: {
  peers: boolean;
}): Promise<Array<Runner | UnavailableRunner>> {
  const runners: Array<Runner | UnavailableRunner> = [];
  for (const backend of await backendStatus()) {
    const id = gradscopeRunnerId(backend.name);
    const label = `gradscope (${backend.name})`;
    if (!backend.available) {
      runners.push({ id, label, group: 'gradscope', reason: backend.detail });
      continue;
    }
    runners.push({
      id,
      label,
      group: 'gradscope',
      // The reference kernels (about 2 GFLOPS) would take minutes per round on the conv and Transformer workloads.
      workloads:
        backend.name === 'typescript'
          ? ['W1', 'W2', 'W3', 'W4-W1', 'W4-W2']
          : ['W1', 'W2', 'W3', 'W4-W1', 'W4-W2', 'W5', 'W6'],
      command: (spec) => ({
        file: process.execPath,
        args: ['--expose-gc', workerPath, JSON.stringify({ ...spec, backend: backend.name, threads: 1 })],
      }),
    });
  }
  runners.push(threadedRunner(BENCH_THREADS));
  if (!options.peers) return runners;
  runners.push(pytorchRunner());
  runners.push(pytorchRunner(BENCH_THREADS));
  runners.push(
    nodePeer('jax-js', 'jax-js (wasm, jit)', 'jax-peer.mjs', ['@jax-js/jax'], ['W1', 'W2', 'W3', 'W5', 'W6']),
  );
  runners.push(
    nodePeer(
      'tfjs-wasm',
      'TensorFlow.js (wasm)',
      'tfjs-peer.mjs',
      ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'],
      // W5 fails there by itself (the wasm backend has no Conv2DBackpropFilter kernel) and the report says so.
      ['W1', 'W2', 'W3', 'W5', 'W6'],
      ['wasm'],
    ),
  );
  runners.push(
    nodePeer(
      'tfjs-cpu',
      'TensorFlow.js (cpu)',
      'tfjs-peer.mjs',
      ['@tensorflow/tfjs'],
      // Not W5 / W6: five warm-up steps of W5 took over 200 s on the cpu backend.
      ['W1', 'W2', 'W3'],
      ['cpu'],
    ),
  );
  runners.push(nodePeer('brain.js', 'brain.js (per sample)', 'brain-peer.mjs', ['brain.js'], ['W1', 'W2']));
  return runners;
}

/**
 * gradscope on the plain WebAssembly kernels with `threads` kernel threads (src/kernels/threads.ts), on the
 * workloads whose products it splits; compared with PyTorch at the same thread count.
 */
function threadedRunner(threads: number): Runner | UnavailableRunner {
  const id = gradscopeRunnerId('wasm', threads);
  const label = `gradscope (wasm, ${threads} threads)`;
  const unavailable = threadsUnavailableReason();
  if (unavailable !== null) return { id, label, group: 'gradscope', reason: unavailable };
  return {
    id,
    label,
    group: 'gradscope',
    workloads: ['W1', 'W2', 'W3'],
    command: (spec) => ({
      file: process.execPath,
      args: ['--expose-gc', workerPath, JSON.stringify({ ...spec, backend: 'wasm', threads })],
    }),
  };
}

export function isReady(runner: Runner | UnavailableRunner): runner is Runner {
  return 'command' in runner;
}
