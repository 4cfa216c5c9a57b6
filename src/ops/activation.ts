/** Activation ops: one op over the activation table (variants are settings), and PReLU with a learnable slope. */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { activationBackward, activationForward } from '../kernels/index.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';

/**
 * y = phi(x) element-wise. `alpha` is the slope of leaky-relu (default 0.01) or the scale of elu (default 1).
 * @example activation(z, 'tanh')
 */
export function activation(x: Tensor, name: ActivationName, alpha?: number): Tensor {
  const kern = activationKernels[name];
  const a = alpha ?? kern.defaultAlpha;
  const n = x.size;
  const y = allocBuffer(n, x.dtype);
  activationForward(name, x.data, y, n, a);
  return makeResult(name, y, x.shape, [x], (result) => {
    const gx = gradTarget(x);
    if (gx) activationBackward(name, x.data, y, result.grad as Buffer, gx, n, a);
  });
}

export const sigmoid = (x: Tensor): Tensor => activation(x, 'sigmoid');
export const tanh = (x: Tensor): Tensor => activation(x, 'tanh');
export const relu = (x: Tensor): Tensor => activation(x, 'relu');

/**
 * PReLU (He et al. 2015): y = x for x > 0, a x otherwise, with a learnable slope `a`: one value, or one per
 * feature of the last axis. d y / d a = x where x <= 0.
 */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  const features = x.shape[x.rank - 1] ?? 1;
  if (slope.size !== 1 && slope.size !== features) {
    throw new RangeError(
      `prelu slope ${formatShape(slope.shape)} must have 1 or ${features} values (the last axis of ${formatShape(x.shape)}).`,
    );
  }
  const n = x.size;
  const xd = x.data;
  const sd = slope.data;
  const perFeature = slope.size !== 1;
  const y = allocBuffer(n, x.dtype);
  for (let i = 0; i < n; i++) {
    const v = xd[i] as number;
    y[i] = v > 0 ? v : (sd[perFeature ? i % features : 0] as number) * v;
  }
  return makeResult('prelu', y, x.shape, [x, slope], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    const gs = gradTarget(slope);
    for (let i = 0; i < n; i++) {
      const v = xd[i] as number;
      const s = perFeature ? i % features : 0;
      if (v > 0) {
        if (gx) gx[i] = (gx[i] as number) + (g[i] as number);
      } else {
        if (gx) gx[i] = (gx[i] as number) + (g[i] as number) * (sd[s] as number);
        if (gs) gs[s] = (gs[s] as number) + (g[i] as number) * v;
      }
    }
  });
}
