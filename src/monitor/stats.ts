/**
 * Read-only statistics of parameters and activations. Nothing here changes a value; each function returns what it
 * measured. Non-finite entries are counted, never skipped, and make the norms non-finite.
 */
import { activationKernels, type ActivationName } from '../kernels/activations.js';
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
 * One pass over a parameter's value, gradient and (optionally) the update just applied. The common finite case
 * runs branch-light; a second pass counts non-finite entries only when the gradient's norm says there are some.
 */
export function paramStats(value: Buffer, grad: Buffer | null, update: Buffer | null): ParamStats {
  const n = value.length;
  let w2 = 0;
  let g2 = 0;
  let u2 = 0;
  let maxAbs = 0;
  if (grad && update && grad.length === n && update.length === n) {
    // Two independent accumulators per sum: a single running sum is bound by the add's latency, not by memory.
    let w2b = 0;
    let g2b = 0;
    let u2b = 0;
    let maxB = 0;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const w0 = value[i] as number;
      const w1 = value[i + 1] as number;
      const g0 = grad[i] as number;
      const g1 = grad[i + 1] as number;
      const u0 = update[i] as number;
      const u1 = update[i + 1] as number;
      w2 += w0 * w0;
      w2b += w1 * w1;
      g2 += g0 * g0;
      g2b += g1 * g1;
      u2 += u0 * u0;
      u2b += u1 * u1;
      const a0 = Math.abs(g0);
      const a1 = Math.abs(g1);
      if (a0 > maxAbs) maxAbs = a0;
      if (a1 > maxB) maxB = a1;
    }
    for (; i < n; i++) {
      const w = value[i] as number;
      const g = grad[i] as number;
      const u = update[i] as number;
      w2 += w * w;
      g2 += g * g;
      u2 += u * u;
      const a = Math.abs(g);
      if (a > maxAbs) maxAbs = a;
    }
    w2 += w2b;
    g2 += g2b;
    u2 += u2b;
    if (maxB > maxAbs) maxAbs = maxB;
  } else {
    for (let i = 0; i < n; i++) w2 += (value[i] as number) ** 2;
    if (grad) {
      for (let i = 0; i < grad.length; i++) {
        const g = grad[i] as number;
        g2 += g * g;
        const a = Math.abs(g);
        if (a > maxAbs) maxAbs = a;
      }
    }
    if (update) for (let i = 0; i < update.length; i++) u2 += (update[i] as number) ** 2;
  }
  let nonFinite = 0;
  if (grad && !Number.isFinite(g2)) {
    // Overflowing squares also land here; count only the entries that are themselves NaN or infinite.
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i] as number;
      if (g - g !== 0) {
        nonFinite++;
        const a = Math.abs(g);
        if (a !== a || a > maxAbs) maxAbs = a;
      }
    }
  }
  const weightNorm = Math.sqrt(w2);
  return {
    gradNorm: grad ? Math.sqrt(g2) : 0,
    weightNorm,
    updateRatio: update ? Math.sqrt(u2) / Math.max(weightNorm, 1e-12) : NaN,
    maxAbsGrad: maxAbs,
    nonFinite,
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

/** Statistics of a layer's output [rows, units] (for sequences, rows are time x batch). */
export function activationStats(y: Buffer, units: number, activation: ActivationName): ActivationStats {
  const kern = activationKernels[activation];
  const rows = units === 0 ? 0 : y.length / units;
  let s = 0;
  let s2 = 0;
  let nonFinite = 0;
  let saturatedUnits = 0;
  let deadUnits = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (v - v !== 0) {
      nonFinite++;
      continue;
    }
    s += v;
    s2 += v * v;
  }
  for (let u = 0; u < units; u++) {
    let allSaturated = rows > 0;
    let allDead = rows > 0;
    for (let r = 0; r < rows && (allSaturated || allDead); r++) {
      const v = y[r * units + u] as number;
      if (allSaturated && !kern.isSaturated(v)) allSaturated = false;
      if (allDead && !kern.isDead(v)) allDead = false;
    }
    if (allSaturated) saturatedUnits++;
    if (allDead) deadUnits++;
  }
  const n = y.length - nonFinite;
  const mean = n > 0 ? s / n : NaN;
  return {
    mean,
    std: n > 0 ? Math.sqrt(Math.max(0, s2 / n - mean * mean)) : NaN,
    saturated: units > 0 ? saturatedUnits / units : 0,
    dead: units > 0 ? deadUnits / units : 0,
    nonFinite,
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
  const kern = activationKernels[activation];
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
        if (kern.isDead(v)) dead++;
        if (kern.isSaturated(v)) saturated++;
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
