import { tsKernels } from './ts.js';
import type { Kernels } from './types.js';

export type { Kernels } from './types.js';

let active: Kernels = tsKernels;

/** The kernels ops run on now. */
export function kernels(): Kernels {
  return active;
}

/** Install another backend (for example WebAssembly SIMD); returns the previous one. */
export function setKernels(next: Kernels): Kernels {
  const previous = active;
  active = next;
  return previous;
}
