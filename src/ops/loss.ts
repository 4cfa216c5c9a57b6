/** Losses, each the mean over its elements (PyTorch's reduction='mean'), each backward beside its forward. */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { allocBuffer, formatShape, sameShape, type Buffer, type Tensor } from '../tensor/tensor.js';
import { logSoftmaxInto } from './softmax.js';

function checkLabels(labels: Int32Array, rowCount: number, classes: number): void {
  if (labels.length !== rowCount) {
    throw new RangeError(
      `crossEntropy: ${labels.length} labels for ${rowCount} rows of logits; give one class id per row.`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i] as number;
    if (c < 0 || c >= classes)
      throw new RangeError(`crossEntropy: label ${c} at row ${i} is outside 0..${classes - 1}.`);
  }
}

/**
 * Mean cross-entropy from logits [rows, classes] and integer class ids; stable for logits of any size because it
 * goes through log-softmax. Backward: (softmax - onehot) / rows.
 * @example crossEntropy(logits, batch.labels)
 */
export function crossEntropy(logits: Tensor, labels: Int32Array): Tensor {
  const classes = logits.shape[logits.rank - 1] as number;
  const rowCount = logits.size / classes;
  checkLabels(labels, rowCount, classes);
  const logp = allocBuffer(logits.size, logits.dtype);
  logSoftmaxInto(logits.data, logp, rowCount, classes);
  let total = 0;
  for (let r = 0; r < rowCount; r++) total -= logp[r * classes + (labels[r] as number)] as number;
  const out = allocBuffer(1, logits.dtype);
  out[0] = total / rowCount;
  return makeResult('cross-entropy', out, [], [logits], (result) => {
    const g = (result.grad as Buffer)[0] as number;
    const gx = gradTarget(logits);
    if (!gx) return;
    const scale = g / rowCount;
    for (let r = 0; r < rowCount; r++) {
      const o = r * classes;
      for (let j = 0; j < classes; j++)
        gx[o + j] = (gx[o + j] as number) + Math.exp(logp[o + j] as number) * scale;
      const t = o + (labels[r] as number);
      gx[t] = (gx[t] as number) - scale;
    }
  });
}

function checkSame(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new RangeError(
      `${op}: prediction ${formatShape(a.shape)} and target ${formatShape(b.shape)} must have the same shape.`,
    );
  }
}

/** Mean squared error. Backward: 2 (p - t) / n. */
export function mse(prediction: Tensor, target: Tensor): Tensor {
  checkSame('mse', prediction, target);
  const n = prediction.size;
  const p = prediction.data;
  const t = target.data;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = (p[i] as number) - (t[i] as number);
    s += d * d;
  }
  const out = allocBuffer(1, prediction.dtype);
  out[0] = s / n;
  return makeResult('mse', out, [], [prediction, target], (result) => {
    const g = (result.grad as Buffer)[0] as number;
    const gp = gradTarget(prediction);
    const gt = gradTarget(target);
    const scale = (2 * g) / n;
    for (let i = 0; i < n; i++) {
      const d = ((p[i] as number) - (t[i] as number)) * scale;
      if (gp) gp[i] = (gp[i] as number) + d;
      if (gt) gt[i] = (gt[i] as number) - d;
    }
  });
}

/**
 * Binary cross-entropy on probabilities. As PyTorch: each log is clamped at -100 so p = 0 or 1 stays finite, and
 * the gradient divides by max(p (1 - p), 1e-12).
 */
export function binaryCrossEntropy(probability: Tensor, target: Tensor): Tensor {
  checkSame('binaryCrossEntropy', probability, target);
  const n = probability.size;
  const p = probability.data;
  const t = target.data;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const pi = p[i] as number;
    const ti = t[i] as number;
    s -= ti * Math.max(Math.log(pi), -100) + (1 - ti) * Math.max(Math.log(1 - pi), -100);
  }
  const out = allocBuffer(1, probability.dtype);
  out[0] = s / n;
  return makeResult('binary-cross-entropy', out, [], [probability], (result) => {
    const g = (result.grad as Buffer)[0] as number;
    const gp = gradTarget(probability);
    if (!gp) return;
    for (let i = 0; i < n; i++) {
      const pi = p[i] as number;
      gp[i] = (gp[i] as number) + (g * (pi - (t[i] as number))) / Math.max(pi * (1 - pi), 1e-12) / n;
    }
  });
}

/** Binary cross-entropy from logits, stable form max(z, 0) - z t + log(1 + e^{-|z|}). Backward: (sigmoid(z) - t) / n. */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor): Tensor {
  checkSame('binaryCrossEntropyWithLogits', logits, target);
  const n = logits.size;
  const z = logits.data;
  const t = target.data;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const zi = z[i] as number;
    s += Math.max(zi, 0) - zi * (t[i] as number) + Math.log1p(Math.exp(-Math.abs(zi)));
  }
  const out = allocBuffer(1, logits.dtype);
  out[0] = s / n;
  return makeResult('binary-cross-entropy-with-logits', out, [], [logits], (result) => {
    const g = (result.grad as Buffer)[0] as number;
    const gz = gradTarget(logits);
    if (!gz) return;
    for (let i = 0; i < n; i++) {
      const zi = z[i] as number;
      const sig = zi >= 0 ? 1 / (1 + Math.exp(-zi)) : Math.exp(zi) / (1 + Math.exp(zi));
      gz[i] = (gz[i] as number) + (g * (sig - (t[i] as number))) / n;
    }
  });
}
