/**
 * The ops of attention (Vaswani et al. 2017, "Attention Is All You Need"), each backward beside its forward, for
 * float32 and float64: batched matrix products, axis permutation and slicing, a softmax along an axis with causal and
 * key-padding masks, embedding lookup (its backward a scatter-add), sinusoidal positions, and scaled dot-product
 * multi-head attention as one fused op. The fused op is tested equal to its composition from the primitives here.
 *
 * Masks are prefixes: a query row may read keys 0 .. limit-1, where the limit is the smaller of the causal bound
 * (query i of Tq reads keys j <= i + Tk - Tq) and the example's key length (padding sits at the end). A row whose
 * keys are all masked gets zero weights and passes no gradient (PyTorch gives NaN there).
 */
import { gradTarget, makeResult } from '../autograd/tape.js';
import { kernels } from '../kernels/index.js';
import { allocBuffer, formatShape, Tensor, type Buffer, type DType, type Shape } from '../tensor/tensor.js';

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function normaliseAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RangeError(
      `${op}: axis ${axis} is out of range for a rank-${rank} tensor; use 0..${rank - 1} or negative from the end.`,
    );
  }
  return a;
}

/**
 * Batched op(a) @ op(b) over the leading (batch) axes, which must be equal: a [..., m, k], b [..., k, n] (stored
 * [..., k, m] / [..., n, k] when transposed) give [..., m, n]. Each matrix pair runs on the active kernels.
 * @example bmm(q, k, { transB: true }) // [B, H, Tq, dk] x [B, H, Tk, dk]ᵀ -> [B, H, Tq, Tk]
 */
export function bmm(a: Tensor, b: Tensor, options: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const tA = options.transA ?? false;
  const tB = options.transB ?? false;
  if (a.rank < 2 || a.rank !== b.rank) {
    throw new RangeError(
      `bmm needs two tensors of the same rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}; reshape first.`,
    );
  }
  const batchDims = a.shape.slice(0, -2);
  if (batchDims.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(
      `bmm batch axes differ: ${formatShape(a.shape)} vs ${formatShape(b.shape)}; every axis but the last two must match.`,
    );
  }
  if (a.dtype !== b.dtype) throw new TypeError(`bmm dtypes differ: ${a.dtype} vs ${b.dtype}.`);
  const r = a.rank;
  const m = (tA ? a.shape[r - 1] : a.shape[r - 2]) as number;
  const k = (tA ? a.shape[r - 2] : a.shape[r - 1]) as number;
  const kb = (tB ? b.shape[r - 1] : b.shape[r - 2]) as number;
  const n = (tB ? b.shape[r - 2] : b.shape[r - 1]) as number;
  if (k !== kb) {
    throw new RangeError(
      `bmm inner dimensions differ: ${formatShape(a.shape)}${tA ? 'ᵀ' : ''} @ ${formatShape(b.shape)}${tB ? 'ᵀ' : ''} (${k} vs ${kb}).`,
    );
  }
  const count = product(batchDims);
  const out = allocBuffer(count * m * n, a.dtype);
  const A = (buf: Buffer, p: number): Buffer => buf.subarray(p * m * k, (p + 1) * m * k);
  const B = (buf: Buffer, p: number): Buffer => buf.subarray(p * k * n, (p + 1) * k * n);
  const C = (buf: Buffer, p: number): Buffer => buf.subarray(p * m * n, (p + 1) * m * n);
  const kern = kernels();
  for (let p = 0; p < count; p++) kern.matmul(A(a.data, p), B(b.data, p), C(out, p), m, k, n, tA, tB, false);
  return makeResult('bmm', out, [...batchDims, m, n], [a, b], (result) => {
    const g = result.grad as Buffer;
    const ga = gradTarget(a);
    const gb = gradTarget(b);
    const kn = kernels();
    // As in `matmul`: d op(A) = dC op(B)ᵀ, d op(B) = op(A)ᵀ dC, transposed back where stored transposed.
    for (let p = 0; p < count; p++) {
      const gp = C(g, p);
      if (ga) {
        if (!tA) kn.matmul(gp, B(b.data, p), A(ga, p), m, n, k, false, !tB, true);
        else kn.matmul(B(b.data, p), gp, A(ga, p), k, n, m, tB, true, true);
      }
      if (gb) {
        if (!tB) kn.matmul(A(a.data, p), gp, B(gb, p), k, m, n, !tA, false, true);
        else kn.matmul(gp, A(a.data, p), B(gb, p), n, m, k, true, tA, true);
      }
    }
  });
}

