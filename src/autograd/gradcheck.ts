import { Tensor } from '../tensor/tensor.js';
import { backward } from './tape.js';

export interface GradcheckResult {
  /** max_i |analytic_i - numeric_i| / max(max_i |numeric_i|, 1e-8), per input */
  errors: number[];
  maxError: number;
  analytic: Float64Array[];
  numeric: Float64Array[];
}

/**
 * Compare reverse-mode gradients with central finite differences (float64 inputs only).
 * The error is relative to the scale of each input's gradient, so tiny entries are judged by the whole.
 * @example
 * const { maxError } = gradcheck((x) => sum(tanh(x[0])), [Tensor.randn([3, 4], rng, { dtype: 'float64' })]);
 */
export function gradcheck(
  fn: (inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: { step?: number } = {},
): GradcheckResult {
  const h = options.step ?? 1e-6;
  for (const t of inputs) {
    if (t.dtype !== 'float64')
      throw new TypeError(`gradcheck needs float64 inputs; ${t.toString()} is ${t.dtype}.`);
  }
  const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape, { requiresGrad: true, name: t.name }));
  const out = fn(leaves);
  if (out.size !== 1) throw new RangeError(`gradcheck needs a scalar output, got ${out.toString()}.`);
  backward(out);
  const analytic = leaves.map((t) => Float64Array.from(t.grad ?? new Float64Array(t.size)));
  const evaluate = (): number => fn(leaves.map((t) => new Tensor(t.data, t.shape))).item();
  const numeric = leaves.map((t) => centralDifferences(t, evaluate, h));
  const errors = analytic.map((a, k) => relativeError(a, numeric[k] as Float64Array, 1e-8));
  return { errors, maxError: Math.max(0, ...errors), analytic, numeric };
}

/**
 * d evaluate / d t by central differences, (f(v + h) - f(v - h)) / 2h, perturbing each entry of `t` in place and
 * restoring it. Shared by `gradcheck` (inputs) and `testing/moduleGradcheck` (parameters inside a module).
 */
export function centralDifferences(t: Tensor, evaluate: () => number, h: number): Float64Array {
  const g = new Float64Array(t.size);
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i] as number;
    t.data[i] = v + h;
    const fp = evaluate();
    t.data[i] = v - h;
    const fm = evaluate();
    t.data[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** max_i |analytic_i - numeric_i| / max(max_i |numeric_i|, floor); NaN anywhere counts as Infinity. */
export function relativeError(analytic: Float64Array, numeric: Float64Array, floor: number): number {
  let scale = floor;
  let worst = 0;
  for (let i = 0; i < numeric.length; i++) scale = Math.max(scale, Math.abs(numeric[i] as number));
  for (let i = 0; i < numeric.length; i++)
    worst = Math.max(worst, Math.abs((analytic[i] as number) - (numeric[i] as number)));
  return Number.isNaN(worst) ? Infinity : worst / scale;
}
