import { formatShape, type Shape } from '../tensor/tensor.js';

/** NumPy broadcasting: align trailing dimensions; each pair must be equal or contain a 1. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `Shapes ${formatShape(a)} and ${formatShape(b)} cannot broadcast: dimension ${i} is ${da} vs ${db}; make them equal or 1.`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * For each flat index of `outShape`, the flat index of the broadcast input of shape `inShape`.
 * Used by the general path only; same-shape, scalar and row-vector cases have direct loops.
 */
export function broadcastIndex(outShape: Shape, inShape: Shape): Int32Array {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const outDim = rank - inShape.length + i;
    strides[outDim] = inShape[i] === 1 ? 0 : stride;
    stride *= inShape[i] as number;
  }
  let size = 1;
  for (const d of outShape) size *= d;
  const index = new Int32Array(size);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let flat = 0; flat < size; flat++) {
    index[flat] = offset;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d] = (counter[d] as number) + 1;
      offset += strides[d] as number;
      if ((counter[d] as number) < (outShape[d] as number)) break;
      offset -= (strides[d] as number) * (outShape[d] as number);
      counter[d] = 0;
    }
  }
  return index;
}

/** How an input of `inShape` maps onto `outShape`: identical, a single value, a repeated trailing block, or general. */
export type BroadcastPlan =
  | { kind: 'same' }
  | { kind: 'scalar' }
  | { kind: 'row'; period: number }
  | { kind: 'general'; index: Int32Array };

export function planBroadcast(outShape: Shape, inShape: Shape): BroadcastPlan {
  let inSize = 1;
  for (const d of inShape) inSize *= d;
  let outSize = 1;
  for (const d of outShape) outSize *= d;
  if (inSize === outSize) return { kind: 'same' };
  if (inSize === 1) return { kind: 'scalar' };
  // Trailing block: inShape (without leading 1s) equals the trailing dims of outShape.
  const trimmed = [...inShape];
  while (trimmed.length > 0 && trimmed[0] === 1) trimmed.shift();
  const tail = outShape.slice(outShape.length - trimmed.length);
  if (trimmed.every((d, i) => d === tail[i])) return { kind: 'row', period: inSize };
  return { kind: 'general', index: broadcastIndex(outShape, inShape) };
}

/** The input index for output index `i` under `plan`. */
export function mapIndex(plan: BroadcastPlan, i: number): number {
  switch (plan.kind) {
    case 'same':
      return i;
    case 'scalar':
      return 0;
    case 'row':
      return i % plan.period;
    case 'general':
      return plan.index[i] as number;
  }
}
