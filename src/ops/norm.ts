/**
 * Batch normalisation (Ioffe & Szegedy 2015) and layer normalisation (Ba et al. 2016) are one op with two settings:
 * which elements share a mean and variance. Features are the last axis.
 *   batch: statistics per feature over all leading axes (the batch);
 *   layer: statistics per row over the features.
 * y = gamma * (x - mu) / sqrt(var + eps) + beta, with the biased variance.
 * Backward for one group of N elements: dx = invstd / N * (N dxhat - sum dxhat - xhat sum(dxhat xhat)), dxhat = g gamma.
 */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';

export type NormMode = 'batch' | 'layer';

export interface NormStatistics {
  /** per group: mean and biased variance of what was normalised */
  mean: Float64Array;
  variance: Float64Array;
}

export function normalize(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  mode: NormMode,
  eps: number,
): { y: Tensor; stats: NormStatistics } {
  const features = x.shape[x.rank - 1] as number;
  const rows = x.size / features;
  if (gamma.size !== features || beta.size !== features) {
    throw new RangeError(
      `${mode} norm: gamma ${formatShape(gamma.shape)} and beta ${formatShape(beta.shape)} need ${features} values (the last axis of ${formatShape(x.shape)}).`,
    );
  }
  if (mode === 'batch' && rows < 2) {
    throw new RangeError(
      `batch norm in training mode needs more than one example per feature, got input ${formatShape(x.shape)}; use a batch of at least 2 or norm "layer".`,
    );
  }
  // Element e of group g lives at g * groupStride + e * elemStride.
  const groups = mode === 'batch' ? features : rows;
  const size = mode === 'batch' ? rows : features;
  const groupStride = mode === 'batch' ? 1 : features;
  const elemStride = mode === 'batch' ? features : 1;
  const xd = x.data;
  const gd = gamma.data;
  const bd = beta.data;
  const xhat = allocBuffer(x.size, x.dtype);
  const y = allocBuffer(x.size, x.dtype);
  const mean = new Float64Array(groups);
  const variance = new Float64Array(groups);
  const invStd = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    const base = g * groupStride;
    let s = 0;
    for (let e = 0; e < size; e++) s += xd[base + e * elemStride] as number;
    const mu = s / size;
    let v = 0;
    for (let e = 0; e < size; e++) {
      const d = (xd[base + e * elemStride] as number) - mu;
      v += d * d;
    }
    v /= size;
    mean[g] = mu;
    variance[g] = v;
    const inv = 1 / Math.sqrt(v + eps);
    invStd[g] = inv;
    for (let e = 0; e < size; e++) {
      const i = base + e * elemStride;
      const f = mode === 'batch' ? g : e;
      const h = ((xd[i] as number) - mu) * inv;
      xhat[i] = h;
      y[i] = (gd[f] as number) * h + (bd[f] as number);
    }
  }
  const out = makeResult(`${mode}-norm`, y, x.shape, [x, gamma, beta], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    const gg = gradTarget(gamma);
    const gb = gradTarget(beta);
    for (let i = 0; i < g.length; i++) {
      const f = i % features;
      if (gg) gg[f] = (gg[f] as number) + (g[i] as number) * (xhat[i] as number);
      if (gb) gb[f] = (gb[f] as number) + (g[i] as number);
    }
    if (!gx) return;
    for (let grp = 0; grp < groups; grp++) {
      const base = grp * groupStride;
      let sumD = 0;
      let sumDX = 0;
      for (let e = 0; e < size; e++) {
        const i = base + e * elemStride;
        const d = (g[i] as number) * (gd[mode === 'batch' ? grp : e] as number);
        sumD += d;
        sumDX += d * (xhat[i] as number);
      }
      const k = (invStd[grp] as number) / size;
      for (let e = 0; e < size; e++) {
        const i = base + e * elemStride;
        const d = (g[i] as number) * (gd[mode === 'batch' ? grp : e] as number);
        gx[i] = (gx[i] as number) + k * (size * d - sumD - (xhat[i] as number) * sumDX);
      }
    }
  });
  return { y: out, stats: { mean, variance } };
}