/**
 * The axes of `x` reordered: output axis i is input axis `axes[i]` (NumPy's transpose). Copies; the backward
 * scatters the gradient back through the same index map.
 * @example permute(x, [0, 2, 1, 3]) // [B, T, H, dk] -> [B, H, T, dk]
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank;
  const seen = new Set(axes.map((a) => normaliseAxis('permute', a, rank)));
  if (axes.length !== rank || seen.size !== rank) {
    throw new RangeError(
      `permute: axes [${axes.join(', ')}] must list each axis of ${formatShape(x.shape)} once (0..${rank - 1}).`,
    );
  }
  const order = axes.map((a) => (a < 0 ? a + rank : a));
  const inStrides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = stride;
    stride *= x.shape[i] as number;
  }
  const outShape = order.map((a) => x.shape[a] as number);
  const strides = order.map((a) => inStrides[a] as number);
  const n = x.size;
  const index = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let flat = 0; flat < n; flat++) {
    index[flat] = offset;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d] = (counter[d] as number) + 1;
      offset += strides[d] as number;
      if ((counter[d] as number) < (outShape[d] as number)) break;
      offset -= (strides[d] as number) * (outShape[d] as number);
      counter[d] = 0;
    }
  }
  const xd = x.data;
  const out = allocBuffer(n, x.dtype);
  for (let i = 0; i < n; i++) out[i] = xd[index[i] as number] as number;
  return makeResult('permute', out, outShape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let i = 0; i < n; i++) {
      const j = index[i] as number;
      gx[j] = (gx[j] as number) + (g[i] as number);
    }
  });
}

/**
 * Elements `start .. end-1` of one axis (a copy). The backward adds the gradient into that window.
 * @example slice(qkv, 1, 0, dModel) // the query columns of a packed [rows, 3 dModel] projection
 */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normaliseAxis('slice', axis, x.rank);
  const dim = x.shape[a] as number;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
    throw new RangeError(
      `slice: ${start}..${end} is not a window of axis ${a} (length ${dim}) of ${formatShape(x.shape)}; use 0 <= start <= end <= ${dim}.`,
    );
  }
  const outer = product(x.shape.slice(0, a));
  const inner = product(x.shape.slice(a + 1));
  const width = (end - start) * inner;
  const rowIn = dim * inner;
  const xd = x.data;
  const out = allocBuffer(outer * width, x.dtype);
  for (let o = 0; o < outer; o++)
    out.set(xd.subarray(o * rowIn + start * inner, o * rowIn + start * inner + width), o * width);
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  return makeResult('slice', out, shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let o = 0; o < outer; o++) {
      const from = o * width;
      const to = o * rowIn + start * inner;
      for (let i = 0; i < width; i++) gx[to + i] = (gx[to + i] as number) + (g[from + i] as number);
    }
  });
}

/** Which keys a softmax row may read: a causal bound, per-example key lengths, or both (see the file comment). */
export interface AttentionMask {
  /** Query i (of Tq) reads keys j <= i + Tk - Tq: a decoder cannot look ahead. */
  causal?: boolean;
  /** Keys at or beyond keyLengths[b] are padding for example b (the first axis). */
  keyLengths?: Int32Array | null;
}

/** How many leading keys a row reads, for rows of a [batch, ..., Tq, Tk] score tensor. */
function keyLimits(op: string, shape: Shape, mask: AttentionMask): Int32Array | null {
  const causal = mask.causal ?? false;
  const lengths = mask.keyLengths ?? null;
  if (!causal && !lengths) return null;
  const rank = shape.length;
  if (rank < 2) {
    throw new RangeError(`${op}: a mask needs scores [..., Tq, Tk], got ${formatShape(shape)}.`);
  }
  const tk = shape[rank - 1] as number;
  const tq = shape[rank - 2] as number;
  const rows = product(shape.slice(0, -1));
  const batch = shape[0] as number;
  const rowsPerExample = rank > 2 ? rows / batch : rows;
  if (lengths) {
    if (rank < 3 || lengths.length !== batch) {
      throw new RangeError(
        `${op}: keyLengths has ${lengths.length} entries for scores ${formatShape(shape)}; give one length per example (the first axis), with scores [batch, ..., Tq, Tk].`,
      );
    }
    lengths.forEach((len, b) => {
      if (!Number.isInteger(len) || len < 0 || len > tk)
        throw new RangeError(`${op}: keyLengths[${b}] = ${len} is outside 0..${tk} (the number of keys).`);
    });
  }
  const limits = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let limit = causal ? Math.min(tk, Math.max(0, (r % tq) + tk - tq + 1)) : tk;
    if (lengths) limit = Math.min(limit, lengths[Math.floor(r / rowsPerExample)] as number);
    limits[r] = limit;
  }
  return limits;
}

