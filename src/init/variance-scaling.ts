/**
 * One variance-scaling initialiser and its named presets, which are settings of it rather than copies
 * (as tfjs's `GlorotUniform` is a `VarianceScaling`):
 *
 *   Var[w] = scale / fan,  fan = fanIn | fanOut | (fanIn + fanOut) / 2,
 *   normal:  w ~ N(0, scale / fan);   uniform: w ~ U[-limit, limit] with limit = sqrt(3 scale / fan).
 *
 * fan-in keeps the variance of the forward signal, fan-out that of the backward gradient (He et al. 2015,
 * sec. 2.2), fan-avg compromises between the two (Glorot & Bengio 2010, eq. 12).
 */
import type { Rng } from '../tensor/rng.js';
import type { Buffer, Shape } from '../tensor/tensor.js';
import { fans } from './fans.js';
import { checkNonNegative, checkTarget, InitError, type Initializer } from './initializer.js';

export type FanMode = 'fan-in' | 'fan-out' | 'fan-avg';
export type Distribution = 'normal' | 'uniform';

export interface VarianceScalingOptions {
  /** Var[w] * fan; a gain g gives scale g^2. */
  readonly scale: number;
  readonly mode: FanMode;
  readonly distribution: Distribution;
}

const FAN_MODES: readonly FanMode[] = ['fan-in', 'fan-out', 'fan-avg'];
const DISTRIBUTIONS: readonly Distribution[] = ['normal', 'uniform'];

/** Throws unless `options` is a valid setting; `who` names the caller in the message. */
function checkOptions(who: string, options: VarianceScalingOptions): void {
  checkNonNegative(who, 'scale', options.scale);
  if (!FAN_MODES.includes(options.mode)) {
    throw new InitError(
      'invalid_value',
      `${who}: mode '${String(options.mode)}' is not one of ${FAN_MODES.join(', ')}; use 'fan-in' to keep the ` +
        `forward variance.`,
    );
  }
  if (!DISTRIBUTIONS.includes(options.distribution)) {
    throw new InitError(
      'invalid_value',
      `${who}: distribution '${String(options.distribution)}' is not one of ${DISTRIBUTIONS.join(', ')}.`,
    );
  }
}

/** The fan that `mode` selects for a weight of `shape` (rank 2 or more). */
export function fanFor(mode: FanMode, shape: Shape): number {
  const { fanIn, fanOut } = fans(shape);
  return mode === 'fan-in' ? fanIn : mode === 'fan-out' ? fanOut : (fanIn + fanOut) / 2;
}

/**
 * The standard deviation sqrt(scale / fan) that `varianceScaling(options)` gives a weight of `shape`.
 *
 * @example
 * varianceScalingStd({ scale: 2, mode: 'fan-in', distribution: 'normal' }, [128, 256]); // sqrt(2/256) = 0.088
 */
export function varianceScalingStd(options: VarianceScalingOptions, shape: Shape): number {
  return Math.sqrt(options.scale / fanFor(options.mode, shape));
}

/**
 * Draws each weight independently with variance `scale / fan` from a normal or a uniform distribution.
 * Settings are checked here, where the initialiser is built; the shape is checked when it is applied.
 *
 * @example
 * const init = varianceScaling({ scale: 2, mode: 'fan-in', distribution: 'normal' }); // = heNormal()
 * init(weights, [128, 256], rng);
 */
export function varianceScaling(options: VarianceScalingOptions): Initializer {
  checkOptions('varianceScaling', options);
  const { distribution } = options;
  return (out: Buffer, shape: Shape, rng: Rng): void => {
    checkTarget('varianceScaling', out, shape);
    if (out.length === 0) return; // a zero-size weight has a zero fan; there is nothing to draw
    const std = varianceScalingStd(options, shape);
    if (distribution === 'normal') {
      for (let i = 0; i < out.length; i++) out[i] = rng.normal(0, std);
    } else {
      // Var[U[-L, L]] = L^2 / 3, so L = sqrt(3) std.
      const limit = Math.sqrt(3) * std;
      for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
    }
  };
}

/** The config names that are presets of `varianceScaling`. */
export type VarianceScalingPreset =
  'xavier-uniform' | 'xavier-normal' | 'he-uniform' | 'he-normal' | 'lecun-normal';

/**
 * Each preset's fan, distribution and default gain; scale = gain^2. One table, so a preset cannot drift from
 * its named factory or from the config resolver.
 */
