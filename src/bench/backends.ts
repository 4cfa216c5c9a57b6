/**
 * The kernels backends the benchmark can run gradscope on: the TypeScript reference kernels always, the
 * WebAssembly SIMD kernels when the build has them (`src/kernels/wasm.ts` exporting `createWasmKernels`), and their
 * relaxed-SIMD build (fused multiply-add) where the runtime validates it: Node 20 only behind
 * `--experimental-wasm-relaxed-simd`, which `enableRelaxedSimd` turns on in the process (the bench's processes are
 * its own; the library never does this). The WebAssembly module is loaded by a computed specifier so the benchmark
 * builds and runs whether or not it exists.
 */
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { setKernels, type Kernels } from '../kernels/index.js';
import { tsKernels } from '../kernels/ts.js';

export const BACKEND_NAMES = ['typescript', 'wasm', 'wasm-relaxed'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why a backend is missing, or what it reports about itself. */
  detail: string;
}

const WASM_MODULE = new URL('../kernels/wasm.js', import.meta.url);

function isKernels(value: unknown): value is Kernels {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { matmul?: unknown }).matmul === 'function'
  );
}

/**
 * Turns on V8's relaxed SIMD where it is behind a flag (Node 20). V8 reads wasm feature flags when it validates
 * and compiles, so setting it before the first relaxed module works (src/kernels/kernels.test.ts relies on the same).
 */
export function enableRelaxedSimd(): void {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}

async function loadWasm(relaxed: boolean): Promise<Kernels> {
  if (!existsSync(WASM_MODULE)) {
    throw new Error('this build has no WebAssembly kernels (dist/kernels/wasm.js is missing)');
  }
  const specifier = WASM_MODULE.href;
  const loaded: unknown = await import(specifier);
  const module =
    typeof loaded === 'object' && loaded !== null
      ? (loaded as { createWasmKernels?: unknown; wasmRelaxedSimdSupported?: unknown })
      : {};
  const factory = module.createWasmKernels;
  if (typeof factory !== 'function') {
    throw new Error('dist/kernels/wasm.js does not export createWasmKernels()');
  }
  if (relaxed) {
    enableRelaxedSimd();
    const supported = module.wasmRelaxedSimdSupported;
    if (typeof supported !== 'function' || supported() !== true) {
      throw new Error(
        'this runtime does not validate relaxed SIMD even with --experimental-wasm-relaxed-simd (Node >= 20 has it)',
      );
    }
  }
  const created: unknown = await (factory as (options: { fusedMultiplyAdd: boolean }) => unknown)({
    fusedMultiplyAdd: relaxed,
  });
  if (!isKernels(created))
    throw new Error('createWasmKernels() did not return kernels with a name and matmul()');
  return created;
}

/** Load a backend and make it the active kernels; returns it. */
export async function installBackend(name: BackendName): Promise<Kernels> {
  const chosen = name === 'typescript' ? tsKernels : await loadWasm(name === 'wasm-relaxed');
  setKernels(chosen);
  return chosen;
}

/** Which backends this build can run (loading each once to be sure). */
export async function backendStatus(): Promise<BackendStatus[]> {
  const statuses: BackendStatus[] = [{ name: 'typescript', available: true, detail: tsKernels.name }];
  for (const name of ['wasm', 'wasm-relaxed'] as const) {
    try {
      const wasm = await loadWasm(name === 'wasm-relaxed');
      statuses.push({ name, available: true, detail: wasm.name });
    } catch (error) {
      statuses.push({
        name,
        available: false,
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return statuses;
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}
