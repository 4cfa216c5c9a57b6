/**
 * Read-only statistics of parameters and activations. Nothing here changes a value; each function returns what it
 * measured. Non-finite entries are counted, never skipped, and make the norms non-finite.
 */
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { activationMoments, moments, sumOfSquares } from '../kernels/index.js';
import type { Buffer } from '../tensor/tensor.js';

export interface ParamStats {
  gradNorm: number;
  weightNorm: number;
  /** ||update|| / ||weight|| (Karpathy's rule of thumb: about 1e-3 is healthy); NaN before the first update. */
  updateRatio: number;
  maxAbsGrad: number;
  /** Count of NaN / ±Infinity entries in the gradient. */
  nonFinite: number;
}

/**
 * One pass over each of a parameter's value, gradient and (optionally) the update just applied: the kernels'
 * `sumOfSquares` and `moments` (WebAssembly SIMD for float32 where the runtime has it, the TypeScript reference
 * otherwise, the same doubles either way). Non-finite gradient entries are counted and make the norm non-finite.
 *
 * @example
 * paramStats(layer.weight.data, layer.weight.grad, update).gradNorm; // ||dL/dW||
 */
export function paramStats(value: Buffer, grad: Buffer | null, update: Buffer | null): ParamStats {
  const weightNorm = Math.sqrt(sumOfSquares(value));
  const g = grad ? moments(grad) : null;
  return {
    gradNorm: g ? Math.sqrt(g.sumOfSquares) : 0,
    weightNorm,
    updateRatio: update ? Math.sqrt(sumOfSquares(update)) / Math.max(weightNorm, 1e-12) : NaN,
    maxAbsGrad: g ? g.maxAbs : 0,
    nonFinite: g ? g.nonFinite : 0,
  };
}

export interface ActivationStats {
  mean: number;
  std: number;
  /** Fraction of units (columns) whose output is saturated for every example of the batch. */
  saturated: number;
  /** Fraction of units whose output is dead (zero gradient) for every example of the batch. */
  dead: number;
  nonFinite: number;
}

/**
 * Statistics of a layer's output [rows, units] (for sequences, rows are time x batch): one pass, the kernels'
 * `activationMoments` (WebAssembly SIMD for float32, the same numbers as the TypeScript reference), reading the
 * activation's flat regions from its table entry.
 */
export function activationStats(y: Buffer, units: number, activation: ActivationName): ActivationStats {
  const rows = units === 0 ? 0 : Math.floor(y.length / units);
  const m = activationMoments(y, rows, units, activationKernels[activation]);
  const n = rows * units - m.nonFinite;
  const mean = n > 0 ? m.sum / n : NaN;
  return {
    mean,
    std: n > 0 ? Math.sqrt(Math.max(0, m.sumOfSquares / n - mean * mean)) : NaN,
    saturated: units > 0 ? m.saturatedUnits / units : 0,
    dead: units > 0 ? m.deadUnits / units : 0,
    nonFinite: m.nonFinite,
  };
}

/** Index and count of the first non-finite entries, or null when all are finite. */
export function firstNonFinite(buffer: Buffer): { index: number; count: number } | null {
  let index = -1;
  let count = 0;
  for (let i = 0; i < buffer.length; i++) {
    const v = buffer[i] as number;
    if (v - v !== 0) {
      if (index < 0) index = i;
      count++;
    }
  }
  return index < 0 ? null : { index, count };
}

/**
 * The per-step factor of a geometric decay fitted to ||dL/dh_t||, t = 1..T: exp of the least-squares slope of
 * ln ||dL/dh_t|| against t, over the finite positive values. Below 1 the gradient shrinks going back in time
 * (Bengio et al. 1994; Pascanu et al. 2013); NaN when fewer than two values are usable.
 */
export function fitDecayFactor(values: readonly number[]): number {
  // One step back in time is t - 1: the ratio ||dL/dh_{t-1}|| / ||dL/dh_t|| is exp(-slope).
  return Math.exp(-slopeOfLog(values));
}

