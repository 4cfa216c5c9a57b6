/**
 * A finite-difference check of a whole module: the gradients of a scalar loss with respect to the input and to
 * every parameter, against central differences that perturb each value in place (float64 modules only).
 * `autograd/gradcheck` checks functions of their inputs; a module's parameters live inside it, so this one
 * perturbs them where they are.
 *
 * @example
 * const { maxError } = moduleGradcheck(layer, x, (y) => sum(mul(y, w)));
 */
import { centralDifferences, relativeError } from '../autograd/gradcheck.js';
import { backward, noGrad } from '../autograd/tape.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';

export interface ModuleGradcheckResult {
  /** max |analytic - numeric| / max(max |numeric|, floor) per checked tensor, by name ('input' and the parameters' dotted names) */
  errors: Record<string, number>;
  maxError: number;
}

export function moduleGradcheck(
  module: Module,
  input: Tensor,
  loss: (output: Tensor) => Tensor,
  options: { step?: number; floor?: number } = {},
): ModuleGradcheckResult {
  const h = options.step ?? 1e-6;
  // A tensor whose true gradient is 0 (a bias just before a batch norm) leaves only rounding noise: `floor` is
  // the gradient scale below which errors count as absolute.
  const floor = options.floor ?? 1e-8;
  const x = new Tensor(input.data.slice(), input.shape, { requiresGrad: true });
  const named = module.namedParameters();
  for (const { tensor } of named) {
    if (tensor.dtype !== 'float64')
      throw new TypeError(`moduleGradcheck needs float64 parameters; ${tensor.name} is ${tensor.dtype}.`);
  }
  module.zeroGrad();
  backward(loss(module.forward(x)));
  const targets: Array<[string, Tensor, Float64Array]> = [
    ['input', x, Float64Array.from(x.grad ?? new Float64Array(x.size))],
    ...named.map(({ name, tensor }): [string, Tensor, Float64Array] => [
      name,
      tensor,
      Float64Array.from(tensor.grad ?? new Float64Array(tensor.size)),
    ]),
  ];
  const evaluate = (): number => noGrad(() => loss(module.forward(x)).item());
  const errors: Record<string, number> = {};
  for (const [name, t, analytic] of targets)
    errors[name] = relativeError(analytic, centralDifferences(t, evaluate, h), floor);
  return { errors, maxError: Math.max(0, ...Object.values(errors)) };
}
