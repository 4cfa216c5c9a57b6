/** Inverted dropout (Srivastava et al. 2014): keep with probability 1 - p and scale by 1 / (1 - p) in training. */
import { mul } from '../ops/index.js';
import type { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export class Dropout extends Module {
  constructor(
    readonly rate: number,
    private readonly rng: Rng,
  ) {
    super();
    if (!(rate >= 0 && rate < 1))
      throw new RangeError(`Dropout rate must be in [0, 1), got ${rate}; 0 disables dropout.`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.rate === 0) return x;
    const mask = Tensor.zeros(x.shape, x.dtype);
    const keep = 1 / (1 - this.rate);
    for (let i = 0; i < mask.size; i++) mask.data[i] = this.rng.next() < this.rate ? 0 : keep;
    return mul(x, mask);
  }
}