export const varianceScalingPresets: {
  readonly [K in VarianceScalingPreset]: {
    readonly mode: FanMode;
    readonly distribution: Distribution;
    readonly defaultGain: number;
  };
} = {
  'xavier-uniform': { mode: 'fan-avg', distribution: 'uniform', defaultGain: 1 },
  'xavier-normal': { mode: 'fan-avg', distribution: 'normal', defaultGain: 1 },
  'he-uniform': { mode: 'fan-in', distribution: 'uniform', defaultGain: Math.SQRT2 },
  'he-normal': { mode: 'fan-in', distribution: 'normal', defaultGain: Math.SQRT2 },
  'lecun-normal': { mode: 'fan-in', distribution: 'normal', defaultGain: 1 },
};

/**
 * The `varianceScaling` settings of a preset with gain `gain` (default the preset's own) and, optionally, a
 * different fan.
 *
 * @example
 * presetOptions('he-normal', Math.SQRT2, 'fan-out'); // { scale: 2, mode: 'fan-out', distribution: 'normal' }
 */
export function presetOptions(
  preset: VarianceScalingPreset,
  gain?: number,
  mode?: FanMode,
): VarianceScalingOptions {
  const settings = varianceScalingPresets[preset];
  const g = gain ?? settings.defaultGain;
  checkNonNegative(preset, 'gain', g);
  return { scale: g * g, mode: mode ?? settings.mode, distribution: settings.distribution };
}

/**
 * Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks", eq. 16:
 * w ~ U[-limit, limit], limit = gain sqrt(6 / (fanIn + fanOut)), so Var[w] = gain^2 2 / (fanIn + fanOut).
 *
 * @example
 * xavierUniform()(w, [64, 32], rng); // limit sqrt(6/96) = 0.25
 */
export function xavierUniform(gain = 1): Initializer {
  return varianceScaling(presetOptions('xavier-uniform', gain));
}

/**
 * Glorot & Bengio 2010, the normal form of eq. 12: w ~ N(0, gain^2 2 / (fanIn + fanOut)).
 *
 * @example
 * xavierNormal(gainFor('tanh'))(w, [64, 32], rng);
 */
export function xavierNormal(gain = 1): Initializer {
  return varianceScaling(presetOptions('xavier-normal', gain));
}

export interface HeOptions {
  /** 'fan-in' (default) keeps forward variance; 'fan-out' keeps backward variance (He et al. 2015, eq. 14). */
  readonly mode?: 'fan-in' | 'fan-out';
  /** Default sqrt(2) for relu; sqrt(2 / (1 + a^2)) for a leaky rectifier of slope a (`gainFor`). */
  readonly gain?: number;
}

/**
 * He et al. 2015, "Delving Deep into Rectifiers", eq. 10: w ~ U[-limit, limit] with Var[w] = gain^2 / fan,
 * gain^2 = 2 for relu, i.e. limit = sqrt(6 / fanIn).
 *
 * @example
 * heUniform()(w, [128, 256], rng);                              // limit sqrt(6/256)
 * heUniform({ gain: gainFor('leaky-relu', 0.2) })(w, shape, rng);
 */
export function heUniform(options: HeOptions = {}): Initializer {
  return varianceScaling(presetOptions('he-uniform', options.gain, options.mode));
}

/**
 * He et al. 2015, eq. 10: w ~ N(0, gain^2 / fan), gain^2 = 2 for relu, i.e. Var[w] = 2 / fanIn.
 *
 * @example
 * heNormal({ mode: 'fan-out' })(w, [128, 256], rng); // std sqrt(2/128)
 */
export function heNormal(options: HeOptions = {}): Initializer {
  return varianceScaling(presetOptions('he-normal', options.gain, options.mode));
}

/**
 * LeCun et al. 1998, "Efficient BackProp", sec. 4.6: w ~ N(0, gain^2 / fanIn), Var[w] = 1 / fanIn. With gain 1 it
 * is the initialisation of self-normalising selu nets (Klambauer et al. 2017); with gain sigma_w it is the
 * sigma_w^2 / fanIn of signal-propagation papers (Poole et al. 2016).
 *
 * @example
 * lecunNormal()(w, [128, 256], rng); // std 1/16
 */
export function lecunNormal(gain = 1): Initializer {
  return varianceScaling(presetOptions('lecun-normal', gain));
}
