import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/tape.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import * as op from './index.js';

const rng = new Rng(13);
const f64 = (shape: number[], std = 1): Tensor => Tensor.randn(shape, rng, { dtype: 'float64', std });
const project = (y: Tensor): Tensor => {
  const w = new Tensor(
    Float64Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)),
    y.shape,
  );
  return op.sum(op.mul(y, w));
};
const TOL = 1e-6;

/** Multi-head attention from the primitives: split heads, bmm, masked softmax, bmm, merge heads. */
function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  heads: number,
  mask: op.AttentionMask = {},
): Tensor {
  const [B, Tq, D] = q.shape as [number, number, number];
  const Tk = k.shape[1] as number;
  const dk = D / heads;
  const split = (t: Tensor, T: number): Tensor => op.permute(op.reshape(t, [B, T, heads, dk]), [0, 2, 1, 3]);
  const scores = op.mul(op.bmm(split(q, Tq), split(k, Tk), { transB: true }), 1 / Math.sqrt(dk));
  const weights = op.maskedSoftmax(scores, mask);
  const o = op.bmm(weights, split(v, Tk));
  return op.reshape(op.permute(o, [0, 2, 1, 3]), [B, Tq, D]);
}

describe('attention ops: gradcheck (float64, relative error < 1e-6)', () => {
  const cases: Array<[string, (x: Tensor[]) => Tensor, Tensor[]]> = [
    ['bmm', (x) => project(op.bmm(x[0]!, x[1]!)), [f64([2, 3, 4]), f64([2, 4, 5])]],
    ['bmm transA', (x) => project(op.bmm(x[0]!, x[1]!, { transA: true })), [f64([2, 4, 3]), f64([2, 4, 5])]],
    ['bmm transB', (x) => project(op.bmm(x[0]!, x[1]!, { transB: true })), [f64([2, 3, 4]), f64([2, 5, 4])]],
    [
      'bmm transA transB rank 4',
      (x) => project(op.bmm(x[0]!, x[1]!, { transA: true, transB: true })),
      [f64([2, 2, 4, 3]), f64([2, 2, 5, 4])],
    ],
    ['bmm of a tensor with itself', (x) => project(op.bmm(x[0]!, x[0]!, { transB: true })), [f64([2, 3, 4])]],
    ['permute', (x) => project(op.permute(x[0]!, [2, 0, 1])), [f64([2, 3, 4])]],
    ['slice middle axis', (x) => project(op.slice(x[0]!, 1, 1, 3)), [f64([2, 4, 3])]],
    ['slice last axis', (x) => project(op.slice(x[0]!, -1, 2, 5)), [f64([3, 6])]],
    ['softmax along axis 0', (x) => project(op.maskedSoftmax(x[0]!, { axis: 0 })), [f64([3, 4, 2])]],
    ['softmax along axis 1', (x) => project(op.maskedSoftmax(x[0]!, { axis: 1 })), [f64([3, 4, 2])]],
    ['causal softmax', (x) => project(op.maskedSoftmax(x[0]!, { causal: true })), [f64([2, 4, 4])]],
    ['causal softmax Tq < Tk', (x) => project(op.maskedSoftmax(x[0]!, { causal: true })), [f64([2, 3, 5])]],
    [
      'padded causal softmax',
      (x) => project(op.maskedSoftmax(x[0]!, { causal: true, keyLengths: Int32Array.from([2, 4]) })),
      [f64([2, 2, 4, 4])],
    ],
    [
      'embedding with repeated ids',
      (x) => project(op.embedding(x[0]!, Int32Array.from([1, 3, 1, 0, 3, 3]), [2, 3])),
      [f64([5, 4])],
    ],
    [
      'self-attention (one source)',
      (x) => project(op.attention(x[0]!, x[0]!, x[0]!, { heads: 2 }).out),
      [f64([2, 3, 4])],
    ],
    [
      'attention q, k, v',
      (x) => project(op.attention(x[0]!, x[1]!, x[2]!, { heads: 2 }).out),
      [f64([2, 3, 4]), f64([2, 3, 4]), f64([2, 3, 4])],
    ],
    [
      'cross-attention Tq != Tk',
      (x) => project(op.attention(x[0]!, x[1]!, x[1]!, { heads: 3 }).out),
      [f64([2, 2, 6]), f64([2, 5, 6])],
    ],
    [
      'causal attention',
      (x) => project(op.attention(x[0]!, x[1]!, x[2]!, { heads: 2, causal: true }).out),
      [f64([2, 4, 4]), f64([2, 4, 4]), f64([2, 4, 4])],
    ],
    [
      'padded attention',
      (x) =>
        project(op.attention(x[0]!, x[1]!, x[1]!, { heads: 1, keyLengths: Int32Array.from([3, 1]) }).out),
      [f64([2, 2, 3]), f64([2, 4, 3])],
    ],
  ];
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      const { maxError } = gradcheck(fn, inputs);
      assert.ok(maxError < TOL, `${name}: relative error ${maxError}`);
    });
  }
});

