/** Softmax and log-softmax over the last axis, stable for huge logits (the row maximum is subtracted first). */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { allocBuffer, type Buffer, type Tensor } from '../tensor/tensor.js';

function rows(x: Tensor): { rows: number; cols: number } {
  const cols = x.shape[x.rank - 1] ?? 1;
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

/** log softmax(x) = x - max - log sum exp(x - max), row by row. */
export function logSoftmaxInto(x: Buffer, out: Buffer, rowCount: number, cols: number): void {
  for (let r = 0; r < rowCount; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) {
      const v = x[o + j] as number;
      if (v > max || v !== v) max = v;
    }
    if (max === -Infinity) max = 0;
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp((x[o + j] as number) - max);
    const lse = max + Math.log(s);
    for (let j = 0; j < cols; j++) out[o + j] = (x[o + j] as number) - lse;
  }
}

/** log-softmax over the last axis. Backward: dx = g - softmax(x) * sum(g). */
export function logSoftmax(x: Tensor): Tensor {
  const { rows: rowCount, cols } = rows(x);
  const y = allocBuffer(x.size, x.dtype);
  logSoftmaxInto(x.data, y, rowCount, cols);
  return makeResult('log-softmax', y, x.shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let r = 0; r < rowCount; r++) {
      const o = r * cols;
      let gs = 0;
      for (let j = 0; j < cols; j++) gs += g[o + j] as number;
      for (let j = 0; j < cols; j++)
        gx[o + j] = (gx[o + j] as number) + (g[o + j] as number) - Math.exp(y[o + j] as number) * gs;
    }
  });
}

/** softmax over the last axis. Backward: dx = y * (g - sum(g * y)). */
export function softmax(x: Tensor): Tensor {
  const { rows: rowCount, cols } = rows(x);
  const y = allocBuffer(x.size, x.dtype);
  logSoftmaxInto(x.data, y, rowCount, cols);
  for (let i = 0; i < y.length; i++) y[i] = Math.exp(y[i] as number);
  return makeResult('softmax', y, x.shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let r = 0; r < rowCount; r++) {
      const o = r * cols;
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += (g[o + j] as number) * (y[o + j] as number);
      for (let j = 0; j < cols; j++)
        gx[o + j] = (gx[o + j] as number) + (y[o + j] as number) * ((g[o + j] as number) - dot);
    }
  });
}
