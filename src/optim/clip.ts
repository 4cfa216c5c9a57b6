/**
 * Gradient clipping as gradient transformations. Each one reports what it measured,
 * `{ normBefore, normAfter, factor, clipped }` (global L2 norms of the updates before and after, the overall
 * shrink normAfter / normBefore, and 1 when anything was changed), so clipping doubles as monitoring, as
 * PyTorch's `clip_grad_norm_` returning the total norm does. The measuring (`globalNorm`) and the changing
 * (`clipGradsWithNorm`) are public on their own, like PyTorch's `get_total_norm` and `clip_grads_with_norm_`.
 *
 * Non-finite gradients: the norm is reported as NaN or Infinity, never hidden, and the updates are left as they
 * are, for the loop's non-finite guard to handle; `errorIfNonfinite: true` raises instead.
 */
import type { ClipConfig, ClipName } from '../config/types.js';
import { sumOfSquares as kernelSumOfSquares } from '../kernels/index.js';
import type { Buffer } from '../tensor/tensor.js';
import { checkInteger, checkPositive, checkRange, OptimError } from './errors.js';
import { checkInfo, contextParams, identity } from './transform.js';
import type { EmptyState, GradientTransformation, TransformReport } from './types.js';

/** PyTorch adds this to the norm before dividing, so a clipped norm lands just under the maximum. */
const NORM_EPS = 1e-6;

/** Every clipping transform's report, plus its own extras. */
export interface ClipReport extends TransformReport {
  normBefore: number;
  normAfter: number;
  factor: number;
  clipped: number;
}

/** Sum of squares of one buffer (a vectorised pass on the WebAssembly kernels, the same bits). */
function sumOfSquares(b: Buffer): number {
  return kernelSumOfSquares(b);
}

/**
 * The L2 norm of all the buffers taken as one vector. Any NaN gives NaN and any infinity Infinity: a broken
 * gradient is never reported as 0. Finite values whose squares overflow (above ~1e154 in float64) are rescaled
 * rather than reported as Infinity.
 *
 * @example
 * globalNorm([new Float64Array([3]), new Float64Array([4])]) // 5
 */
export function globalNorm(buffers: readonly Buffer[]): number {
  let sum = 0;
  for (const b of buffers) sum += sumOfSquares(b);
  if (sum !== Infinity) return Math.sqrt(sum);
  // Overflow or a true infinity: scale by the largest magnitude (the LAPACK dnrm2 idea), NaN was ruled out above.
  let largest = 0;
  for (const b of buffers) for (let j = 0; j < b.length; j++) largest = Math.max(largest, Math.abs(b[j]));
  if (largest === Infinity) return Infinity;
  let scaled = 0;
  for (const b of buffers) {
    for (let j = 0; j < b.length; j++) {
      const x = b[j] / largest;
      scaled += x * x;
    }
  }
  return largest * Math.sqrt(scaled);
}

/**
 * Scales the buffers in place so their global norm is at most `maxNorm`, given their norm `totalNorm` (from
 * `globalNorm`): factor = maxNorm / (totalNorm + 1e-6) when totalNorm > maxNorm, else nothing changes.
 * Returns the factor applied (1 when none). A non-finite `totalNorm` changes nothing and returns 1.
 *
 * @example
 * const norm = globalNorm(grads);
 * const factor = clipGradsWithNorm(grads, 1, norm);
 */
export function clipGradsWithNorm(buffers: readonly Buffer[], maxNorm: number, totalNorm: number): number {
  if (!(totalNorm > maxNorm) || !Number.isFinite(totalNorm)) return 1;
  const factor = maxNorm / (totalNorm + NORM_EPS);
  for (const b of buffers) for (let j = 0; j < b.length; j++) b[j] *= factor;
  return factor;
}

function nonFiniteError(what: string, norm: number): OptimError {
  return new OptimError(
    'non_finite',
    `${what} is ${norm}: a gradient holds a non-finite value. Find where it starts (the monitor names the first ` +
      `parameter), lower the learning rate, or set errorIfNonfinite: false to leave it to the non-finite guard`,
  );
}

function unchanged(norm: number, extra: Record<string, number> = {}): ClipReport {
  return { normBefore: norm, normAfter: norm, factor: 1, clipped: 0, ...extra };
}

export interface NormClipOptions {
  /** Raise an OptimError (code 'non_finite') when the norm is NaN or infinite (PyTorch's `error_if_nonfinite`). */
  errorIfNonfinite?: boolean;
}

