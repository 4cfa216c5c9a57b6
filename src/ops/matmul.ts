/** Matrix products and the fused dense layer op. Transposed operands are read in place, never copied. */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { activationBackward, activationForward, kernels } from '../kernels/index.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';

/**
 * op(a) @ op(b) for 2-D tensors, op = transpose when requested.
 * @example matmul(x, w, { transB: true }) // x [B, in] times w [out, in]^T
 */
export function matmul(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const tA = options.transA ?? false;
  const tB = options.transB ?? false;
  if (a.rank !== 2 || b.rank !== 2) {
    throw new RangeError(
      `matmul needs 2-D tensors, got ${formatShape(a.shape)} and ${formatShape(b.shape)}; reshape first.`,
    );
  }
  const m = (tA ? a.shape[1] : a.shape[0]) as number;
  const k = (tA ? a.shape[0] : a.shape[1]) as number;
  const kb = (tB ? b.shape[1] : b.shape[0]) as number;
  const n = (tB ? b.shape[0] : b.shape[1]) as number;
  if (k !== kb) {
    throw new RangeError(
      `matmul inner dimensions differ: ${formatShape(a.shape)}${tA ? 'ᵀ' : ''} @ ${formatShape(b.shape)}${tB ? 'ᵀ' : ''} (${k} vs ${kb}).`,
    );
  }
  if (a.dtype !== b.dtype) throw new TypeError(`matmul dtypes differ: ${a.dtype} vs ${b.dtype}.`);
  const out = allocBuffer(m * n, a.dtype);
  kernels().matmul(a.data, b.data, out, m, k, n, tA, tB, false);
  return makeResult('matmul', out, [m, n], [a, b], (result) => {
    const g = result.grad as Buffer;
    const ga = gradTarget(a);
    const gb = gradTarget(b);
    const kern = kernels();
    // C = op(A) op(B): d op(A) = dC op(B)ᵀ, d op(B) = op(A)ᵀ dC, transposed back where A or B is stored transposed.
    if (ga) {
      if (!tA) kern.matmul(g, b.data, ga, m, n, k, false, !tB, true);
      else kern.matmul(b.data, g, ga, k, n, m, tB, true, true);
    }
    if (gb) {
      if (!tB) kern.matmul(a.data, g, gb, k, m, n, !tA, false, true);
      else kern.matmul(g, a.data, gb, n, m, k, true, tA, true);
    }
  });
}

/**
 * The fused dense op: y = phi(x Wᵀ + b) with W in PyTorch's [out, in] layout. One node, one backward:
 * dz = dy * phi'(z), dW += dzᵀ x, db += sum_batch dz, dx += dz W.
 * @example linear(x, weight, bias, 'relu')
 */
export function linear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  activation: ActivationName = 'linear',
  alpha?: number,
): Tensor {
  if (x.rank !== 2 || weight.rank !== 2) {
    throw new RangeError(
      `linear needs x [batch, in] and weight [out, in], got ${formatShape(x.shape)} and ${formatShape(weight.shape)}.`,
    );
  }
  const batch = x.shape[0] as number;
  const inSize = x.shape[1] as number;
  const outSize = weight.shape[0] as number;
  if (weight.shape[1] !== inSize) {
    throw new RangeError(
      `linear: input has ${inSize} features but weight ${formatShape(weight.shape)} expects ${weight.shape[1]}; the weight is [out, in].`,
    );
  }
  if (bias && bias.size !== outSize) {
    throw new RangeError(
      `linear: bias ${formatShape(bias.shape)} must have ${outSize} values (one per output).`,
    );
  }
  const kern = activationKernels[activation];
  const a = alpha ?? kern.defaultAlpha;
  const n = batch * outSize;
  const z = allocBuffer(n, x.dtype);
  kernels().matmul(x.data, weight.data, z, batch, inSize, outSize, false, true, false);
  if (bias) {
    const bd = bias.data;
    for (let r = 0; r < batch; r++) {
      const o = r * outSize;
      for (let j = 0; j < outSize; j++) z[o + j] = (z[o + j] as number) + (bd[j] as number);
    }
  }
  const y = activation === 'linear' ? z : allocBuffer(n, x.dtype);
  if (activation !== 'linear') activationForward(activation, z, y, n, a);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return makeResult(`linear+${activation}`, y, [batch, outSize], inputs, (result) => {
    const g = result.grad as Buffer;
    let gz: Buffer = g;
    if (activation !== 'linear') {
      gz = allocBuffer(n, x.dtype);
      activationBackward(activation, z, y, g, gz, n, a);
    }
    const gw = gradTarget(weight);
    const gx = gradTarget(x);
    const kernel = kernels();
    if (gw) kernel.matmul(gz, x.data, gw, outSize, batch, inSize, true, false, true);
    if (bias) {
      const gb = gradTarget(bias);
      if (gb) {
        for (let r = 0; r < batch; r++) {
          const o = r * outSize;
          for (let j = 0; j < outSize; j++) gb[j] = (gb[j] as number) + (gz[o + j] as number);
        }
      }
    }
    if (gx) kernel.matmul(gz, weight.data, gx, batch, outSize, inSize, false, false, true);
  });
}