describe('fused attention equals its composition from bmm, permute and masked softmax', () => {
  const settings: Array<[string, number, number, number, op.AttentionMask]> = [
    ['self, 2 heads', 4, 4, 2, {}],
    ['causal, 4 heads', 5, 5, 4, { causal: true }],
    ['cross with padding', 3, 6, 2, { keyLengths: Int32Array.from([6, 2]) }],
  ];
  for (const [name, tq, tk, heads, mask] of settings) {
    it(name, () => {
      const inputs = [f64([2, tq, 8]), f64([2, tk, 8]), f64([2, tk, 8])];
      const run = (fused: boolean): { out: number[]; grads: number[][] } => {
        const leaves = inputs.map((t) => new Tensor(t.data.slice(), t.shape, { requiresGrad: true }));
        const [q, k, v] = leaves as [Tensor, Tensor, Tensor];
        const out = fused
          ? op.attention(q, k, v, { heads, ...mask }).out
          : composedAttention(q, k, v, heads, mask);
        const values = Array.from(out.data);
        backward(project(out));
        return { out: values, grads: leaves.map((t) => Array.from(t.grad!)) };
      };
      const a = run(true);
      const b = run(false);
      a.out.forEach((x, i) => assert.ok(Math.abs(x - b.out[i]!) < 1e-12, `out[${i}]`));
      a.grads.forEach((g, n) =>
        g.forEach((x, i) => assert.ok(Math.abs(x - b.grads[n]![i]!) < 1e-12, `grad ${n}[${i}]`)),
      );
    });
  }
});

describe('masks', () => {
  it('causal attention: the output at t does not depend on inputs after t, forward or backward', () => {
    const T = 6;
    const x = f64([2, T, 4]);
    const base = op.attention(x, x, x, { heads: 2, causal: true }).out.data;
    for (let t = 0; t < T - 1; t++) {
      const changed = x.detach();
      for (let s = t + 1; s < T; s++)
        for (let c = 0; c < 4; c++) changed.data[(T + s) * 4 + c] = 100 * Math.cos(s + c);
      const y = op.attention(changed, changed, changed, { heads: 2, causal: true }).out.data;
      for (let s = 0; s <= t; s++)
        for (let c = 0; c < 4; c++) assert.equal(y[(T + s) * 4 + c], base[(T + s) * 4 + c], `t=${t} s=${s}`);
      // The gradient of the output at t reaches no input after t.
      const leaf = new Tensor(x.data.slice(), x.shape, { requiresGrad: true });
      const out = op.attention(leaf, leaf, leaf, { heads: 2, causal: true }).out;
      backward(op.sum(op.slice(out, 1, t, t + 1)));
      for (let s = t + 1; s < T; s++)
        for (let b = 0; b < 2; b++)
          for (let c = 0; c < 4; c++) assert.equal(leaf.grad![(b * T + s) * 4 + c], 0, `grad t=${t} s=${s}`);
      assert.ok(leaf.grad!.some((g) => g !== 0));
    }
  });

  it('padded keys get zero weight, so changing them changes nothing', () => {
    const q = f64([2, 3, 4]);
    const kv = f64([2, 5, 4]);
    const keyLengths = Int32Array.from([5, 2]);
    const { out, weights } = op.attention(q, kv, kv, { heads: 2, keyLengths });
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 3; i++)
        for (let j = 2; j < 5; j++) assert.equal(weights[((1 * 2 + h) * 3 + i) * 5 + j], 0);
    const changed = kv.detach();
    for (let j = 2; j < 5; j++) for (let c = 0; c < 4; c++) changed.data[(5 + j) * 4 + c] = -50;
    const again = op.attention(q, changed, changed, { heads: 2, keyLengths }).out;
    for (let i = 12; i < 24; i++) assert.equal(again.data[i], out.data[i]);
  });

  it('a fully masked row gets zero weights and zero gradient, never NaN', () => {
    const x = new Tensor(Float64Array.from([1, 2, 3, 4]), [1, 2, 2], { requiresGrad: true });
    const y = op.maskedSoftmax(x, { keyLengths: Int32Array.from([0]) });
    assert.deepEqual(Array.from(y.data), [0, 0, 0, 0]);
    backward(project(y));
    assert.deepEqual(Array.from(x.grad!), [0, 0, 0, 0]);
  });

  it('scores of 1e4 stay finite and exact', () => {
    const x = new Tensor(Float32Array.from([1e4, 0, -1e4, 1e4]), [1, 1, 4]);
    assert.deepEqual(Array.from(op.maskedSoftmax(x).data), [0.5, 0, 0, 0.5]);
  });
});