/**
 * Clamps every entry of the updates to [-max, max] (PyTorch's `clip_grad_value_`). It changes the direction of
 * the update, unlike the norm clips. NaN entries stay NaN.
 *
 * @example
 * chain(clipByValue(0.5), sgd({ learningRate: 0.1 }))
 */
export function clipByValue(max: number): GradientTransformation<EmptyState> {
  checkPositive('max', max, 1);
  return {
    name: `clipByValue(${max})`,
    init: () => ({}),
    update(updates): ClipReport {
      let before = 0;
      let after = 0;
      let clipped = 0;
      for (const u of updates) {
        for (let j = 0; j < u.length; j++) {
          const x = u[j];
          before += x * x;
          if (x > max) {
            u[j] = max;
            clipped = 1;
          } else if (x < -max) {
            u[j] = -max;
            clipped = 1;
          }
          after += u[j] * u[j];
        }
      }
      const normBefore = Math.sqrt(before);
      const normAfter = Math.sqrt(after);
      const factor = clipped === 1 && normBefore > 0 ? normAfter / normBefore : 1;
      return { normBefore, normAfter, factor, clipped };
    },
  };
}

/**
 * Rescales all updates together so their global L2 norm is at most `maxNorm` (Pascanu, Mikolov & Bengio 2013,
 * "On the difficulty of training recurrent neural networks"; PyTorch's `clip_grad_norm_`). The direction is kept.
 *
 * @example
 * chain(clipByGlobalNorm(1), adam({ learningRate: 1e-3 }))
 */
export function clipByGlobalNorm(
  maxNorm: number,
  options: NormClipOptions = {},
): GradientTransformation<EmptyState> {
  checkPositive('maxNorm', maxNorm, 1);
  const errorIfNonfinite = options.errorIfNonfinite ?? false;
  return {
    name: `clipByGlobalNorm(${maxNorm})`,
    init: () => ({}),
    update(updates): ClipReport {
      const normBefore = globalNorm(updates);
      if (!Number.isFinite(normBefore)) {
        if (errorIfNonfinite) throw nonFiniteError('the global gradient norm', normBefore);
        return unchanged(normBefore);
      }
      const factor = clipGradsWithNorm(updates, maxNorm, normBefore);
      return { normBefore, normAfter: normBefore * factor, factor, clipped: factor < 1 ? 1 : 0 };
    },
  };
}

/**
 * Rescales each parameter's update separately so its L2 norm is at most `maxNorm` (per-tensor clipping, as
 * with one `clip_grad_norm_` call per parameter). `clippedTensors` counts the tensors that were scaled;
 * `factor` is the overall shrink of the global norm. A tensor with a non-finite norm is left as it is.
 *
 * @example
 * chain(clipByParamNorm(1), sgd({ learningRate: 0.1 }))
 */
export function clipByParamNorm(
  maxNorm: number,
  options: NormClipOptions = {},
): GradientTransformation<EmptyState> {
  checkPositive('maxNorm', maxNorm, 1);
  const errorIfNonfinite = options.errorIfNonfinite ?? false;
  return {
    name: `clipByParamNorm(${maxNorm})`,
    init: () => ({}),
    update(updates): ClipReport {
      let before = 0;
      let after = 0;
      let clippedTensors = 0;
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const squares = sumOfSquares(u);
        before += squares;
        const norm = Math.sqrt(squares);
        if (!Number.isFinite(norm)) {
          if (errorIfNonfinite) throw nonFiniteError(`the gradient norm of parameter ${i}`, norm);
          after += squares;
          continue;
        }
        const factor = clipGradsWithNorm([u], maxNorm, norm);
        if (factor < 1) clippedTensors++;
        after += squares * factor * factor;
      }
      const normBefore = Math.sqrt(before);
      const normAfter = Math.sqrt(after);
      const factor = clippedTensors > 0 && normBefore > 0 ? normAfter / normBefore : 1;
      return { normBefore, normAfter, factor, clipped: clippedTensors > 0 ? 1 : 0, clippedTensors };
    },
  };
}

export interface AdaptiveGradClipOptions {
  /** The largest allowed ratio ||G_i|| / max(||W_i||, eps) (the paper's lambda; 0.01 for its batch sizes). */
  factor?: number;
  /** Floor on the weight norm, so zero-initialised units can still move (the paper's 1e-3). */
  eps?: number;
}

