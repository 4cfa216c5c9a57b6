/**
 * Weight initialisers: gains, fans, one variance-scaling initialiser with its Glorot/He/LeCun presets,
 * orthogonal and identity for recurrent weights, fixed distributions, and the config resolver.
 */
export { InitError, type InitErrorCode, type Initializer } from './initializer.js';
export { gainFor, gains, secondMomentGain, type GainRule } from './gain.js';
export { fans, type Fans } from './fans.js';
export {
  fanFor,
  heNormal,
  heUniform,
  lecunNormal,
  presetOptions,
  varianceScaling,
  varianceScalingPresets,
  varianceScalingStd,
  xavierNormal,
  xavierUniform,
  type Distribution,
  type FanMode,
  type HeOptions,
  type VarianceScalingOptions,
  type VarianceScalingPreset,
} from './variance-scaling.js';
export { deltaOrthogonal, identity, orthogonal } from './orthogonal.js';
export { constant, normal, uniform, zeros } from './distributions.js';
export {
  buildPlan,
  describeInit,
  expectedRms,
  planInit,
  resolveBias,
  resolveInit,
  type InitContext,
  type InitPlan,
} from './resolve.js';
