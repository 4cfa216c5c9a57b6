/** Shape ops: reshape shares the data; the gradient flows back unchanged. */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { formatShape, shapeSize, type Buffer, type Shape, type Tensor } from '../tensor/tensor.js';

/** A view with another shape of the same size (data shared, no copy). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  if (shapeSize(shape) !== x.size) {
    throw new RangeError(
      `reshape: ${formatShape(x.shape)} has ${x.size} values; ${formatShape(shape)} needs ${shapeSize(shape)}.`,
    );
  }
  return makeResult('reshape', x.data, shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let i = 0; i < g.length; i++) gx[i] = (gx[i] as number) + (g[i] as number);
  });
}