/**
 * Adaptive gradient clipping, unit-wise (Brock, De, Smith & Simonyan 2021, "High-Performance Large-Scale Image
 * Recognition Without Normalization", NFNets): for each unit i, when ||G_i|| > factor * max(||W_i||, eps), the
 * unit's update is scaled by factor * max(||W_i||, eps) / ||G_i||. A unit is one output row of a weight
 * [out, in, ...] (PyTorch layout), and one element of a vector (each bias entry belongs to one unit; norm
 * gains likewise). The output layer (`info.isOutput`) is left out, as in the paper. Reads the parameters before
 * the step from `ctx.params`, so place it before anything that changes them. `clippedUnits` counts the units
 * scaled. A unit with a NaN gradient norm is left as it is.
 *
 * @example
 * chain(adaptiveGradClip({ factor: 0.01 }), momentum({ learningRate: 0.1 }))
 */
export function adaptiveGradClip(options: AdaptiveGradClipOptions = {}): GradientTransformation<EmptyState> {
  const factor = checkPositive('factor', options.factor ?? 0.01, 0.01);
  const eps = checkPositive('eps', options.eps ?? 1e-3, 1e-3);
  return {
    name: `adaptiveGradClip(${factor})`,
    init(params, info) {
      checkInfo(params, info);
      return {};
    },
    update(updates, _state, ctx): ClipReport {
      const params = contextParams(ctx, updates);
      checkInfo(params, ctx.info);
      let before = 0;
      let after = 0;
      let clippedUnits = 0;
      for (let i = 0; i < updates.length; i++) {
        const u = updates[i];
        const info = ctx.info[i];
        if (info.isOutput) {
          const squares = sumOfSquares(u);
          before += squares;
          after += squares;
          continue;
        }
        const w = params[i];
        const width = info.shape.length >= 2 && info.shape[0] > 0 ? u.length / info.shape[0] : 1;
        for (let start = 0; start < u.length; start += width) {
          const end = start + width;
          let gradSquares = 0;
          let weightSquares = 0;
          for (let j = start; j < end; j++) {
            gradSquares += u[j] * u[j];
            weightSquares += w[j] * w[j];
          }
          before += gradSquares;
          const gradNorm = Math.sqrt(gradSquares);
          const maxNorm = factor * Math.max(Math.sqrt(weightSquares), eps);
          if (gradNorm > maxNorm) {
            // The NFNets reference divides by max(||G_i||, 1e-6); gradNorm > maxNorm > 0 already rules out 0.
            const scale = maxNorm / gradNorm;
            for (let j = start; j < end; j++) u[j] *= scale;
            after += gradSquares * scale * scale;
            clippedUnits++;
          } else {
            after += gradSquares;
          }
        }
      }
      const normBefore = Math.sqrt(before);
      const normAfter = Math.sqrt(after);
      const shrink = clippedUnits > 0 && normBefore > 0 ? normAfter / normBefore : 1;
      return { normBefore, normAfter, factor: shrink, clipped: clippedUnits > 0 ? 1 : 0, clippedUnits };
    },
  };
}

export interface AutoClipOptions {
  /** Clip to this percentile (0..100) of the global norms seen so far (the paper recommends 10). */
  percentile?: number;
  /**
   * How many recent norms to keep (default 10000). The paper keeps them all; a window bounds the memory and the
   * size of a snapshot, and for runs shorter than the window it is the paper's rule exactly.
   */
  historySize?: number;
  errorIfNonfinite?: boolean;
}

export interface AutoClipState {
  /** Ring buffer of the last `historySize` finite norms, in arrival order from `next` (oldest) round. */
  history: Float64Array;
  /** The same norms, sorted ascending in the first `size` slots, for the percentile. */
  sorted: Float64Array;
  size: number;
  next: number;
}

/**
 * AutoClip (Seetharaman, Wichern, Pardo, Le Roux & Khudanpur 2020, "AutoClip: Adaptive Gradient Clipping for
 * Source Separation Networks"): records each step's global norm, then clips to the given percentile of all
 * norms recorded so far, this one included, with numpy's linear interpolation and PyTorch's norm clip, as the
 * paper's code does. The report adds `threshold`. Non-finite norms are not recorded (they would poison the
 * percentile) and leave the updates as they are.
 *
 * @example
 * chain(autoClip({ percentile: 10 }), adam({ learningRate: 1e-3 }))
 */