/** softmax of `len` values at x[o], x[o + stride], ...; entries at and beyond `limit` are masked to 0. */
function softmaxRow(x: Buffer, y: Buffer, o: number, len: number, stride: number, limit: number): void {
  let max = -Infinity;
  for (let j = 0; j < limit; j++) {
    const v = x[o + j * stride] as number;
    if (v > max || v !== v) max = v;
  }
  if (max === -Infinity) max = 0;
  let s = 0;
  for (let j = 0; j < limit; j++) {
    const e = Math.exp((x[o + j * stride] as number) - max);
    y[o + j * stride] = e;
    s += e;
  }
  const inv = limit > 0 ? 1 / s : 0;
  for (let j = 0; j < limit; j++) y[o + j * stride] = (y[o + j * stride] as number) * inv;
  for (let j = limit; j < len; j++) y[o + j * stride] = 0;
}

/** dx += y (g - sum(g y)) along one row (masked entries have y = 0 and get nothing). */
function softmaxRowBackward(
  g: Buffer,
  y: Buffer,
  gx: Buffer,
  o: number,
  limit: number,
  stride: number,
): void {
  let dot = 0;
  for (let j = 0; j < limit; j++) dot += (g[o + j * stride] as number) * (y[o + j * stride] as number);
  for (let j = 0; j < limit; j++) {
    const i = o + j * stride;
    gx[i] = (gx[i] as number) + (y[i] as number) * ((g[i] as number) - dot);
  }
}

/**
 * softmax along `axis` (default the last), with an optional causal and/or key-padding mask (last axis only).
 * Backward: dx = y (g - sum(g y)) along the axis.
 * @example maskedSoftmax(scores, { causal: true }) // scores [B, H, T, T]
 */
export function maskedSoftmax(x: Tensor, options: AttentionMask & { axis?: number } = {}): Tensor {
  const axis = normaliseAxis('maskedSoftmax', options.axis ?? -1, x.rank);
  const limits = keyLimits('maskedSoftmax', x.shape, options);
  if (limits && axis !== x.rank - 1) {
    throw new RangeError(
      `maskedSoftmax: masks apply along the last axis (keys), not axis ${axis} of ${formatShape(x.shape)}.`,
    );
  }
  const len = x.shape[axis] as number;
  const inner = product(x.shape.slice(axis + 1));
  const outer = product(x.shape.slice(0, axis));
  const y = allocBuffer(x.size, x.dtype);
  const rowStart = (o: number, i: number): number => o * len * inner + i;
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++)
      softmaxRow(x.data, y, rowStart(o, i), len, inner, limits ? (limits[o] as number) : len);
  return makeResult('masked-softmax', y, x.shape, [x], (result) => {
    const g = result.grad as Buffer;
    const gx = gradTarget(x);
    if (!gx) return;
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++)
        softmaxRowBackward(g, y, gx, rowStart(o, i), limits ? (limits[o] as number) : len, inner);
  });
}

/**
 * Rows of `weight` [vocabulary, width] picked by `ids`: the output is [...shape, width] (shape defaults to
 * [ids.length]). The backward scatter-adds each output row's gradient into its id's row, so a repeated id
 * accumulates.
 * @example embedding(table, Int32Array.from([3, 1, 3]), [1, 3]) // [1, 3, width]
 */
export function embedding(weight: Tensor, ids: Int32Array, shape: Shape = [ids.length]): Tensor {
  if (weight.rank !== 2) {
    throw new RangeError(
      `embedding: the table must be [vocabulary, width], got ${formatShape(weight.shape)}.`,
    );
  }
  if (product(shape) !== ids.length) {
    throw new RangeError(`embedding: ${ids.length} ids cannot take the shape ${formatShape(shape)}.`);
  }
  const vocabulary = weight.shape[0] as number;
  const width = weight.shape[1] as number;
  for (let p = 0; p < ids.length; p++) {
    const id = ids[p] as number;
    if (id < 0 || id >= vocabulary) {
      throw new RangeError(
        `embedding: id ${id} at position ${p} is outside 0..${vocabulary - 1}; the table has ${vocabulary} rows, so give ids below ${vocabulary} or enlarge the vocabulary.`,
      );
    }
  }
  const wd = weight.data;
  const out = allocBuffer(ids.length * width, weight.dtype);
  for (let p = 0; p < ids.length; p++) {
    const from = (ids[p] as number) * width;
    out.set(wd.subarray(from, from + width), p * width);
  }
  return makeResult('embedding', out, [...shape, width], [weight], (result) => {
    const g = result.grad as Buffer;
    const gw = gradTarget(weight);
    if (!gw) return;
    for (let p = 0; p < ids.length; p++) {
      const to = (ids[p] as number) * width;
      const from = p * width;
      for (let d = 0; d < width; d++) gw[to + d] = (gw[to + d] as number) + (g[from + d] as number);
    }
  });
}

