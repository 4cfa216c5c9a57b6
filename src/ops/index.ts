export { add, sub, mul, div, neg, exp, log, sqrt, abs, pow, clamp } from './elementwise.js';
export { sum, mean } from './reduce.js';
export { matmul, linear } from './matmul.js';
export { activation, sigmoid, tanh, relu, prelu } from './activation.js';
export { softmax, logSoftmax } from './softmax.js';
export { crossEntropy, mse, binaryCrossEntropy, binaryCrossEntropyWithLogits } from './loss.js';
export { reshape } from './shape.js';
export {
  conv2d,
  pool2d,
  globalAvgPool2d,
  flatten,
  moveChannels,
  convOutputSize,
  type Conv2dOptions,
  type Pool2dOptions,
  type PoolMode,
} from './conv.js';
export { broadcastShapes } from './broadcast.js';
export { normalize } from './norm.js';
export { recurrentStep, stackHidden, CELL_SHAPES, type CellKind } from './recurrent.js';
export {
  bmm,
  permute,
  slice,
  maskedSoftmax,
  embedding,
  sinusoidalPositions,
  attention,
  attentionEntropy,
  type AttentionMask,
  type AttentionOptions,
  type AttentionResult,
} from './attention.js';