/** Least-squares slope of ln y against the index, over the finite positive entries; NaN with fewer than two. */
export function slopeOfLog(y: ArrayLike<number>): number {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!(v > 0) || !Number.isFinite(v)) continue;
    const ly = Math.log(v);
    n++;
    sx += i;
    sy += ly;
    sxx += i * i;
    sxy += i * ly;
  }
  const denominator = n * sxx - sx * sx;
  return n >= 2 && denominator > 0 ? (n * sxy - sx * sy) / denominator : NaN;
}

export interface ChannelStats {
  /** Fraction of channels dead at every example and position (the layer's `dead` for a conv output). */
  dead: number;
  /** Fraction of channels saturated at every example and position. */
  saturated: number;
  /** Per channel: the fraction of its entries (examples x positions) that are dead. */
  channelDead: number[];
  /** Per channel: the fraction of its entries that are saturated. */
  channelSaturated: number[];
}

/**
 * Dead and saturated fractions of a conv layer's output [N, C, ...spatial] (NCHW), channel by channel: a channel
 * is one unit whose value is read at every position, so "dead" means dead for every example and position (the
 * per-unit rule of `activationStats`, with positions counted as examples). One pass; non-finite entries count as
 * neither.
 *
 * @example
 * channelStats(y.data, y.shape, 'relu').channelDead; // [0.48, 1, 0.51, ...]: channel 1 never fires
 */
export function channelStats(y: Buffer, shape: readonly number[], activation: ActivationName): ChannelStats {
  const { deadAtOrBelow, saturatedBelow, saturatedAbove } = activationKernels[activation];
  const examples = shape[0] ?? 0;
  const channels = shape[1] ?? 0;
  let positions = 1;
  for (let d = 2; d < shape.length; d++) positions *= shape[d] as number;
  const channelDead = new Array<number>(channels).fill(0);
  const channelSaturated = new Array<number>(channels).fill(0);
  const entries = examples * positions;
  for (let n = 0; n < examples; n++) {
    for (let c = 0; c < channels; c++) {
      const start = (n * channels + c) * positions;
      let dead = 0;
      let saturated = 0;
      for (let k = 0; k < positions; k++) {
        const v = y[start + k] as number;
        // The table's predicates, read as its numbers: no call per value (it is megamorphic across activations).
        if (v <= deadAtOrBelow) dead++;
        if (v < saturatedBelow || v > saturatedAbove) saturated++;
      }
      channelDead[c] = (channelDead[c] as number) + dead;
      channelSaturated[c] = (channelSaturated[c] as number) + saturated;
    }
  }
  let allDead = 0;
  let allSaturated = 0;
  for (let c = 0; c < channels; c++) {
    if (entries > 0 && channelDead[c] === entries) allDead++;
    if (entries > 0 && channelSaturated[c] === entries) allSaturated++;
    channelDead[c] = entries > 0 ? (channelDead[c] as number) / entries : 0;
    channelSaturated[c] = entries > 0 ? (channelSaturated[c] as number) / entries : 0;
  }
  return {
    dead: channels > 0 ? allDead / channels : 0,
    saturated: channels > 0 ? allSaturated / channels : 0,
    channelDead,
    channelSaturated,
  };
}

/**
 * The branch/shortcut variance ratio of a residual block y = shortcut + s F(x): mean square of s F over that of
 * the shortcut, at the sum. 0 for a zero branch (ReZero, SkipInit, Fixup at initialisation); about 1 or more per block
 * and the stream's variance compounds with depth, which is what normalisation or a scaled branch prevents (De &
 * Smith 2020 read batch norm's benefit in residual nets as this ratio shrinking ~1/depth). NaN when the shortcut is 0.
 */
export function branchShortcutRatio(variances: { shortcut: number; branch: number }): number {
  return variances.shortcut > 0 ? variances.branch / variances.shortcut : NaN;
}