/**
 * The sinusoidal position table of Vaswani et al. (2017, section 3.5), [length, width], no gradient:
 * PE(pos, 2i) = sin(pos / 10000^(2i / width)), PE(pos, 2i + 1) = cos(pos / 10000^(2i / width)).
 * @example add(tokens, sinusoidalPositions(T, dModel)) // tokens [B, T, dModel]
 */
export function sinusoidalPositions(length: number, width: number, dtype: DType = 'float32'): Tensor {
  const table = Tensor.zeros([length, width], dtype);
  for (let pos = 0; pos < length; pos++) {
    for (let i = 0; i < width; i++) {
      const pair = i - (i % 2);
      const angle = pos / Math.pow(10000, pair / width);
      table.data[pos * width + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

export interface AttentionOptions extends AttentionMask {
  heads: number;
  /** Multiplies the scores; default 1 / sqrt(dModel / heads) (Vaswani et al. 2017, eq. 1). */
  scale?: number;
}

export interface AttentionResult {
  /** [B, Tq, dModel], the heads side by side (head h in columns h dk .. (h + 1) dk - 1). */
  out: Tensor;
  /** The attention weights [B, heads, Tq, Tk] (read-only: the backward uses them). */
  weights: Buffer;
}

/**
 * Scaled dot-product attention over `heads` heads as one op: for each example b and head h,
 * O = softmax(mask(scale Q Kᵀ)) V with Q, K, V the head's columns of q [B, Tq, D], k [B, Tk, D], v [B, Tk, D].
 * Self-attention passes the same source's projections; cross-attention takes k and v from the encoder.
 * Backward per head, with P the weights: dV = Pᵀ dO, dP = dO Vᵀ, dS = P (dP - rowsum(dP P)), dQ = scale dS K,
 * dK = scale dSᵀ Q.
 * @example const { out } = attention(q, k, v, { heads: 4, causal: true });
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): AttentionResult {
  const { heads } = options;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) {
    throw new RangeError(
      `attention needs q [B, Tq, D], k and v [B, Tk, D], got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}.`,
    );
  }
  const [B, Tq, D] = q.shape as [number, number, number];
  const Tk = k.shape[1] as number;
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[2] !== D || v.shape[2] !== D || v.shape[1] !== Tk) {
    throw new RangeError(
      `attention: q ${formatShape(q.shape)}, k ${formatShape(k.shape)} and v ${formatShape(v.shape)} disagree; k and v need [${B}, Tk, ${D}] with the same Tk.`,
    );
  }
  if (q.dtype !== k.dtype || q.dtype !== v.dtype) {
    throw new TypeError(`attention dtypes differ: q ${q.dtype}, k ${k.dtype}, v ${v.dtype}.`);
  }
  if (!Number.isInteger(heads) || heads < 1 || D % heads !== 0) {
    throw new RangeError(
      `attention: width ${D} is not divisible by ${heads} heads; choose heads dividing dModel (e.g. ${divisorsOf(D).join(', ')}).`,
    );
  }
  const dk = D / heads;
  const scale = options.scale ?? 1 / Math.sqrt(dk);
  const limits = keyLimits('attention', [B, Tq, Tk], options);
  const dtype = q.dtype;
  const BH = B * heads;
  // Head-major copies [B, H, T, dk], so each head's matrices are contiguous for the kernels.
  const gather = (src: Buffer, T: number): Buffer => {
    const out = allocBuffer(BH * T * dk, dtype);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < T; i++) {
          const from = (b * T + i) * D + h * dk;
          out.set(src.subarray(from, from + dk), ((b * heads + h) * T + i) * dk);
        }
    return out;
  };
  const scatterAdd = (from: Buffer, to: Buffer, T: number): void => {
    for (let b = 0; b < B; b++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < T; i++) {
          const src = ((b * heads + h) * T + i) * dk;
          const dst = (b * T + i) * D + h * dk;
          for (let c = 0; c < dk; c++) to[dst + c] = (to[dst + c] as number) + (from[src + c] as number);
        }
  };
  const qh = gather(q.data, Tq);
  const kh = q === k ? qh : gather(k.data, Tk);
  const vh = v === k ? kh : v === q ? qh : gather(v.data, Tk);
  const weights = allocBuffer(BH * Tq * Tk, dtype);
  const oh = allocBuffer(BH * Tq * dk, dtype);
  const kern = kernels();
  const qOf = (buf: Buffer, p: number): Buffer => buf.subarray(p * Tq * dk, (p + 1) * Tq * dk);
  const kOf = (buf: Buffer, p: number): Buffer => buf.subarray(p * Tk * dk, (p + 1) * Tk * dk);
  const pOf = (buf: Buffer, p: number): Buffer => buf.subarray(p * Tq * Tk, (p + 1) * Tq * Tk);
  for (let p = 0; p < BH; p++) {
    const s = pOf(weights, p);
    kern.matmul(qOf(qh, p), kOf(kh, p), s, Tq, dk, Tk, false, true, false);
    for (let i = 0; i < s.length; i++) s[i] = (s[i] as number) * scale;
    const b = Math.floor(p / heads);
    for (let i = 0; i < Tq; i++)
      softmaxRow(s, s, i * Tk, Tk, 1, limits ? (limits[b * Tq + i] as number) : Tk);
    kern.matmul(s, kOf(vh, p), qOf(oh, p), Tq, Tk, dk, false, false, false);
  }
  const out = allocBuffer(B * Tq * D, dtype);
  scatterAdd(oh, out, Tq);
  const result = makeResult('attention', out, [B, Tq, D], [q, k, v], (res) => {
    const gq = gradTarget(q);
    const gk = gradTarget(k);
    const gv = gradTarget(v);
    const kn = kernels();
    const gO = gather(res.grad as Buffer, Tq);
    const dQ = gq ? allocBuffer(BH * Tq * dk, dtype) : null;
    const dK = gk ? allocBuffer(BH * Tk * dk, dtype) : null;
    const dV = gv ? allocBuffer(BH * Tk * dk, dtype) : null;
    const dS = allocBuffer(Tq * Tk, dtype);
    for (let p = 0; p < BH; p++) {
      const P = pOf(weights, p);
      const g = qOf(gO, p);
      if (dV) kn.matmul(P, g, kOf(dV, p), Tk, Tq, dk, true, false, false);
      if (!dQ && !dK) continue;
      kn.matmul(g, kOf(vh, p), dS, Tq, dk, Tk, false, true, false);
      const b = Math.floor(p / heads);
      for (let i = 0; i < Tq; i++) {
        const o = i * Tk;
        const limit = limits ? (limits[b * Tq + i] as number) : Tk;
        let dot = 0;
        for (let j = 0; j < limit; j++) dot += (dS[o + j] as number) * (P[o + j] as number);
        for (let j = 0; j < limit; j++)
          dS[o + j] = scale * (P[o + j] as number) * ((dS[o + j] as number) - dot);
        for (let j = limit; j < Tk; j++) dS[o + j] = 0;
      }
      if (dQ) kn.matmul(dS, kOf(kh, p), qOf(dQ, p), Tq, Tk, dk, false, false, false);
      if (dK) kn.matmul(dS, qOf(qh, p), kOf(dK, p), Tk, Tq, dk, true, false, false);
    }
    if (gq && dQ) scatterAdd(dQ, gq, Tq);
    if (gk && dK) scatterAdd(dK, gk, Tk);
    if (gv && dV) scatterAdd(dV, gv, Tk);
  });
  return { out: result, weights };
}

/** The divisors of n from 1 up, for error messages that suggest a valid head count. */
function divisorsOf(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n && out.length < 6; d++) if (n % d === 0) out.push(d);
  return out;
}

/**
 * The mean entropy -sum_j p_j ln p_j of each head's attention rows, over examples and (unmasked) query rows:
 * [heads] in nats. A collapse towards 0 (one-hot attention) marks the instability of Zhai et al. (2023,
 * "Stabilizing Transformer Training by Preventing Attention Entropy Collapse"); uniform attention over n keys
 * scores ln n. Measures only.
 */
export function attentionEntropy(
  weights: Buffer,
  batch: number,
  heads: number,
  tq: number,
  tk: number,
): number[] {
  const out = new Array<number>(heads).fill(0);
  const counts = new Array<number>(heads).fill(0);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < tq; i++) {
        const o = ((b * heads + h) * tq + i) * tk;
        let entropy = 0;
        let mass = 0;
        for (let j = 0; j < tk; j++) {
          const p = weights[o + j] as number;
          mass += p;
          if (p > 0) entropy -= p * Math.log(p);
        }
        if (mass === 0) continue; // a fully masked row
        out[h] = (out[h] as number) + entropy;
        counts[h] = (counts[h] as number) + 1;
      }
  return out.map((s, h) => ((counts[h] as number) > 0 ? s / (counts[h] as number) : NaN));
}
