/**
 * From the config's `init`, `recurrentInit` and `bias` entries (shared/CONTRACT.md) to initialisers.
 *
 * A spec first becomes an `InitPlan`, plain data saying which initialiser with which numbers; `resolveInit` builds
 * it, `describeInit` prints it and `expectedRms` predicts its scale, so the three cannot disagree.
 */
import { ACTIVATIONS, activationKernels, type ActivationName } from '../kernels/activations.js';
import { readBiasSpec, readInitSpec } from '../config/resolve.js';
import type { BiasSpec, InitName, InitSpec } from '../config/types.js';
import type { Shape } from '../tensor/tensor.js';
import { constant, normal, uniform } from './distributions.js';
import { gainFor } from './gain.js';
import { checkShape, formatShape, InitError, type Initializer } from './initializer.js';
import { deltaOrthogonal, identity, orthogonal } from './orthogonal.js';
import {
  fanFor,
  presetOptions,
  varianceScaling,
  varianceScalingStd,
  type VarianceScalingOptions,
  type VarianceScalingPreset,
} from './variance-scaling.js';

/** What the layer tells the resolver about itself. */
export interface InitContext {
  /** The non-linearity after this weight: he-* take its negative slope if it is leaky-relu or prelu. */
  readonly activation: ActivationName;
  /** That activation's slope/scale; default its own default (leaky-relu 0.01, prelu 0.25). */
  readonly alpha?: number;
  /** Where the spec came from, for error messages; default 'init'. */
  readonly path?: string;
}

/** A resolved spec: which initialiser with which numbers. `label` is the config's name for it. */
export type InitPlan =
  | { readonly kind: 'variance-scaling'; readonly label: string; readonly options: VarianceScalingOptions }
  | { readonly kind: 'orthogonal'; readonly label: string; readonly gain: number }
  | { readonly kind: 'delta-orthogonal'; readonly label: string; readonly gain: number }
  | { readonly kind: 'identity'; readonly label: string; readonly gain: number }
  | { readonly kind: 'normal'; readonly label: string; readonly std: number }
  | { readonly kind: 'uniform'; readonly label: string; readonly limit: number }
  | { readonly kind: 'constant'; readonly label: string; readonly value: number };

/** Rectifiers whose `alpha` is a negative slope a, for which He et al. 2015 use gain sqrt(2 / (1 + a^2)). */
const LEAKY_RECTIFIERS: ReadonlySet<ActivationName> = new Set<ActivationName>(['leaky-relu', 'prelu']);

function heGain(context: InitContext): number {
  return LEAKY_RECTIFIERS.has(context.activation) ? gainFor(context.activation, context.alpha) : Math.SQRT2;
}

function presetPlan(preset: VarianceScalingPreset, gain: number, label: string): InitPlan {
  return { kind: 'variance-scaling', label, options: presetOptions(preset, gain) };
}

/**
 * Each config name with its plan at gain multiplier `g` (1 unless wrapped in `{ gain, base }`); `g` multiplies the
 * base's standard deviation. Keyed by `InitName`, so a new name cannot miss an entry.
 */
const bases: { readonly [K in InitName]: (g: number, context: InitContext, label: string) => InitPlan } = {
  'xavier-uniform': (g, _context, label) => presetPlan('xavier-uniform', g, label),
  'xavier-normal': (g, _context, label) => presetPlan('xavier-normal', g, label),
  'he-uniform': (g, context, label) => presetPlan('he-uniform', g * heGain(context), label),
  'he-normal': (g, context, label) => presetPlan('he-normal', g * heGain(context), label),
  'lecun-normal': (g, _context, label) => presetPlan('lecun-normal', g, label),
  orthogonal: (g, _context, label) => ({ kind: 'orthogonal', label, gain: g }),
  'delta-orthogonal': (g, _context, label) => ({ kind: 'delta-orthogonal', label, gain: g }),
  identity: (g, _context, label) => ({ kind: 'identity', label, gain: g }),
  zeros: (_g, _context, label) => ({ kind: 'constant', label, value: 0 }),
};

/**
 * The plan for `spec`. The spec is checked by the config schema's one rule (`readInitSpec`, the same check
 * `resolveConfig` makes, so a spec from a resolved config passes as it is); a bad one throws a GradscopeError
 * naming the path, the bad value, what is accepted and the nearest name.
 *
 * @example
 * planInit({ gain: 1.5, base: 'lecun-normal' }, { activation: 'tanh' });
 * // { kind: 'variance-scaling', label: '1.5 x lecun-normal', options: { scale: 2.25, mode: 'fan-in', ... } }
 */
export function planInit(spec: InitSpec, context: InitContext): InitPlan {
  const path = context.path ?? 'init';
  if (!Object.hasOwn(activationKernels, context.activation)) {
    throw new InitError(
      'invalid_value',
      `${path}: unknown activation '${String(context.activation)}'; use one of ${ACTIVATIONS.join(', ')}.`,
    );
  }
  const checked = readInitSpec(spec, path);
  if (typeof checked === 'string') return bases[checked](1, context, checked);
  if ('normal' in checked) return { kind: 'normal', label: 'normal', std: checked.normal };
  if ('uniform' in checked) return { kind: 'uniform', label: 'uniform', limit: checked.uniform };
  return bases[checked.base](checked.gain, context, `${checked.gain} x ${checked.base}`);
}

