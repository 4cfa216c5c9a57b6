/**
 * Fused recurrent time steps: one op per step for the vanilla RNN, the LSTM (Hochreiter & Schmidhuber 1997, with the
 * forget gate of Gers et al. 2000) and the GRU (Cho et al. 2014), in PyTorch's gate layouts (LSTM i,f,g,o; GRU r,z,n)
 * so weights compare one to one with nn.RNN / nn.LSTM / nn.GRU.
 *
 * The input projection of every step, P = X W_ihᵀ + b_ih for all T*B rows, is one big matmul done before the loop;
 * a step reads its rows of P in place and adds the hidden projection h W_hhᵀ + b_hh. A step's output is the cell
 * state: h for RNN and GRU, [h | c] side by side for the LSTM, so the next step and the per-time-step gradient hook
 * both see one tensor.
 */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { activationKernels, type ActivationName } from '../kernels/activations.js';
import { activationForward, addInPlace, kernels } from '../kernels/index.js';
import { tsKernels } from '../kernels/ts.js';
import { allocBuffer, formatShape, type Buffer, type Tensor } from '../tensor/tensor.js';

export type CellKind = 'rnn' | 'lstm' | 'gru';

/** Gates per unit and state width per unit, declared by each cell. */
export const CELL_SHAPES: { readonly [K in CellKind]: { gates: number; state: number } } = {
  rnn: { gates: 1, state: 1 },
  lstm: { gates: 4, state: 2 },
  gru: { gates: 3, state: 1 },
};

/**
 * Scratch buffers that live only inside one call (a step's forward or its backward), reused by every step: the
 * step arena keeps what it hands out until the step ends, so per-call temporaries taken from it would grow the
 * step's memory by T times their size. Never read after the call returns.
 */
const scratchBuffers = new Map<string, Buffer>();

function scratch(slot: string, size: number, dtype: Tensor['dtype']): Buffer {
  const key = `${slot}:${dtype}`;
  let b = scratchBuffers.get(key);
  if (!b || b.length < size) {
    b = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
    scratchBuffers.set(key, b);
  }
  return b.length === size ? b : b.subarray(0, size);
}

/** h_prev: the first H columns of the state [B, S*H] (S = 2 for the LSTM), contiguous as the matmuls read it. */
function hiddenHalf(prev: Buffer, into: Buffer, B: number, H: number, S: number): void {
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) into[b * H + j] = prev[b * S * H + j] as number;
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * One time step. `projected` is P [T*B, G*H]; rows t*B .. t*B+B-1 belong to this step. `previous` is the state
 * [B, S*H] of the step before (zeros at t = 0).
 */
