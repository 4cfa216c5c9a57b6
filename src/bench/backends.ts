/**
 * The kernels backends the benchmark can run gradscope on: the TypeScript reference kernels always, and the
 * WebAssembly SIMD kernels when the build has them (`src/kernels/wasm.ts` exporting `createWasmKernels`). The
 * WebAssembly module is loaded by a computed specifier so the benchmark builds and runs whether or not it exists.
 */
import { existsSync } from 'node:fs';
import { setKernels, type Kernels } from '../kernels/index.js';
import { tsKernels } from '../kernels/ts.js';

export const BACKEND_NAMES = ['typescript', 'wasm'] as const;
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

async function loadWasm(): Promise<Kernels> {
  if (!existsSync(WASM_MODULE)) {
    throw new Error('this build has no WebAssembly kernels (dist/kernels/wasm.js is missing)');
  }
  const specifier = WASM_MODULE.href;
  const loaded: unknown = await import(specifier);
  const factory =
    typeof loaded === 'object' && loaded !== null
      ? (loaded as { createWasmKernels?: unknown }).createWasmKernels
      : undefined;
  if (typeof factory !== 'function') {
    throw new Error('dist/kernels/wasm.js does not export createWasmKernels()');
  }
  const created: unknown = await (factory as () => unknown)();
  if (!isKernels(created))
    throw new Error('createWasmKernels() did not return kernels with a name and matmul()');
  return created;
}

/** Load a backend and make it the active kernels; returns it. */
export async function installBackend(name: BackendName): Promise<Kernels> {
  const chosen = name === 'wasm' ? await loadWasm() : tsKernels;
  setKernels(chosen);
  return chosen;
}

/** Which backends this build can run (loading each once to be sure). */
export async function backendStatus(): Promise<BackendStatus[]> {
  const statuses: BackendStatus[] = [{ name: 'typescript', available: true, detail: tsKernels.name }];
  try {
    const wasm = await loadWasm();
    statuses.push({ name: 'wasm', available: true, detail: wasm.name });
  } catch (error) {
    statuses.push({
      name: 'wasm',
      available: false,
      detail: error instanceof Error ? error.message : String(error),
    });
  }
  return statuses;
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}