/**
 * The initialiser for a weight's config spec.
 *
 * @example
 * const init = resolveInit('he-normal', { activation: 'leaky-relu', alpha: 0.2 }); // var 2 / (1.04 fanIn)
 * init(layer.weight.data, layer.weight.shape, rng.fork('layers.0.weight'));
 */
export function resolveInit(spec: InitSpec, context: InitContext): Initializer {
  return buildPlan(planInit(spec, context));
}

/** The initialiser a plan describes. */
export function buildPlan(plan: InitPlan): Initializer {
  switch (plan.kind) {
    case 'variance-scaling':
      return varianceScaling(plan.options);
    case 'orthogonal':
      return orthogonal(plan.gain);
    case 'delta-orthogonal':
      return deltaOrthogonal(plan.gain);
    case 'identity':
      return identity(plan.gain);
    case 'normal':
      return normal(plan.std);
    case 'uniform':
      return uniform(plan.limit);
    case 'constant':
      return constant(plan.value);
    default:
      return plan satisfies never;
  }
}

/**
 * The initialiser for a config `bias`: a constant, or `{ normal: std }`.
 *
 * @example
 * resolveBias(0)(bias, [128], rng);
 * resolveBias({ normal: 0.01 }, 'model.bias')(bias, [128], rng);
 */
export function resolveBias(spec: BiasSpec, path = 'bias'): Initializer {
  const checked = readBiasSpec(spec, path);
  return typeof checked === 'number' ? constant(checked) : normal(checked.normal);
}

/**
 * The root-mean-square of the entries `spec` gives a weight of `shape`: the standard deviation for the zero-mean
 * random forms; gain / sqrt(max(rows, cols)) for orthogonal (each unit row or column spreads over the longer side);
 * gain sqrt(min / (rows cols)) for identity; for delta-orthogonal gain sqrt(min(C_out, C_in) / size) (only the centre
 * tap's C_out x C_in orthogonal matrix is non-zero); |value| for a constant.
 *
 * @example
 * expectedRms('he-normal', { activation: 'relu' }, [128, 256]); // sqrt(2/256) = 0.0884
 */
export function expectedRms(spec: InitSpec, context: InitContext, shape: Shape): number {
  return planRms(planInit(spec, context), shape);
}

function planRms(plan: InitPlan, shape: Shape): number {
  const size = checkShape(plan.label, shape);
  const rows = shape[0] ?? 1;
  const cols = rows === 0 ? 0 : size / rows;
  switch (plan.kind) {
    case 'variance-scaling':
      return varianceScalingStd(plan.options, shape);
    case 'orthogonal':
      return plan.gain / Math.sqrt(Math.max(rows, cols));
    case 'identity':
      return plan.gain * Math.sqrt(Math.min(rows, cols) / size);
    case 'delta-orthogonal':
      return size === 0 ? 0 : plan.gain * Math.sqrt(Math.min(rows, shape[1] ?? 1) / size);
    case 'normal':
      return plan.std;
    case 'uniform':
      return plan.limit / Math.sqrt(3);
    case 'constant':
      return Math.abs(plan.value);
    default:
      return plan satisfies never;
  }
}

/**
 * A short human description; with a weight `shape` it includes the resulting scale.
 *
 * @example
 * describeInit('he-normal', { activation: 'relu' }, [128, 256]); // "he-normal (std 0.0884 at fan-in 256)"
 * describeInit({ gain: 1.5, base: 'orthogonal' });                // "1.5 x orthogonal (gain 1.5)"
 */
export function describeInit(
  spec: InitSpec,
  context: InitContext = { activation: 'linear' },
  shape?: Shape,
): string {
  const plan = planInit(spec, context);
  switch (plan.kind) {
    case 'variance-scaling': {
      const { scale, mode, distribution } = plan.options;
      if (shape === undefined) return `${plan.label} (var ${round(scale)}/${mode})`;
      const std = varianceScalingStd(plan.options, shape);
      const fan = round(fanFor(mode, shape));
      const limit = distribution === 'uniform' ? `limit ${round(Math.sqrt(3) * std)}, ` : '';
      return `${plan.label} (${limit}std ${round(std)} at ${mode} ${fan})`;
    }
    case 'orthogonal':
    case 'delta-orthogonal':
    case 'identity': {
      const rms = shape === undefined ? '' : `, rms ${round(planRms(plan, shape))} at ${formatShape(shape)}`;
      return `${plan.label} (gain ${round(plan.gain)}${rms})`;
    }
    case 'normal':
      return `normal (std ${round(plan.std)})`;
    case 'uniform':
      return `uniform (limit ${round(plan.limit)}, std ${round(plan.limit / Math.sqrt(3))})`;
    case 'constant':
      return plan.label;
    default:
      return plan satisfies never;
  }
}

function round(x: number): string {
  return String(Number(x.toPrecision(3)));
}
