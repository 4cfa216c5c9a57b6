/** Sum and mean over axes. A reduction is the transpose of a broadcast, so both share one index map. */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';
import { broadcastIndex } from './broadcast.js';

function normaliseAxes(x: Tensor, axes: number | readonly number[] | undefined): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((axis) => {
    const a = axis < 0 ? axis + x.rank : axis;
    if (!Number.isInteger(a) || a < 0 || a >= x.rank) {
      throw new RangeError(
        `Axis ${axis} is out of range for shape ${formatShape(x.shape)}; use 0..${x.rank - 1} or negative from the end.`,
      );
    }
    return a;
  });
}

function reduceSum(
  op: string,
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepDims: boolean,
  scale: number | null,
): Tensor {
  const axisList = normaliseAxes(x, axes);
  const kept = x.shape.map((d, i) => (axisList.includes(i) ? 1 : d));
  const outShape = keepDims ? kept : x.shape.filter((_, i) => !axisList.includes(i));
  const outSize = kept.reduce((a, b) => a * b, 1);
  const factor = scale ?? 1;
  const n = x.size;
  const xd = x.data;
  const out = allocBuffer(outSize, x.dtype);
  const index = outSize === 1 ? null : broadcastIndex(x.shape, kept);
  if (index === null) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xd[i] as number;
    out[0] = s * factor;
  } else {
    for (let i = 0; i < n; i++) {
      const j = index[i] as number;
      out[j] = (out[j] as number) + (xd[i] as number);
    }
    if (factor !== 1) for (let j = 0; j < outSize; j++) out[j] = (out[j] as number) * factor;
  }
  return makeResult(op, out, outShape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    if (index === null) {
      const gv = (g[0] as number) * factor;
      for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + gv;
    } else {
      for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (g[index[i] as number] as number) * factor;
    }
  });
}

/** Sum over `axes` (all when omitted). @example sum(x, 0) sums over the batch. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return reduceSum('sum', x, axes, keepDims, null);
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const axisList = normaliseAxes(x, axes);
  const count = axisList.reduce((c, a) => c * (x.shape[a] as number), 1);
  return reduceSum('mean', x, axisList, keepDims, 1 / count);
}
