// Entry point of the WebAssembly kernels; scripts/build-wasm.mjs compiles this file. Only its exports are visible.
export { heapBase, matmul, matmulBlock, workBytes } from './matmul';
export { sigmoidForward, tanhForward } from './elementwise';
export { geluBackward, geluForward } from './gelu';
export { lstmBackward, lstmForward } from './lstm';
export { simdPeak, simdPeakFlopsPerIteration } from './peak';
export {
  activationMoments,
  addInPlace,
  histogram,
  histogramScratchBytes,
  moments,
  scaleInPlace,
  sumOfSquares,
} from './vector';
export { conv2dBackward, conv2dForward } from './conv';