describe('float32 and float64 agree', () => {
  for (const dtype of ['float32', 'float64'] as DType[]) {
    it(`attention forward and backward in ${dtype}`, () => {
      const x64 = f64([2, 5, 8]);
      const cast = new Tensor(
        dtype === 'float32' ? Float32Array.from(x64.data) : Float64Array.from(x64.data),
        x64.shape,
        { requiresGrad: true },
      );
      const ref = new Tensor(x64.data.slice(), x64.shape, { requiresGrad: true });
      const a = op.attention(cast, cast, cast, { heads: 4, causal: true }).out;
      const b = op.attention(ref, ref, ref, { heads: 4, causal: true }).out;
      assert.equal(a.dtype, dtype);
      a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]!) < 1e-5, `out[${i}]`));
      backward(op.sum(op.mul(a, a)));
      backward(op.sum(op.mul(b, b)));
      cast.grad!.forEach((g, i) => assert.ok(Math.abs(g - ref.grad![i]!) < 1e-4, `grad[${i}]`));
    });
  }
});

describe('embedding, positions, entropy', () => {
  it('embedding picks rows and a repeated id accumulates its gradient', () => {
    const table = new Tensor(Float32Array.from([0, 1, 10, 11, 20, 21]), [3, 2], { requiresGrad: true });
    const out = op.embedding(table, Int32Array.from([2, 0, 2]));
    assert.deepEqual(out.shape, [3, 2]);
    assert.deepEqual(Array.from(out.data), [20, 21, 0, 1, 20, 21]);
    backward(op.sum(out));
    assert.deepEqual(Array.from(table.grad!), [1, 1, 0, 0, 2, 2]);
  });

  it('an id outside the vocabulary names the id, its position and the fix', () => {
    assert.throws(
      () => op.embedding(f64([4, 2]), Int32Array.from([0, 4])),
      /id 4 at position 1 is outside 0\.\.3; the table has 4 rows/,
    );
  });

  it('heads must divide the width; the error suggests divisors', () => {
    assert.throws(
      () => op.attention(f64([1, 2, 6]), f64([1, 2, 6]), f64([1, 2, 6]), { heads: 4 }),
      /width 6 is not divisible by 4 heads.*1, 2, 3, 6/,
    );
  });

  it('sinusoidal positions follow Vaswani et al. (2017), sec. 3.5', () => {
    const pe = op.sinusoidalPositions(50, 16, 'float64');
    assert.equal(pe.requiresGrad, false);
    for (const pos of [0, 1, 7, 49])
      for (const i of [0, 1, 6, 7, 14, 15]) {
        const angle = pos / 10000 ** ((i - (i % 2)) / 16);
        const expected = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        assert.ok(Math.abs((pe.data[pos * 16 + i] as number) - expected) < 1e-15);
      }
  });

  it('entropy is ln n for uniform rows and 0 for one-hot rows', () => {
    const weights = Float64Array.from([0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]);
    const [uniform, oneHot] = op.attentionEntropy(weights, 1, 2, 1, 4);
    assert.ok(Math.abs(uniform! - Math.log(4)) < 1e-15);
    assert.equal(oneHot, 0);
  });
});