export function autoClip(options: AutoClipOptions = {}): GradientTransformation<AutoClipState> {
  const percentile = checkRange('percentile', options.percentile ?? 10, 0, 100, 10);
  const historySize = checkInteger('historySize', options.historySize ?? 10000, 1, 10000);
  const errorIfNonfinite = options.errorIfNonfinite ?? false;
  return {
    name: `autoClip(${percentile})`,
    init: () => ({
      history: new Float64Array(historySize),
      sorted: new Float64Array(historySize),
      size: 0,
      next: 0,
    }),
    update(updates, state): ClipReport {
      if (state.history.length !== historySize || state.sorted.length !== historySize) {
        throw new OptimError(
          'size_mismatch',
          `autoClip state holds ${state.history.length} norms but historySize is ${historySize}; pass the state returned by this transform's init`,
        );
      }
      const normBefore = globalNorm(updates);
      if (!Number.isFinite(normBefore)) {
        if (errorIfNonfinite) throw nonFiniteError('the global gradient norm', normBefore);
        return unchanged(normBefore, { threshold: state.size > 0 ? percentileOf(state, percentile) : NaN });
      }
      record(state, normBefore);
      const threshold = percentileOf(state, percentile);
      const factor = clipGradsWithNorm(updates, threshold, normBefore);
      return { normBefore, normAfter: normBefore * factor, factor, clipped: factor < 1 ? 1 : 0, threshold };
    },
  };
}

/** Adds a norm to the window, dropping the oldest when full; keeps `sorted` sorted with two shifts, no allocation. */
function record(state: AutoClipState, norm: number): void {
  const { history, sorted } = state;
  if (state.size === history.length) {
    const oldest = history[state.next];
    const at = lowerBound(sorted, state.size, oldest);
    sorted.copyWithin(at, at + 1, state.size);
    state.size--;
  }
  const at = lowerBound(sorted, state.size, norm);
  sorted.copyWithin(at + 1, at, state.size);
  sorted[at] = norm;
  state.size++;
  history[state.next] = norm;
  state.next = (state.next + 1) % history.length;
}

/** First index in sorted[0, size) whose value is >= x. */
function lowerBound(sorted: Float64Array, size: number, x: number): number {
  let low = 0;
  let high = size;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < x) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** numpy.percentile's default ('linear') interpolation over the recorded norms. */
function percentileOf(state: AutoClipState, percentile: number): number {
  const rank = (percentile / 100) * (state.size - 1);
  const below = Math.floor(rank);
  const above = Math.min(below + 1, state.size - 1);
  return state.sorted[below] + (state.sorted[above] - state.sorted[below]) * (rank - below);
}

/** The config's `max`, which the schema requires for value/norm/param-norm (no silent default). */
function maxOf(cfg: ClipConfig): number {
  if (cfg.max === undefined) {
    throw new OptimError(
      'invalid_value',
      `clip.max is missing for clip '${cfg.name}'; give e.g. {"name": "${cfg.name}", "max": 1}`,
    );
  }
  return cfg.max;
}

/**
 * One constructor per clip name, keyed by the name so a new one cannot be missed. The config is the one
 * `resolveConfig` validated and filled (src/config/schema.ts holds the ranges and defaults); it is not checked again.
 */
const clipRules: { [K in ClipName]: (cfg: ClipConfig) => GradientTransformation<unknown> } = {
  none: () => identity(),
  value: (cfg) => clipByValue(maxOf(cfg)),
  norm: (cfg) => clipByGlobalNorm(maxOf(cfg)),
  'param-norm': (cfg) => clipByParamNorm(maxOf(cfg)),
  agc: (cfg) => adaptiveGradClip({ factor: cfg.factor ?? 0.01, eps: cfg.eps ?? 1e-3 }),
  autoclip: (cfg) => autoClip({ percentile: cfg.percentile ?? 10 }),
};

/**
 * Builds the configured clipping transform; `none` gives `identity()` (which reports nothing: measure with
 * `globalNorm` when the loop needs the norm anyway).
 *
 * @example
 * const opt = chain(clipFromConfig(config.clip), optimizerFromConfig(config.optimizer, schedule));
 */
export function clipFromConfig(cfg: ClipConfig): GradientTransformation<unknown> {
  return clipRules[cfg.name](cfg);
}