export function recurrentStep(
  kind: CellKind,
  projected: Tensor,
  t: number,
  previous: Tensor,
  weightHH: Tensor,
  biasHH: Tensor,
  activation: ActivationName = 'tanh',
): Tensor {
  const { gates: G, state: S } = CELL_SHAPES[kind];
  const H = weightHH.shape[1] as number;
  const B = previous.shape[0] as number;
  if (weightHH.shape[0] !== G * H || projected.shape[1] !== G * H || previous.shape[1] !== S * H) {
    throw new RangeError(
      `${kind} step: weight_hh ${formatShape(weightHH.shape)}, projection ${formatShape(projected.shape)} and state ${formatShape(previous.shape)} disagree; expected [${G * H}, ${H}], [T*B, ${G * H}] and [B, ${S * H}].`,
    );
  }
  const GH = G * H;
  const pOff = t * B * GH;
  const P = projected.data;
  const prev = previous.data;
  const dtype = projected.dtype;
  // hh = h_prev W_hhᵀ + b_hh, [B, G*H]; h_prev is the first H columns of the previous state. What the backward
  // does not read lives in scratch, not in the step's graph: hh (only the GRU's backward reads it) and the LSTM's
  // copy of h_prev (the backward copies it again). The LSTM keeps its gate activations, [h | c] and tanh(c).
  const hPrev = S === 1 ? prev : scratch('hPrev', B * H, dtype);
  if (S !== 1) hiddenHalf(prev, hPrev, B, H, S);
  const hh = kind === 'gru' ? allocBuffer(B * GH, dtype) : scratch('hh', B * GH, dtype);
  kernels().matmul(hPrev, weightHH.data, hh, B, H, GH, false, true, false);
  const bhh = biasHH.data;
  // The LSTM's element-wise part is one kernel (it adds b_hh itself): the backend's for float32 where it has one,
  // else the TypeScript reference, which serves any dtype.
  const backend = kernels();
  const gateKernels =
    dtype === 'float32' && backend.lstmGates && backend.lstmGatesBackward ? backend : tsKernels;
  if (kind !== 'lstm')
    for (let b = 0; b < B; b++)
      for (let k = 0; k < GH; k++) hh[b * GH + k] = (hh[b * GH + k] as number) + (bhh[k] as number);
  // act holds the gate activations after the non-linearity (the backward's saved values).
  const act = allocBuffer(B * GH, dtype);
  const out = allocBuffer(B * S * H, dtype);
  const tanhC = kind === 'lstm' ? allocBuffer(B * H, dtype) : null;
  const pre = kind === 'rnn' ? allocBuffer(B * H, dtype) : null;
  if (kind === 'lstm') gateKernels.lstmGates?.(P, pOff, hh, bhh, prev, act, out, tanhC as Buffer, B, H);
  else
    for (let b = 0; b < B; b++) {
      const g0 = b * GH;
      const p0 = pOff + g0;
      if (kind === 'rnn') {
        const pr = pre as Buffer;
        for (let j = 0; j < H; j++) pr[b * H + j] = (P[p0 + j] as number) + (hh[g0 + j] as number);
      } else {
        for (let j = 0; j < H; j++) {
          const r = sigmoid((P[p0 + j] as number) + (hh[g0 + j] as number));
          const z = sigmoid((P[p0 + H + j] as number) + (hh[g0 + H + j] as number));
          const n = Math.tanh((P[p0 + 2 * H + j] as number) + r * (hh[g0 + 2 * H + j] as number));
          act[g0 + j] = r;
          act[g0 + H + j] = z;
          act[g0 + 2 * H + j] = n;
          out[b * H + j] = (1 - z) * n + z * (prev[b * H + j] as number);
        }
      }
    }
  const rnnKernel = activationKernels[activation];
  const rnnAlpha = rnnKernel.defaultAlpha;
  if (kind === 'rnn') activationForward(activation, pre as Buffer, out, B * H, rnnAlpha);

  return makeResult(`${kind}-step`, out, [B, S * H], [projected, previous, weightHH, biasHH], (result) => {
    const dOut = result.grad as Buffer;
    // dA: gradient w.r.t. the gate pre-activations (for the GRU's n gate: w.r.t. its input-side part). The RNN's
    // activation backward accumulates into it, so it starts at zero; the LSTM and GRU write every entry.
    const dA = scratch('dA', B * GH, dtype);
    if (kind === 'rnn') dA.fill(0);
    // dHH: gradient w.r.t. hh (differs from dA only in the GRU's n gate, where hh_n is scaled by r).
    const dHH = kind === 'gru' ? scratch('dHH', B * GH, dtype) : dA;
    const gPrev = gradTarget(previous);
    if (kind === 'rnn') {
      rnnKernel.backward(pre as Buffer, out, dOut, dA, B * H, rnnAlpha);
    } else if (kind === 'lstm') {
      gateKernels.lstmGatesBackward?.(act, tanhC as Buffer, dOut, prev, dA, gPrev, B, H);
    } else {
      for (let b = 0; b < B; b++) {
        const g0 = b * GH;
        for (let j = 0; j < H; j++) {
          const r = act[g0 + j] as number;
          const z = act[g0 + H + j] as number;
          const n = act[g0 + 2 * H + j] as number;
          const dh = dOut[b * H + j] as number;
          const hp = prev[b * H + j] as number;
          const dAn = dh * (1 - z) * (1 - n * n);
          const dr = dAn * (hh[g0 + 2 * H + j] as number);
          const ar = dr * r * (1 - r);
          const az = dh * (hp - n) * z * (1 - z);
          dA[g0 + j] = ar;
          dA[g0 + H + j] = az;
          dA[g0 + 2 * H + j] = dAn;
          dHH[g0 + j] = ar;
          dHH[g0 + H + j] = az;
          dHH[g0 + 2 * H + j] = dAn * r;
          if (gPrev) gPrev[b * H + j] = (gPrev[b * H + j] as number) + dh * z;
        }
      }
    }
    // The kernels' p += u (WebAssembly SIMD for float32; the same float32 sums, in the same order, as the loops
    // it replaced): this step's rows of dL/dP, then dL/db_hh row by row.
    const gP = gradTarget(projected);
    if (gP) addInPlace(gP.subarray(pOff, pOff + B * GH), dA);
    const gB = gradTarget(biasHH);
    if (gB) for (let b = 0; b < B; b++) addInPlace(gB, dHH.subarray(b * GH, (b + 1) * GH));
    const kern = kernels();
    const gW = gradTarget(weightHH);
    if (gW) {
      const hPrevAgain = S === 1 ? prev : scratch('hPrev', B * H, dtype);
      if (S !== 1) hiddenHalf(prev, hPrevAgain, B, H, S);
      kern.matmul(dHH, hPrevAgain, gW, GH, B, H, true, false, true);
    }
    if (gPrev) {
      if (S === 1) kern.matmul(dHH, weightHH.data, gPrev, B, GH, H, false, false, true);
      else {
        const dh = scratch('dh', B * H, dtype);
        kern.matmul(dHH, weightHH.data, dh, B, GH, H, false, false, false);
        for (let b = 0; b < B; b++)
          for (let j = 0; j < H; j++)
            gPrev[b * S * H + j] = (gPrev[b * S * H + j] as number) + (dh[b * H + j] as number);
      }
    }
  });
}

/**
 * The hidden parts (first H columns) of T step states [B, S*H], stacked time-major into [T*B, H]: the sequence a
 * stacked layer or an every-step head reads.
 */
export function stackHidden(states: readonly Tensor[], hidden: number): Tensor {
  const first = states[0];
  if (!first) throw new RangeError('stackHidden needs at least one state.');
  const B = first.shape[0] as number;
  const width = first.shape[1] as number;
  const T = states.length;
  const out = allocBuffer(T * B * hidden, first.dtype);
  states.forEach((s, t) => {
    for (let b = 0; b < B; b++)
      for (let j = 0; j < hidden; j++) out[(t * B + b) * hidden + j] = s.data[b * width + j] as number;
  });
  return makeResult('stack-hidden', out, [T * B, hidden], states, (result) => {
    const g = result.grad as Buffer;
    states.forEach((s, t) => {
      const gs = gradTarget(s);
      if (!gs) return;
      for (let b = 0; b < B; b++)
        for (let j = 0; j < hidden; j++)
          gs[b * width + j] = (gs[b * width + j] as number) + (g[(t * B + b) * hidden + j] as number);
    });
  });
}
