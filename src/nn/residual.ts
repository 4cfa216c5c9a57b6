/** A residual connection (He et al. 2016): y = x + f(x). Transparent for parameter names. */
import { add } from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module, type LayerFacts } from './module.js';

export class Residual extends Module {
  constructor(readonly inner: Module) {
    super();
    this.registerModule('', inner);
  }

  override facts(): LayerFacts | null {
    const f = this.inner.facts();
    return f ? { ...f, residual: true } : null;
  }

  forward(x: Tensor): Tensor {
    // The inner layer observes its own activation; the sum x + f(x) would hide saturation and dead units.
    return add(x, this.inner.forward(x));
  }
}
