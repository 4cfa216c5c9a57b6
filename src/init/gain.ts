/**
 * The recommended gain for each activation: the factor that multiplies a variance-scaling initialiser's standard
 * deviation so that signals keep their scale through a layer followed by that non-linearity.
 *
 * Values match PyTorch's `torch.nn.init.calculate_gain` where it has an entry. PyTorch has none for elu, gelu
 * and softplus; for those we take the rule that produces PyTorch's own rectifier entries:
 *
 *   gain(phi) = 1 / sqrt(E[phi(z)^2]),  z ~ N(0, 1).
 *
 * Why: a layer y = W x with Var[W] = gain^2 / fanIn and x = phi(previous pre-activation) has
 * Var[y] = gain^2 E[x^2] (He et al. 2015, eq. 7, which uses the second moment E[x^2], mean included). Choosing
 * gain^2 = 1 / E[phi(z)^2] makes unit pre-activation variance a fixed point of this "length map"
 * (Poole et al. 2016), so the forward signal neither shrinks nor grows with depth at initialisation. For relu
 * (E = 1/2) this gives sqrt(2), for leaky-relu (E = (1+a^2)/2) sqrt(2/(1+a^2)): exactly PyTorch's values, so the
 * rule extends the table rather than inventing a new one. With the default slopes it gives
 * elu (alpha 1) 1.2452, gelu 1.5335, softplus 1.0419 (softplus's large mean, ln 2 at 0, counts in E[x^2]).
 *
 * PyTorch's tanh 5/3 and selu 3/4 are kept for parity although the rule gives 1.5925 and 1.0: 5/3 is an empirical
 * choice, and 3/4 is PyTorch's documented compromise for selu (use 'linear' with lecun-normal for a truly
 * self-normalising net, Klambauer et al. 2017).
 */
import { ACTIVATIONS, activationKernels, type ActivationName } from '../kernels/activations.js';
import { InitError } from './initializer.js';

/** A gain as a function of the activation's slope/scale parameter (leaky-relu and prelu slope, elu alpha). */
export type GainRule = (alpha: number) => number;

/**
 * One gain per activation; the record type makes the compiler reject a new activation without a gain.
 */
export const gains: { readonly [K in ActivationName]: GainRule } = {
  linear: () => 1,
  sigmoid: () => 1,
  tanh: () => 5 / 3,
  relu: () => Math.SQRT2,
  // He et al. 2015, sec. 2.2: Var[w] = 2 / ((1 + a^2) fanIn) for a rectifier with negative slope a.
  'leaky-relu': (slope) => Math.sqrt(2 / (1 + slope * slope)),
  prelu: (slope) => Math.sqrt(2 / (1 + slope * slope)),
  selu: () => 3 / 4,
  elu: (alpha) => secondMomentGain('elu', alpha),
  gelu: () => secondMomentGain('gelu'),
  softplus: () => secondMomentGain('softplus'),
};

/**
 * The recommended gain for `activation`, with its slope/scale `alpha` (default: the activation's own default,
 * leaky-relu 0.01, prelu 0.25, elu 1).
 *
 * @example
 * gainFor('relu');             // 1.4142...
 * gainFor('leaky-relu', 0.2);  // sqrt(2 / 1.04) = 1.3868...
 */
export function gainFor(activation: ActivationName, alpha?: number): number {
  return gains[activation](checkAlpha('gainFor', activation, alpha));
}

/** Throws unless `activation` is known and `alpha` (if given) finite; returns alpha or the default. */
function checkAlpha(who: string, activation: ActivationName, alpha: number | undefined): number {
  if (!Object.hasOwn(activationKernels, activation)) {
    throw new InitError(
      'invalid_value',
      `${who}: unknown activation '${String(activation)}'; use one of ${ACTIVATIONS.join(', ')}.`,
    );
  }
  const a = alpha ?? activationKernels[activation].defaultAlpha;
  if (typeof a !== 'number' || !Number.isFinite(a)) {
    throw new InitError(
      'invalid_value',
      `${who}('${activation}'): alpha must be a finite number, got ${String(a)}; omit it to use the default ` +
        `${activationKernels[activation].defaultAlpha}.`,
    );
  }
  return a;
}

const secondMomentCache = new Map<string, number>();

/**
 * 1 / sqrt(E[phi(z)^2]) for z ~ N(0, 1): the gain that makes unit pre-activation variance a fixed point
 * (see the file comment). Composite Simpson on [-12, 12] with 0 as a node, so the kinks of relu-like units sit on
 * the grid; the Gaussian tail beyond 12 is below 1e-31. Accurate to ~1e-12; results are memoised.
 *
 * @example
 * secondMomentGain('relu'); // 1.41421356...
 */
export function secondMomentGain(activation: ActivationName, alpha?: number): number {
  const a = checkAlpha('secondMomentGain', activation, alpha);
  const kernel = activationKernels[activation];
  const key = `${activation}:${a}`;
  const cached = secondMomentCache.get(key);
  if (cached !== undefined) return cached;
  const intervals = 4000; // even, and 2000 * h = 12 puts x = 0 on a node
  const low = -12;
  const h = 24 / intervals;
  let sum = 0;
  for (let i = 0; i <= intervals; i++) {
    const x = low + i * h;
    const weight = i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2;
    const y = kernel.value(x, a);
    sum += weight * y * y * Math.exp(-0.5 * x * x);
  }
  const secondMoment = (sum * h) / 3 / Math.sqrt(2 * Math.PI);
  const gain = 1 / Math.sqrt(secondMoment);
  secondMomentCache.set(key, gain);
  return gain;
}
